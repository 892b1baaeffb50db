//! An image's current tag: from `spec.source.kustomize.images` override strings, from
//! `status.summary.images`, or from a write-back target file; and the override strings and
//! kustomization entries the updater writes.

use fjord_image::edit::KustomizeImage;
use fjord_image::reference::ImageRef;
use fjord_image::updater::ImageSpec;
use serde_json::Value;

/// The name an image has in kustomize `images:` entries and override strings: the
/// `kustomize.image-name` annotation, else the image as written without tag or digest.
pub(crate) fn kustomize_name(spec: &ImageSpec) -> String {
    spec.kustomize_image_name
        .clone()
        .unwrap_or_else(|| spec.image.name())
}

/// The key (image name matched) of a kustomize override string `name=new:tag` / `name:tag`.
pub(crate) fn override_key(entry: &str) -> String {
    fjord_image::edit::override_name(entry).to_string()
}

/// The tag (or digest) an override string sets.
pub(crate) fn override_tag(entry: &str) -> Option<String> {
    let value = entry.split_once('=').map_or(entry, |(_, v)| v);
    let r = ImageRef::parse(value).ok()?;
    r.digest.or(r.tag)
}

/// The current tag of `spec` in a list of override strings.
pub(crate) fn from_overrides(entries: &[String], spec: &ImageSpec) -> Option<String> {
    let key = kustomize_name(spec);
    entries
        .iter()
        .find(|e| override_key(e) == key)
        .and_then(|e| override_tag(e))
}

/// `spec.source.kustomize.images` of an app.
pub(crate) fn spec_overrides(app: &Value) -> Vec<String> {
    app.pointer("/spec/source/kustomize/images")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// Whether two references name the same image (registry and repository, normalised).
fn same_image(a: &ImageRef, b: &ImageRef) -> bool {
    a.registry_host() == b.registry_host() && a.full_repository() == b.full_repository()
}

/// The tag of `spec`'s image among the app's `status.summary.images` (the deployed images);
/// `None` when the image is not deployed.
pub(crate) fn from_summary(app: &Value, spec: &ImageSpec) -> Option<Option<String>> {
    let images = app.pointer("/status/summary/images")?.as_array()?;
    images
        .iter()
        .filter_map(Value::as_str)
        .filter_map(|s| ImageRef::parse(s).ok())
        .find(|r| same_image(r, &spec.image))
        .map(|r| r.digest.or(r.tag))
}

/// The current tag in a kustomization text (its `images:` entry for the image).
pub(crate) fn from_kustomization(text: &str, spec: &ImageSpec) -> Result<Option<String>, String> {
    let entry = fjord_image::edit::kustomization_image(text, &kustomize_name(spec))
        .map_err(|e| fjord_model::chain(&e))?;
    Ok(entry.and_then(|e| e.digest.or(e.new_tag)))
}

/// The current tag in an `.argocd-source-<app>.yaml` text.
pub(crate) fn from_argocd_source(text: &str, spec: &ImageSpec) -> Result<Option<String>, String> {
    let entry = fjord_image::edit::argocd_source_image(text, &kustomize_name(spec))
        .map_err(|e| fjord_model::chain(&e))?;
    Ok(entry.and_then(|e| override_tag(&e).or(Some(e))))
}

/// The override string that sets `spec`'s image to `new` (a tag, or a `sha256:` digest):
/// `name:tag`, or `orig=name:tag` with `kustomize.image-name`.
pub(crate) fn override_string(spec: &ImageSpec, new: &str) -> String {
    let name = spec.image.name();
    let value = if is_digest(new) {
        format!("{name}@{new}")
    } else {
        format!("{name}:{new}")
    };
    match &spec.kustomize_image_name {
        Some(orig) => format!("{orig}={value}"),
        None => value,
    }
}

/// The kustomization `images:` entry that sets `spec`'s image to `new`.
pub(crate) fn kustomization_entry(spec: &ImageSpec, new: &str) -> KustomizeImage {
    let (new_tag, digest) = if is_digest(new) {
        (None, Some(new.to_string()))
    } else {
        (Some(new.to_string()), None)
    };
    KustomizeImage {
        name: kustomize_name(spec),
        new_name: spec
            .kustomize_image_name
            .as_ref()
            .map(|_| spec.image.name()),
        new_tag,
        digest,
    }
}

/// Whether a value is a digest rather than a tag.
pub(crate) fn is_digest(v: &str) -> bool {
    v.starts_with("sha256:") || v.starts_with("sha512:")
}

/// `spec.source.kustomize.images` with the entries of `changes` (override strings) replaced by
/// key or appended; every other entry kept in place.
pub(crate) fn merged_overrides(existing: &[String], changes: &[String]) -> Vec<String> {
    let mut out = existing.to_vec();
    for c in changes {
        let key = override_key(c);
        match out.iter_mut().find(|e| override_key(e) == key) {
            Some(slot) => *slot = c.clone(),
            None => out.push(c.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_strings_keys_and_tags() {
        assert_eq!(override_key("nginx=registry.local/nginx:1.2"), "nginx");
        assert_eq!(override_key("127.0.0.1:5000/web:v1"), "127.0.0.1:5000/web");
        assert_eq!(
            override_tag("nginx=registry.local/nginx:1.2").as_deref(),
            Some("1.2")
        );
        assert_eq!(override_tag("127.0.0.1:5000/web:v1").as_deref(), Some("v1"));
        let merged = merged_overrides(
            &["a:1".into(), "127.0.0.1:5000/web:v1".into()],
            &["127.0.0.1:5000/web:v2".into(), "b:3".into()],
        );
        assert_eq!(merged, ["a:1", "127.0.0.1:5000/web:v2", "b:3"]);
    }
}
