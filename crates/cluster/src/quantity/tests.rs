use super::*;
use serde_json::json;

/// (sent, stored) for a resource-list entry (ResourceQuota `spec.hard`), as kube-apiserver
/// v1.34.2 answered them.
const LIST_ENTRIES: &[(&str, &str)] = &[
    ("0.5", "500m"),
    ("1.5", "1500m"),
    ("12000", "12k"),
    ("1000m", "1"),
    ("0.1", "100m"),
    ("100Mi", "100Mi"),
    ("1024Mi", "1Gi"),
    ("1.5Gi", "1536Mi"),
    ("0.5Gi", "512Mi"),
    ("1536", "1536"),
    ("1e3", "1e3"),
    ("1E3", "1E3"),
    ("1e-3", "1e-3"),
    ("1.5e3", "1500"),
    ("2e6", "2e6"),
    ("1e0", "1e0"),
    ("0.0001n", "1m"),
    ("1n", "1m"),
    ("0.5n", "1m"),
    ("1.5Ki", "1536"),
    ("0.5Ki", "512"),
    ("1Ki", "1Ki"),
    ("1024", "1024"),
    ("0", "0"),
    ("0m", "0"),
    ("0Mi", "0"),
    ("+1", "+1"),
    ("1k", "1k"),
    ("1000k", "1M"),
    ("1000000", "1M"),
    ("1000M", "1G"),
    ("1500M", "1500M"),
    ("1.0", "1"),
    ("01", "01"),
    ("1000n", "1m"),
    ("1000u", "1m"),
    ("1500000n", "2m"),
    ("1024Ki", "1Mi"),
    ("1048576Ki", "1Gi"),
    ("1.1Ki", "1126400m"),
    ("3Ki", "3Ki"),
    ("2048Mi", "2Gi"),
    ("1536Mi", "1536Mi"),
    ("123456789", "123456789"),
    ("0.000001", "1m"),
    ("1234567.89", "1234567890m"),
    ("1e1", "10"),
    ("5e-1", "500e-3"),
    ("1.23e4", "12300"),
    ("100e3", "100e3"),
    ("1Ei", "1Ei"),
    ("8Ei", "9223372036854775807"),
    ("1E", "1E"),
    ("10G", "10G"),
    ("1.25", "1250m"),
    (".5", "500m"),
    ("5.", "5."),
    ("999m", "999m"),
    ("2000000u", "2"),
    ("0.5m", "1m"),
    ("1e-9", "1e-3"),
    ("1e-10", "1e-3"),
    ("12e-2", "120e-3"),
    ("1.5e-1", "150e-3"),
    ("0.1Mi", "104857600m"),
    ("0.001Ki", "1024m"),
    ("123.456", "123.456"),
    ("-", "0"),
    ("+", "0"),
    (".", "0"),
    ("-.", "0"),
    ("e3", "0"),
    ("0e3", "0"),
    ("1000E", "1"),
    ("1e20", "100e18"),
    ("1e100", "10e99"),
    ("1234567890123456789", "1234567890123456789"),
    ("1234567890123456789e100", "12345678901234567890e99"),
    ("1.5Mi", "1536Ki"),
    ("1Pi", "1Pi"),
    ("1024Pi", "1Ei"),
    ("8191Pi", "8191Pi"),
    ("1.5Pi", "1536Ti"),
    ("12Ki", "12Ki"),
    ("0100Ki", "0100Ki"),
    ("8Ki", "8Ki"),
    ("2048Ki", "2Mi"),
    ("1e+3", "1e+3"),
    ("1E-3", "1E-3"),
    ("1e-12", "1e-3"),
    ("1e-2", "10e-3"),
    ("1234567890123456789n", "1234567890124m"),
    ("0.1234567891", "124m"),
    ("1.0000000001", "1001m"),
    ("1 ", "1"),
    (" 1", "1"),
];

/// Texts the real server refuses, and why.
const REFUSED: &[(&str, bool)] = &[
    // (text, true = the suffix is unknown; false = the text does not scan)
    ("1e6Ki", false),
    ("1e", true),
    ("1kk", true),
    ("1Gb", false),
    ("abc", false),
    ("1.2.3", false),
    ("", false),
    ("1_000", false),
    ("1i", true),
    ("1ki", true),
    ("1Ki3", true),
    ("1m3", true),
];

#[test]
fn resource_list_entries_are_spelled_as_the_real_server_does() {
    for (sent, stored) in LIST_ENTRIES {
        let mut q = parse(sent).unwrap_or_else(|e| panic!("{sent}: {e}"));
        q.round_up_milli();
        assert_eq!(q.to_text(), *stored, "{sent}");
    }
}

#[test]
fn single_quantities_keep_their_nano_digits() {
    // emptyDir.sizeLimit is not a resource list: no rounding to a thousandth.
    for (sent, stored) in [
        ("1500n", "1500n"),
        ("1n", "1n"),
        ("0.5Gi", "512Mi"),
        ("1e-9", "1e-9"),
    ] {
        assert_eq!(
            parse(sent).map(|q| q.to_text()),
            Ok(stored.into()),
            "{sent}"
        );
    }
}

#[test]
fn refused_texts_name_the_real_servers_reason() {
    for (text, suffix) in REFUSED {
        let e = parse(text).expect_err(text);
        assert_eq!(
            matches!(e, QuantityError::Suffix { .. }),
            *suffix,
            "{text}: {e}"
        );
    }
    assert_eq!(
        parse("1Gb").unwrap_err().to_string(),
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    );
    assert_eq!(
        parse("1kk").unwrap_err().to_string(),
        "unable to parse quantity's suffix"
    );
}

#[test]
fn negative_values_keep_their_sign() {
    assert_eq!(parse("-0.5").map(|q| q.to_text()), Ok("-500m".into()));
    assert_eq!(parse("-1024Mi").map(|q| q.to_text()), Ok("-1Gi".into()));
    let mut q = parse("-1n").expect("parses");
    q.round_up_milli();
    assert_eq!(q.to_text(), "-1m");
}

fn rt(group: &str, kind: &str) -> ResourceType {
    crate::kinds::builtins()
        .into_iter()
        .find(|r| r.kind == kind && r.group == group)
        .map(|r| r.as_ref().clone())
        .expect("kind")
}

#[test]
fn pod_templates_are_canonicalized_everywhere() {
    let mut d = json!({"spec": {"template": {"spec": {
        "containers": [{"name": "c", "resources": {"requests": {"cpu": "0.5", "memory": "1024Mi"},
            "limits": {"cpu": 2, "memory": "1.5Gi"}}}],
        "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "0.25"}}}],
        "overhead": {"cpu": "0.1", "memory": "1n"},
        "resources": {"requests": {"cpu": "1.5"}},
        "volumes": [{"name": "v", "emptyDir": {"sizeLimit": "1500n"}},
            {"name": "e", "ephemeral": {"volumeClaimTemplate": {"spec": {"resources": {"requests": {"storage": "2048Mi"}}}}}}]
    }}}});
    canonicalize(&rt("apps", "Deployment"), &mut d);
    let spec = &d["spec"]["template"]["spec"];
    assert_eq!(
        spec["containers"][0]["resources"]["requests"],
        json!({"cpu": "500m", "memory": "1Gi"})
    );
    assert_eq!(
        spec["containers"][0]["resources"]["limits"],
        json!({"cpu": "2", "memory": "1536Mi"})
    );
    assert_eq!(
        spec["initContainers"][0]["resources"]["requests"]["cpu"],
        "250m"
    );
    assert_eq!(spec["overhead"], json!({"cpu": "100m", "memory": "1m"}));
    assert_eq!(spec["resources"]["requests"]["cpu"], "1500m");
    assert_eq!(spec["volumes"][0]["emptyDir"]["sizeLimit"], "1500n");
    assert_eq!(
        spec["volumes"][1]["ephemeral"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]
            ["storage"],
        "2Gi"
    );
}

#[test]
fn quota_entries_with_slashes_and_nulls_are_decoded() {
    let mut q =
        json!({"spec": {"hard": {"requests.example.com/r": "0.5", "services": null, "pods": 10}}});
    canonicalize(&rt("", "ResourceQuota"), &mut q);
    assert_eq!(
        q["spec"]["hard"],
        json!({"requests.example.com/r": "500m", "services": "0", "pods": "10"})
    );
    let keys: Vec<&String> = q["spec"]["hard"].as_object().expect("map").keys().collect();
    assert_eq!(
        keys,
        ["pods", "requests.example.com/r", "services"],
        "sorted as Go encodes maps"
    );
}

#[test]
fn the_first_undecodable_quantity_is_reported_and_left_alone() {
    let r = rt("apps", "Deployment");
    let mut d = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "c", "resources": {"requests": {"cpu": "1Gb"}}}]}}}});
    assert_eq!(
        decode_error(&r, &d).as_deref(),
        Some("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    );
    canonicalize(&r, &mut d);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"],
        "1Gb"
    );
    let bool_entry = json!({"spec": {"hard": {"cpu": true}}});
    assert!(decode_error(&rt("", "ResourceQuota"), &bool_entry).is_some());
}

#[test]
fn custom_resources_are_never_touched() {
    let mut r = rt("apps", "Deployment");
    r.custom = true;
    let mut d = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "c", "resources": {"requests": {"cpu": "0.5"}}}]}}}});
    let before = d.clone();
    canonicalize(&r, &mut d);
    assert_eq!(d, before);
    assert_eq!(
        decode_error(&r, &json!({"spec": {"hard": {"cpu": "x"}}})),
        None
    );
}

#[test]
fn an_apply_with_an_undecodable_quantity_is_a_conversion_failure() {
    let merged = json!({"metadata": {"name": "d", "namespace": "default"}, "spec": {"template": {"spec": {
        "containers": [{"name": "c", "resources": {"requests": {"cpu": "1Gb"}}}]}}}});
    let e = check_applied(&rt("apps", "Deployment"), &merged, &merged).expect_err("refused");
    assert_eq!(e.code, 500);
    assert!(e.message.starts_with(
        "failed to convert new object (default/d; apps/v1, Kind=Deployment) to proper version: \
         unable to convert unstructured object to apps/v1, Kind=Deployment: quantities must match"
    ), "{}", e.message);
}
