//! `image:` values of workload containers in plain manifest files.

use fjord_yaml::Node;

use super::block::{self, Pos};
use super::text;
use super::EditError;
use crate::setimage::SetImageArg;

const FILE: &str = "manifest";

/// The container lists of a pod spec whose `image` values are edited.
const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// What an override does to one component of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Not given: the name stays; a tag or digest follows kustomize's rules (a new tag drops the
    /// digest, a new digest drops the tag).
    Unset,
    /// `*`: keep the image's current value.
    Keep,
    /// Set to this value.
    Set(String),
}

impl Change {
    /// `None` → [`Change::Unset`], `Some("*")` → [`Change::Keep`], else [`Change::Set`].
    pub fn from_option(v: Option<&str>) -> Change {
        match v {
            None | Some("") => Change::Unset,
            Some("*") => Change::Keep,
            Some(v) => Change::Set(v.to_string()),
        }
    }
}

/// One image override applied to manifests, as kustomize's images transformer applies an
/// `images:` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageOverride {
    /// The image name to match: an image matches when it is this name, optionally followed by
    /// `:tag` and/or `@sha256:...`.
    pub name: String,
    /// The new name.
    pub new_name: Change,
    /// The new tag.
    pub new_tag: Change,
    /// The new digest (`sha256:...`).
    pub digest: Change,
}

impl ImageOverride {
    /// The override a `kustomize edit set image` argument stands for.
    pub fn from_arg(arg: &SetImageArg) -> ImageOverride {
        ImageOverride {
            name: arg.name.clone(),
            new_name: Change::from_option(arg.new_name.as_deref()),
            new_tag: Change::from_option(arg.new_tag.as_deref()),
            digest: Change::from_option(arg.digest.as_deref()),
        }
    }

    /// Whether `image` is matched by this override's name (kustomize's rule, with the name
    /// taken literally rather than as a regular expression).
    pub fn matches(&self, image: &str) -> bool {
        let Some(rest) = image.strip_prefix(self.name.as_str()) else {
            return false;
        };
        let word = |c: char| c.is_ascii_alphanumeric() || "_.{}-".contains(c);
        let rest = match rest.strip_prefix(':') {
            Some(tag) => &tag[tag.find(|c| !word(c)).unwrap_or(tag.len())..],
            None => rest,
        };
        rest.is_empty()
            || rest
                .strip_prefix("@sha256:")
                .is_some_and(|d| d.chars().all(word))
    }

    /// The new image text for `image`, or `None` when this override does not match it.
    pub fn apply(&self, image: &str) -> Option<String> {
        if !self.matches(image) {
            return None;
        }
        let (name, old_tag, old_digest) = split_image(image);
        let name = match &self.new_name {
            Change::Set(n) => n.as_str(),
            Change::Unset | Change::Keep => name,
        };
        use Change::{Keep, Set, Unset};
        let (tag, digest) = match (&self.new_tag, &self.digest) {
            (Set(t), Set(d)) => (t.as_str(), d.as_str()),
            (Set(t), Keep) => (t.as_str(), old_digest),
            (Set(t), Unset) => (t.as_str(), ""),
            (Keep, Set(d)) => (old_tag, d.as_str()),
            (Unset, Set(d)) => ("", d.as_str()),
            (Keep | Unset, Keep | Unset) => (old_tag, old_digest),
        };
        let mut out = name.to_string();
        if !tag.is_empty() {
            out.push(':');
            out.push_str(tag);
        }
        if !digest.is_empty() {
            out.push('@');
            out.push_str(digest);
        }
        Some(out)
    }
}

/// Splits `[host[:port]/]path[:tag][@digest]` into name, tag and digest the way kustomize
/// does (a `:` before the first `/` belongs to the registry).
fn split_image(image: &str) -> (&str, &str, &str) {
    let offset = match image.find('/') {
        Some(i) if i > 0 => i,
        _ => 0,
    };
    let search = &image[offset..];
    let at = search.find('@').map(|i| i + offset);
    let colon = search.find(':').map(|i| i + offset);
    match (colon, at) {
        (None, None) => (image, "", ""),
        (Some(c), Some(a)) if c < a => (&image[..c], &image[c + 1..a], &image[a + 1..]),
        (_, Some(a)) => (&image[..a], "", &image[a + 1..]),
        (Some(c), None) => (&image[..c], &image[c + 1..], ""),
    }
}

/// Sets the `image` values of the containers, initContainers and ephemeralContainers of every
/// workload in `text` (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob,
/// ReplicationController, PodTemplate, and any other kind with `spec.template.spec` or
/// `spec.jobTemplate.spec.template.spec`) that an argument matches, as kustomize's images
/// transformer would. Arguments with the same name: the last one counts. Only the matching
/// scalars change; `Ok(None)` when nothing does.
pub fn set_image_in_manifest(
    text: &str,
    args: &[SetImageArg],
) -> Result<Option<String>, EditError> {
    let overrides: Vec<ImageOverride> = args.iter().map(ImageOverride::from_arg).collect();
    set_images_in_manifest(text, &overrides)
}

/// [`set_image_in_manifest`] with overrides built by the caller.
pub fn set_images_in_manifest(
    text: &str,
    overrides: &[ImageOverride],
) -> Result<Option<String>, EditError> {
    let docs = fjord_yaml::parse_documents(text.as_bytes())
        .map_err(|source| EditError::Parse { file: FILE, source })?;
    // The last override of each name counts.
    let effective: Vec<&ImageOverride> = overrides
        .iter()
        .enumerate()
        .filter(|(i, o)| !overrides[i + 1..].iter().any(|later| later.name == o.name))
        .map(|(_, o)| o)
        .collect();
    let mut changes = Vec::new();
    for (d, doc) in docs.iter().enumerate() {
        for path in image_paths(doc) {
            let Some(old) = get(doc, &path).and_then(Node::as_str) else {
                continue;
            };
            let new = effective
                .iter()
                .fold(old.to_string(), |cur, o| o.apply(&cur).unwrap_or(cur));
            if new != old {
                changes.push((d, path, new));
            }
        }
    }
    if changes.is_empty() {
        return Ok(None);
    }
    let lines = block::lines(text);
    let pdocs = block::documents(&lines);
    let mut edits = Vec::new();
    let mut expected = docs.clone();
    for (d, path, new) in changes {
        let shown = || format!("{} in document {}", show(&path), d + 1);
        let Some(pdoc) = pdocs.get(d).filter(|_| pdocs.len() == docs.len()) else {
            return Err(EditError::Unsupported {
                file: FILE,
                line: 1,
                path: shown(),
                reason: "the document boundaries could not be found",
            });
        };
        let scalar = locate(&pdoc.root, &path).map_err(|(at_line, reason)| {
            let line = at_line.unwrap_or(pdoc.first_line) + 1;
            EditError::Unsupported {
                file: FILE,
                line,
                path: shown(),
                reason,
            }
        })?;
        edits.push((scalar.span.clone(), text::scalar(&new, scalar.style)));
        if let Some(node) = get_mut(&mut expected[d], &path) {
            *node = Node::string(new);
        }
    }
    let out = text::splice(text, edits);
    text::verify(FILE, &out, &expected)?;
    Ok(Some(out))
}

/// One step of a path into a document.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(&'static str),
    Index(usize),
}

/// The pod spec paths of a workload kind.
fn pod_spec_paths(doc: &Node) -> Vec<Vec<&'static str>> {
    const TEMPLATE: &[&str] = &["spec", "template", "spec"];
    const JOB_TEMPLATE: &[&str] = &["spec", "jobTemplate", "spec", "template", "spec"];
    let kind = doc.str_at(&["kind"]).unwrap_or_default();
    let known: &[&str] = match kind {
        "Pod" => &["spec"],
        "PodTemplate" => &["template", "spec"],
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => TEMPLATE,
        "CronJob" => JOB_TEMPLATE,
        _ => {
            return [TEMPLATE, JOB_TEMPLATE]
                .into_iter()
                .filter(|p| doc.get_path(p).is_some_and(|n| n.as_map().is_some()))
                .map(<[&str]>::to_vec)
                .collect();
        }
    };
    vec![known.to_vec()]
}

/// Paths of every container `image` of `doc` that is a workload.
fn image_paths(doc: &Node) -> Vec<Vec<Seg>> {
    let mut out = Vec::new();
    for spec in pod_spec_paths(doc) {
        for list in CONTAINER_LISTS {
            let mut base: Vec<&str> = spec.clone();
            base.push(list);
            let Some(items) = doc.get_path(&base).and_then(Node::as_seq) else {
                continue;
            };
            for (i, item) in items.iter().enumerate() {
                if item.get("image").is_some_and(|n| n.as_str().is_some()) {
                    let mut path: Vec<Seg> = base.iter().map(|k| Seg::Key(k)).collect();
                    path.push(Seg::Index(i));
                    path.push(Seg::Key("image"));
                    out.push(path);
                }
            }
        }
    }
    out
}

fn get<'a>(node: &'a Node, path: &[Seg]) -> Option<&'a Node> {
    path.iter().try_fold(node, |n, seg| match seg {
        Seg::Key(k) => n.get(k),
        Seg::Index(i) => n.as_seq()?.get(*i),
    })
}

fn get_mut<'a>(node: &'a mut Node, path: &[Seg]) -> Option<&'a mut Node> {
    path.iter().try_fold(node, |n, seg| match seg {
        Seg::Key(k) => n.get_mut(k),
        Seg::Index(i) => n.as_seq_mut()?.get_mut(*i),
    })
}

/// `spec.containers[0].image`.
fn show(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The scalar at `path`, or the 0-based line of what is in the way and why.
fn locate<'a>(
    root: &'a Pos,
    path: &[Seg],
) -> Result<&'a block::ScalarPos, (Option<usize>, &'static str)> {
    let mut cur = root;
    let mut line = None;
    for seg in path {
        if let Pos::Opaque { line: l } = cur {
            return Err((Some(*l), "a flow collection, alias or multi-line value"));
        }
        cur = match seg {
            Seg::Key(k) => {
                let e = cur
                    .entry(k)
                    .ok_or((line, "the key is not written in the text (merge key?)"))?;
                line = Some(e.line);
                &e.value
            }
            Seg::Index(i) => {
                let it = cur
                    .item(*i)
                    .ok_or((line, "the list item is not written in block style"))?;
                line = Some(it.line);
                &it.value
            }
        };
    }
    match cur {
        Pos::Scalar(s) => Ok(s),
        Pos::Opaque { line: l } => Err((Some(*l), "a flow collection, alias or multi-line value")),
        _ => Err((line, "not a one-line scalar")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn ov(name: &str, new_name: Change, new_tag: Change, digest: Change) -> ImageOverride {
        ImageOverride {
            name: name.into(),
            new_name,
            new_tag,
            digest,
        }
    }

    fn set(v: &str) -> Change {
        Change::Set(v.into())
    }

    #[test]
    fn matching_follows_kustomize() {
        let o = ov("nginx", Change::Unset, set("2"), Change::Unset);
        assert!(o.matches("nginx"));
        assert!(o.matches("nginx:1.0"));
        assert!(o.matches(&format!("nginx:1@{D}")));
        assert!(o.matches(&format!("nginx@{D}")));
        assert!(!o.matches("nginxx"));
        assert!(!o.matches("docker.io/library/nginx"));
        assert!(!o.matches("nginx@sha512:00"));
        assert!(!o.matches("nginx:a:b"));
        let dot = ov("a.b", Change::Unset, set("2"), Change::Unset);
        assert!(!dot.matches("axb"), "names are literal");
    }

    #[test]
    fn rewrite_rules() {
        let tag = ov("nginx", Change::Unset, set("2"), Change::Unset);
        assert_eq!(
            tag.apply(&format!("nginx:1@{D}")).as_deref(),
            Some("nginx:2")
        );
        let dig = ov("nginx", Change::Unset, Change::Unset, set(D));
        assert_eq!(dig.apply("nginx:1"), Some(format!("nginx@{D}")));
        let both = ov("nginx", Change::Unset, set("2"), set(D));
        assert_eq!(both.apply("nginx"), Some(format!("nginx:2@{D}")));
        let keep_tag = ov("nginx", Change::Unset, Change::Keep, set(D));
        assert_eq!(keep_tag.apply("nginx:1"), Some(format!("nginx:1@{D}")));
        let keep_digest = ov("nginx", Change::Unset, set("3"), Change::Keep);
        assert_eq!(
            keep_digest.apply(&format!("nginx:1@{D}")),
            Some(format!("nginx:3@{D}"))
        );
        let rename = ov(
            "reg:5000/app",
            set("other.io/app"),
            Change::Unset,
            Change::Unset,
        );
        assert_eq!(
            rename.apply("reg:5000/app:v1").as_deref(),
            Some("other.io/app:v1")
        );
        assert_eq!(
            rename.apply("reg:5000/app").as_deref(),
            Some("other.io/app")
        );
        let keep_name = ov("a", Change::Keep, set("9"), Change::Unset);
        assert_eq!(keep_name.apply("a:1").as_deref(), Some("a:9"));
        assert_eq!(keep_name.apply("b:1"), None);
    }

    #[test]
    fn from_set_image_args() {
        let arg = SetImageArg::parse("nginx=*:2").unwrap();
        let o = ImageOverride::from_arg(&arg);
        assert_eq!(o.new_name, Change::Keep);
        assert_eq!(o.new_tag, set("2"));
        assert_eq!(o.digest, Change::Unset);
    }

    #[test]
    fn edits_only_the_scalar() {
        let t = "kind: Pod\nspec:\n  containers:\n  - name: a # c\n    image: nginx:1 # pinned\n  - image: 'redis'\n";
        let args = [
            SetImageArg::parse("nginx:2").unwrap(),
            SetImageArg::parse("redis:7").unwrap(),
        ];
        let out = set_image_in_manifest(t, &args).unwrap().unwrap();
        assert_eq!(out, "kind: Pod\nspec:\n  containers:\n  - name: a # c\n    image: nginx:2 # pinned\n  - image: 'redis:7'\n");
        assert_eq!(set_image_in_manifest(&out, &args).unwrap(), None);
    }

    #[test]
    fn last_arg_of_a_name_wins() {
        let t = "kind: Pod\nspec:\n  containers:\n  - image: nginx\n";
        let args = [
            SetImageArg::parse("nginx:2").unwrap(),
            SetImageArg::parse("nginx:3").unwrap(),
        ];
        let out = set_image_in_manifest(t, &args).unwrap().unwrap();
        assert!(out.ends_with("image: nginx:3\n"), "{out}");
    }

    #[test]
    fn flow_style_is_refused_with_its_line() {
        let t = "kind: Pod\nspec:\n  containers: [{name: a, image: nginx}]\n";
        let err = set_image_in_manifest(t, &[SetImageArg::parse("nginx:2").unwrap()]).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("line 3") && msg.contains("spec.containers[0].image"),
            "{msg}"
        );
    }

    #[test]
    fn tricky_neighbours_are_skipped_correctly() {
        let t = concat!(
            "apiVersion: apps/v1\n",
            "kind: StatefulSet\n",
            "metadata:\n",
            "  annotations:\n",
            "    note: \"a long\n",
            "      quoted text\"\n",
            "    plain: first line\n",
            "      second line\n",
            "spec:\n",
            "  template:\n",
            "    spec:\n",
            "      containers:\n",
            "      - # the app\n",
            "        command:\n",
            "        - sh\n",
            "        - -c\n",
            "        - |\n",
            "          echo image: nope\n",
            "          # not a comment\n",
            "        args: >\n",
            "          folded\n",
            "        \"image\":  nginx:1\n",
            "        env: [{name: A, value: \"image: x\"}]\n",
            "      - name: b\n",
            "        image: &img busybox\n",
        );
        let args = [
            SetImageArg::parse("nginx:2").unwrap(),
            SetImageArg::parse("busybox:2").unwrap(),
        ];
        let out = set_image_in_manifest(t, &args).unwrap().unwrap();
        let want = t
            .replace("\"image\":  nginx:1", "\"image\":  nginx:2")
            .replace("&img busybox", "&img busybox:2");
        assert_eq!(out, want);
    }

    #[test]
    fn alias_and_multi_line_images_are_refused_not_guessed() {
        let t = "kind: Pod\nspec:\n  containers:\n  - image: &i nginx\n  - image: *i\n";
        let err = set_image_in_manifest(t, &[SetImageArg::parse("nginx:2").unwrap()]).unwrap_err();
        assert!(
            matches!(err, EditError::Unsupported { line: 5, .. }),
            "{err}"
        );
        let t = "kind: Pod\nspec:\n  containers:\n  - image: nginx\n      :1\n";
        // The value is `nginx :1`, which the name `nginx ` matches.
        let args = [SetImageArg::parse("nginx =x:2").unwrap()];
        let err = set_image_in_manifest(t, &args).unwrap_err();
        assert!(
            matches!(err, EditError::Unsupported { line: 4, .. }),
            "{err}"
        );
        let t = "kind: Pod\nspec:\n  containers:\n  - image: >-\n      nginx\n";
        let err = set_image_in_manifest(t, &[SetImageArg::parse("nginx:2").unwrap()]).unwrap_err();
        assert!(
            matches!(err, EditError::Unsupported { line: 4, .. }),
            "{err}"
        );
    }

    #[test]
    fn numeric_looking_result_is_quoted() {
        let t = "kind: Pod\nspec:\n  containers:\n  - image: app\n";
        let o = ov("app", set("1"), Change::Unset, Change::Unset);
        let out = set_images_in_manifest(t, &[o]).unwrap().unwrap();
        assert!(out.ends_with("image: \"1\"\n"), "{out}");
    }
}
