//! Tests of the functions, one (at least) per supported function, against Go/sprig behaviour.

use std::collections::BTreeMap;

use super::*;

pub(super) fn ctx() -> BTreeMap<String, Vec<u8>> {
    let pairs: [(&str, &[u8]); 8] = [
        ("user", b"admin"),
        ("password", b"s3cr3t"),
        ("my-key", b"dash"),
        (
            "config",
            br#"{"host":"db.local","port":5432,"tags":["a","b"],"nested":{"x":1}}"#,
        ),
        ("blank", b""),
        ("padded", b"  hi \n"),
        ("encoded", b"czNjcjN0"),
        ("binary", b"a\xffb"),
    ];
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_vec()))
        .collect()
}

/// Renders `text` as template `data.k`.
pub(super) fn r(text: &str) -> String {
    match render("k", text, &ctx()) {
        Ok(s) => s,
        Err(e) => panic!("{text:?}: {e}"),
    }
}

/// The error of rendering `text`.
pub(super) fn err(text: &str) -> TemplateError {
    match render("k", text, &ctx()) {
        Ok(s) => panic!("{text:?} rendered {s:?}"),
        Err(e) => e,
    }
}

#[test]
fn functions_are_sorted_and_all_callable() {
    let mut sorted = FUNCTIONS.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted, FUNCTIONS);
    for name in FUNCTIONS.iter().filter(|n| !matches!(**n, "and" | "or")) {
        assert!(funcs::callable(name), "{name}");
    }
}

#[test]
fn b64enc() {
    assert_eq!(r("{{ .password | b64enc }}"), "czNjcjN0");
    assert_eq!(r(r#"{{ b64enc "a" }}"#), "YQ==");
    assert_eq!(r(r#"{{ b64enc "" }}"#), "");
}

#[test]
fn b64dec() {
    assert_eq!(r("{{ .encoded | b64dec }}"), "s3cr3t");
    assert_eq!(
        r(r#"{{ b64dec "YQ==" }}|{{ b64dec "YWI=" }}|{{ b64dec "YW\nJj" }}"#),
        "a|ab|abc"
    );
    // sprig renders Go's error text for invalid input.
    assert_eq!(
        r(r#"{{ b64dec "abc" }}"#),
        "illegal base64 data at input byte 0"
    );
    assert_eq!(
        r(r#"{{ b64dec "ab!c" }}"#),
        "illegal base64 data at input byte 2"
    );
    assert_eq!(
        r(r#"{{ b64dec "YQ=" }}"#),
        "illegal base64 data at input byte 3"
    );
    assert_eq!(
        r(r#"{{ b64dec "YQ==x" }}"#),
        "illegal base64 data at input byte 4"
    );
    assert_eq!(
        r(r#"{{ b64dec "Y===" }}"#),
        "illegal base64 data at input byte 1"
    );
}

#[test]
fn to_json() {
    assert_eq!(
        r("{{ .config | fromJson | toJson }}"),
        r#"{"host":"db.local","nested":{"x":1},"port":5432,"tags":["a","b"]}"#
    );
    assert_eq!(r("{{ toJson .user }}"), r#""admin""#);
    assert_eq!(r(r#"{{ toJson "<a&b>" }}"#), r#""\u003ca\u0026b\u003e""#);
    assert_eq!(
        r("{{ toJson 3 }}|{{ toJson 1.5 }}|{{ toJson nil }}|{{ toJson true }}"),
        "3|1.5|null|true"
    );
    assert_eq!(r("{{ toJson 1e21 }}|{{ toJson 0.0000001 }}"), "1e+21|1e-7");
    assert_eq!(
        r(r#"{{ split "," "b,a" | toJson }}"#),
        r#"{"_0":"b","_1":"a"}"#
    );
}

#[test]
fn to_pretty_json() {
    assert_eq!(
        r(r#"{{ toPrettyJson (fromJson "{\"b\":{},\"a\":[1,\"x\"]}") }}"#),
        "{\n  \"a\": [\n    1,\n    \"x\"\n  ],\n  \"b\": {}\n}"
    );
}

#[test]
fn from_json() {
    assert_eq!(r("{{ (fromJson .config).host }}"), "db.local");
    assert_eq!(r("{{ (fromJson .config).port }}"), "5432");
    assert_eq!(r("{{ (fromJson .config).nested.x }}"), "1");
    assert_eq!(r(r#"{{ index (fromJson .config) "tags" 1 }}"#), "b");
    assert_eq!(
        r("{{ range (fromJson .config).tags }}[{{ . }}]{{ end }}"),
        "[a][b]"
    );
    assert_eq!(
        r("{{ $c := fromJson .config }}{{ range $k, $v := $c.nested }}{{ $k }}={{ $v }}{{ end }}"),
        "x=1"
    );
    // Numbers are float64, printed as Go's %v: exponent form from 1e6 on.
    assert_eq!(
        r(r#"{{ (fromJson "{\"n\":12345678}").n }}"#),
        "1.2345678e+07"
    );
    assert_eq!(r(r#"{{ (fromJson "{\"n\":0.5}").n }}"#), "0.5");
    // JSON null and invalid JSON are nil.
    assert_eq!(r(r#"{{ (fromJson "{\"a\":null}").a }}"#), "<no value>");
    assert_eq!(r(r#"{{ fromJson "nope" }}"#), "<no value>");
    assert_eq!(r(r#"{{ index (fromJson "{}") "none" }}"#), "<no value>");
    let e = err(r#"{{ (fromJson "nope").host }}"#).to_string();
    assert!(
        e.contains("nil pointer evaluating interface {}.host"),
        "{e}"
    );
    let e = err(r#"{{ (fromJson .config).user }}"#).to_string();
    assert!(e.contains(r#"map has no entry for key "user""#), "{e}");
    assert!(!e.contains("db.local"), "{e}");
}

#[test]
fn to_string() {
    assert_eq!(
        r("{{ toString 42 }}|{{ toString true }}|{{ toString .user }}"),
        "42|true|admin"
    );
    assert_eq!(r("{{ (fromJson .config).port | toString }}"), "5432");
    assert_eq!(r("{{ toString (fromJson .config).tags }}"), "[a b]");
    assert_eq!(r("{{ toString nil }}"), "<nil>");
}

#[test]
fn upper_lower_title() {
    assert_eq!(r("{{ .user | upper }}"), "ADMIN");
    assert_eq!(r(r#"{{ lower "HeLLo ÄÖ" }}"#), "hello äö");
    // Go's simple case mapping keeps ß (no one-rune upper case).
    assert_eq!(r(r#"{{ upper "straße" }}"#), "STRAßE");
    assert_eq!(
        r(r#"{{ title "hello wide-world foo_bar" }}"#),
        "Hello Wide-World Foo_bar"
    );
}

#[test]
fn trim_functions() {
    assert_eq!(r("[{{ .padded | trim }}]"), "[hi]");
    assert_eq!(r(r#"{{ trimAll "$" "$$5.00$" }}"#), "5.00");
    assert_eq!(
        r(r#"{{ trimPrefix "-" "--x" }}|{{ "x-" | trimPrefix "-" }}"#),
        "-x|x-"
    );
    assert_eq!(r(r#"{{ trimSuffix ".local" "db.local" }}"#), "db");
}

#[test]
fn replace() {
    assert_eq!(r(r#"{{ "a-b-c" | replace "-" "_" }}"#), "a_b_c");
    assert_eq!(r(r#"{{ replace "" "." "ab" }}"#), ".a.b.");
}

#[test]
fn quote_and_squote() {
    assert_eq!(r("{{ .user | quote }}"), r#""admin""#);
    assert_eq!(
        r(r#"{{ quote .user "x\ny" 1 nil }}"#),
        r#""admin" "x\ny" "1""#
    );
    assert_eq!(r("{{ .user | squote }}"), "'admin'");
    assert_eq!(r("{{ squote 1 nil true }}"), "'1' 'true'");
}

#[test]
fn contains_has_prefix_has_suffix() {
    assert_eq!(
        r(r#"{{ .user | contains "dm" }}|{{ contains "x" .user }}"#),
        "true|false"
    );
    assert_eq!(
        r(r#"{{ hasPrefix "ad" .user }}|{{ hasPrefix "min" .user }}"#),
        "true|false"
    );
    assert_eq!(
        r(r#"{{ hasSuffix "min" .user }}|{{ hasSuffix "ad" .user }}"#),
        "true|false"
    );
}

#[test]
fn split_split_list_join() {
    assert_eq!(r(r#"{{ (split ":" "a:b:c")._1 }}"#), "b");
    assert_eq!(
        r(r#"{{ $p := split "@" "u@h" }}{{ $p._0 }} at {{ $p._1 }}"#),
        "u at h"
    );
    assert_eq!(r(r#"{{ splitList "," "a,b,c" | join "-" }}"#), "a-b-c");
    assert_eq!(r(r#"{{ splitList "" "ab" | len }}"#), "2");
    assert_eq!(r(r#"{{ join ", " (fromJson .config).tags }}"#), "a, b");
    assert_eq!(r(r#"{{ join "," .user }}"#), "admin");
}

#[test]
fn indent_and_nindent() {
    assert_eq!(r(r#"{{ indent 2 "a\nb" }}"#), "  a\n  b");
    assert_eq!(r(r#"x:{{ "a\nb" | nindent 4 }}"#), "x:\n    a\n    b");
    let e = err(r#"{{ indent "2" "a" }}"#).to_string();
    assert!(e.contains("expected int; got string"), "{e}");
}

#[test]
fn default_empty_coalesce_ternary() {
    assert_eq!(
        r(r#"{{ .blank | default "dflt" }}|{{ .user | default "dflt" }}"#),
        "dflt|admin"
    );
    assert_eq!(
        r(r#"{{ default "d" }}|{{ default "d" 0 }}|{{ default "d" 1 }}"#),
        "d|d|1"
    );
    assert_eq!(
        r("{{ empty .blank }}|{{ empty .user }}|{{ empty 0 }}|{{ empty nil }}"),
        "true|false|true|true"
    );
    assert_eq!(
        r(r#"{{ empty (fromJson "[]") }}|{{ empty (fromJson "{}") }}"#),
        "true|true"
    );
    assert_eq!(
        r(r#"{{ coalesce .blank "" .user }}|{{ coalesce "" }}"#),
        "admin|<no value>"
    );
    assert_eq!(
        r(r#"{{ ternary "yes" "no" true }}|{{ false | ternary "yes" "no" }}"#),
        "yes|no"
    );
}

#[test]
fn printf() {
    assert_eq!(r(r#"{{ printf "%s:%s" .user .password }}"#), "admin:s3cr3t");
    assert_eq!(r(r#"{{ .user | printf "%s!" }}"#), "admin!");
    assert_eq!(
        r(r#"{{ printf "%d|%05d|%-4d|%+d|%x|%X" 42 42 7 3 255 255 }}"#),
        "42|00042|7   |+3|ff|FF"
    );
    assert_eq!(
        r(r#"{{ printf "%v|%v|%v|%t" 1.5 true (fromJson .config).tags false }}"#),
        "1.5|true|[a b]|false"
    );
    assert_eq!(
        r(r#"{{ printf "%q|%q|%6s|%.2s" "a\"b" 97 "ab" "xyz" }}"#),
        r#""a\"b"|'a'|    ab|xy"#
    );
    assert_eq!(
        r(r#"{{ printf "%.2f|%f|%x|%%" 3.14159 1.0 "hi" }}"#),
        "3.14|1.000000|6869|%"
    );
    assert_eq!(r(r#"{{ printf "%s %s" "a" }}"#), "a %!s(MISSING)");
    assert_eq!(r(r#"{{ printf "%s" "a" 3 }}"#), "a%!(EXTRA int=3)");
    assert_eq!(
        r(r#"{{ printf "%d|%s" "x" 2 }}"#),
        "%!d(string=x)|%!s(int=2)"
    );
    assert_eq!(
        r(r#"{{ printf "%s|%v" nil nil }}|{{ printf "50%" }}"#),
        "%!s(<nil>)|<nil>|50%!(NOVERB)"
    );
}

#[test]
fn print_and_println() {
    assert_eq!(r(r#"{{ print "a" "b" 1 2 "c" }}"#), "ab1 2c");
    assert_eq!(r(r#"{{ print .user }}"#), "admin");
    assert_eq!(r(r#"{{ println "a" 1 }}"#), "a 1\n");
}

#[test]
fn index() {
    assert_eq!(r(r#"{{ index . "my-key" }}"#), "dash");
    // A missing key through `index` is the zero value, not an error (missingkey applies to fields).
    assert_eq!(r(r#"[{{ index . "missing" }}]"#), "[]");
    assert_eq!(r(r#"{{ index "abc" 1 }}"#), "98");
    let e = err(r#"{{ index (fromJson .config).tags 5 }}"#).to_string();
    assert!(e.contains("error calling index: index out of range"), "{e}");
    let e = err(r#"{{ index . 1 }}"#).to_string();
    assert!(e.contains("value has type int; should be string"), "{e}");
    let e = err(r#"{{ index nil 1 }}"#).to_string();
    assert!(e.contains("index of untyped nil"), "{e}");
}

#[test]
fn len() {
    assert_eq!(
        r("{{ len .user }}|{{ len (fromJson .config).tags }}|{{ len . }}"),
        "5|2|8"
    );
    assert_eq!(r(r#"{{ len "é" }}"#), "2");
    let e = err("{{ len 3 }}").to_string();
    assert!(e.contains("error calling len: len of type int"), "{e}");
}

#[test]
fn comparisons() {
    assert_eq!(
        r(r#"{{ eq .user "admin" }}|{{ eq .user "x" "admin" }}|{{ eq 1 2 }}"#),
        "true|true|false"
    );
    assert_eq!(r(r#"{{ ne .user "admin" }}|{{ ne 1 2 }}"#), "false|true");
    assert_eq!(
        r(r#"{{ lt 1 2 }}|{{ lt "b" "a" }}|{{ lt 1.5 2.5 }}"#),
        "true|false|true"
    );
    assert_eq!(
        r(r#"{{ le 2 2 }}|{{ gt 3 2 }}|{{ ge "a" "b" }}"#),
        "true|true|false"
    );
    assert_eq!(r(r#"{{ eq nil nil }}|{{ eq .user nil }}"#), "true|false");
    let e = err(r#"{{ eq 1 "1" }}"#).to_string();
    assert!(
        e.contains("error calling eq: incompatible types for comparison"),
        "{e}"
    );
    let e = err(r#"{{ lt . 1 }}"#).to_string();
    assert!(e.contains("invalid type for comparison"), "{e}");
}

#[test]
fn and_or_not() {
    assert_eq!(
        r("[{{ and .user .blank }}]|{{ and .user .password }}"),
        "[]|s3cr3t"
    );
    assert_eq!(r("{{ or .blank .user }}|[{{ or .blank 0 }}]"), "admin|[0]");
    assert_eq!(r("{{ not .blank }}|{{ not .user }}"), "true|false");
    // Go 1.18+: and/or stop evaluating at the deciding argument.
    assert_eq!(
        r("{{ or .user .nokey }}|[{{ and .blank .nokey }}]"),
        "admin|[]"
    );
    assert_eq!(r("{{ .user | and true }}"), "admin");
    assert!(err("{{ and }}")
        .to_string()
        .contains("wrong number of args for and"));
}

#[test]
fn wrong_argument_counts_and_types() {
    let e = err("{{ upper .user .user }}").to_string();
    assert!(
        e.contains("error calling upper: wrong number of args for upper: want 1 got 2"),
        "{e}"
    );
    let e = err("{{ upper 3 }}").to_string();
    assert!(
        e.contains("wrong type for value; expected string; got int"),
        "{e}"
    );
    let e = err("{{ b64enc (fromJson .config) }}").to_string();
    assert!(
        e.contains("expected string; got map[string]interface {}"),
        "{e}"
    );
    assert!(!e.contains("db.local"));
}

#[test]
fn list_dict_get_has_key() {
    assert_eq!(
        r(r#"{{ dict "user" .user "port" 5432 | toJson }}"#),
        r#"{"port":5432,"user":"admin"}"#
    );
    assert_eq!(
        r(r#"{{ dict "a" | toJson }}|{{ dict | toJson }}"#),
        r#"{"a":""}|{}"#
    );
    assert_eq!(
        r(r#"{{ list .user 1 nil | toJson }}|{{ list "a" "b" | join "+" }}"#),
        r#"["admin",1,null]|a+b"#
    );
    assert_eq!(
        r(r#"{{ get (fromJson .config) "host" }}|[{{ get (fromJson .config) "none" }}]"#),
        "db.local|[]"
    );
    assert_eq!(
        r(r#"{{ hasKey (fromJson .config) "port" }}|{{ hasKey (dict) "x" }}"#),
        "true|false"
    );
    let e = err(r#"{{ get . "user" }}"#).to_string();
    assert!(
        e.contains("expected map[string]interface {}; got map[string]string"),
        "{e}"
    );
}

#[test]
fn cat_and_nospace() {
    assert_eq!(r(r#"{{ cat .user 1 nil "x" }}"#), "admin 1 x");
    assert_eq!(r(r#"{{ nospace " a b\tc\n" }}"#), "abc");
}
