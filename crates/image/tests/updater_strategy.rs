//! Tag filters and strategies: picks, the newer-than rules, reverted tags and determinism.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use fjord_image::updater::{
    filter_tags, is_newer, is_newer_info, parse_annotations, select, ImageSpec, SelectError,
    Strategy, TagInfo, ANNOTATION_PREFIX,
};

fn spec(pairs: &[(&str, &str)]) -> ImageSpec {
    let a: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (format!("{ANNOTATION_PREFIX}{k}"), v.to_string()))
        .collect();
    parse_annotations(&a).unwrap().unwrap().images.remove(0)
}

fn tags(list: &[&str]) -> Vec<TagInfo> {
    list.iter()
        .map(|t| TagInfo {
            tag: t.to_string(),
            created: None,
            digest: None,
        })
        .collect()
}

fn at(secs: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(secs, 0).single()
}

#[test]
fn filters() {
    let s = spec(&[
        ("image-list", "a=nginx:^1"),
        ("a.allow-tags", "regexp:^v?1\\."),
        ("a.ignore-tags", "*-rc*,1.9.?"),
    ]);
    let all: Vec<String> = [
        "1.0.0",
        "v1.2.0",
        "1.3.0-rc1",
        "1.9.1",
        "1.10.0",
        "2.0.0",
        "latest",
        "x1.5.0",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(filter_tags(&s, &all), ["1.0.0", "v1.2.0", "1.10.0"]);
    let alpha = spec(&[
        ("image-list", "a=nginx:^1"),
        ("a.update-strategy", "alphabetical"),
        ("a.ignore-tags", "latest"),
    ]);
    assert_eq!(
        filter_tags(&alpha, &all).len(),
        all.len() - 1,
        "alphabetical ignores the constraint"
    );
    let digest = spec(&[
        ("image-list", "a=nginx:stable"),
        ("a.update-strategy", "digest"),
    ]);
    let with_stable: Vec<String> = ["stable", "latest", "stable-alpine"]
        .map(String::from)
        .to_vec();
    assert_eq!(filter_tags(&digest, &with_stable), ["stable"]);
    let star = spec(&[("image-list", "a=nginx"), ("a.ignore-tags", "*")]);
    assert!(
        filter_tags(&star, &all).is_empty(),
        "\"*\" switches updates off"
    );
}

#[test]
fn semver_picks_highest_in_range() {
    let s = spec(&[("image-list", "a=nginx:~1.2")]);
    let c = tags(&["1.2.0", "1.2.10", "1.2.9", "1.3.0", "latest", "1.2.11-rc.1"]);
    assert_eq!(
        select(&s, Some("1.2.0"), &c, None).unwrap().as_deref(),
        Some("1.2.10")
    );
    assert_eq!(
        select(&s, Some("1.2.10"), &c, None).unwrap(),
        None,
        "already newest"
    );
    assert_eq!(
        select(&s, Some("1.2.99"), &c, None).unwrap(),
        None,
        "never a downgrade"
    );
    assert_eq!(
        select(&s, None, &c, None).unwrap().as_deref(),
        Some("1.2.10"),
        "untagged image"
    );
    let any = spec(&[("image-list", "a=nginx")]);
    // Without a constraint every version counts, pre-releases too (as in Image Updater).
    assert_eq!(
        select(
            &any,
            Some("v1.0"),
            &tags(&["v1.0", "v2.0", "2.0.1-beta"]),
            None
        )
        .unwrap()
        .as_deref(),
        Some("2.0.1-beta")
    );
    let stable = spec(&[("image-list", "a=nginx:*")]);
    assert_eq!(
        select(
            &stable,
            Some("v1.0"),
            &tags(&["v1.0", "v2.0", "2.0.1-beta"]),
            None
        )
        .unwrap()
        .as_deref(),
        Some("v2.0")
    );
}

#[test]
fn semver_needs_semver_current() {
    let s = spec(&[("image-list", "a=nginx")]);
    let err = select(&s, Some("latest"), &tags(&["1.0.0"]), None).unwrap_err();
    assert!(
        matches!(err, SelectError::CurrentNotSemver { ref tag, .. } if tag == "latest"),
        "{err}"
    );
    assert!(select(&s, Some("1.0.0"), &tags(&["1.1.0"]), Some("main")).is_err());
}

#[test]
fn semver_equal_tags_never_flip_flop() {
    let s = spec(&[("image-list", "a=nginx")]);
    let orders = [
        ["1.20", "1.20.0", "1.19.3"],
        ["1.20.0", "1.19.3", "1.20"],
        ["1.19.3", "1.20", "1.20.0"],
    ];
    for i in 0..100 {
        let c = tags(&orders[i % 3]);
        // From an older tag the pick is always the same one of the equal pair...
        assert_eq!(
            select(&s, Some("1.19.3"), &c, None).unwrap().as_deref(),
            Some("1.20.0"),
            "round {i}"
        );
        // ...and once on either of them, nothing changes.
        assert_eq!(
            select(&s, Some("1.20.0"), &c, None).unwrap(),
            None,
            "round {i}"
        );
        assert_eq!(
            select(&s, Some("1.20"), &c, None).unwrap(),
            None,
            "round {i}"
        );
    }
    // longest text, then byte order, for other equal spellings
    let c = tags(&["v1.2.0", "1.2.0", "1.2", "1.2.0+b", "1.2.0+a"]);
    for _ in 0..100 {
        assert_eq!(
            select(&s, Some("1.1.0"), &c, None).unwrap().as_deref(),
            Some("1.2.0+b")
        );
    }
}

#[test]
fn reverted_tags_block_until_something_newer() {
    let s = spec(&[("image-list", "a=nginx")]);
    let c = tags(&["1.0.0", "1.1.0"]);
    assert_eq!(select(&s, Some("1.0.0"), &c, Some("1.1.0")).unwrap(), None);
    assert_eq!(
        select(
            &s,
            Some("1.0.0"),
            &tags(&["1.0.0", "1.1.0", "1.1"]),
            Some("1.1.0")
        )
        .unwrap(),
        None,
        "an equal spelling is not newer"
    );
    let c = tags(&["1.0.0", "1.1.0", "1.2.0"]);
    assert_eq!(
        select(&s, Some("1.0.0"), &c, Some("1.1.0"))
            .unwrap()
            .as_deref(),
        Some("1.2.0")
    );
}

#[test]
fn alphabetical() {
    let s = spec(&[
        ("image-list", "a=nginx"),
        ("a.update-strategy", "alphabetical"),
    ]);
    let c = tags(&["2024-01-02", "2024-01-10", "2023-12-31"]);
    assert_eq!(
        select(&s, Some("2024-01-02"), &c, None).unwrap().as_deref(),
        Some("2024-01-10")
    );
    assert_eq!(select(&s, Some("2024-01-10"), &c, None).unwrap(), None);
    assert_eq!(
        select(&s, Some("2025"), &c, None).unwrap(),
        None,
        "never backwards"
    );
    assert_eq!(
        select(&s, Some("2024-01-02"), &c, Some("2024-01-10")).unwrap(),
        None
    );
    assert!(is_newer(&s, "b", "a") && !is_newer(&s, "a", "b") && !is_newer(&s, "a", "a"));
}

#[test]
fn newest_build() {
    let s = spec(&[
        ("image-list", "a=nginx"),
        ("a.update-strategy", "newest-build"),
    ]);
    let c = vec![
        TagInfo {
            tag: "main-aaa".into(),
            created: at(100),
            digest: None,
        },
        TagInfo {
            tag: "main-ccc".into(),
            created: at(300),
            digest: None,
        },
        TagInfo {
            tag: "main-bbb".into(),
            created: at(300),
            digest: None,
        },
        TagInfo {
            tag: "old".into(),
            created: None,
            digest: None,
        },
    ];
    assert_eq!(
        select(&s, Some("main-aaa"), &c, None).unwrap().as_deref(),
        Some("main-ccc"),
        "ties by name"
    );
    assert_eq!(select(&s, Some("main-ccc"), &c, None).unwrap(), None);
    assert_eq!(
        select(&s, Some("main-bbb"), &c, None).unwrap().as_deref(),
        Some("main-ccc")
    );
    assert_eq!(
        select(&s, Some("gone"), &c, None).unwrap().as_deref(),
        Some("main-ccc"),
        "unknown current is older"
    );
    assert_eq!(
        select(&s, Some("main-aaa"), &c, Some("main-ccc")).unwrap(),
        None
    );
    assert_eq!(
        select(&s, Some("main-aaa"), &c, Some("deleted")).unwrap(),
        None,
        "unknown reverted time blocks"
    );
    let later = [
        c.clone(),
        vec![TagInfo {
            tag: "main-ddd".into(),
            created: at(400),
            digest: None,
        }],
    ]
    .concat();
    assert_eq!(
        select(&s, Some("main-aaa"), &later, Some("main-ccc"))
            .unwrap()
            .as_deref(),
        Some("main-ddd")
    );
    assert!(
        is_newer_info(&s, &c[1], &c[0])
            && !is_newer_info(&s, &c[0], &c[1])
            && is_newer_info(&s, &c[0], &c[3])
    );
    assert!(
        !is_newer(&s, "main-ccc", "main-aaa"),
        "names alone carry no build time"
    );
}

#[test]
fn digest() {
    let s = spec(&[
        ("image-list", "a=nginx:stable"),
        ("a.update-strategy", "digest"),
    ]);
    let d1 = format!("sha256:{}", "1".repeat(64));
    let d2 = format!("sha256:{}", "2".repeat(64));
    let c = vec![
        TagInfo {
            tag: "stable".into(),
            created: None,
            digest: Some(d2.clone()),
        },
        TagInfo {
            tag: "latest".into(),
            created: None,
            digest: Some(d1.clone()),
        },
    ];
    assert_eq!(select(&s, Some(&d1), &c, None).unwrap(), Some(d2.clone()));
    assert_eq!(select(&s, None, &c, None).unwrap(), Some(d2.clone()));
    assert_eq!(select(&s, Some(&d2), &c, None).unwrap(), None);
    assert_eq!(
        select(&s, Some(&d1), &c, Some(&d2)).unwrap(),
        None,
        "the reverted digest is not re-applied"
    );
    assert_eq!(
        select(&s, Some(&d1), &c[1..], None).unwrap(),
        None,
        "tag gone"
    );
    let no_digest = tags(&["stable"]);
    assert!(matches!(
        select(&s, Some(&d1), &no_digest, None),
        Err(SelectError::MissingDigest { .. })
    ));
    assert!(is_newer(&s, &d1, &d2) && !is_newer(&s, &d1, &d1));
}

#[test]
fn strategies_have_names() {
    assert_eq!(Strategy::NewestBuild.as_str(), "newest-build");
    assert_eq!(Strategy::Alphabetical.as_str(), "alphabetical");
}
