//! fjord-registry against a real registry: Debian's `docker-registry` (CNCF distribution 2.8)
//! started by the test kit — anonymous, basic auth (htpasswd) and token auth (the kit's token
//! server issuing ES256 JWTs).

use std::sync::Arc;
use std::time::Duration;

use fjord_registry::{
    ClientOptions, Credentials, Endpoint, Platform, RegistryClient, RegistryConf, RegistryError,
    Step,
};
use fjord_testkit::registry::{
    ImageSpec, Registry, TokenOptions, DISTRIBUTION_V3, DOCKER_REGISTRY, HTPASSWD,
};
use fjord_testkit::require_tools;

fn endpoint(reg: &Registry) -> Endpoint {
    let conf = RegistryConf::parse(&format!(
        "registries:\n- name: test\n  prefix: {}\n  api_url: {}\n  ping: true\n",
        reg.host(),
        reg.url()
    ))
    .unwrap();
    conf.endpoint_for_host(Some(&reg.host()))
}

fn client_paged(n: u32) -> RegistryClient {
    RegistryClient::with_options(ClientOptions {
        page_size: Some(n),
        ..ClientOptions::new(Duration::from_secs(60))
    })
}

fn creds(user: &str, pass: &str) -> Credentials {
    Credentials::new(user, pass)
}

const T1: &str = "2024-01-01T10:00:00Z";
const T2: &str = "2024-03-05T12:30:00.5Z";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_tags_and_pages() {
    require_tools!(DOCKER_REGISTRY);
    let reg = Registry::anonymous();
    for tag in ["1.0.0", "1.1.0", "1.2.0", "2.0.0", "latest"] {
        reg.push_image("team/app", tag, &ImageSpec::linux("amd64", T1));
    }
    reg.reset_counts();
    let ep = endpoint(&reg);
    let client = client_paged(2);
    let tags = client.list_tags(&ep, "team/app", None).await.unwrap();
    let mut sorted = tags.to_vec();
    sorted.sort();
    assert_eq!(sorted, ["1.0.0", "1.1.0", "1.2.0", "2.0.0", "latest"]);
    // distribution 2.8 ignores `n` and answers one page; a paginating registry (v3) answers
    // three, each after the first asking with `last=` (tests/fake_pages.rs covers the Link walk).
    let pages = reg.tag_list_requests("team/app");
    assert!(pages >= 1, "{:?}", reg.requests());
    assert_eq!(
        reg.count(Some("GET"), "last="),
        pages - 1,
        "{:?}",
        reg.requests()
    );

    // Cached: no new request within the TTL.
    client.list_tags(&ep, "team/app", None).await.unwrap();
    assert_eq!(reg.tag_list_requests("team/app"), pages);

    let err = client
        .list_tags(&ep, "team/missing", None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::NotFound {
                step: Step::Tags,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_right_and_wrong() {
    require_tools!(DOCKER_REGISTRY, HTPASSWD);
    let reg = Registry::basic("alice", "s3cret-pw");
    reg.push_image("app", "v1", &ImageSpec::linux("amd64", T1));
    let ep = endpoint(&reg);
    let client = RegistryClient::new(Duration::from_secs(60));
    let tags = client
        .list_tags(&ep, "app", Some(&creds("alice", "s3cret-pw")))
        .await
        .unwrap();
    assert_eq!(tags.as_slice(), ["v1"]);

    for wrong in [Some(creds("alice", "nope")), None] {
        let err = client
            .list_tags(&ep, "app", wrong.as_ref())
            .await
            .unwrap_err();
        assert!(
            matches!(err, RegistryError::Unauthorized { status: 401, .. }),
            "{err:?}"
        );
        let shown = format!("{err} {err:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("nope"),
            "{shown}"
        );
        assert!(
            shown.contains(&reg.url()) && shown.contains("app"),
            "{shown}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_tokens_right_and_wrong() {
    require_tools!(DOCKER_REGISTRY);
    let reg = Registry::token_with(
        "bob",
        "tok-pw",
        TokenOptions {
            access_token_field: true,
            ..TokenOptions::default()
        },
    );
    reg.push_image("org/svc", "1.0", &ImageSpec::linux("amd64", T1));
    reg.push_image("org/svc", "1.1", &ImageSpec::linux("amd64", T2));
    reg.reset_counts();
    let ep = endpoint(&reg);
    let client = RegistryClient::new(Duration::from_secs(60));
    let good = creds("bob", "tok-pw");
    let tags = client.list_tags(&ep, "org/svc", Some(&good)).await.unwrap();
    assert_eq!(tags.len(), 2);
    let meta = client
        .tag_meta(&ep, "org/svc", "1.1", &[], Some(&good))
        .await
        .unwrap();
    assert_eq!(
        meta.created.unwrap().to_rfc3339(),
        "2024-03-05T12:30:00.500+00:00"
    );
    assert_eq!(
        reg.token_requests(),
        1,
        "one token for the scope, reused by the manifest and blob requests"
    );

    let err = client
        .list_tags(&ep, "org/svc", Some(&creds("bob", "wrong")))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::Unauthorized {
                step: Step::Token,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!format!("{err:?}").contains("wrong"));

    // No credentials: the token server hands out a token without access; the registry refuses it.
    let err = client.list_tags(&ep, "org/svc", None).await.unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::Unauthorized {
                step: Step::Tags,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_per_platform_and_created() {
    require_tools!(DOCKER_REGISTRY);
    let reg = Registry::anonymous();
    let arm = ImageSpec {
        variant: Some("v8".into()),
        ..ImageSpec::linux("arm64", T2)
    };
    let index = reg.push_index("multi", "1.0", &[ImageSpec::linux("amd64", T1), arm]);
    let single = reg.push_image("multi", "amd-only", &ImageSpec::linux("amd64", T1));
    let ep = endpoint(&reg);
    let client = RegistryClient::new(Duration::from_secs(60));
    let p = |s: &str| Platform::parse(s).unwrap();

    let amd = client
        .tag_meta(&ep, "multi", "1.0", &[p("linux/amd64")], None)
        .await
        .unwrap();
    assert_eq!(amd.digest, index, "the index's digest");
    assert_eq!(
        amd.created.unwrap().to_rfc3339(),
        "2024-01-01T10:00:00+00:00"
    );
    let arm = client
        .tag_meta(&ep, "multi", "1.0", &[p("linux/arm64/v8")], None)
        .await
        .unwrap();
    assert_eq!(
        arm.created.unwrap().to_rfc3339(),
        "2024-03-05T12:30:00.500+00:00"
    );
    let both = client
        .tag_meta(&ep, "multi", "1.0", &[], None)
        .await
        .unwrap();
    assert_eq!(both.created, arm.created, "the newest of all platforms");
    let none = client
        .tag_meta(&ep, "multi", "1.0", &[p("windows/amd64")], None)
        .await
        .unwrap();
    assert_eq!((none.digest.as_str(), none.created), (index.as_str(), None));

    let s = client
        .tag_meta(&ep, "multi", "amd-only", &[p("linux/arm64")], None)
        .await
        .unwrap();
    assert_eq!((s.digest.as_str(), s.created), (single.as_str(), None));
    assert_eq!(
        client
            .manifest_digest(&ep, "multi", "amd-only", None)
            .await
            .unwrap(),
        single
    );
    let err = client
        .tag_meta(&ep, "multi", "nope", &[], None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::NotFound {
                step: Step::Manifest,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_watchers_one_tag_list() {
    require_tools!(DOCKER_REGISTRY);
    let reg = Registry::token("carol", "pw");
    reg.push_image("shared/img", "1", &ImageSpec::linux("amd64", T1));
    reg.reset_counts();
    let ep = Arc::new(endpoint(&reg));
    let client = RegistryClient::new(Duration::from_secs(60));
    let good = creds("carol", "pw");
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (client, ep, good) = (client.clone(), Arc::clone(&ep), good.clone());
            tokio::spawn(async move { client.list_tags(&ep, "shared/img", Some(&good)).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().as_slice(), ["1"]);
    }
    assert_eq!(
        reg.tag_list_requests("shared/img"),
        1,
        "{:?}",
        reg.requests()
    );
    assert_eq!(reg.token_requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_down_is_unreachable() {
    require_tools!(DOCKER_REGISTRY);
    let mut reg = Registry::anonymous();
    reg.push_image("app", "1", &ImageSpec::linux("amd64", T1));
    let ep = endpoint(&reg);
    let client = RegistryClient::new(Duration::ZERO);
    assert_eq!(client.list_tags(&ep, "app", None).await.unwrap().len(), 1);
    reg.stop();
    let err = client.list_tags(&ep, "app", None).await.unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::Unreachable {
                step: Step::Tags,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_transient());
    reg.start();
    assert_eq!(
        client.list_tags(&ep, "app", None).await.unwrap().as_slice(),
        ["1"],
        "back up with its data"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_spaces_requests() {
    require_tools!(DOCKER_REGISTRY);
    let reg = Registry::anonymous();
    let tags = ["a", "b", "c", "d"];
    for tag in tags {
        reg.push_image("rl", tag, &ImageSpec::linux("amd64", T1));
    }
    reg.reset_counts();
    let mut ep = endpoint(&reg);
    ep.limit = Some(20.0);
    let client = RegistryClient::new(Duration::from_secs(60));
    let start = std::time::Instant::now();
    assert_eq!(client.list_tags(&ep, "rl", None).await.unwrap().len(), 4);
    for tag in tags {
        let meta = client.tag_meta(&ep, "rl", tag, &[], None).await.unwrap();
        assert!(meta.created.is_some());
    }
    let sent = reg.requests().len();
    assert_eq!(
        sent as u64,
        client.requests(),
        "the client counts what it sends"
    );
    // ping, one page, then a manifest and a config per tag: 10 requests, 9 intervals of 50 ms.
    assert_eq!(sent, 10, "{:?}", reg.requests());
    assert!(
        start.elapsed() >= Duration::from_millis(440),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_is_verified_unless_insecure() {
    require_tools!(DOCKER_REGISTRY);
    let reg = Registry::anonymous_tls();
    reg.push_image("app", "1", &ImageSpec::linux("amd64", T1));
    let mut ep = endpoint(&reg);
    assert!(ep.api_url.starts_with("https://"), "{}", ep.api_url);
    let client = RegistryClient::new(Duration::from_secs(60));
    let err = client.list_tags(&ep, "app", None).await.unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::Tls {
                step: Step::Ping,
                ..
            }
        ),
        "a self-signed certificate is refused: {err:?}"
    );
    ep.insecure = true;
    assert_eq!(
        client.list_tags(&ep, "app", None).await.unwrap().as_slice(),
        ["1"]
    );
    let meta = client.tag_meta(&ep, "app", "1", &[], None).await.unwrap();
    assert!(meta.created.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_pages_tag_lists() {
    require_tools!(DISTRIBUTION_V3);
    let reg = Registry::anonymous_v3();
    let tags: Vec<String> = (0..7).map(|i| format!("1.{i}.0")).collect();
    for tag in &tags {
        reg.push_image("paged/app", tag, &ImageSpec::linux("amd64", T1));
    }
    reg.reset_counts();
    let ep = endpoint(&reg);
    let got = client_paged(2)
        .list_tags(&ep, "paged/app", None)
        .await
        .unwrap();
    assert_eq!(got.as_slice(), tags.as_slice(), "every page, in order");
    assert_eq!(
        reg.tag_list_requests("paged/app"),
        4,
        "{:?}",
        reg.requests()
    );
    assert_eq!(reg.count(Some("GET"), "last="), 3, "{:?}", reg.requests());
}
