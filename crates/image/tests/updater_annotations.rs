//! Image Updater annotations: what is accepted, and every refusal naming its annotation key.

use std::collections::BTreeMap;

use fjord_image::updater::{
    parse_alias_tags, parse_annotations, AnnotationError, BranchSpec, CredentialRef, Strategy,
    WriteBack, WriteTarget, ANNOTATION_PREFIX, REVERTED_ANNOTATION,
};

const P: &str = ANNOTATION_PREFIX;

fn ann(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (format!("{P}{k}"), v.to_string()))
        .collect()
}

/// The error and all its causes, as fjord prints them.
fn chain(e: &AnnotationError) -> String {
    let mut out = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

#[test]
fn no_image_list_is_none() {
    assert!(parse_annotations(&BTreeMap::new()).unwrap().is_none());
    // other annotations under the prefix do not matter without image-list
    assert!(parse_annotations(&ann(&[("write-back-method", "bogus")]))
        .unwrap()
        .is_none());
}

#[test]
fn full_kustomize_app() {
    let a = ann(&[
        (
            "image-list",
            "web=ghcr.io/org/web:~1.2, org/worker=quay.io/org/worker, nginx:1.x, db=postgres:16",
        ),
        ("update-strategy", "semver"),
        ("web.allow-tags", "regexp:^1\\.2\\.[0-9]+$"),
        ("web.ignore-tags", "1.2.0-*, *-debug"),
        ("web.platforms", "linux/amd64, linux/arm64/v8"),
        ("web.pull-secret", "pullsecret:argocd/ghcr"),
        ("web.force-update", "true"),
        ("web.kustomize.image-name", "web"),
        ("org_worker.update-strategy", "Latest"),
        ("org_worker.tag-match", "regexp:^main-"),
        ("db.update-strategy", "digest"),
        ("db.helm.image-name", "db.image.repository"),
        ("db.helm.image-tag", "db.images[0].tag"),
        ("pull-secret", "env:REGISTRY_CREDS"),
        ("ignore-tags", "latest"),
        ("write-back-method", "git:secret:argocd/git-creds"),
        ("write-back-target", "kustomization:../base"),
        (
            "git-branch",
            "main:image-updater/{{range .Images}}{{.Alias}}-{{.NewTag}}{{end}}",
        ),
        ("git-repository", "https://git.example.com/org/deploy.git"),
    ]);
    let spec = parse_annotations(&a).unwrap().unwrap();
    assert_eq!(spec.images.len(), 4);
    let web = &spec.images[0];
    assert_eq!(web.alias, "web");
    assert_eq!(web.image.name(), "ghcr.io/org/web");
    assert_eq!(web.image.tag, None);
    assert_eq!(web.constraint.as_deref(), Some("~1.2"));
    assert_eq!(web.strategy, Strategy::Semver);
    assert!(web.allow_tags.as_ref().unwrap().is_match("1.2.3"));
    assert_eq!(web.ignore_tags, ["1.2.0-*", "*-debug"]);
    assert_eq!(web.platforms, ["linux/amd64", "linux/arm64/v8"]);
    assert_eq!(
        web.pull_secret,
        Some(CredentialRef::PullSecret {
            namespace: "argocd".into(),
            name: "ghcr".into()
        })
    );
    assert!(web.force_update);
    assert_eq!(web.kustomize_image_name.as_deref(), Some("web"));

    let worker = &spec.images[1];
    assert_eq!(
        (worker.alias.as_str(), worker.strategy),
        ("org/worker", Strategy::NewestBuild)
    );
    assert!(worker.allow_tags.as_ref().unwrap().is_match("main-abc"));
    assert_eq!(
        worker.ignore_tags,
        ["latest"],
        "app-wide ignore-tags applies"
    );
    assert_eq!(
        worker.pull_secret,
        Some(CredentialRef::Env("REGISTRY_CREDS".into()))
    );
    assert!(!worker.force_update);

    let nginx = &spec.images[2];
    assert_eq!(
        (nginx.alias.as_str(), nginx.image.name().as_str()),
        ("", "nginx")
    );
    assert_eq!(nginx.id(), "nginx");
    assert_eq!(nginx.constraint.as_deref(), Some("1.x"));

    let db = &spec.images[3];
    assert_eq!(
        (db.strategy, db.constraint.as_deref()),
        (Strategy::Digest, Some("16"))
    );
    assert_eq!(db.helm.image_tag.as_deref(), Some("db.images[0].tag"));

    assert_eq!(
        spec.write_back,
        WriteBack::Git {
            creds: Some(CredentialRef::GitSecret {
                namespace: "argocd".into(),
                name: "git-creds".into()
            }),
            branch: Some(BranchSpec {
                base: Some("main".into()),
                target: Some("image-updater/{{range .Images}}{{.Alias}}-{{.NewTag}}{{end}}".into())
            }),
            target: WriteTarget::KustomizationInSource("../base".into()),
            repository: Some("https://git.example.com/org/deploy.git".into()),
        }
    );
}

#[test]
fn defaults_and_old_names() {
    let spec = parse_annotations(&ann(&[("image-list", "nginx")]))
        .unwrap()
        .unwrap();
    assert_eq!(spec.write_back, WriteBack::Argocd);
    let img = &spec.images[0];
    assert_eq!(
        (
            img.strategy,
            img.constraint.as_deref(),
            img.allow_tags.is_none()
        ),
        (Strategy::Semver, None, true)
    );
    for (value, want) in [
        ("name", Strategy::Alphabetical),
        ("ALPHABETICAL", Strategy::Alphabetical),
        ("newest-build", Strategy::NewestBuild),
    ] {
        let spec = parse_annotations(&ann(&[
            ("image-list", "a=nginx"),
            ("a.update-strategy", value),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(spec.images[0].strategy, want, "{value}");
    }
    // per-alias beats app-wide
    let spec = parse_annotations(&ann(&[
        ("image-list", "a=nginx,b=redis"),
        ("update-strategy", "alphabetical"),
        ("b.update-strategy", "newest-build"),
    ]))
    .unwrap()
    .unwrap();
    assert_eq!(
        (spec.images[0].strategy, spec.images[1].strategy),
        (Strategy::Alphabetical, Strategy::NewestBuild)
    );
    // `any`, git with repo creds, kustomization targets
    let spec = parse_annotations(&ann(&[
        ("image-list", "a=localhost:5000/app:>=1.0 <2.0"),
        ("a.allow-tags", "any"),
        ("write-back-method", "git"),
        ("write-back-target", "kustomization:/envs/prod"),
        ("git-branch", ":updates"),
    ]))
    .unwrap()
    .unwrap();
    assert_eq!(spec.images[0].image.name(), "localhost:5000/app");
    assert_eq!(spec.images[0].constraint.as_deref(), Some(">=1.0 <2.0"));
    assert!(spec.images[0].allow_tags.is_none());
    assert_eq!(
        spec.write_back,
        WriteBack::Git {
            creds: None,
            branch: Some(BranchSpec {
                base: None,
                target: Some("updates".into())
            }),
            target: WriteTarget::Kustomization("envs/prod".into()),
            repository: None,
        }
    );
    // an image without alias whose constraint holds '=' is not mistaken for alias=image
    let spec = parse_annotations(&ann(&[("image-list", "nginx:>=1.20")]))
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            spec.images[0].alias.as_str(),
            spec.images[0].constraint.as_deref()
        ),
        ("", Some(">=1.20"))
    );
}

/// Annotations, the key the error must name, and a text its chain must contain.
type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);

#[test]
fn refusals_name_the_key_and_value() {
    let list = "image-list";
    #[rustfmt::skip]
    let cases: &[Case<'_>] = &[
        // (annotations, key named in the error, text that must appear in the error chain)
        (&[(list, "a=Not A Ref!!")], list, "Not A Ref!!"),
        (&[(list, "a=nginx@sha256:xyz")], list, "sha256:xyz"),
        (&[(list, "=nginx")], list, "empty alias"),
        (&[(list, "a=nginx,a=redis")], list, "repeats an alias"),
        (&[(list, " , ")], list, "no image"),
        (&[(list, "a=nginx:")], list, "empty constraint"),
        (&[(list, "a=nginx:not-a-range")], list, "not-a-range"),
        (&[(list, "a=nginx"), ("a.update-strategy", "digest")], list, "needs a tag"),
        (&[(list, "a=nginx"), ("a.update-strategy", "newest")], "a.update-strategy", "newest"),
        (&[(list, "a=nginx"), ("update-strategy", "semver2")], "update-strategy", "semver2"),
        (&[(list, "a=nginx"), ("a.allow-tags", "regexp:(unclosed")], "a.allow-tags", "(unclosed"),
        (&[(list, "a=nginx"), ("a.allow-tags", "glob:1.*")], "a.allow-tags", "glob:1.*"),
        (&[(list, "a=nginx"), ("a.tag-match", "regexp:[")], "a.tag-match", "regexp:["),
        (&[(list, "a=nginx"), ("allow-tags", "something")], "allow-tags", "something"),
        (&[(list, "a=nginx"), ("a.ignore-tags", "ok,[bad")], "a.ignore-tags", "[bad"),
        (&[(list, "a=nginx"), ("a.platforms", "linux")], "a.platforms", "linux"),
        (&[(list, "a=nginx"), ("a.platforms", "linux/amd64/v8/x")], "a.platforms", "linux/amd64/v8/x"),
        (&[(list, "a=nginx"), ("a.pull-secret", "vault:x")], "a.pull-secret", "vault:x"),
        (&[(list, "a=nginx"), ("pull-secret", "secret:ns/name")], "pull-secret", "secret:ns/name"),
        (&[(list, "a=nginx"), ("a.force-update", "yes")], "a.force-update", "yes"),
        (&[(list, "a=nginx"), ("a.kustomize.image-name", "Bad Name")], "a.kustomize.image-name", "Bad Name"),
        (&[(list, "a=nginx"), ("a.kustomize.image-name", "nginx:1.0")], "a.kustomize.image-name", "nginx:1.0"),
        (&[(list, "a=nginx"), ("a.helm.image-tag", "x y")], "a.helm.image-tag", "x y"),
        (&[(list, "a=nginx"), ("write-back-method", "kustomize")], "write-back-method", "kustomize"),
        (&[(list, "a=nginx"), ("write-back-method", "git:token")], "write-back-method", "git:token"),
        (&[(list, "a=nginx"), ("write-back-method", "git:secret:nope")], "write-back-method", "git:secret:nope"),
        (&[(list, "a=nginx"), ("write-back-target", "kustomization:/../../etc")], "write-back-target", "/../../etc"),
        (&[(list, "a=nginx"), ("write-back-target", "kustomization:/a/../../b")], "write-back-target", "leaves the repository"),
        (&[(list, "a=nginx"), ("write-back-target", "helmvalues:values.yaml")], "write-back-target", "helmvalues"),
        (&[(list, "a=nginx"), ("write-back-target", "some/file.yaml")], "write-back-target", "some/file.yaml"),
        (&[(list, "a=nginx"), ("git-branch", "main..x")], "git-branch", "main..x"),
        (&[(list, "a=nginx"), ("git-branch", "main:up..date")], "git-branch", "contains '..'"),
        (&[(list, "a=nginx"), ("git-branch", "-main")], "git-branch", "-main"),
        (&[(list, "a=nginx"), ("git-branch", "ma\u{7}in")], "git-branch", "control"),
        (&[(list, "a=nginx"), ("git-branch", "a:b:c")], "git-branch", "a:b:c"),
        (&[(list, "a=nginx"), ("git-branch", ":x-{{if .SHA256}}y{{end}}")], "git-branch", "if .SHA256"),
        (&[(list, "a=nginx"), ("git-branch", ":x-{{.Nope}}")], "git-branch", ".Nope"),
        (&[(list, "a=nginx"), ("git-repository", " ")], "git-repository", "empty"),
        (&[(list, "a=nginx"), ("b.update-strategy", "semver")], "b.update-strategy", "not in image-list"),
        (&[(list, "a=nginx"), ("a.platform", "linux/amd64")], "a.platform", "known:"),
        (&[(list, "a=nginx"), ("platforms", "linux/amd64")], "platforms", "<alias>.platforms"),
        (&[(list, "a=nginx"), ("write-back-branch", "main")], "write-back-branch", "git-branch"),
        (&[(list, "a=nginx"), ("write-back-target", "kustomization")], "write-back-target", "git only"),
        (&[(list, "a=nginx"), ("write-back-method", "argocd"), ("git-branch", "main")], "git-branch", "git only"),
    ];
    for (pairs, key, needle) in cases {
        let err = parse_annotations(&ann(pairs)).expect_err(&format!("{pairs:?} must be refused"));
        let display = err.to_string();
        let full_key = format!("{P}{key}");
        assert!(
            display.contains(&full_key),
            "{pairs:?}: {display:?} does not name {full_key}"
        );
        let text = chain(&err);
        assert!(
            text.contains(needle),
            "{pairs:?}: {text:?} does not contain {needle:?}"
        );
    }
}

#[test]
fn value_is_in_display() {
    let err = parse_annotations(&ann(&[
        ("image-list", "a=nginx"),
        ("a.update-strategy", "fastest"),
    ]))
    .unwrap_err();
    assert!(err.to_string().contains("\"fastest\""), "{err}");
    let err = parse_annotations(&ann(&[
        ("image-list", "a=nginx"),
        ("a.allow-tags", "regexp:("),
    ]))
    .unwrap_err();
    assert!(err.to_string().contains("regexp:("), "{err}");
}

#[test]
fn alias_with_slash_uses_underscore_in_keys() {
    let a = ann(&[
        ("image-list", "org/app=ghcr.io/org/app"),
        ("org_app.update-strategy", "alphabetical"),
    ]);
    assert_eq!(
        parse_annotations(&a).unwrap().unwrap().images[0].strategy,
        Strategy::Alphabetical
    );
    let a = ann(&[
        ("image-list", "org/app=ghcr.io/org/app"),
        ("org/app.update-strategy", "alphabetical"),
    ]);
    assert!(
        parse_annotations(&a).is_err(),
        "the key spelling with '/' is not the one Image Updater reads"
    );
}

#[test]
fn reverted_annotation_lists() {
    let m = parse_alias_tags(REVERTED_ANNOTATION, "web=1.2.3, ghcr.io/org/x=v2").unwrap();
    assert_eq!(m.get("web").map(String::as_str), Some("1.2.3"));
    assert_eq!(m.get("ghcr.io/org/x").map(String::as_str), Some("v2"));
    assert_eq!(
        fjord_image::updater::format_alias_tags(&m),
        "ghcr.io/org/x=v2,web=1.2.3"
    );
    let e = parse_alias_tags(REVERTED_ANNOTATION, "web").unwrap_err();
    assert!(e.to_string().contains(REVERTED_ANNOTATION));
}
