//! The renderer's confinement and limits, through its public API: a fence (the repository
//! root) that no file reference, base, component or option can leave; render limits counted
//! before bytes are parsed; duplicate identities in plain directories; byte-order marks.

use fjord_render::{render, Limit, LoadRestrictor, RenderError, RenderLimits, RenderOptions};
use std::path::{Path, PathBuf};

/// A scratch repository: `repo/` with `files`, and a sibling `outside/secret.txt` (a canary
/// a fenced render must never read).
fn repo(name: &str, files: &[(&str, &str)]) -> (PathBuf, PathBuf) {
    let top = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fjord-confine-{name}"));
    let _ = std::fs::remove_dir_all(&top);
    let root = top.join("repo");
    for (rel, text) in files {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(top.join("outside")).unwrap();
    std::fs::write(top.join("outside/secret.txt"), "CANARY-SECRET\n").unwrap();
    std::fs::write(
        top.join("outside/kustomization.yaml"),
        "resources: [cm.yaml]\n",
    )
    .unwrap();
    std::fs::write(
        top.join("outside/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stolen\ndata:\n  k: CANARY-SECRET\n",
    )
    .unwrap();
    (root, top)
}

fn fenced(root: &Path) -> RenderOptions {
    RenderOptions {
        fence: Some(root.to_path_buf()),
        ..RenderOptions::default()
    }
}

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: b\n";

/// Renders `rel` of a repository fenced at its root (and with no restrictor, as the
/// controller's overrides once did) and expects a security refusal without the canary.
fn assert_refused(name: &str, files: &[(&str, &str)], rel: &str) -> String {
    let (root, _top) = repo(name, files);
    for restrictor in [LoadRestrictor::RootOnly, LoadRestrictor::None] {
        let opts = RenderOptions {
            load_restrictor: restrictor,
            ..fenced(&root)
        };
        let err = match render(&root.join(rel), &opts) {
            Ok(objs) => panic!("{name}: rendered {} objects: {objs:?}", objs.len()),
            Err(e) => fjord_model::chain(&e),
        };
        assert!(err.contains("security"), "{name}: {err}");
        assert!(!err.contains("CANARY"), "{name}: {err}");
    }
    let opts = fenced(&root);
    render(&root.join(rel), &opts)
        .map_err(|e| fjord_model::chain(&e))
        .unwrap_err()
}

#[test]
fn generator_files_and_env_files_stay_inside_the_fence() {
    for (case, gen) in [
        ("abs-file", "files: [/etc/passwd]"),
        ("abs-keyed-file", "files: [pw=/etc/hostname]"),
        ("proc", "files: [/proc/self/environ]"),
        ("dotdot-file", "files: [../../outside/secret.txt]"),
        ("abs-env", "envs: [/etc/passwd]"),
        ("dotdot-env", "envs: [../../outside/secret.txt]"),
    ] {
        let k = format!("configMapGenerator:\n- name: g\n  {gen}\n");
        let err = assert_refused(case, &[("app/kustomization.yaml", &k)], "app");
        // The fence answers first, and never with the resolved host path.
        assert!(!err.contains("is not in or below"), "{case}: {err}");
    }
    let err = assert_refused(
        "abs-msg",
        &[(
            "app/kustomization.yaml",
            "secretGenerator:\n- name: g\n  files: [/etc/passwd]\n",
        )],
        "app",
    );
    assert!(err.contains("absolute path '/etc/passwd'"), "{err}");
}

#[test]
fn patches_configurations_crds_and_openapi_stay_inside_the_fence() {
    let base = [("app/cm.yaml", CM)];
    for (case, field) in [
        ("patch-abs", "patches:\n- path: /etc/passwd\n"),
        ("patch-out", "patches:\n- path: ../../outside/cm.yaml\n"),
        ("psm", "patchesStrategicMerge:\n- ../../outside/cm.yaml\n"),
        ("configurations", "configurations:\n- /etc/passwd\n"),
        ("crds", "crds:\n- ../../outside/cm.yaml\n"),
        ("openapi", "openapi:\n  path: /proc/self/status\n"),
        ("replacement", "replacements:\n- path: /etc/passwd\n"),
    ] {
        let k = format!("resources: [cm.yaml]\n{field}");
        let mut files = base.to_vec();
        files.push(("app/kustomization.yaml", &k));
        assert_refused(case, &files, "app");
    }
}

#[test]
fn bases_and_components_stay_inside_the_fence() {
    let (_, top) = repo("probe", &[]);
    let outside = top.join("outside").display().to_string();
    for (case, k) in [
        ("abs-base", format!("resources: [{outside}]\n")),
        ("dotdot-base", "resources: [../../outside]\n".to_string()),
        ("abs-file", format!("resources: [{outside}/cm.yaml]\n")),
        ("component", "components: [../../outside]\n".to_string()),
        ("generators", "generators: [../../outside]\n".to_string()),
    ] {
        let err = assert_refused(case, &[("app/kustomization.yaml", &k)], "app");
        assert!(!err.contains("stolen"), "{case}: {err}");
    }
}

#[cfg(unix)]
#[test]
fn symlinks_that_leave_the_fence_are_refused() {
    let (root, top) = repo(
        "symlink",
        &[(
            "app/kustomization.yaml",
            "resources: [link.yaml, linkdir]\n",
        )],
    );
    std::os::unix::fs::symlink(top.join("outside/cm.yaml"), root.join("app/link.yaml")).unwrap();
    std::os::unix::fs::symlink(top.join("outside"), root.join("app/linkdir")).unwrap();
    let err = render(&root.join("app"), &fenced(&root))
        .map_err(|e| fjord_model::chain(&e))
        .unwrap_err();
    assert!(err.contains("security; 'link.yaml'"), "{err}");
    assert!(
        !err.contains("outside/cm.yaml"),
        "the host path leaks: {err}"
    );
}

#[test]
fn relative_paths_inside_the_fence_keep_working() {
    let (root, _top) = repo(
        "inside",
        &[
            ("base/kustomization.yaml", "resources: [cm.yaml]\n"),
            ("base/cm.yaml", CM),
            ("env/app.env", "K=V\n"),
            (
                "app/kustomization.yaml",
                "resources: [../base]\nconfigMapGenerator:\n- name: g\n  envs: [../env/app.env]\n",
            ),
        ],
    );
    let opts = RenderOptions {
        load_restrictor: LoadRestrictor::None,
        ..fenced(&root)
    };
    let objs = render(&root.join("app"), &opts).unwrap();
    assert_eq!(objs.len(), 2);
    // Unfenced, kustomize's own rule: files outside the kustomization root are refused, bases
    // outside it are fine.
    let unfenced = RenderOptions::default();
    assert!(render(&root.join("app"), &unfenced)
        .map_err(|e| fjord_model::chain(&e))
        .unwrap_err()
        .contains("is not in or below"));
}

#[test]
fn overrides_apply_in_memory_and_lift_nothing() {
    let (root, _top) = repo(
        "overrides",
        &[
            ("app/kustomization.yaml", "resources: [cm.yaml]\n"),
            ("app/cm.yaml", CM),
            (
                "evil/kustomization.yaml",
                "configMapGenerator:\n- name: g\n  files: [/etc/passwd]\n",
            ),
        ],
    );
    let over = fjord_yaml::parse_document(
        b"namePrefix: p-\nnameSuffix: -s\nnamespace: ns\ncommonLabels: {a: b}\n\
          commonAnnotations: {c: d}\nimages: [{name: nginx, newTag: '1'}]\n",
    )
    .unwrap();
    let opts = RenderOptions {
        overrides: Some(over.clone()),
        ..fenced(&root)
    };
    let objs = render(&root.join("app"), &opts).unwrap();
    assert_eq!(objs[0].str_at(&["metadata", "name"]), Some("p-cm-s"));
    assert_eq!(objs[0].str_at(&["metadata", "namespace"]), Some("ns"));
    assert_eq!(objs[0].str_at(&["metadata", "labels", "a"]), Some("b"));
    assert_eq!(objs[0].str_at(&["metadata", "annotations", "c"]), Some("d"));
    // With overrides, the fence and the restrictor still hold.
    let err = render(&root.join("evil"), &opts)
        .map_err(|e| fjord_model::chain(&e))
        .unwrap_err();
    assert!(err.contains("security; absolute path"), "{err}");
    // Overrides cannot smuggle in file-reading fields.
    let sneaky = fjord_yaml::parse_document(b"resources: [/etc]\n").unwrap();
    let opts = RenderOptions {
        overrides: Some(sneaky),
        ..fenced(&root)
    };
    let err = render(&root.join("app"), &opts)
        .map_err(|e| fjord_model::chain(&e))
        .unwrap_err();
    assert!(
        err.contains("spec.source.kustomize: field 'resources'"),
        "{err}"
    );
}

fn limited(l: RenderLimits) -> RenderOptions {
    RenderOptions {
        limits: l,
        ..RenderOptions::default()
    }
}

#[test]
fn each_limit_is_enforced_and_named() {
    let many: String = (0..5)
        .map(|i| format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\n"))
        .collect();
    let (root, _top) = repo(
        "limits",
        &[
            ("k/kustomization.yaml", "resources: [a.yaml, b.yaml]\n"),
            ("k/a.yaml", &many),
            ("k/b.yaml", CM),
            ("d/a.yaml", &many),
            ("d/b.yaml", CM),
        ],
    );
    let base = RenderLimits::default();
    for dir in ["k", "d"] {
        let cases = [
            (
                Limit::Objects,
                RenderLimits {
                    max_objects: 5,
                    ..base
                },
            ),
            (
                Limit::Files,
                RenderLimits {
                    max_files: 1,
                    ..base
                },
            ),
            (
                Limit::InputBytes,
                RenderLimits {
                    max_input_bytes: 100,
                    ..base
                },
            ),
            (
                Limit::RenderedBytes,
                RenderLimits {
                    max_rendered_bytes: 100,
                    ..base
                },
            ),
        ];
        for (limit, l) in cases {
            let err = render(&root.join(dir), &limited(l)).unwrap_err();
            let got = err.exceeded_limit().map(|e| e.limit);
            assert_eq!(got, Some(limit), "{dir}: {err}");
            assert!(
                fjord_model::chain(&err).contains(limit.name()),
                "{dir}: {err}"
            );
        }
        assert_eq!(
            render(&root.join(dir), &RenderOptions::default())
                .unwrap()
                .len(),
            6
        );
    }
}

#[test]
fn big_files_are_refused_before_they_are_read() {
    let (root, _top) = repo("bomb", &[]);
    std::fs::create_dir_all(root.join("d")).unwrap();
    let mut k = String::from("resources:\n");
    for i in 0..20 {
        let f = std::fs::File::create(root.join(format!("d/f{i}.yaml"))).unwrap();
        // Sparse: 60 MB each on paper, no disk used.
        f.set_len(60_000_000).unwrap();
        k += &format!("- ../d/f{i}.yaml\n");
    }
    std::fs::create_dir_all(root.join("k")).unwrap();
    std::fs::write(root.join("k/kustomization.yaml"), k).unwrap();
    let l = RenderLimits {
        max_input_bytes: 100_000_000,
        ..RenderLimits::default()
    };
    let opts = RenderOptions {
        load_restrictor: LoadRestrictor::None,
        ..limited(l)
    };
    let start = std::time::Instant::now();
    // A plain directory is refused before its first file is read.
    let err = render(&root.join("d"), &opts).unwrap_err();
    assert_eq!(
        err.exceeded_limit().map(|e| e.limit),
        Some(Limit::InputBytes),
        "{err}"
    );
    assert!(
        fjord_model::chain(&err).contains("20 files of 1200000000 bytes"),
        "{err}"
    );
    // A kustomization reads the first (60 MB of NUL bytes: a parse error, or the limit).
    let err = render(&root.join("k"), &opts).unwrap_err();
    assert!(
        fjord_model::chain(&err).contains("f0.yaml") || err.exceeded_limit().is_some(),
        "{err}"
    );
    assert!(start.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn duplicate_identities_in_a_directory_name_both_files() {
    let (root, _top) = repo(
        "dups",
        &[
            ("d/a.yaml", CM),
            (
                "d/b.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n",
            ),
            ("ok/a.yaml", CM),
            // Same name, other namespace or other group: distinct objects.
            (
                "ok/b.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: other\n",
            ),
            (
                "ok/c.yaml",
                "apiVersion: example.com/v1\nkind: ConfigMap\nmetadata:\n  name: cm\n",
            ),
        ],
    );
    let err = render(&root.join("d"), &RenderOptions::default())
        .map_err(|e| fjord_model::chain(&e))
        .unwrap_err();
    assert!(err.contains("ConfigMap cm is defined twice"), "{err}");
    assert!(
        err.contains("'a.yaml'") && err.contains("'b.yaml'"),
        "{err}"
    );
    assert_eq!(
        render(&root.join("ok"), &RenderOptions::default())
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn byte_order_marks_are_read_as_kubectl_reads_them() {
    let utf16 = |le: bool, s: &str| -> Vec<u8> {
        let mut v = if le {
            vec![0xFF, 0xFE]
        } else {
            vec![0xFE, 0xFF]
        };
        for u in s.encode_utf16() {
            v.extend(if le { u.to_le_bytes() } else { u.to_be_bytes() });
        }
        v
    };
    let (root, _top) = repo("bom", &[]);
    for sub in ["d", "k"] {
        let d = root.join(sub);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("a.yaml"),
            [b"\xEF\xBB\xBF".as_slice(), CM.as_bytes()].concat(),
        )
        .unwrap();
        std::fs::write(
            d.join("b.yaml"),
            utf16(true, &CM.replace("name: cm", "name: le")),
        )
        .unwrap();
        std::fs::write(
            d.join("c.yaml"),
            utf16(false, &CM.replace("name: cm", "name: be")),
        )
        .unwrap();
    }
    std::fs::write(
        root.join("k/kustomization.yaml"),
        utf16(true, "resources: [a.yaml, b.yaml, c.yaml]\n"),
    )
    .unwrap();
    for sub in ["d", "k"] {
        let objs = render(&root.join(sub), &RenderOptions::default()).unwrap();
        let mut names: Vec<_> = objs
            .iter()
            .map(|o| o.str_at(&["metadata", "name"]).unwrap().to_string())
            .collect();
        names.sort();
        assert_eq!(names, ["be", "cm", "le"], "{sub}");
    }
}

#[test]
fn limit_errors_are_limit_variants() {
    let e: RenderError = fjord_render::LimitExceeded {
        limit: Limit::Files,
        max: 1,
        what: "x".into(),
    }
    .into();
    assert!(e.to_string().contains("max-files (1)"));
}
