//! The kustomization loader and renderer. The input is a `kustomization.yaml`; it is checked
//! as the renderer checks it (`Kustomization::from_doc`) and then rendered, with the default
//! (root-only) load restrictor, in a per-process directory holding a few fixed files (a
//! Deployment, a Service, patches, generator inputs, a base and a component under
//! `fuzz/fixtures/kustomization/`). The directory is made once; only the kustomization file is
//! rewritten per input.
#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use fjord_render::kustomization::Kustomization;
use fjord_render::RenderOptions;
use libfuzzer_sys::fuzz_target;

const FIXTURES: &[(&str, &str)] = &[
    (
        "deployment.yaml",
        include_str!("../fixtures/kustomization/deployment.yaml"),
    ),
    (
        "service.yaml",
        include_str!("../fixtures/kustomization/service.yaml"),
    ),
    (
        "patch.yaml",
        include_str!("../fixtures/kustomization/patch.yaml"),
    ),
    (
        "patch.json",
        include_str!("../fixtures/kustomization/patch.json"),
    ),
    (
        "app.properties",
        include_str!("../fixtures/kustomization/app.properties"),
    ),
    ("app.env", include_str!("../fixtures/kustomization/app.env")),
    (
        "base/kustomization.yaml",
        include_str!("../fixtures/kustomization/base/kustomization.yaml"),
    ),
    (
        "base/cm.yaml",
        include_str!("../fixtures/kustomization/base/cm.yaml"),
    ),
    (
        "comp/kustomization.yaml",
        include_str!("../fixtures/kustomization/comp/kustomization.yaml"),
    ),
];

/// The render directory of this process (its kustomization is replaced per input).
static DIR: LazyLock<PathBuf> = LazyLock::new(|| {
    let dir = std::env::temp_dir().join(format!("fjord-fuzz-kustomization-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (rel, text) in FIXTURES {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().expect("fixture has a parent"))
            .expect("creating the fixture directory");
        std::fs::write(&path, text).expect("writing a fixture");
    }
    dir
});

fuzz_target!(|data: &[u8]| {
    fjord_fuzz::on_small_stack(|| check(data));
});

fn check(data: &[u8]) {
    let dir = &*DIR;
    // The pure check, as `Kustomization::load` does it after reading the file.
    if let Ok(mut docs) = fjord_yaml::parse_documents(data) {
        if docs.len() == 1 {
            let _ = Kustomization::from_doc(dir.join("kustomization.yaml"), &docs.remove(0));
        }
    }
    // The whole build.
    std::fs::write(dir.join("kustomization.yaml"), data).expect("writing kustomization.yaml");
    if let Ok(objects) = fjord_render::render(dir, &RenderOptions::default()) {
        let _ = fjord_yaml::emit_documents(&objects);
    }
}
