use std::collections::BTreeMap;

use regex::Regex;
use serde_json::json;

use super::*;

fn s(b: Vec<u8>) -> String {
    String::from_utf8(b).unwrap()
}

#[test]
fn property_exact_key_first_then_dotted_path() {
    let secret = json!({
        "username": "admin",
        "a.b": "literal",
        "a": {"b": "nested", "c": [1, 2]},
        "list": [{"x": "y"}]
    });
    assert_eq!(s(get_property(&secret, Some("username")).unwrap()), "admin");
    assert_eq!(s(get_property(&secret, Some("a.b")).unwrap()), "literal");
    assert_eq!(s(get_property(&secret, Some("a.c")).unwrap()), "[1,2]");
    assert_eq!(s(get_property(&secret, Some("list.0.x")).unwrap()), "y");
    assert_eq!(s(get_property(&secret, Some(r"a\.b")).unwrap()), "literal");
    assert_eq!(
        get_property(&secret, Some("nope")).unwrap_err(),
        ValueError::MissingProperty {
            property: "nope".into()
        }
    );
    assert_eq!(
        get_property(&secret, Some("a.zz")).unwrap_err().to_string(),
        "property \"a.zz\" does not exist in the secret"
    );
}

#[test]
fn whole_secret_is_go_json_sorted() {
    let secret = json!({"password": "p<&>", "username": "u", "n": 3, "b": true});
    assert_eq!(
        s(get_property(&secret, None).unwrap()),
        r#"{"b":true,"n":3,"password":"p\u003c\u0026\u003e","username":"u"}"#
    );
    assert_eq!(
        s(get_property(&secret, Some("")).unwrap()),
        s(get_property(&secret, None).unwrap())
    );
}

#[test]
fn conversions() {
    let secret = json!({
        "n": 42, "f": 1.5, "t": true, "z": null,
        "strs": ["a", "b"], "mixed": ["a", 1],
        "obj": {"z": 1, "a": {"k": "v"}}
    });
    let get = |p: &str| s(get_property(&secret, Some(p)).unwrap());
    assert_eq!(get("n"), "42");
    assert_eq!(get("f"), "1.5");
    assert_eq!(get("t"), "true");
    assert_eq!(get("z"), "");
    assert_eq!(get("strs"), "a\nb");
    assert_eq!(get("mixed"), r#"["a",1]"#);
    assert_eq!(get("obj"), r#"{"a":{"k":"v"},"z":1}"#);
    let all = all_properties(&secret).unwrap();
    assert_eq!(all.len(), 7);
    assert_eq!(all["strs"], b"a\nb");
    assert_eq!(all["obj"], br#"{"a":{"k":"v"},"z":1}"#);
}

#[test]
fn not_an_object() {
    assert_eq!(
        get_property(&json!(null), Some("a"))
            .unwrap_err()
            .to_string(),
        "secret data is null, not an object"
    );
    assert!(all_properties(&json!([1])).is_err());
}

#[test]
fn size_limit_names_the_key_never_the_value() {
    let big = "x".repeat(MAX_VALUE_BYTES + 1);
    let secret = json!({"big": big, "ok": "x".repeat(MAX_VALUE_BYTES)});
    let e = get_property(&secret, Some("big")).unwrap_err();
    assert_eq!(
        e,
        ValueError::TooLarge {
            key: "big".into(),
            size: MAX_VALUE_BYTES + 1
        }
    );
    let msg = e.to_string();
    assert!(msg.contains("\"big\"") && !msg.contains("xxx"), "{msg}");
    assert!(!format!("{e:?}").contains("xxx"));
    assert_eq!(
        get_property(&secret, Some("ok")).unwrap().len(),
        MAX_VALUE_BYTES
    );
    assert!(
        matches!(all_properties(&secret), Err(ValueError::TooLarge { key, .. }) if key == "big")
    );
    assert!(matches!(
        get_property(&secret, None),
        Err(ValueError::TooLarge { .. })
    ));
    assert!(check_size("k", &[0; 10]).is_ok());
}

#[test]
fn decoding() {
    use DecodingStrategy::*;
    assert_eq!(decode(b"aGk=".to_vec(), Base64).unwrap(), b"hi");
    assert_eq!(
        decode(b"aGk".to_vec(), Base64).unwrap(),
        b"hi",
        "padding optional"
    );
    assert_eq!(
        decode(b"aG\nk=".to_vec(), Base64).unwrap(),
        b"hi",
        "newlines ignored"
    );
    assert_eq!(decode(b"-_8=".to_vec(), Base64Url).unwrap(), [0xfb, 0xff]);
    assert_eq!(decode(b"+/8=".to_vec(), Base64).unwrap(), [0xfb, 0xff]);
    assert_eq!(decode(b"plain!".to_vec(), None).unwrap(), b"plain!");
    let e = decode(b"s3cr3t!value".to_vec(), Base64).unwrap_err();
    assert_eq!(e.to_string(), "value is not valid Base64");
    assert!(!format!("{e:?}").contains("s3cr3t"));
    assert!(decode(b"+/8=".to_vec(), Base64Url).is_err());
    // Auto: std, then url, else raw.
    assert_eq!(decode(b"aGk=".to_vec(), Auto).unwrap(), b"hi");
    assert_eq!(decode(b"-_8=".to_vec(), Auto).unwrap(), [0xfb, 0xff]);
    assert_eq!(
        decode(b"not base64!".to_vec(), Auto).unwrap(),
        b"not base64!"
    );
    let map: BTreeMap<String, Vec<u8>> = [("k".to_string(), b"!!".to_vec())].into();
    assert_eq!(
        decode_map(map, Base64).unwrap_err().to_string(),
        "value of \"k\" is not valid Base64"
    );
}

#[test]
fn unicode_key_conversion() {
    use ConversionStrategy::*;
    assert_eq!(convert_key("a/b c", Default), "a_b_c");
    assert_eq!(convert_key("ok-key_1.x", Default), "ok-key_1.x");
    assert_eq!(convert_key("a/b c", Unicode), "a_U002f_b_U0020_c");
    assert_eq!(convert_key("ok-key_1.x", Unicode), "ok-key_1.x");
    assert_eq!(convert_key("é€", Unicode), "é_U20ac_");
    assert_eq!(convert_key("😀", Unicode), "_U1f600_");
}

#[test]
fn key_rewrites() {
    let map: BTreeMap<String, Vec<u8>> = [
        ("db_user".to_string(), b"u".to_vec()),
        ("db_pass".to_string(), b"p".to_vec()),
        ("other".to_string(), b"o".to_vec()),
    ]
    .into();
    let rules = [
        Rewrite {
            source: Regex::new("^db_(.*)$").unwrap(),
            target: "DB_${1}".into(),
        },
        Rewrite {
            source: Regex::new("^DB_").unwrap(),
            target: "PG_".into(),
        },
    ];
    let out = rewrite_keys(map.clone(), &rules).unwrap();
    assert_eq!(
        out.keys().collect::<Vec<_>>(),
        ["PG_pass", "PG_user", "other"]
    );
    assert_eq!(out["PG_user"], b"u");
    let collide = [Rewrite {
        source: Regex::new("^db_.*").unwrap(),
        target: "db".into(),
    }];
    assert!(matches!(
        rewrite_keys(map.clone(), &collide),
        Err(ValueError::RewriteCollision { .. })
    ));
    let empty = [Rewrite {
        source: Regex::new(".*").unwrap(),
        target: String::new(),
    }];
    assert!(matches!(
        rewrite_keys(map.clone(), &empty),
        Err(ValueError::RewriteEmpty { .. })
    ));
    assert_eq!(rewrite_keys(map.clone(), &[]).unwrap(), map);
}

#[test]
fn response_bodies() {
    let v2 = json!({"data": {"data": {"username": "u"}, "metadata": {"version": 1}}});
    assert_eq!(
        secret_data(&v2, KvVersion::V2),
        Some(&json!({"username": "u"}))
    );
    let deleted = json!({"data": {"data": null, "metadata": {"version": 2}}});
    assert_eq!(secret_data(&deleted, KvVersion::V2), Option::None);
    let v1 = json!({"data": {"username": "u"}, "lease_duration": 0});
    assert_eq!(
        secret_data(&v1, KvVersion::V1),
        Some(&json!({"username": "u"}))
    );
    let meta = json!({"data": {"current_version": 3, "created_time": "t", "custom_metadata": {"owner": "team"}}});
    assert_eq!(
        metadata_data(&meta),
        json!({"created_time": "t", "current_version": 3, "owner": "team"})
    );
}
