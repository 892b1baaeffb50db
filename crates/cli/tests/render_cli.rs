//! `fjord render` through the real binary: plain directories, output formats and flags.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn fjord(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fjord"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run fjord")
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "fjord failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn cm(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: v\n")
}

fn names(yaml: &str) -> Vec<String> {
    yaml.lines()
        .filter_map(|l| l.strip_prefix("  name: ").map(str::to_string))
        .collect()
}

#[test]
fn plain_directory_reads_yaml_yml_json_in_path_order_and_flattens_lists() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "b.yaml", &cm("b"));
    write(t.path(), "a.yml", &format!("{}---\n{}", cm("a1"), cm("a2")));
    write(
        t.path(),
        "c.json",
        r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c1"}},{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c2"}}]}"#,
    );
    write(t.path(), "notes.txt", "not a manifest");
    write(t.path(), "sub/d.yaml", &cm("d"));
    write(t.path(), ".hidden/e.yaml", &cm("e"));
    let out = stdout(&fjord(&["render", "."], t.path()));
    assert_eq!(names(&out), ["a1", "a2", "b", "c1", "c2"]);
    let out = stdout(&fjord(&["render", ".", "--recurse"], t.path()));
    assert_eq!(names(&out), ["a1", "a2", "b", "c1", "c2", "d"]);
    let out = stdout(&fjord(
        &["render", ".", "--recurse", "--include", "{sub/*,b.yaml}"],
        t.path(),
    ));
    assert_eq!(names(&out), ["b", "d"]);
    let out = stdout(&fjord(&["render", ".", "--exclude", "*.json"], t.path()));
    assert_eq!(names(&out), ["a1", "a2", "b"]);
}

#[test]
fn json_output_is_a_v1_list() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "kustomization.yaml",
        "resources:\n- cm.yaml\nnamePrefix: p-\n",
    );
    write(t.path(), "cm.yaml", &cm("x"));
    let out = stdout(&fjord(&["render", ".", "-o", "json"], t.path()));
    let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(v["kind"], "List");
    assert_eq!(v["apiVersion"], "v1");
    assert_eq!(v["items"][0]["metadata"]["name"], "p-x");
    assert_eq!(v["items"][0]["data"]["k"], "v");
}

#[test]
fn reorder_none_keeps_input_order_and_legacy_sorts() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "kustomization.yaml", "resources:\n- all.yaml\n");
    write(
        t.path(),
        "all.yaml",
        &format!(
            "{}---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns\n",
            cm("z")
        ),
    );
    let legacy = stdout(&fjord(&["render", "."], t.path()));
    assert_eq!(names(&legacy), ["ns", "z"]);
    let none = stdout(&fjord(&["render", ".", "--reorder", "none"], t.path()));
    assert_eq!(names(&none), ["z", "ns"]);
}

#[test]
fn unsupported_features_are_refused_with_nothing_on_stdout() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "kustomization.yaml", "resources:\n- cm.yaml\n");
    write(t.path(), "cm.yaml", &cm("x"));
    for flag in ["--enable-helm", "--enable-alpha-plugins"] {
        let o = fjord(&["render", ".", flag], t.path());
        assert_eq!(o.status.code(), Some(1), "{flag}");
        assert!(o.stdout.is_empty(), "{flag}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("not supported"), "{flag}: {err}");
    }
}

#[test]
fn help_is_available_everywhere() {
    let t = tempfile::tempdir().unwrap();
    for args in [vec!["--help"], vec!["render", "--help"]] {
        let o = fjord(&args, t.path());
        assert!(o.status.success());
        assert!(String::from_utf8_lossy(&o.stdout).contains("Usage"));
    }
}
