//! Argo CD's `.argocd-source-<app>.yaml` parameter-override file, `kustomize.images` part.
//!
//! Argo CD Image Updater writes a new file as
//! ```yaml
//! kustomize:
//!   images:
//!   - nginx=registry.example/nginx:1.2
//! ```
//! (two-space indent, list items not indented under their key). An existing file keeps its
//! other keys, comments and layout; its `kustomize.images` strings are merged by image name:
//! a string naming the same image is replaced where it stands, others are appended.

use fjord_yaml::{Map, Node};

use super::block::{self, Entry, Line, Pos};
use super::text;
use super::EditError;

const FILE: &str = ".argocd-source file";

/// The image name a kustomize `images` override string is about: the part before `=` when
/// there is one (`nginx=reg/nginx:1` → `nginx`), else the reference without its tag and
/// digest (a registry port is kept: `reg:5000/a:1` → `reg:5000/a`).
pub fn override_name(image: &str) -> &str {
    if let Some((name, _)) = image.split_once('=') {
        return name;
    }
    let offset = match image.find('/') {
        Some(i) if i > 0 => i,
        _ => 0,
    };
    let end = image[offset..]
        .find([':', '@'])
        .map_or(image.len(), |i| i + offset);
    &image[..end]
}

/// The `kustomize.images` string about image `name`, if the file has one.
pub fn argocd_source_image(text: &str, name: &str) -> Result<Option<String>, EditError> {
    let doc = parse(text)?;
    Ok(images_of(&doc)?.and_then(|items| {
        items
            .iter()
            .filter_map(Node::as_str)
            .rfind(|s| override_name(s) == name)
            .map(str::to_string)
    }))
}

/// The file's new content with `images` merged into `kustomize.images` (see the module
/// docs); `existing` is the current content, `None` when there is no file. `Ok(None)` when
/// nothing changes.
pub fn argocd_source_with_images(
    existing: Option<&str>,
    images: &[String],
) -> Result<Option<String>, EditError> {
    let text = existing.unwrap_or("");
    let doc = parse(text)?;
    let current: Vec<String> = images_of(&doc)?
        .map(|items| {
            items
                .iter()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    // The merged list, and which images are new or replace an entry.
    let mut merged = current.clone();
    let mut replaced: Vec<(usize, String)> = Vec::new();
    let mut appended: Vec<String> = Vec::new();
    for image in images {
        match merged
            .iter()
            .rposition(|c| override_name(c) == override_name(image))
        {
            Some(i) if i < current.len() => {
                if merged[i] != *image {
                    merged[i] = image.clone();
                    replaced.retain(|(j, _)| *j != i);
                    replaced.push((i, image.clone()));
                }
            }
            Some(i) => {
                merged[i] = image.clone();
                appended[i - current.len()] = image.clone();
            }
            None => {
                merged.push(image.clone());
                appended.push(image.clone());
            }
        }
    }
    if replaced.is_empty() && appended.is_empty() {
        return Ok(None);
    }
    let lines = block::lines(text);
    let pdocs = block::documents(&lines);
    let ed = Editor {
        text,
        lines: &lines,
    };
    let root = pdocs.first().map(|d| &d.root);
    let edits = ed.edits(root, &replaced, &appended)?;
    let out = text::splice(text, edits);
    let mut expected = doc;
    set_expected(&mut expected, &merged);
    text::verify(FILE, &out, std::slice::from_ref(&expected))?;
    Ok(Some(out))
}

fn parse(text: &str) -> Result<Node, EditError> {
    let doc = fjord_yaml::parse_document(text.as_bytes())
        .map_err(|source| EditError::Parse { file: FILE, source })?;
    match doc {
        Node::Map(_) => Ok(doc),
        n if n.is_null() => Ok(n),
        other => Err(shape("the document", &other, "a mapping")),
    }
}

fn shape(path: &str, found: &Node, expected: &'static str) -> EditError {
    EditError::Shape {
        file: FILE,
        path: path.to_string(),
        found: super::kustomization::kind_name(found),
        expected,
    }
}

/// `kustomize.images` (`None` when absent or null).
fn images_of(doc: &Node) -> Result<Option<&Vec<Node>>, EditError> {
    let kustomize = match doc.get("kustomize") {
        None => return Ok(None),
        Some(n) if n.is_null() => return Ok(None),
        Some(k @ Node::Map(_)) => k,
        Some(other) => return Err(shape("kustomize", other, "a mapping")),
    };
    match kustomize.get("images") {
        None => Ok(None),
        Some(n) if n.is_null() => Ok(None),
        Some(Node::Seq(items)) => {
            if let Some((i, bad)) = items.iter().enumerate().find(|(_, n)| n.as_str().is_none()) {
                return Err(shape(&format!("kustomize.images[{i}]"), bad, "a string"));
            }
            Ok(Some(items))
        }
        Some(other) => Err(shape("kustomize.images", other, "a list")),
    }
}

fn set_expected(doc: &mut Node, merged: &[String]) {
    if doc.is_null() {
        *doc = Node::map();
    }
    let Some(root) = doc.as_map_mut() else { return };
    let k = root
        .entry("kustomize".to_string())
        .or_insert_with(Node::map);
    if k.is_null() {
        *k = Node::Map(Map::new());
    }
    if let Some(k) = k.as_map_mut() {
        let list = merged.iter().map(|s| Node::string(s.as_str())).collect();
        k.insert("images".to_string(), Node::Seq(list));
    }
}

type Edits = Vec<(std::ops::Range<usize>, String)>;

struct Editor<'a> {
    text: &'a str,
    lines: &'a [Line<'a>],
}

impl Editor<'_> {
    fn eol(&self) -> &'static str {
        text::eol(self.text)
    }

    /// `- image` lines at column `col`.
    fn items(&self, images: &[String], col: usize) -> String {
        images
            .iter()
            .map(|i| format!("{}- {}{}", " ".repeat(col), text::value(i), self.eol()))
            .collect()
    }

    fn edits(
        &self,
        root: Option<&Pos>,
        replaced: &[(usize, String)],
        appended: &[String],
    ) -> Result<Edits, EditError> {
        let eol = self.eol();
        let Some(k) = root.and_then(|r| r.entry("kustomize")) else {
            let (at, pre) = text::at_end(self.text);
            let body = format!(
                "{pre}kustomize:{eol}  images:{eol}{}",
                self.items(appended, 2)
            );
            return Ok(vec![(at..at, body)]);
        };
        let key_col = k.key_start - self.lines[k.line].start;
        let images = match &k.value {
            Pos::Empty { .. } => {
                let (at, pre) = text::after_line(self.text, self.lines, k.line);
                let col = key_col + 2;
                let body = format!(
                    "{pre}{}images:{eol}{}",
                    " ".repeat(col),
                    self.items(appended, col)
                );
                return Ok(vec![(at..at, body)]);
            }
            Pos::Map { indent, .. } => match k.value.entry("images") {
                Some(images) => images,
                None => {
                    let (at, pre) = text::after_line(self.text, self.lines, k.last_line);
                    let body = format!(
                        "{pre}{}images:{eol}{}",
                        " ".repeat(*indent),
                        self.items(appended, *indent)
                    );
                    return Ok(vec![(at..at, body)]);
                }
            },
            _ => return Err(self.unsupported(k.line, "kustomize")),
        };
        self.edit_list(images, replaced, appended)
    }

    fn edit_list(
        &self,
        images: &Entry,
        replaced: &[(usize, String)],
        appended: &[String],
    ) -> Result<Edits, EditError> {
        let key_col = images.key_start - self.lines[images.line].start;
        match &images.value {
            Pos::Empty { .. } => {
                let (at, pre) = text::after_line(self.text, self.lines, images.line);
                Ok(vec![(
                    at..at,
                    format!("{pre}{}", self.items(appended, key_col)),
                )])
            }
            Pos::Seq { indent, items } => {
                let mut edits = Vec::new();
                for (i, new) in replaced {
                    let Some(Pos::Scalar(s)) = items.get(*i).map(|it| &it.value) else {
                        let line = items.get(*i).map_or(images.line, |it| it.line);
                        return Err(self.unsupported(line, "kustomize.images"));
                    };
                    edits.push((s.span.clone(), text::scalar(new, s.style)));
                }
                if !appended.is_empty() {
                    let last = items.last().map_or(images.line, |it| it.last_line);
                    let (at, pre) = text::after_line(self.text, self.lines, last);
                    edits.push((at..at, format!("{pre}{}", self.items(appended, *indent))));
                }
                Ok(edits)
            }
            _ => Err(self.unsupported(images.line, "kustomize.images")),
        }
    }

    fn unsupported(&self, line: usize, path: &str) -> EditError {
        EditError::Unsupported {
            file: FILE,
            line: line + 1,
            path: path.to_string(),
            reason: "not block style",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_of_override_strings() {
        assert_eq!(override_name("nginx=reg/nginx:1"), "nginx");
        assert_eq!(override_name("nginx:1"), "nginx");
        assert_eq!(override_name("reg:5000/a:1"), "reg:5000/a");
        assert_eq!(override_name("a@sha256:00"), "a");
        assert_eq!(override_name("a"), "a");
    }

    #[test]
    fn new_file_in_image_updater_layout() {
        let out = argocd_source_with_images(None, &v(&["nginx=reg/nginx:1.2", "redis:7"]))
            .unwrap()
            .unwrap();
        assert_eq!(
            out,
            "kustomize:\n  images:\n  - nginx=reg/nginx:1.2\n  - redis:7\n"
        );
        assert_eq!(
            argocd_source_with_images(Some(&out), &v(&["redis:7"])).unwrap(),
            None
        );
        assert_eq!(
            argocd_source_image(&out, "nginx").unwrap().as_deref(),
            Some("nginx=reg/nginx:1.2")
        );
        assert_eq!(argocd_source_image(&out, "x").unwrap(), None);
    }

    #[test]
    fn merges_into_existing_file() {
        let t = "# written by hand\nhelm:\n  parameters:\n  - name: a\n    value: b\nkustomize:\n  namePrefix: p-\n  images:\n    - nginx:1.0 # old\n    - \"redis:6\"\n";
        let out = argocd_source_with_images(Some(t), &v(&["nginx:1.1", "redis:6", "db:2"]))
            .unwrap()
            .unwrap();
        assert_eq!(out, t.replace("nginx:1.0", "nginx:1.1") + "    - db:2\n");
        let t = "kustomize:\n  namePrefix: p-\nother: 1\n";
        let out = argocd_source_with_images(Some(t), &v(&["a:1"]))
            .unwrap()
            .unwrap();
        assert_eq!(
            out,
            "kustomize:\n  namePrefix: p-\n  images:\n  - a:1\nother: 1\n"
        );
        let t = "helm:\n  valueFiles: [a.yaml]";
        let out = argocd_source_with_images(Some(t), &v(&["a:1"]))
            .unwrap()
            .unwrap();
        assert_eq!(
            out,
            "helm:\n  valueFiles: [a.yaml]\nkustomize:\n  images:\n  - a:1\n"
        );
        let t = "kustomize:\r\n";
        let out = argocd_source_with_images(Some(t), &v(&["a:1"]))
            .unwrap()
            .unwrap();
        assert_eq!(out, "kustomize:\r\n  images:\r\n  - a:1\r\n");
    }

    #[test]
    fn same_name_twice_in_input_keeps_the_last() {
        let out = argocd_source_with_images(None, &v(&["a:1", "a:2"]))
            .unwrap()
            .unwrap();
        assert_eq!(out, "kustomize:\n  images:\n  - a:2\n");
    }

    #[test]
    fn refusals() {
        let e = argocd_source_with_images(Some("kustomize: [1]\n"), &v(&["a:1"])).unwrap_err();
        assert!(
            e.to_string()
                .contains("kustomize is a list, expected a mapping"),
            "{e}"
        );
        let e = argocd_source_with_images(Some("kustomize: {images: [a:1]}\n"), &v(&["a:2"]))
            .unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        let e = argocd_source_with_images(Some("a: 'x\n"), &v(&["a:2"])).unwrap_err();
        assert!(matches!(e, EditError::Parse { .. }), "{e}");
    }
}
