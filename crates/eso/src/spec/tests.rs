use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use super::*;

/// An edit of a test object.
type Edit = Box<dyn Fn(&mut Value)>;

/// Seed 000's ExternalSecret, verbatim (as JSON).
fn seed_es() -> Value {
    json!({
        "apiVersion": "external-secrets.io/v1beta1",
        "kind": "ExternalSecret",
        "metadata": {"name": "db-creds", "namespace": "production"},
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": {"name": "vault-backend", "kind": "ClusterSecretStore"},
            "target": {"name": "db-creds-k8s", "creationPolicy": "Owner"},
            "data": [
                {"secretKey": "username", "remoteRef": {"key": "secret/data/production/db", "property": "username"}},
                {"secretKey": "password", "remoteRef": {"key": "secret/data/production/db", "property": "password"}}
            ]
        }
    })
}

/// `seed_es()` with `f` applied to its spec.
fn es_with(f: impl FnOnce(&mut Value)) -> Value {
    let mut es = seed_es();
    f(&mut es["spec"]);
    es
}

/// The error of parsing `es`, as "field: reason".
fn es_err(es: &Value) -> String {
    parse_external_secret(es)
        .expect_err("should fail")
        .to_string()
}

#[test]
fn seed_parses() {
    let es = parse_external_secret(&seed_es()).unwrap();
    assert_eq!(es.refresh_interval, Duration::from_secs(3600));
    assert_eq!(es.refresh_policy, RefreshPolicy::Periodic);
    assert_eq!(
        es.store_ref,
        Some(StoreRef {
            name: "vault-backend".into(),
            kind: StoreKind::ClusterSecretStore
        })
    );
    assert_eq!(es.target.name, "db-creds-k8s");
    assert_eq!(es.target.creation_policy, CreationPolicy::Owner);
    assert_eq!(es.target.deletion_policy, DeletionPolicy::Retain);
    assert!(!es.target.immutable);
    assert_eq!(es.data.len(), 2);
    let d = &es.data[1];
    assert_eq!(d.secret_key, "password");
    assert_eq!(d.remote_ref.key, "secret/data/production/db");
    assert_eq!(d.remote_ref.property.as_deref(), Some("password"));
    assert_eq!(d.remote_ref.decoding, DecodingStrategy::None);
    assert_eq!(d.remote_ref.conversion, ConversionStrategy::Default);
    assert_eq!(d.remote_ref.metadata_policy, MetadataPolicy::None);
    assert_eq!(es.stores().len(), 1);
}

#[test]
fn v1_and_v1beta1_parse_the_same() {
    let mut v1 = seed_es();
    v1["apiVersion"] = json!("external-secrets.io/v1");
    let a = parse_external_secret(&v1).unwrap();
    let b = parse_external_secret(&seed_es()).unwrap();
    assert_eq!(a.data, b.data);
    assert_eq!(a.target, b.target);
}

#[test]
fn defaults() {
    let es = es_with(|s| {
        s.as_object_mut().unwrap().remove("refreshInterval");
        s.as_object_mut().unwrap().remove("target");
        s["secretStoreRef"] = json!({"name": "vault"});
    });
    let es = parse_external_secret(&es).unwrap();
    assert_eq!(es.refresh_interval, Duration::from_secs(3600));
    assert_eq!(es.target.name, "db-creds");
    assert_eq!(es.target.creation_policy, CreationPolicy::Owner);
    assert_eq!(es.store_ref.unwrap().kind, StoreKind::SecretStore);
}

#[test]
fn refresh_interval_zero_and_bad() {
    for zero in ["0", "0s", "0m"] {
        let es = es_with(|s| s["refreshInterval"] = json!(zero));
        assert_eq!(
            parse_external_secret(&es).unwrap().refresh_interval,
            Duration::ZERO
        );
    }
    let es = es_with(|s| s["refreshInterval"] = json!("1h30m"));
    assert_eq!(
        parse_external_secret(&es).unwrap().refresh_interval,
        Duration::from_secs(5400)
    );
    let es = es_with(|s| s["refreshInterval"] = json!("soon"));
    assert!(es_err(&es).starts_with("spec.refreshInterval: \"soon\" is not a Go duration"));
}

#[test]
fn enums_parse_and_unknown_values_are_named() {
    let es = es_with(|s| {
        s["refreshPolicy"] = json!("OnChange");
        s["target"]["creationPolicy"] = json!("Orphan");
        s["data"][0]["remoteRef"]["decodingStrategy"] = json!("Base64URL");
        s["data"][0]["remoteRef"]["conversionStrategy"] = json!("Unicode");
        s["data"][0]["remoteRef"]["metadataPolicy"] = json!("Fetch");
        s["data"][0]["remoteRef"]["version"] = json!("3");
    });
    let es = parse_external_secret(&es).unwrap();
    assert_eq!(es.refresh_policy, RefreshPolicy::OnChange);
    assert_eq!(es.target.creation_policy, CreationPolicy::Orphan);
    let r = &es.data[0].remote_ref;
    assert_eq!(r.decoding, DecodingStrategy::Base64Url);
    assert_eq!(r.conversion, ConversionStrategy::Unicode);
    assert_eq!(r.metadata_policy, MetadataPolicy::Fetch);
    assert_eq!(r.version.as_deref(), Some("3"));

    let es = es_with(|s| s["data"][1]["remoteRef"]["decodingStrategy"] = json!("Hex"));
    assert_eq!(
        es_err(&es),
        "spec.data[1].remoteRef.decodingStrategy: unknown value \"Hex\" (one of None, Base64, Base64URL, Auto)"
    );
    let es = es_with(|s| s["target"]["creationPolicy"] = json!("Mine"));
    assert!(es_err(&es).starts_with("spec.target.creationPolicy: unknown value \"Mine\""));
    let es = es_with(|s| s["secretStoreRef"]["kind"] = json!("Store"));
    assert!(es_err(&es).starts_with("spec.secretStoreRef.kind: unknown value"));
}

#[test]
fn webhook_rules() {
    let es = es_with(|s| {
        s.as_object_mut().unwrap().remove("data");
    });
    assert_eq!(
        es_err(&es),
        "spec.data: either data or dataFrom must be specified"
    );
    for creation in ["Orphan", "Merge", "None"] {
        let es = es_with(|s| {
            s["target"]["creationPolicy"] = json!(creation);
            s["target"]["deletionPolicy"] = json!("Delete");
        });
        assert!(
            es_err(&es).starts_with("spec.target.deletionPolicy: Delete must not be used"),
            "{creation}"
        );
    }
    let es = es_with(|s| s["target"]["deletionPolicy"] = json!("Delete"));
    assert!(parse_external_secret(&es).is_ok());
    let es = es_with(|s| {
        s["target"]["creationPolicy"] = json!("None");
        s["target"]["deletionPolicy"] = json!("Merge");
    });
    assert!(es_err(&es).starts_with(
        "spec.target.deletionPolicy: Merge must not be used with creationPolicy None"
    ));
    let es = es_with(|s| {
        s["target"]["creationPolicy"] = json!("Merge");
        s["target"]["deletionPolicy"] = json!("Merge");
    });
    assert!(parse_external_secret(&es).is_ok());
}

#[test]
fn duplicate_secret_keys_refused_with_retain() {
    let es = es_with(|s| s["data"][1]["secretKey"] = json!("username"));
    assert_eq!(
        es_err(&es),
        "spec.data[1].secretKey: duplicate secretKey \"username\""
    );
    let es = es_with(|s| {
        s["data"][1]["secretKey"] = json!("username");
        s["target"]["deletionPolicy"] = json!("Delete");
    });
    assert!(
        parse_external_secret(&es).is_ok(),
        "ESO allows duplicates unless Retain"
    );
}

#[test]
fn secret_key_pattern() {
    for bad in ["a/b", "a b", "ü", "x:y"] {
        let es = es_with(|s| s["data"][0]["secretKey"] = json!(bad));
        assert!(es_err(&es).starts_with("spec.data[0].secretKey: "), "{bad}");
    }
    let es = es_with(|s| s["data"][0]["secretKey"] = json!(""));
    assert_eq!(es_err(&es), "spec.data[0].secretKey: is required");
    let es = es_with(|s| s["data"][0]["secretKey"] = json!("-a._B9"));
    assert!(parse_external_secret(&es).is_ok());
}

#[test]
fn required_fields_are_named() {
    let es = es_with(|s| s["data"][1]["remoteRef"]["key"] = json!(""));
    assert_eq!(es_err(&es), "spec.data[1].remoteRef.key: is required");
    let es = es_with(|s| {
        s["data"][1].as_object_mut().unwrap().remove("remoteRef");
    });
    assert_eq!(es_err(&es), "spec.data[1].remoteRef: is required");
    let es = es_with(|s| s["data"][1]["remoteRef"]["property"] = json!(5));
    assert_eq!(
        es_err(&es),
        "spec.data[1].remoteRef.property: must be a string, not a number"
    );
    let mut es = seed_es();
    es["metadata"] = json!({});
    assert_eq!(es_err(&es), "metadata.name: is required");
    let es = es_with(|s| {
        s.as_object_mut().unwrap().remove("secretStoreRef");
    });
    assert_eq!(
        es_err(&es),
        "spec.secretStoreRef: is required (spec.data[0] has no sourceRef.storeRef)"
    );
    let es = es_with(|s| {
        s.as_object_mut().unwrap().remove("secretStoreRef");
        for d in s["data"].as_array_mut().unwrap() {
            d["sourceRef"] = json!({"storeRef": {"name": "other", "kind": "ClusterSecretStore"}});
        }
    });
    let parsed = parse_external_secret(&es).unwrap();
    assert_eq!(parsed.data[0].store_ref.as_ref().unwrap().name, "other");
}

#[test]
fn unsupported_fields_are_refused_by_name() {
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|s| {
                s["target"]["manifest"] = json!({"apiVersion": "v1", "kind": "ConfigMap"})
            }),
            "spec.target.manifest: not supported by fjord",
        ),
        (
            Box::new(|s| s["target"]["template"] = json!({"templateFrom": [{"literal": "x"}]})),
            "spec.target.template.templateFrom: not supported by fjord",
        ),
        (
            Box::new(|s| s["target"]["template"] = json!({"metadata": {"finalizers": ["x"]}})),
            "spec.target.template.metadata.finalizers: not supported by fjord",
        ),
        (
            Box::new(|s| {
                s["data"][0]["sourceRef"] =
                    json!({"generatorRef": {"kind": "Password", "name": "p"}})
            }),
            "spec.data[0].sourceRef.generatorRef: not supported by fjord",
        ),
        (
            Box::new(|s| s["syncWindows"] = json!({"kind": "allow"})),
            "spec.syncWindows: not supported by fjord",
        ),
        (
            Box::new(|s| {
                s["dataFrom"] = json!([{"extract": {"key": "a"}, "rewrite": [{"transform": {"template": "x"}}]}])
            }),
            "spec.dataFrom[0].rewrite[0].transform: not supported by fjord",
        ),
        (
            Box::new(|s| {
                s["dataFrom"] =
                    json!([{"extract": {"key": "a"}, "rewrite": [{"merge": {"into": "x"}}]}])
            }),
            "spec.dataFrom[0].rewrite[0].merge: not supported by fjord",
        ),
        (
            Box::new(|s| {
                s["dataFrom"] =
                    json!([{"sourceRef": {"generatorRef": {"kind": "Password", "name": "p"}}}])
            }),
            "spec.dataFrom[0].sourceRef.generatorRef: not supported by fjord",
        ),
        (
            Box::new(|s| s["target"]["template"] = json!({"engineVersion": "v1"})),
            "spec.target.template.engineVersion: v1 is not supported by fjord (only v2)",
        ),
        (
            Box::new(|s| s["data"][0]["remoteRef"]["nullBytePolicy"] = json!("Fail")),
            "spec.data[0].remoteRef.nullBytePolicy: Fail is not supported by fjord (only Ignore)",
        ),
        (
            Box::new(|s| s["data"][0]["remoteRef"]["bogus"] = json!(1)),
            "spec.data[0].remoteRef.bogus: unknown field",
        ),
    ];
    for (edit, want) in cases {
        assert_eq!(es_err(&es_with(edit)), want);
    }
    // Present but empty: harmless.
    let es =
        es_with(|s| s["target"]["template"] = json!({"templateFrom": [], "engineVersion": "v2"}));
    assert!(parse_external_secret(&es).is_ok());
}

#[test]
fn template_parses() {
    let es = es_with(|s| {
        s["target"]["template"] = json!({
            "type": "kubernetes.io/dockerconfigjson",
            "mergePolicy": "Merge",
            "metadata": {"labels": {"app": "x"}, "annotations": {"note": "{{ .username }}"}},
            "data": {"url": "postgres://{{ .username }}:{{ .password }}@db"}
        });
    });
    let t = parse_external_secret(&es).unwrap().target.template.unwrap();
    assert_eq!(t.type_.as_deref(), Some("kubernetes.io/dockerconfigjson"));
    assert_eq!(t.merge_policy, MergePolicy::Merge);
    assert_eq!(t.metadata.labels["app"], "x");
    assert_eq!(t.metadata.annotations["note"], "{{ .username }}");
    assert_eq!(t.data.len(), 1);
    let es =
        es_with(|s| s["target"]["template"] = json!({"type": "bootstrap.kubernetes.io/token"}));
    assert!(es_err(&es).starts_with("spec.target.template.type: "));
    let es = es_with(|s| {
        s["target"]["template"] = json!({"type": "kubernetes.io/service-account-token",
            "metadata": {"annotations": {"kubernetes.io/service-account.name": "default"}}});
    });
    assert!(es_err(&es).starts_with("spec.target.template.type: "));
    let es = es_with(|s| s["target"]["template"] = json!({"data": {"a": 1}}));
    assert_eq!(
        es_err(&es),
        "spec.target.template.data.a: must be a string, not a number"
    );
}

#[test]
fn target_name_and_create_or_merge() {
    let es = es_with(|s| s["target"]["name"] = json!("Bad_Name"));
    assert!(es_err(&es).starts_with("spec.target.name: \"Bad_Name\" is not a valid Secret name"));
    let es = es_with(|s| s["target"]["creationPolicy"] = json!("CreateOrMerge"));
    assert_eq!(
        es_err(&es),
        "spec.target.creationPolicy: CreateOrMerge needs apiVersion external-secrets.io/v1"
    );
    let mut es = es_with(|s| s["target"]["creationPolicy"] = json!("CreateOrMerge"));
    es["apiVersion"] = json!("external-secrets.io/v1");
    assert_eq!(
        parse_external_secret(&es).unwrap().target.creation_policy,
        CreationPolicy::CreateOrMerge
    );
    let es = es_with(|s| s["target"]["immutable"] = json!(true));
    assert!(parse_external_secret(&es).unwrap().target.immutable);
}

#[test]
fn api_version_and_kind_checked() {
    let mut es = seed_es();
    es["apiVersion"] = json!("external-secrets.io/v1alpha1");
    assert!(es_err(&es).starts_with("apiVersion: expected external-secrets.io/v1 or"));
    let mut es = seed_es();
    es["kind"] = json!("SecretStore");
    assert_eq!(
        es_err(&es),
        "kind: expected ExternalSecret, not SecretStore"
    );
}

#[test]
fn data_from_extract_find_rewrite() {
    let es = es_with(|s| {
        s["dataFrom"] = json!([
            {"extract": {"key": "secret/app", "decodingStrategy": "Auto"},
             "rewrite": [{"regexp": {"source": "^db_(.*)$", "target": "DB_$1"}}]},
            {"find": {"path": "app", "name": {"regexp": "^prod-"}, "conversionStrategy": "Unicode"}},
            {"find": {"tags": {"env": "prod"}}, "sourceRef": {"storeRef": {"name": "s2"}}}
        ]);
    });
    let es = parse_external_secret(&es).unwrap();
    assert_eq!(es.data_from.len(), 3);
    match &es.data_from[0].source {
        DataFromSource::Extract(r) => {
            assert_eq!(r.key, "secret/app");
            assert_eq!(r.decoding, DecodingStrategy::Auto);
        }
        DataFromSource::Find(_) => panic!("extract expected"),
    }
    assert_eq!(es.data_from[0].rewrite[0].target, "DB_$1");
    assert!(es.data_from[0].rewrite[0].source.is_match("db_user"));
    match &es.data_from[1].source {
        DataFromSource::Find(f) => {
            assert_eq!(f.path.as_deref(), Some("app"));
            assert!(f.name_regexp.as_ref().unwrap().is_match("prod-db"));
            assert_eq!(f.conversion, ConversionStrategy::Unicode);
        }
        DataFromSource::Extract(_) => panic!("find expected"),
    }
    assert_eq!(es.data_from[2].store_ref.as_ref().unwrap().name, "s2");
    assert_eq!(es.stores().len(), 2);

    let bad: Vec<(Value, &str)> = vec![
        (
            json!([{}]),
            "spec.dataFrom[0]: one of extract or find is required",
        ),
        (
            json!([{"extract": {"key": "a"}, "find": {"tags": {"a": "b"}}}]),
            "spec.dataFrom[0]: only one of extract or find may be set",
        ),
        (
            json!([{"find": {"path": "a"}}]),
            "spec.dataFrom[0].find: one of name.regexp or tags is required",
        ),
        (
            json!([{"extract": {"key": "a"}, "rewrite": [{}]}]),
            "spec.dataFrom[0].rewrite[0]: regexp is required (the only rewrite fjord supports)",
        ),
    ];
    for (data_from, want) in bad {
        assert_eq!(es_err(&es_with(|s| s["dataFrom"] = data_from)), want);
    }
    let es = es_with(|s| s["dataFrom"] = json!([{"find": {"name": {"regexp": "("}}}]));
    assert!(es_err(&es).starts_with("spec.dataFrom[0].find.name.regexp: invalid regexp"));
    let es = es_with(
        |s| s["dataFrom"] = json!([{"extract": {"key": "a"}, "rewrite": [{"regexp": {"source": "[", "target": "x"}}]}]),
    );
    assert!(es_err(&es).starts_with("spec.dataFrom[0].rewrite[0].regexp.source: invalid regexp"));
}

fn seed_store() -> Value {
    json!({
        "apiVersion": "external-secrets.io/v1beta1",
        "kind": "ClusterSecretStore",
        "metadata": {"name": "vault-backend"},
        "spec": {"provider": {"vault": {
            "server": "http://vault.vault:8200",
            "path": "secret",
            "version": "v2",
            "auth": {"tokenSecretRef": {"name": "vault-token", "key": "token", "namespace": "external-secrets"}}
        }}}
    })
}

fn store_with(f: impl FnOnce(&mut Value)) -> Value {
    let mut s = seed_store();
    f(&mut s["spec"]["provider"]["vault"]);
    s
}

fn store_err(s: &Value) -> String {
    parse_store(s).expect_err("should fail").to_string()
}

#[test]
fn store_parses() {
    let s = parse_store(&seed_store()).unwrap();
    assert_eq!(s.kind, StoreKind::ClusterSecretStore);
    let p = &s.provider;
    assert_eq!(p.server, "http://vault.vault:8200");
    assert_eq!(p.path.as_deref(), Some("secret"));
    assert_eq!(p.version, KvVersion::V2);
    assert_eq!(
        p.auth,
        VaultAuth::Token {
            token: SecretKeySelector {
                name: "vault-token".into(),
                key: "token".into(),
                namespace: Some("external-secrets".into())
            }
        }
    );
    assert!(s.conditions.is_empty());
    assert!(s.allows_namespace("any", &BTreeMap::new()));
    let s = parse_store(&store_with(|v| {
        v.as_object_mut().unwrap().remove("version");
        v["namespace"] = json!("team-a");
        v["auth"]["namespace"] = json!("root");
    }))
    .unwrap();
    assert_eq!(s.provider.version, KvVersion::V2, "default v2");
    assert_eq!(s.provider.namespace.as_deref(), Some("team-a"));
    assert_eq!(s.provider.auth_namespace.as_deref(), Some("root"));
}

#[test]
fn openbao_provider_and_unknown_provider() {
    let mut s = seed_store();
    let block = s["spec"]["provider"]["vault"].take();
    s["spec"]["provider"] = json!({"openBao": block});
    s["apiVersion"] = json!("external-secrets.io/v1");
    assert_eq!(
        parse_store(&s).unwrap().provider.server,
        "http://vault.vault:8200"
    );
    s["spec"]["provider"]["openBao"]["tls"] = json!({"certSecretRef": {"name": "x"}});
    assert_eq!(store_err(&s), "spec.provider.openBao.tls: unknown field");

    let mut s = seed_store();
    s["spec"]["provider"] = json!({"aws": {"service": "SecretsManager"}});
    assert_eq!(
        store_err(&s),
        "spec.provider: provider aws is not supported (fjord supports vault and openBao)"
    );
    s["spec"]["provider"] = json!({});
    assert!(store_err(&s).starts_with("spec.provider: exactly one provider is required"));
    s["spec"]["provider"] = json!({"vault": seed_store()["spec"]["provider"]["vault"], "aws": {}});
    assert_eq!(
        store_err(&s),
        "spec.provider: exactly one provider may be set, found vault, aws"
    );
}

#[test]
fn store_fields_checked() {
    let cases: Vec<(Edit, &str)> = vec![
        (Box::new(|v| v["server"] = json!("")), "spec.provider.vault.server: is required"),
        (Box::new(|v| v["server"] = json!("vault:8200")), "spec.provider.vault.server: \"vault:8200\" is not an http:// or https:// URL"),
        (Box::new(|v| v["version"] = json!("v3")), "spec.provider.vault.version: unknown value \"v3\" (one of v1, v2)"),
        (Box::new(|v| v["tls"] = json!({"certSecretRef": {"name": "c"}})), "spec.provider.vault.tls: not supported by fjord"),
        (Box::new(|v| v["headers"] = json!({"X-A": "b"})), "spec.provider.vault.headers: not supported by fjord"),
        (Box::new(|v| v["caBundle"] = json!("!!notbase64")), "spec.provider.vault.caBundle: not valid base64"),
        (Box::new(|v| v["auth"] = json!({})), "spec.provider.vault.auth: exactly one of tokenSecretRef, kubernetes, appRole or jwt is required"),
        (Box::new(|v| v["auth"]["kubernetes"] = json!({"role": "r"})), "spec.provider.vault.auth: exactly one auth method may be set, found tokenSecretRef, kubernetes"),
        (Box::new(|v| v["auth"] = json!({"ldap": {"username": "u"}})), "spec.provider.vault.auth.ldap: not supported by fjord (fjord supports tokenSecretRef, kubernetes, appRole and jwt)"),
        (Box::new(|v| v["auth"] = json!({"tokenSecretRef": {"name": "t"}})), "spec.provider.vault.auth.tokenSecretRef.key: is required"),
        (Box::new(|v| v["auth"] = json!({"kubernetes": {"mountPath": "k"}})), "spec.provider.vault.auth.kubernetes.role: is required"),
        (Box::new(|v| v["auth"] = json!({"appRole": {"secretRef": {"name": "s", "key": "k"}}})), "spec.provider.vault.auth.appRole.roleId: one of roleId or roleRef is required"),
        (Box::new(|v| v["auth"] = json!({"jwt": {"role": "r"}})), "spec.provider.vault.auth.jwt: one of secretRef or kubernetesServiceAccountToken is required"),
        (Box::new(|v| v["caProvider"] = json!({"type": "Vault", "name": "n", "key": "k"})), "spec.provider.vault.caProvider.type: unknown value \"Vault\" (one of Secret, ConfigMap)"),
    ];
    for (edit, want) in cases {
        let got = store_err(&store_with(edit));
        assert!(got.starts_with(want), "{got}\nwant {want}");
    }
}

#[test]
fn store_ca_and_auth_methods() {
    let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    let b64 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(pem)
    };
    let s = parse_store(&store_with(|v| {
        v["caBundle"] = json!(b64);
        v["caProvider"] = json!({"type": "ConfigMap", "name": "ca", "key": "ca.crt", "namespace": "vault"});
        v["auth"] = json!({"kubernetes": {"role": "eso", "serviceAccountRef": {"name": "eso", "audiences": ["vault"]}, "secretRef": {"name": "jwt"}}});
    }))
    .unwrap();
    assert_eq!(s.provider.ca_bundle.as_deref(), Some(pem.as_bytes()));
    assert_eq!(
        s.provider.ca_provider,
        Some(CaProvider::ConfigMap {
            name: "ca".into(),
            key: "ca.crt".into(),
            namespace: Some("vault".into())
        })
    );
    match &s.provider.auth {
        VaultAuth::Kubernetes {
            mount_path,
            role,
            service_account,
            secret_ref,
        } => {
            assert_eq!(mount_path, "kubernetes");
            assert_eq!(role, "eso");
            assert_eq!(service_account.as_ref().unwrap().audiences, ["vault"]);
            assert_eq!(
                secret_ref.as_ref().unwrap().key,
                "token",
                "key defaults to token"
            );
        }
        other => panic!("{other:?}"),
    }
    let s = parse_store(&store_with(|v| {
        v["auth"] =
            json!({"appRole": {"roleId": "rid", "secretRef": {"name": "s", "key": "secret-id"}}});
    }))
    .unwrap();
    match &s.provider.auth {
        VaultAuth::AppRole {
            path,
            role_id,
            role_ref,
            secret_ref,
        } => {
            assert_eq!(path, "approle");
            assert_eq!(role_id.as_deref(), Some("rid"));
            assert!(role_ref.is_none());
            assert_eq!(secret_ref.key, "secret-id");
        }
        other => panic!("{other:?}"),
    }
    let s = parse_store(&store_with(|v| {
        v["auth"] = json!({"jwt": {"path": "jwt-k8s", "role": "r", "kubernetesServiceAccountToken": {
            "serviceAccountRef": {"name": "sa", "audiences": ["extra"]}, "expirationSeconds": 900}}});
    }))
    .unwrap();
    match &s.provider.auth {
        VaultAuth::Jwt {
            path,
            role,
            secret_ref,
            service_account_token,
        } => {
            assert_eq!(path, "jwt-k8s");
            assert_eq!(role, "r");
            assert!(secret_ref.is_none());
            let (sa, exp) = service_account_token.as_ref().unwrap();
            assert_eq!(sa.name, "sa");
            assert_eq!(sa.audiences, ["vault", "extra"]);
            assert_eq!(*exp, Some(900));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.provider.auth.method(), "jwt");
}

#[test]
fn store_conditions() {
    let mut s = seed_store();
    s["spec"]["conditions"] = json!([
        {"namespaces": ["team-a"]},
        {"namespaceRegexes": ["^prod-"]},
        {"namespaceSelector": {"matchLabels": {"tier": "gold"}}}
    ]);
    let s = parse_store(&s).unwrap();
    let none = BTreeMap::new();
    let gold: BTreeMap<String, String> = [("tier".to_string(), "gold".to_string())].into();
    assert!(s.allows_namespace("team-a", &none));
    assert!(s.allows_namespace("prod-eu", &none));
    assert!(s.allows_namespace("misc", &gold));
    assert!(!s.allows_namespace("misc", &none));
    assert!(!s.allows_namespace("team-b", &none));

    let mut s = seed_store();
    s["spec"]["conditions"] = json!([{"namespaceSelector": {}}]);
    assert!(
        parse_store(&s).unwrap().allows_namespace("x", &none),
        "an empty selector matches all"
    );
    let mut s = seed_store();
    s["spec"]["conditions"] = json!([{"namespaces": []}]);
    assert!(!parse_store(&s).unwrap().allows_namespace("x", &none));
    let mut s = seed_store();
    s["spec"]["conditions"] = json!([{"namespaceRegexes": ["("]}]);
    assert!(store_err(&s).starts_with("spec.conditions[0].namespaceRegexes[0]: invalid regexp"));
    let mut s = seed_store();
    s["spec"]["conditions"] =
        json!([{"namespaceSelector": {"matchExpressions": [{"key": "a", "operator": "Exists"}]}}]);
    assert_eq!(
        store_err(&s),
        "spec.conditions[0].namespaceSelector.matchExpressions: not supported by fjord"
    );
}

#[test]
fn store_refresh_interval_and_kind() {
    let mut s = seed_store();
    s["spec"]["refreshInterval"] = json!(30);
    assert_eq!(
        parse_store(&s).unwrap().refresh_interval,
        Some(Duration::from_secs(30))
    );
    s["spec"]["refreshInterval"] = json!("5m");
    assert_eq!(
        parse_store(&s).unwrap().refresh_interval,
        Some(Duration::from_secs(300))
    );
    let mut s = seed_store();
    s["kind"] = json!("SecretStore");
    assert_eq!(parse_store(&s).unwrap().kind, StoreKind::SecretStore);
    s.as_object_mut().unwrap().remove("kind");
    assert_eq!(
        parse_store(&s).unwrap().kind,
        StoreKind::ClusterSecretStore,
        "no namespace"
    );
    s["metadata"]["namespace"] = json!("app");
    assert_eq!(
        parse_store(&s).unwrap().kind,
        StoreKind::SecretStore,
        "namespaced"
    );
}

#[test]
fn cluster_external_secret() {
    let ces = json!({
        "apiVersion": "external-secrets.io/v1",
        "kind": "ClusterExternalSecret",
        "metadata": {"name": "db"},
        "spec": {
            "externalSecretName": "db-es",
            "externalSecretMetadata": {"labels": {"a": "b"}, "annotations": {"c": "d"}},
            "namespaceSelectors": [{"matchLabels": {"env": "prod"}}],
            "namespaces": ["extra"],
            "refreshTime": "5m",
            "externalSecretSpec": seed_es()["spec"].clone()
        }
    });
    let c = parse_cluster_external_secret(&ces).unwrap();
    assert_eq!(c.external_secret_name.as_deref(), Some("db-es"));
    assert_eq!(c.labels["a"], "b");
    assert_eq!(c.annotations["c"], "d");
    assert_eq!(c.refresh_time, Duration::from_secs(300));
    assert_eq!(c.external_secret_spec, seed_es()["spec"]);
    let prod: BTreeMap<String, String> = [("env".to_string(), "prod".to_string())].into();
    assert!(c.selects("x", &prod));
    assert!(c.selects("extra", &BTreeMap::new()));
    assert!(!c.selects("x", &BTreeMap::new()));

    let mut bad = ces.clone();
    bad["spec"]["externalSecretSpec"]["data"][0]["remoteRef"]["key"] = json!("");
    assert_eq!(
        parse_cluster_external_secret(&bad).unwrap_err().to_string(),
        "spec.externalSecretSpec.data[0].remoteRef.key: is required"
    );
    let mut dflt = ces.clone();
    dflt["spec"].as_object_mut().unwrap().remove("refreshTime");
    dflt["spec"]["namespaceSelector"] = json!({});
    let c = parse_cluster_external_secret(&dflt).unwrap();
    assert_eq!(c.refresh_time, Duration::from_secs(60));
    assert!(
        c.selects("anything", &BTreeMap::new()),
        "an empty selector matches all"
    );
}

/// A YAML file of `testdata/` as JSON.
fn testdata(name: &str) -> Value {
    let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap();
    fjord_yaml::to_json_value(&fjord_yaml::parse_document(&bytes).unwrap()).unwrap()
}

#[test]
fn seed_yaml_verbatim() {
    let es = parse_external_secret(&testdata("seed-external-secret.yaml")).unwrap();
    assert_eq!(es.target.name, "db-creds-k8s");
    assert_eq!(es.refresh_interval, Duration::from_secs(3600));
    assert_eq!(es.data.len(), 2);
    assert_eq!(es.data[0].remote_ref.property.as_deref(), Some("username"));
    let store = parse_store(&testdata("cluster-secret-store.yaml")).unwrap();
    assert_eq!(store.kind, StoreKind::ClusterSecretStore);
    assert_eq!(store.provider.path.as_deref(), Some("secret"));
    let p = crate::path::read_path(
        store.provider.path.as_deref(),
        store.provider.version,
        &es.data[0].remote_ref.key,
        None,
    );
    assert_eq!(p.unwrap(), "secret/data/production/db");
}

#[test]
fn provider_debug_hides_ca_bytes() {
    let s = parse_store(&store_with(|v| v["caBundle"] = json!("AAEC"))).unwrap();
    let dbg = format!("{:?}", s.provider);
    assert!(
        dbg.contains("<3 bytes>") && dbg.contains("vault-token"),
        "{dbg}"
    );
}
