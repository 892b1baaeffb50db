//! Format-preserving edits of manifest files: fixtures with comments, several documents,
//! CRLF line endings, quoted images, non-workload kinds and invalid YAML.

use std::path::PathBuf;

use fjord_image::edit::{set_image_in_manifest, EditError};
use fjord_image::setimage::SetImageArg;

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/edit")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn args(list: &[&str]) -> Vec<SetImageArg> {
    list.iter()
        .map(|a| SetImageArg::parse(a).unwrap_or_else(|e| panic!("{a}: {e}")))
        .collect()
}

const NEW_DIGEST: &str =
    "busybox@sha256:1111111111111111111111111111111111111111111111111111111111111111";

fn workload_args() -> Vec<SetImageArg> {
    args(&[
        "nginx:1.27.0",
        "redis=mirror.example.com/redis:7.2",
        NEW_DIGEST,
        "registry.example.com:5000/team/migrate:2.0",
    ])
}

#[test]
fn multi_document_file_keeps_every_other_byte() {
    let input = fixture("workloads.in.yaml");
    let out = set_image_in_manifest(&input, &workload_args())
        .unwrap()
        .expect("images change");
    assert_eq!(out, fixture("workloads.want.yaml"));
    // Applying the same arguments again changes nothing.
    assert_eq!(set_image_in_manifest(&out, &workload_args()).unwrap(), None);
}

#[test]
fn non_workloads_and_unmatched_images_are_untouched() {
    let input = fixture("workloads.in.yaml");
    let out = set_image_in_manifest(&input, &workload_args())
        .unwrap()
        .unwrap();
    // ConfigMap data and a custom kind's spec.image / spec.containers stay as they were.
    assert!(out.contains("data:\n  image: nginx:1.25.1\n"), "{out}");
    assert!(
        out.ends_with("spec:\n  image: nginx\n  containers:\n  - image: nginx\n"),
        "{out}"
    );
    // A different repository whose name starts the same is not matched.
    assert!(
        out.contains("image: nginxinc/nginx-unprivileged:1.25\n"),
        "{out}"
    );
    // Nothing matches: no new text.
    assert_eq!(
        set_image_in_manifest(&input, &args(&["postgres:16"])).unwrap(),
        None
    );
}

#[test]
fn crlf_line_endings_are_kept() {
    let input = fixture("crlf.in.yaml");
    assert!(
        input.contains("\r\n"),
        "fixture must hold CRLF line endings"
    );
    let out = set_image_in_manifest(&input, &args(&["nginx:2"]))
        .unwrap()
        .unwrap();
    assert_eq!(out, fixture("crlf.want.yaml"));
    // The big fixture converted to CRLF edits the same way.
    let crlf = fixture("workloads.in.yaml").replace('\n', "\r\n");
    let out = set_image_in_manifest(&crlf, &workload_args())
        .unwrap()
        .unwrap();
    assert_eq!(out, fixture("workloads.want.yaml").replace('\n', "\r\n"));
}

#[test]
fn quoting_style_of_the_value_is_kept() {
    let input =
        "kind: Pod\nspec:\n  containers:\n  - image: \"a:1\"\n  - image: 'b:1'\n  - image: c:1\n";
    let out = set_image_in_manifest(input, &args(&["a:2", "b:2", "c:2"]))
        .unwrap()
        .unwrap();
    assert_eq!(
        out,
        "kind: Pod\nspec:\n  containers:\n  - image: \"a:2\"\n  - image: 'b:2'\n  - image: c:2\n"
    );
}

#[test]
fn keep_components_keep_the_current_values() {
    let input = "kind: Job\nspec:\n  template:\n    spec:\n      containers:\n      - image: reg.io/app:1.0 # x\n";
    let out = set_image_in_manifest(input, &args(&["reg.io/app=*:1.1"]))
        .unwrap()
        .unwrap();
    assert!(out.ends_with("- image: reg.io/app:1.1 # x\n"), "{out}");
    let out = set_image_in_manifest(input, &args(&["reg.io/app=mirror.io/app:*"]))
        .unwrap()
        .unwrap();
    assert!(out.ends_with("- image: mirror.io/app:1.0 # x\n"), "{out}");
}

#[test]
fn invalid_yaml_is_refused() {
    let err = set_image_in_manifest(&fixture("invalid.yaml"), &args(&["nginx:2"])).unwrap_err();
    assert!(matches!(err, EditError::Parse { .. }), "{err:?}");
    let source = std::error::Error::source(&err)
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(
        source.contains("line"),
        "the cause names the position: {source}"
    );
}

#[test]
fn flow_style_container_that_must_change_is_refused() {
    let input = fixture("workloads.in.yaml");
    let err = set_image_in_manifest(&input, &args(&["alpine:3.20"])).unwrap_err();
    let msg = err.to_string();
    // The Pod's flow-style container is on line 64 of the fixture.
    assert!(
        matches!(err, EditError::Unsupported { line: 64, .. }),
        "{msg}"
    );
    assert!(
        msg.contains("spec.containers[0].image in document 4"),
        "{msg}"
    );
}

/// The container images of every workload, by `kind/name`, in a stream of documents.
fn workload_images(text: &str) -> Vec<(String, Vec<String>)> {
    let docs = fjord_yaml::parse_documents(text.as_bytes()).expect("valid YAML");
    let mut out = Vec::new();
    for doc in &docs {
        let kind = doc.str_at(&["kind"]).unwrap_or_default();
        let spec: &[&str] = match kind {
            "Pod" => &["spec"],
            "Deployment" => &["spec", "template", "spec"],
            "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
            _ => continue,
        };
        let mut images = Vec::new();
        for list in ["initContainers", "containers"] {
            let mut path = spec.to_vec();
            path.push(list);
            for c in doc
                .get_path(&path)
                .and_then(|n| n.as_seq())
                .into_iter()
                .flatten()
            {
                images.push(c.str_at(&["image"]).unwrap_or_default().to_string());
            }
        }
        let name = doc.str_at(&["metadata", "name"]).unwrap_or_default();
        out.push((format!("{kind}/{name}"), images));
    }
    out.sort();
    out
}

/// What `kubectl kustomize` makes of the same images, applied through a kustomization's
/// `images:`, must be what the in-place edit wrote.
#[test]
fn edit_agrees_with_kustomize_images_transformer() {
    use fjord_testkit::require_tools;
    use fjord_testkit::tools::KUBECTL;
    require_tools!(KUBECTL);
    // kustomize's reader is not asked to handle the `...` end marker.
    let input = fixture("workloads.in.yaml").replace("...\n", "");
    let ours = set_image_in_manifest(&input, &workload_args())
        .unwrap()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("workloads.yaml"), &input).unwrap();
    let mut k = String::from("resources:\n- workloads.yaml\nimages:\n");
    for a in workload_args() {
        k.push_str(&format!("- name: {:?}\n", a.name));
        for (key, v) in [
            ("newName", &a.new_name),
            ("newTag", &a.new_tag),
            ("digest", &a.digest),
        ] {
            if let Some(v) = v {
                k.push_str(&format!("  {key}: {v:?}\n"));
            }
        }
    }
    std::fs::write(dir.path().join("kustomization.yaml"), k).unwrap();
    let out = std::process::Command::new("kubectl")
        .arg("kustomize")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs = String::from_utf8(out.stdout).unwrap();
    let want = workload_images(&theirs);
    assert_eq!(want.len(), 3, "{want:?}");
    assert_eq!(workload_images(&ours), want);
}
