//! Image Updater–style edits of a kustomization's `images:` and of `.argocd-source-<app>.yaml`.

use std::path::PathBuf;

use fjord_image::edit::{
    argocd_source_image, argocd_source_with_images, kustomization_image, set_kustomization_image,
    EditError, KustomizeImage,
};

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/edit")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn image(name: &str, new_name: Option<&str>, tag: Option<&str>) -> KustomizeImage {
    KustomizeImage {
        name: name.into(),
        new_name: new_name.map(Into::into),
        new_tag: tag.map(Into::into),
        digest: None,
    }
}

#[test]
fn existing_entry_is_replaced_where_it_stands() {
    let input = fixture("kustomization.in.yaml");
    let web = image("web", Some("registry.example.com/team/web"), Some("1.1.0"));
    let out = set_kustomization_image(&input, &web)
        .unwrap()
        .expect("a change");
    assert_eq!(out, fixture("kustomization.web.want.yaml"));
    assert_eq!(kustomization_image(&out, "web").unwrap(), Some(web.clone()));
    assert_eq!(set_kustomization_image(&out, &web).unwrap(), None);
}

#[test]
fn new_entry_is_appended_after_the_last_one() {
    let input = fixture("kustomization.in.yaml");
    let out = set_kustomization_image(&input, &image("cache", None, Some("7")))
        .unwrap()
        .unwrap();
    assert_eq!(out, fixture("kustomization.append.want.yaml"));
}

#[test]
fn digest_entry_written_in_another_key_order_is_rewritten_in_place() {
    let input = fixture("kustomization.in.yaml");
    // The db entry starts with `digest`, which must go: the entry is rewritten at its place.
    let out = set_kustomization_image(&input, &image("db", None, Some("16")))
        .unwrap()
        .unwrap();
    let want = input.replace(
        "  - digest: sha256:2222222222222222222222222222222222222222222222222222222222222222\n    name: db\n",
        "  - name: db\n    newTag: \"16\"\n",
    );
    assert_eq!(out, want);
    // Comments around the entry survive.
    assert!(
        out.contains("  # Database, pinned by digest.\n  - name: db\n"),
        "{out}"
    );
}

#[test]
fn crlf_kustomization_keeps_its_line_endings() {
    let input = fixture("kustomization.in.yaml").replace('\n', "\r\n");
    let out = set_kustomization_image(&input, &image("cache", None, Some("7")))
        .unwrap()
        .unwrap();
    assert_eq!(
        out,
        fixture("kustomization.append.want.yaml").replace('\n', "\r\n")
    );
}

#[test]
fn invalid_kustomization_is_refused() {
    let err = set_kustomization_image(
        "images:\n- name: a\n  newTag: [\n",
        &image("a", None, Some("1")),
    )
    .unwrap_err();
    assert!(matches!(err, EditError::Parse { .. }), "{err:?}");
}

#[test]
fn argocd_source_round_trip() {
    let images = vec!["web=registry.example.com/team/web:1.1.0".to_string()];
    let created = argocd_source_with_images(None, &images).unwrap().unwrap();
    assert_eq!(
        created,
        "kustomize:\n  images:\n  - web=registry.example.com/team/web:1.1.0\n"
    );
    let bumped = argocd_source_with_images(
        Some(&created),
        &["web=registry.example.com/team/web:1.2.0".to_string()],
    )
    .unwrap()
    .unwrap();
    assert_eq!(created.replace("1.1.0", "1.2.0"), bumped);
    assert_eq!(
        argocd_source_image(&bumped, "web").unwrap().as_deref(),
        Some("web=registry.example.com/team/web:1.2.0")
    );
    assert_eq!(argocd_source_with_images(Some(&bumped), &[]).unwrap(), None);
}
