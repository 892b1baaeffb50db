//! `images:` — rewrite container image references (kustomize's ImageTagTransformer).
//!
//! Facts reproduced from kustomize v5.5 (checked against `kubectl kustomize`):
//! - an entry's `name` is matched as the regular expression
//!   `^NAME(:[a-zA-Z0-9_.{}-]*)?(@sha256:[a-zA-Z0-9_.{}-]*)?$` against the whole image string
//!   (so `docker.io/library/nginx` is not matched by `nginx`);
//! - `newTag` and `digest` both set give `name:tag@digest`; `newTag` alone drops any digest;
//!   `digest` alone drops any tag; `tagSuffix` alone appends to the current tag and drops
//!   the digest; `newName` replaces the name part (registry ports are not taken for tags);
//! - each entry first rewrites `image` in every element of any `containers` or
//!   `initContainers` sequence anywhere in every object (except CustomResourceDefinitions),
//!   whatever its kind, then rewrites the configured field specs; so an edit can apply twice
//!   (`tagSuffix: -x` on `nginx:1` gives `nginx:1-x-x`, as kubectl does);
//! - an `image` that is not a scalar is an error.

use crate::fieldspec::{split_path, walk, FieldSpec};
use crate::generate::decode::{DecodeError, Field};
use crate::resource::ResMap;
use fjord_model::Gvk;
use fjord_yaml::Node;
use regex::Regex;

/// Why the images transformer failed.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// An `images:` entry has a field of the wrong type.
    #[error(transparent)]
    Decode(DecodeError),
    /// An `image` field holds a mapping or sequence.
    #[error("wrong node kind: expected ScalarNode but got {found}: in {origin} (image {name:?})")]
    NotScalar {
        /// `MappingNode` or `SequenceNode`.
        found: &'static str,
        /// The object, `kind/name`.
        origin: String,
        /// The `images:` entry being applied.
        name: String,
    },
}

/// One `images:` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageSpec {
    /// The image name to match (a regular expression, as in kustomize).
    pub name: String,
    /// Replacement name.
    pub new_name: String,
    /// Replacement tag.
    pub new_tag: String,
    /// Replacement digest (`sha256:...`).
    pub digest: String,
    /// Appended to the current tag when neither `newTag` nor `digest` is set.
    pub tag_suffix: String,
}

impl ImageSpec {
    /// Parses one `images:` entry.
    pub fn parse(node: &Node) -> Result<ImageSpec, ImageError> {
        let f = Field::new("Image", "images");
        let s = |k| f.string(node, k).map_err(ImageError::Decode);
        Ok(ImageSpec {
            name: s("name")?,
            new_name: s("newName")?,
            new_tag: s("newTag")?,
            digest: s("digest")?,
            tag_suffix: s("tagSuffix")?,
        })
    }

    /// The matcher for this entry; `None` when the name is not a valid expression (kustomize
    /// then matches nothing).
    fn matcher(&self) -> Option<Regex> {
        Regex::new(&format!(
            "^{}(:[a-zA-Z0-9_.{{}}-]*)?(@sha256:[a-zA-Z0-9_.{{}}-]*)?$",
            self.name
        ))
        .ok()
    }

    /// The rewritten image, or `None` when `image` is not matched.
    pub fn rewrite(&self, image: &str) -> Option<String> {
        self.rewrite_with(self.matcher().as_ref()?, image)
    }

    fn rewrite_with(&self, re: &Regex, image: &str) -> Option<String> {
        if !re.is_match(image) {
            return None;
        }
        let (mut name, mut tag, mut digest) = split_image(image);
        if !self.new_name.is_empty() {
            name = self.new_name.clone();
        }
        match (self.new_tag.is_empty(), self.digest.is_empty()) {
            (false, false) => {
                tag = self.new_tag.clone();
                digest = self.digest.clone();
            }
            (false, true) => {
                tag = self.new_tag.clone();
                digest.clear();
            }
            (true, false) => {
                tag.clear();
                digest = self.digest.clone();
            }
            (true, true) if !self.tag_suffix.is_empty() => {
                tag.push_str(&self.tag_suffix);
                digest.clear();
            }
            (true, true) => {}
        }
        if !tag.is_empty() {
            name = format!("{name}:{tag}");
        }
        if !digest.is_empty() {
            name = format!("{name}@{digest}");
        }
        Some(name)
    }
}

/// Splits `[host[:port]/]path[:tag][@digest]` into name, tag and digest. A `:` before the
/// first `/` belongs to the registry host.
pub fn split_image(image: &str) -> (String, String, String) {
    let offset = match image.find('/') {
        Some(i) if i > 0 => i,
        _ => 0,
    };
    let search = &image[offset..];
    let at = search.find('@').map(|i| i + offset);
    let colon = search.find(':').map(|i| i + offset);
    match (colon, at) {
        (None, None) => (image.to_string(), String::new(), String::new()),
        (c, Some(a)) if c.is_none_or(|c| a < c) => (
            image[..a].to_string(),
            String::new(),
            image[a + 1..].to_string(),
        ),
        (Some(c), Some(a)) => (
            image[..c].to_string(),
            image[c + 1..a].to_string(),
            image[a + 1..].to_string(),
        ),
        (Some(c), None) => (
            image[..c].to_string(),
            image[c + 1..].to_string(),
            String::new(),
        ),
        (None, Some(_)) => (image.to_string(), String::new(), String::new()),
    }
}

/// Applies every `images:` entry, in order, to `res`: first to all `containers`/
/// `initContainers` images found anywhere, then to the fields named by `specs` (the
/// transformer config's `images` field specs, or a `transformers:` entry's own).
pub fn apply_images(
    res: &mut ResMap,
    images: &[ImageSpec],
    specs: &[FieldSpec],
) -> Result<(), ImageError> {
    for image in images {
        let Some(re) = image.matcher() else { continue };
        let update = |n: &mut Node, origin: &str| -> Result<(), ImageError> {
            let found = match n {
                Node::Map(_) => "MappingNode",
                Node::Seq(_) => "SequenceNode",
                Node::Scalar(_) => {
                    if let Some(new) = n.as_str().and_then(|v| image.rewrite_with(&re, v)) {
                        *n = Node::string(new);
                    }
                    return Ok(());
                }
            };
            Err(ImageError::NotScalar {
                found,
                origin: origin.to_string(),
                name: image.name.clone(),
            })
        };
        for r in res.iter_mut() {
            if r.kind() == "CustomResourceDefinition" {
                continue;
            }
            let origin = format!("{}/{}", r.kind(), r.name());
            legacy_walk(&mut r.obj, &mut |n| update(n, &origin))?;
        }
        for r in res.iter_mut() {
            let gvk = Gvk::of(&r.obj);
            let origin = format!("{}/{}", r.kind(), r.name());
            for spec in specs.iter().filter(|s| s.selects(&gvk)) {
                walk(&mut r.obj, &split_path(&spec.path), None, &mut |n| {
                    update(n, &origin)
                })?;
            }
        }
    }
    Ok(())
}

/// Visits the `image` of every element of every `containers`/`initContainers` sequence in
/// the tree (children first, as kustomize's walk does).
fn legacy_walk(
    node: &mut Node,
    visit: &mut dyn FnMut(&mut Node) -> Result<(), ImageError>,
) -> Result<(), ImageError> {
    match node {
        Node::Map(m) => {
            for (k, v) in m.iter_mut() {
                legacy_walk(v, visit)?;
                if k == "containers" || k == "initContainers" {
                    if let Node::Seq(items) = v {
                        for item in items {
                            if let Some(img) = item.get_mut("image") {
                                visit(img)?;
                            }
                        }
                    }
                }
            }
            Ok(())
        }
        Node::Seq(items) => items.iter_mut().try_for_each(|i| legacy_walk(i, visit)),
        Node::Scalar(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::Resource;

    fn img(name: &str, f: impl FnOnce(&mut ImageSpec)) -> ImageSpec {
        let mut s = ImageSpec {
            name: name.into(),
            ..Default::default()
        };
        f(&mut s);
        s
    }

    // Each case captured from `kubectl kustomize` v5.5.0.
    #[test]
    fn rewrites_match_kubectl() {
        let tag = |t: &str| {
            let t = t.to_string();
            move |s: &mut ImageSpec| s.new_tag = t
        };
        let nginx = img("nginx", tag("1.2"));
        assert_eq!(nginx.rewrite("nginx").as_deref(), Some("nginx:1.2"));
        assert_eq!(
            nginx.rewrite("nginx@sha256:111").as_deref(),
            Some("nginx:1.2")
        );
        assert_eq!(
            nginx.rewrite("nginx:1.0@sha256:222").as_deref(),
            Some("nginx:1.2")
        );
        assert_eq!(nginx.rewrite("docker.io/library/nginx:1"), None);
        assert_eq!(nginx.rewrite("nginxx"), None);
        let reg = img("reg.io:5000/app", |s| s.new_name = "other.io/app2".into());
        assert_eq!(
            reg.rewrite("reg.io:5000/app:v1").as_deref(),
            Some("other.io/app2:v1")
        );
        assert_eq!(
            reg.rewrite("reg.io:5000/app").as_deref(),
            Some("other.io/app2")
        );
        let bb = img("busybox", |s| s.digest = "sha256:abc".into());
        assert_eq!(
            bb.rewrite("busybox:1.0").as_deref(),
            Some("busybox@sha256:abc")
        );
        let redis = img("redis", |s| {
            s.new_tag = "v2".into();
            s.digest = "sha256:def".into();
        });
        assert_eq!(
            redis.rewrite("redis:6@sha256:999").as_deref(),
            Some("redis:v2@sha256:def")
        );
        let newname_tag = img("a", |s| s.new_name = "b:7".into());
        assert_eq!(newname_tag.rewrite("a:1").as_deref(), Some("b:7:1"));
        assert_eq!(img("c", tag("5")).rewrite("c@sha512:abc"), None);
        assert_eq!(img("c", tag("5")).rewrite("c:{x}").as_deref(), Some("c:5"));
        let re = img("dd+", tag("5"));
        assert_eq!(re.rewrite("dd+"), None);
        assert_eq!(re.rewrite("ddd").as_deref(), Some("ddd:5"));
    }

    #[test]
    fn tag_suffix_rules() {
        let suf = img("nginx", |s| s.tag_suffix = "-x".into());
        assert_eq!(suf.rewrite("nginx:1").as_deref(), Some("nginx:1-x"));
        assert_eq!(suf.rewrite("nginx@sha256:9").as_deref(), Some("nginx:-x"));
        let with_tag = img("a", |s| {
            s.new_tag = "2".into();
            s.tag_suffix = "-s".into();
        });
        assert_eq!(with_tag.rewrite("a").as_deref(), Some("a:2"));
    }

    #[test]
    fn split_respects_registry_port() {
        assert_eq!(
            split_image("reg:5000/a/b:t@sha256:1"),
            ("reg:5000/a/b".into(), "t".into(), "sha256:1".into())
        );
        assert_eq!(
            split_image("a@sha256:1"),
            ("a".into(), "".into(), "sha256:1".into())
        );
        assert_eq!(
            split_image("reg:5000/a"),
            ("reg:5000/a".into(), "".into(), "".into())
        );
    }

    fn containers(images: &[&str]) -> Node {
        Node::Seq(
            images
                .iter()
                .map(|i| {
                    let mut c = Node::map();
                    c.as_map_mut()
                        .unwrap()
                        .insert("image".into(), Node::string(*i));
                    c
                })
                .collect(),
        )
    }

    fn object(kind: &str) -> Node {
        let mut o = Node::map();
        let m = o.as_map_mut().unwrap();
        m.insert("apiVersion".into(), Node::string("example.com/v1"));
        m.insert("kind".into(), Node::string(kind));
        let mut md = Node::map();
        md.as_map_mut()
            .unwrap()
            .insert("name".into(), Node::string("c"));
        m.insert("metadata".into(), md);
        o
    }

    #[test]
    fn custom_kinds_are_rewritten_anywhere_but_spec_image_is_not() {
        let mut o = object("Custom");
        let spec = o.ensure_map_path(&["spec"]).unwrap();
        spec.insert("containers".into(), containers(&["nginx"]));
        spec.insert("image".into(), Node::string("nginx"));
        let mut other = Node::map();
        other
            .as_map_mut()
            .unwrap()
            .insert("initContainers".into(), containers(&["nginx"]));
        spec.insert("other".into(), other);
        let mut crd = object("CustomResourceDefinition");
        crd.ensure_map_path(&["spec"])
            .unwrap()
            .insert("containers".into(), containers(&["nginx"]));
        let mut res = vec![Resource::new(o, "t"), Resource::new(crd, "t")];
        let nginx = img("nginx", |s| s.new_tag = "1.2".into());
        apply_images(&mut res, &[nginx], &[]).unwrap();
        let o = &res[0].obj;
        let first = |n: &Node| {
            n.as_seq().unwrap()[0]
                .str_at(&["image"])
                .map(str::to_string)
        };
        assert_eq!(
            first(o.get_path(&["spec", "containers"]).unwrap()).as_deref(),
            Some("nginx:1.2")
        );
        assert_eq!(
            first(o.get_path(&["spec", "other", "initContainers"]).unwrap()).as_deref(),
            Some("nginx:1.2")
        );
        assert_eq!(o.str_at(&["spec", "image"]), Some("nginx"));
        let crd = &res[1].obj;
        assert_eq!(
            first(crd.get_path(&["spec", "containers"]).unwrap()).as_deref(),
            Some("nginx")
        );
    }

    #[test]
    fn field_specs_apply_after_legacy_pass() {
        let mut o = object("Pod");
        o.ensure_map_path(&["spec"])
            .unwrap()
            .insert("containers".into(), containers(&["nginx:1"]));
        o.ensure_map_path(&["spec"])
            .unwrap()
            .insert("extra".into(), Node::string("nginx:1"));
        let mut res = vec![Resource::new(o, "t")];
        let suf = img("nginx", |s| s.tag_suffix = "-x".into());
        let specs = [
            FieldSpec::new("Pod", "spec/containers[]/image", true),
            FieldSpec::new("Pod", "spec/extra", false),
        ];
        apply_images(&mut res, &[suf], &specs).unwrap();
        let c = res[0]
            .obj
            .get_path(&["spec", "containers"])
            .unwrap()
            .as_seq()
            .unwrap();
        assert_eq!(c[0].str_at(&["image"]), Some("nginx:1-x-x"));
        assert_eq!(res[0].obj.str_at(&["spec", "extra"]), Some("nginx:1-x"));
    }

    #[test]
    fn non_scalar_image_is_an_error() {
        let mut o = object("Pod");
        let mut bad = Node::map();
        bad.as_map_mut()
            .unwrap()
            .insert("image".into(), Node::map());
        o.ensure_map_path(&["spec"])
            .unwrap()
            .insert("containers".into(), Node::Seq(vec![bad]));
        let mut res = vec![Resource::new(o, "t")];
        let e = apply_images(&mut res, &[img("nginx", |_| {})], &[]).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("wrong node kind: expected ScalarNode but got MappingNode"));
    }

    #[test]
    fn number_tags_are_refused_like_go() {
        let mut n = Node::map();
        n.as_map_mut().unwrap().insert(
            "newTag".into(),
            Node::scalar("1.10", fjord_yaml::Tag::Float),
        );
        assert_eq!(
            ImageSpec::parse(&n).unwrap_err().to_string(),
            "json: cannot unmarshal number into Go struct field Image.images.newTag of type string"
        );
    }
}
