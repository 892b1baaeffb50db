//! Tests of the syntax, errors, limits and the public entry points.

use std::collections::BTreeMap;

use super::tests::{ctx, err, r};
use super::*;

#[test]
fn text_fields_and_dot() {
    assert_eq!(r("plain text"), "plain text");
    assert_eq!(r("{{ .user }}:{{ .password }}"), "admin:s3cr3t");
    assert_eq!(r("{{ $.user }}"), "admin");
    assert_eq!(r("{{ with .user }}{{ . }}{{ end }}"), "admin");
    // Bytes that are not UTF-8 are replaced in `render` (text for labels and annotations).
    assert_eq!(r("{{ .binary }}"), "a\u{fffd}b");
}

#[test]
fn trim_markers_and_comments() {
    assert_eq!(r("a  {{- .user -}}  b"), "aadminb");
    assert_eq!(r("a \n {{- .user }} \n b"), "aadmin \n b");
    assert_eq!(r("{{ if true -}}\n  x\n{{- end }}"), "x");
    assert_eq!(r("a {{/* a comment {{ }} */}} b"), "a  b");
    assert_eq!(r("a {{- /* trimmed */ -}} b"), "ab");
    // `{{-3}}` is the number -3, not a trim marker.
    assert_eq!(r("{{-3}}"), "-3");
    assert_eq!(r("{{ \"}}\" }}"), "}}");
}

#[test]
fn literals() {
    assert_eq!(r(r#"{{ "tab\there\u00e9\x41\101" }}"#), "tab\there\u{e9}AA");
    assert_eq!(r("{{ `raw\\n{{` }}"), "raw\\n{{");
    assert_eq!(
        r("{{ 'a' }}|{{ 0x1F }}|{{ 017 }}|{{ 1_000 }}|{{ -2 }}|{{ 1.5e3 }}"),
        "97|31|15|1000|-2|1500"
    );
    assert_eq!(r("{{ true }}|{{ false }}|{{ 0.1 }}"), "true|false|0.1");
}

#[test]
fn if_else_chain() {
    let t = r#"{{ if eq .user "x" }}X{{ else if eq .user "admin" }}A{{ else }}C{{ end }}"#;
    assert_eq!(r(t), "A");
    assert_eq!(r("{{ if .blank }}yes{{ else }}no{{ end }}"), "no");
    assert_eq!(r("{{ if .user }}yes{{ end }}"), "yes");
    assert_eq!(
        r("{{ with .blank }}X{{ else with .user }}{{ . }}{{ end }}"),
        "admin"
    );
    assert_eq!(r("{{ with .blank }}X{{ else }}none{{ end }}"), "none");
}

#[test]
fn range_forms() {
    let t =
        r#"{{ range $k, $v := . }}{{ if hasPrefix "p" $k }}{{ $k }}={{ $v }};{{ end }}{{ end }}"#;
    assert_eq!(r(t), "padded=  hi \n;password=s3cr3t;");
    assert_eq!(r("{{ range $i := 3 }}{{ $i }}{{ end }}"), "012");
    assert_eq!(
        r("{{ range $i, $t := (fromJson .config).tags }}{{ $i }}{{ $t }}{{ $.user }}{{ end }}"),
        "0aadmin1badmin"
    );
    assert_eq!(
        r(r#"{{ range (fromJson "[]") }}x{{ else }}empty{{ end }}"#),
        "empty"
    );
    assert_eq!(r("{{ range $i := 5 }}{{ if eq $i 1 }}{{ continue }}{{ end }}{{ if eq $i 3 }}{{ break }}{{ end }}{{ $i }}{{ end }}"), "02");
    let e = err("{{ range .user }}{{ end }}").to_string();
    assert!(e.contains("range can't iterate over a string"), "{e}");
    assert!(!e.contains("admin"));
}

#[test]
fn variables() {
    assert_eq!(r("{{ $x := .user }}{{ $x }}"), "admin");
    assert_eq!(
        r(r#"{{ $n := "" }}{{ range $k, $v := . }}{{ $n = $k }}{{ end }}{{ $n }}"#),
        "user"
    );
    // Variables declared inside a control structure end with it.
    assert!(matches!(
        err_check("{{ if true }}{{ $y := 1 }}{{ end }}{{ $y }}"),
        TemplateError::Parse { .. }
    ));
    assert_eq!(r("{{ $c := fromJson .config }}{{ $c.host }}"), "db.local");
}

#[test]
fn parenthesized_pipelines() {
    assert_eq!(r(r#"{{ (printf "%s-%s" .user "x") | upper }}"#), "ADMIN-X");
    assert_eq!(r("{{ len (index . \"user\") }}"), "5");
}

#[test]
fn missing_key_is_an_error_naming_the_key() {
    let e = err("line one\n  {{ .nokey }}");
    assert_eq!(
        e,
        TemplateError::Exec {
            key: "data.k".into(),
            line: 2,
            col: 6,
            reason: r#"map has no entry for key "nokey""#.into()
        }
    );
    assert_eq!(
        e.to_string(),
        r#"template data.k: line 2, column 6: map has no entry for key "nokey""#
    );
    let e = err("{{ .user.name }}").to_string();
    assert!(
        e.contains("can't evaluate field name in type string"),
        "{e}"
    );
}

fn err_check(text: &str) -> TemplateError {
    match check("k", text) {
        Ok(()) => panic!("{text:?} parsed"),
        Err(e) => e,
    }
}

#[test]
fn unknown_functions_are_refused_at_parse_time() {
    for name in [
        "sha256sum",
        "pkcs12key",
        "env",
        "genPrivateKey",
        "filterPEM",
        "toYaml",
    ] {
        let text = format!("{{{{ .password | {name} }}}}");
        let e = err_check(&text);
        assert!(
            matches!(&e, TemplateError::UnknownFunction { name: n, .. } if n == name),
            "{e:?}"
        );
        let want = format!(
            "template data.k: function \"{name}\" is not supported by fjord (supported: {})",
            FUNCTIONS.join(", ")
        );
        assert_eq!(e.to_string(), want);
    }
    // Even in a branch that would never run.
    assert!(matches!(
        err_check("{{ if false }}{{ env \"HOME\" }}{{ end }}"),
        TemplateError::UnknownFunction { .. }
    ));
    assert!(err_check("{{ sha256sum .x }}").to_string().starts_with(
        "template data.k: function \"sha256sum\" is not supported by fjord (supported: and, b64dec, b64enc,"
    ));
}

#[test]
fn parse_errors_name_key_line_and_column() {
    let cases = [
        ("{{ .user", 1, 1, "unclosed action"),
        ("ok\n{{ end }}", 2, 4, "unexpected {{end}}"),
        ("{{ else }}", 1, 4, "unexpected {{else}}"),
        ("{{ if .user }}x", 1, 4, "unclosed {{if}}: missing {{end}}"),
        (
            "{{ range . }}{{ else }}{{ else }}{{ end }}",
            1,
            27,
            "expected {{end}}; found {{else}}",
        ),
        ("{{ }}", 1, 4, "missing value for command"),
        ("{{ if }}{{ end }}", 1, 7, "missing value for if"),
        ("{{ $x }}", 1, 4, "undefined variable \"$x\""),
        ("{{ $x = 1 }}", 1, 4, "undefined variable \"$x\""),
        ("{{ ( .user }}", 1, 4, "unclosed left paren"),
        ("{{ .user ) }}", 1, 10, "unexpected \")\" in command"),
        ("{{ \"abc }}", 1, 4, "unterminated quoted string"),
        ("{{ `abc }}", 1, 4, "unterminated raw quoted string"),
        ("{{ \"\\z\" }}", 1, 4, "unknown escape sequence \\z"),
        ("{{ .user\"x\" }}", 1, 9, "missing space?"),
        (
            "{{ define \"x\" }}{{ end }}",
            1,
            4,
            "{{define}} is not supported by fjord",
        ),
        (
            "{{ template \"x\" }}",
            1,
            4,
            "{{template}} is not supported by fjord",
        ),
        ("{{ break }}", 1, 4, "{{break}} outside {{range}}"),
        (
            "{{ .user | \"x\" }}",
            1,
            12,
            "non executable command in pipeline stage 2",
        ),
        ("{{ 1x }}", 1, 4, "bad number syntax"),
        ("{{ # }}", 1, 4, "unexpected '#' in action"),
        ("{{/* open", 1, 3, "unclosed comment"),
        (
            "{{/* c */ .user }}",
            1,
            10,
            "comment ends before closing delimiter",
        ),
        ("é{{ if }}", 1, 8, "missing value for if"),
    ];
    for (text, line, col, reason) in cases {
        let e = err_check(text);
        let want = TemplateError::Parse {
            key: "data.k".into(),
            line,
            col,
            reason: reason.into(),
        };
        assert_eq!(e, want, "{text:?}");
    }
}

#[test]
fn deep_nesting_is_refused_without_overflow() {
    let deep_if = format!(
        "{}x{}",
        "{{ if true }}".repeat(10_000),
        "{{ end }}".repeat(10_000)
    );
    assert!(err_check(&deep_if)
        .to_string()
        .contains("nesting deeper than 64"));
    let deep_paren = format!("{{{{ {}1{} }}}}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(err_check(&deep_paren)
        .to_string()
        .contains("nesting deeper than 64"));
    let ok = format!("{}x{}", "{{ if true }}".repeat(60), "{{ end }}".repeat(60));
    assert_eq!(r(&ok), "x");
}

#[test]
fn malformed_templates_never_panic() {
    let corpus = [
        "{{",
        "}}",
        "{{{{",
        "{{}}",
        "{{-",
        "{{- }}",
        "{{ -}}",
        "{{-}}",
        "{{ end",
        "{{end}}{{end}}",
        "{{ if }}",
        "{{ else if }}",
        "{{ range $a, $b, $c := . }}{{ end }}",
        "{{ $ := 1 }}",
        "{{ ) }}",
        "{{ ( }}",
        "{{ (( }}",
        "{{ | }}",
        "{{ .a | }}",
        "{{ . . }}",
        "{{ .. }}",
        "{{ .a. }}",
        "{{ $x := }}",
        "{{ := }}",
        "{{ = }}",
        "{{ , }}",
        "{{ 'ab' }}",
        "{{ '' }}",
        "{{ '\\' }}",
        "{{ \"\\x\" }}",
        "{{ \"\\u12\" }}",
        "{{ \"\\U0011FFFF\" }}",
        "{{ 0x }}",
        "{{ 1e }}",
        "{{ - }}",
        "{{ + }}",
        "{{ .5 }}",
        "{{ nil }}",
        "{{ nil | print }}",
        "{{ print | nil }}",
        "{{ /* */ }}",
        "{{/**/",
        "{{/* */ -}}",
        "{{ with }}",
        "{{ range }}",
        "{{ if 1 }}{{ else }}{{ else if 1 }}{{ end }}",
        "{{ continue }}",
        "{{ printf }}",
        "{{ printf 1 }}",
        "{{ index }}",
        "{{ default }}",
        "{{ ternary 1 2 3 }}",
        "{{ .user.a.b }}",
        "{{ $.nokey.x }}",
        "{{ (1).x }}",
        "{{ \"a\".x }}",
        "{{ print.x }}",
        "{{ printf \"%!\" }}",
        "{{ printf \"%-0+ 9.3q\" 1 }}",
        "{{ printf \"%.999999999999999999999f\" 1.0 }}",
        "\u{0}{{ \u{0} }}",
        "{{ é }}",
        "{{ .é }}",
        "{{ $é }}",
        "{{ range 99999999999 }}{{ end }}",
        "{{ range -5 }}x{{ else }}none{{ end }}",
        "{{ index \"\" -1 }}",
        "{{ 99999999999999999999 }}",
    ];
    for text in corpus {
        let _ = render("k", text, &ctx());
        // Every prefix of every case (cut at char boundaries) must not panic either.
        for (i, _) in text.char_indices() {
            let _ = render("k", &text[..i], &ctx());
        }
    }
}

#[test]
fn limits_stop_hostile_templates() {
    let mut big = ctx();
    big.insert("big".into(), vec![b'x'; 1000]);
    let e = render("k", "{{ range $i := 2000 }}{{ $.big }}{{ end }}", &big)
        .unwrap_err()
        .to_string();
    assert!(e.contains("output exceeds 1048576 bytes"), "{e}");
    assert!(!e.contains("xxx"));
    let doubling =
        r#"{{ $x := "aaaaaaaaaa" }}{{ range $i := 100 }}{{ $x = printf "%s%s" $x $x }}{{ end }}"#;
    assert!(err(doubling)
        .to_string()
        .contains("printf built a string over 1048576 bytes"));
    let nested = "{{ range $i := 1000 }}{{ range $j := 1000 }}{{ range $k := 1000 }}{{ end }}{{ end }}{{ end }}";
    assert!(err(nested)
        .to_string()
        .contains("template takes more than 1000000 steps"));
    assert!(err("{{ range 99999999999 }}{{ end }}")
        .to_string()
        .contains("steps"));
    let deep = "{{ $x := list }}{{ range $i := 100000 }}{{ $x = list $x }}{{ end }}{{ len $x }}";
    assert!(err(deep)
        .to_string()
        .contains("value nested deeper than 200"));
    let wide = "{{ $x := list 1 }}{{ range $i := 100 }}{{ $x = list $x $x }}{{ end }}{{ len $x }}";
    assert!(err(wide).to_string().contains("steps"));
    assert_eq!(
        r("{{ $x := list }}{{ range $i := 150 }}{{ $x = list $x }}{{ end }}{{ len $x }}"),
        "1"
    );
    assert!(err(r#"{{ indent 2000000 "a" }}"#)
        .to_string()
        .contains("result too large"));
}

#[test]
fn errors_never_hold_values() {
    let texts = [
        "{{ .password.x }}",
        "{{ range .password }}{{ end }}",
        "{{ upper (fromJson .config) }}",
        "{{ eq .password 1 }}",
        "{{ .password | .user }}",
        "{{ lt .config (fromJson .config) }}",
        "{{ index .password \"x\" }}",
        "{{ (fromJson .config).tags.x }}",
    ];
    for text in texts {
        let e = err(text);
        let shown = format!("{e} {e:?}");
        for secret in ["s3cr3t", "admin", "db.local"] {
            assert!(!shown.contains(secret), "{text:?}: {shown}");
        }
    }
}

#[test]
fn render_map_renders_every_key_and_names_the_failing_one() {
    let templates: BTreeMap<String, String> = [
        (
            "url".to_string(),
            "postgres://{{ .user }}:{{ .password }}@{{ (fromJson .config).host }}".to_string(),
        ),
        ("raw".to_string(), "{{ .password }}".to_string()),
    ]
    .into();
    let out = render_map(&templates, &ctx()).unwrap();
    assert_eq!(out["url"], b"postgres://admin:s3cr3t@db.local");
    assert_eq!(out["raw"], b"s3cr3t");
    // Every template is checked before any runs: the bad function in a later key is found.
    let bad: BTreeMap<String, String> = [
        ("a".to_string(), "{{ .nokey }}".to_string()),
        ("tls.crt".to_string(), "{{ .x | sha256sum }}".to_string()),
    ]
    .into();
    let e = render_map(&bad, &ctx()).unwrap_err();
    assert!(
        matches!(&e, TemplateError::UnknownFunction { key, .. } if key == "data.tls.crt"),
        "{e:?}"
    );
    let missing: BTreeMap<String, String> = [("a".to_string(), "{{ .nokey }}".to_string())].into();
    let e = render_map(&missing, &ctx()).unwrap_err().to_string();
    assert!(
        e.starts_with("template data.a: line 1, column 4: map has no entry"),
        "{e}"
    );
}

#[test]
fn render_at_and_check_at_use_the_path_verbatim() {
    assert_eq!(
        render_at("metadata.labels.app", "{{ .user | upper }}", &ctx()).unwrap(),
        "ADMIN"
    );
    let e = check_at("metadata.annotations.x", "{{ env \"A\" }}")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("template metadata.annotations.x: function \"env\""),
        "{e}"
    );
    assert!(check("k", "{{ .anything | b64enc }}").is_ok());
    // `render` and `check` take the metadata paths as they are.
    let e = check("metadata.labels.app", "{{ env }}")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("template metadata.labels.app: function \"env\""),
        "{e}"
    );
    let e = render("metadata.annotations.a", "{{ .nokey }}", &ctx())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("template metadata.annotations.a: line 1, column 4"),
        "{e}"
    );
    let e = check("metadata.json", "{{ end }}").unwrap_err().to_string();
    assert!(e.starts_with("template data.metadata.json: line 1"), "{e}");
}

#[test]
fn random_token_soup_never_panics() {
    const PIECES: &[&str] = &[
        "{{",
        "}}",
        "{{- ",
        " -}}",
        " ",
        "\n",
        ".",
        ".user",
        ".config",
        "$",
        "$x",
        ":=",
        "=",
        "|",
        "(",
        ")",
        ",",
        "\"s\"",
        "`r`",
        "'c'",
        "1",
        "-2",
        "1.5",
        "if",
        "else",
        "end",
        "range",
        "with",
        "break",
        "continue",
        "nil",
        "true",
        "printf",
        "\"%s%v%d\"",
        "index",
        "fromJson",
        "len",
        "and",
        "or",
        "eq",
        "b64dec",
        "/*",
        "*/",
        "é",
        "\\",
        "\"",
    ];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..3000 {
        let mut text = String::new();
        for _ in 0..12 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            text.push_str(PIECES[(seed % PIECES.len() as u64) as usize]);
        }
        let _ = render("k", &text, &ctx());
    }
}

#[test]
fn binary_values_pass_through_unchanged() {
    let mut c = ctx();
    let bin: Vec<u8> = vec![0x00, 0xff, 0xfe, b'a', 0xc3, 0xa9, 0x80, 0xc3];
    c.insert("bin".into(), bin.clone());
    c.insert("bin64".into(), b"AP/+YcOpgMM=".to_vec());
    let templates: BTreeMap<String, String> = [
        ("raw", "{{ .bin }}"),
        ("decoded", "{{ .bin64 | b64dec }}"),
        ("reencoded", "{{ .bin | b64enc }}"),
        (
            "len",
            "{{ len .bin }}|{{ index .bin 1 }}|{{ printf \"%x\" .bin }}",
        ),
        ("quoted", "{{ quote .bin }}"),
        ("json", "{{ toJson .bin }}"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let out = render_map(&templates, &c).unwrap();
    assert_eq!(out["raw"], bin);
    assert_eq!(out["decoded"], bin);
    assert_eq!(out["reencoded"], b"AP/+YcOpgMM=");
    assert_eq!(out["len"], b"8|255|00fffe61c3a980c3");
    assert_eq!(out["quoted"], r#""\x00\xff\xfeaé\x80\xc3""#.as_bytes());
    assert_eq!(
        out["json"],
        r#""\u0000\ufffd\ufffdaé\ufffd\ufffd""#.as_bytes()
    );
}
