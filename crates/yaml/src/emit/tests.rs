//! Golden tests: inputs under `testdata/*.in.yaml`, expected bytes captured from
//! `kubectl kustomize` (kustomize v5.5.0) in `testdata/*.out.yaml`.

use super::*;
use crate::parse::parse_document;

fn golden(input: &str, want: &str) {
    let doc = parse_document(input.as_bytes()).expect("input parses");
    let got = emit(&doc).expect("emits");
    if got != want {
        let diff: Vec<String> = got
            .lines()
            .zip(want.lines())
            .enumerate()
            .filter(|(_, (g, w))| g != w)
            .take(5)
            .map(|(i, (g, w))| format!("line {}: got {g:?} want {w:?}", i + 1))
            .collect();
        panic!(
            "output differs from kustomize:\n{}\n--- got:\n{got}",
            diff.join("\n")
        );
    }
}

macro_rules! golden_test {
    ($name:ident, $file:literal) => {
        #[test]
        fn $name() {
            golden(
                include_str!(concat!("testdata/", $file, ".in.yaml")),
                include_str!(concat!("testdata/", $file, ".out.yaml")),
            );
        }
    };
}

golden_test!(strings_quote_and_fold, "strings");
golden_test!(structure_order_and_layout, "structure");
golden_test!(numbers_and_timestamps, "numbers");
golden_test!(merge_keys_and_aliases, "merge");
golden_test!(nested_blocks_and_complex_keys, "nested");

#[test]
fn documents_are_joined() {
    let a = Node::Map([("a".to_string(), Node::int(1))].into_iter().collect());
    let b = Node::Map(Map::new());
    assert_eq!(emit_documents(&[a.clone(), b]).unwrap(), "a: 1\n---\n{}\n");
    assert_eq!(emit_documents(&[]).unwrap(), "");
    assert_eq!(emit(&a).unwrap(), "a: 1\n");
}

#[test]
fn errors_name_the_field() {
    let doc = parse_document(b"spec:\n  list:\n  - x: .nan\n").unwrap();
    let err = emit(&doc).unwrap_err();
    assert_eq!(err.path(), "spec.list[0].x");
    assert_eq!(
        err.to_string(),
        "field spec.list[0].x: json: unsupported value: NaN"
    );
    let ctl = parse_document(b"a: \"\\x7f\"\n").unwrap();
    assert!(matches!(
        emit(&ctl),
        Err(EmitError::ControlCharacters { .. })
    ));
}

use crate::node::Map;
