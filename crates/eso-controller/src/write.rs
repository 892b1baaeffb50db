//! The target Secret: its content (fetched data through `target.template`), the write the
//! `creationPolicy` calls for (§5: Owner and Orphan create or replace a Secret they manage and
//! never touch a foreign one; Merge and CreateOrMerge merge into any Secret, Merge never
//! creates; None writes nothing), `deletionPolicy` on empty provider data, `immutable`, and the
//! clean-up when the ExternalSecret is deleted. A Secret is written only when its data, type,
//! labels, annotations or owner references would change.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::api::{str_at, ApiError};
use crate::Shared;
use fjord_eso::spec::{
    CreationPolicy, DecodingStrategy, DeletionPolicy, ExternalSecretSpec, MergePolicy,
};
use fjord_eso::target::{
    controller_of, created_by, data_hash, desired_secret, field_manager, merge_into,
    ANNOTATION_DATA_HASH, LABEL_CREATED_BY, LABEL_MANAGED,
};
use fjord_eso::template::{self, TemplateError};

/// Attempts of a write that loses an optimistic-concurrency race.
const CONFLICT_ATTEMPTS: usize = 3;

/// A failed write; Display gives the status message (never a value).
#[derive(Debug, thiserror::Error)]
pub(crate) enum WriteError {
    /// Rendering `target.template` failed.
    #[error("spec.target.template")]
    Template(#[source] TemplateError),
    /// The target Secret is controlled by another ExternalSecret.
    #[error("spec.target.name: target is owned by another ExternalSecret ({owner}): Secret {secret} is never overwritten")]
    OwnedByOther {
        /// `namespace/name` of the Secret.
        secret: String,
        /// Name of the controlling ExternalSecret.
        owner: String,
    },
    /// The target Secret exists and is not this ExternalSecret's.
    #[error("spec.target.name: Secret {secret} exists and is not managed by this ExternalSecret{owner}; creationPolicy {policy} never overwrites it (only Merge or CreateOrMerge write into an existing Secret)")]
    Foreign {
        /// `namespace/name` of the Secret.
        secret: String,
        /// ` (controlled by <Kind> <name>)` or empty.
        owner: String,
        /// The creation policy.
        policy: String,
    },
    /// The target Secret is immutable and its content would change.
    #[error("could not update secret, target is immutable")]
    Immutable,
    /// The API server refused a read or a write.
    #[error("could not update secret")]
    Api(#[source] ApiError),
}

impl WriteError {
    /// Whether retrying later may help without a spec change.
    pub(crate) fn is_transient(&self) -> bool {
        matches!(self, WriteError::Api(e) if e.transient || e.status == Some(409))
    }
}

/// What the Secret should hold: data after templating and the template's metadata.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Content {
    /// Key → value bytes.
    pub(crate) data: BTreeMap<String, Vec<u8>>,
    /// Rendered `template.metadata.labels`.
    pub(crate) labels: BTreeMap<String, String>,
    /// Rendered `template.metadata.annotations`.
    pub(crate) annotations: BTreeMap<String, String>,
}

/// What a sync did to the target Secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Written {
    /// Created it.
    Created,
    /// Updated it.
    Updated,
    /// It already held the desired content.
    Unchanged,
    /// creationPolicy Merge and no Secret: nothing created.
    Missing,
    /// creationPolicy None: nothing written.
    Skipped,
    /// deletionPolicy Delete on empty data (or on ExternalSecret deletion): deleted.
    Deleted,
    /// deletionPolicy Retain on empty data: kept as it is.
    Retained,
}

/// Renders `target.template` over the fetched data (§6 of the reference): `Replace` keeps only
/// the rendered keys (the fetched data when the template has no `data`), `Merge` also keeps
/// the fetched keys; template labels and annotations are rendered with the same context.
pub(crate) fn content(
    spec: &ExternalSecretSpec,
    fetched: BTreeMap<String, Vec<u8>>,
) -> Result<Content, TemplateError> {
    let Some(t) = &spec.target.template else {
        return Ok(Content {
            data: fetched,
            ..Content::default()
        });
    };
    let rendered = template::render_map(&t.data, &fetched)?;
    let render_meta = |kind: &str, m: &BTreeMap<String, String>| {
        m.iter()
            .map(|(k, text)| {
                template::render(&format!("metadata.{kind}.{k}"), text, &fetched)
                    .map(|v| (k.clone(), v))
            })
            .collect::<Result<BTreeMap<_, _>, _>>()
    };
    let labels = render_meta("labels", &t.metadata.labels)?;
    let annotations = render_meta("annotations", &t.metadata.annotations)?;
    let data = if t.data.is_empty() {
        fetched.clone()
    } else {
        match t.merge_policy {
            MergePolicy::Replace => rendered,
            MergePolicy::Merge => {
                let mut all = fetched.clone();
                all.extend(rendered);
                all
            }
        }
    };
    Ok(Content {
        data,
        labels,
        annotations,
    })
}

/// The decoded `data` of a Secret; `None` when a value is not base64.
pub(crate) fn secret_data(secret: &Value) -> Option<BTreeMap<String, Vec<u8>>> {
    let Some(data) = secret.get("data").and_then(Value::as_object) else {
        return Some(BTreeMap::new());
    };
    data.iter()
        .map(|(k, v)| {
            let text = v.as_str()?;
            fjord_eso::value::decode(text.as_bytes().to_vec(), DecodingStrategy::Base64)
                .ok()
                .map(|b| (k.clone(), b))
        })
        .collect()
}

/// Whether a live Secret still is what a sync left: labelled managed, and its data matching
/// the data-hash annotation (a mismatch means someone edited it).
pub(crate) fn secret_intact(secret: &Value) -> bool {
    if str_at(
        secret,
        &format!("/metadata/labels/{}", escape(LABEL_MANAGED)),
    ) != "true"
    {
        return false;
    }
    let recorded = str_at(
        secret,
        &format!("/metadata/annotations/{}", escape(ANNOTATION_DATA_HASH)),
    );
    secret_data(secret).is_some_and(|d| data_hash(&d) == recorded)
}

/// A JSON pointer token for `key` (`~` and `/` escaped).
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Whether the live Secret belongs to this ExternalSecret: controlled by it, or (without a
/// controller) labelled created-by it or last written by its field manager.
pub(crate) fn is_ours(secret: &Value, es: &Value) -> bool {
    let ns = str_at(es, "/metadata/namespace");
    let name = str_at(es, "/metadata/name");
    let uid = str_at(es, "/metadata/uid");
    if let Some((_, _, owner_uid)) = controller_of(secret) {
        return !uid.is_empty() && owner_uid == uid;
    }
    if str_at(
        secret,
        &format!("/metadata/labels/{}", escape(LABEL_CREATED_BY)),
    ) == created_by(ns, name)
    {
        return true;
    }
    let manager = field_manager(name);
    secret
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .is_some_and(|fields| {
            fields
                .iter()
                .any(|f| f["manager"].as_str() == Some(manager.as_str()))
        })
}

fn policy_name(p: CreationPolicy) -> &'static str {
    match p {
        CreationPolicy::Owner => "Owner",
        CreationPolicy::Orphan => "Orphan",
        CreationPolicy::Merge => "Merge",
        CreationPolicy::None => "None",
        CreationPolicy::CreateOrMerge => "CreateOrMerge",
    }
}

/// The error for a live Secret this ExternalSecret must not overwrite.
fn refusal(secret: &Value, policy: CreationPolicy) -> WriteError {
    let id = format!(
        "{}/{}",
        str_at(secret, "/metadata/namespace"),
        str_at(secret, "/metadata/name")
    );
    match controller_of(secret) {
        Some((kind, name, _)) if kind == fjord_eso::spec::KIND_EXTERNAL_SECRET => {
            WriteError::OwnedByOther {
                secret: id,
                owner: name,
            }
        }
        Some((kind, name, _)) => WriteError::Foreign {
            secret: id,
            owner: format!(" (controlled by {kind} {name})"),
            policy: policy_name(policy).into(),
        },
        None => WriteError::Foreign {
            secret: id,
            owner: String::new(),
            policy: policy_name(policy).into(),
        },
    }
}

/// Sets `obj[key]`, removing it for an absent, null or empty value.
fn set_or_remove(obj: &mut Map<String, Value>, key: &str, value: Option<&Value>) {
    match value {
        Some(Value::Object(m)) if m.is_empty() => {
            obj.remove(key);
        }
        Some(Value::Array(a)) if a.is_empty() => {
            obj.remove(key);
        }
        Some(Value::Null) | None => {
            obj.remove(key);
        }
        Some(v) => {
            obj.insert(key.into(), v.clone());
        }
    }
}

/// The fields a sync owns, normalised (empty maps as absent, type defaulted) for comparison.
fn owned_fields(secret: &Value) -> Value {
    let mut out = Map::new();
    let mut meta = Map::new();
    for key in ["labels", "annotations", "ownerReferences"] {
        set_or_remove(&mut meta, key, secret.pointer(&format!("/metadata/{key}")));
    }
    out.insert("metadata".into(), Value::Object(meta));
    set_or_remove(&mut out, "data", secret.get("data"));
    let type_ = match str_at(secret, "/type") {
        "" => "Opaque",
        t => t,
    };
    out.insert("type".into(), Value::String(type_.into()));
    let immutable = secret.get("immutable").and_then(Value::as_bool) == Some(true);
    out.insert("immutable".into(), Value::Bool(immutable));
    Value::Object(out)
}

/// `live` with every field a sync owns taken from `desired` (Owner and Orphan rebuild them).
fn replaced(live: &Value, desired: &Value) -> Value {
    let mut out = live.clone();
    if let Some(o) = out.as_object_mut() {
        o.remove("stringData");
        set_or_remove(o, "data", desired.get("data"));
        set_or_remove(o, "type", desired.get("type"));
        set_or_remove(o, "immutable", desired.get("immutable"));
        if let Some(meta) = o.get_mut("metadata").and_then(Value::as_object_mut) {
            for key in ["labels", "annotations", "ownerReferences"] {
                set_or_remove(meta, key, desired.pointer(&format!("/metadata/{key}")));
            }
        }
    }
    out
}

/// Records the data-hash of the Secret's whole (merged) data.
fn rehash(secret: &mut Value) {
    let Some(data) = secret_data(secret) else {
        return;
    };
    let hash = data_hash(&data);
    if let Some(meta) = secret.get_mut("metadata").and_then(Value::as_object_mut) {
        let annotations = meta
            .entry("annotations")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(a) = annotations.as_object_mut() {
            a.insert(ANNOTATION_DATA_HASH.into(), Value::String(hash));
        }
    }
}

/// The write one sync needs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Plan {
    /// Create this Secret.
    Create(Value),
    /// Replace the live Secret with this one (it carries the live resourceVersion).
    Update(Value),
    /// Nothing to write.
    Done(Written),
}

/// The write that brings `live` to `content` under the ExternalSecret's creation policy.
pub(crate) fn plan(
    es: &Value,
    spec: &ExternalSecretSpec,
    live: Option<&Value>,
    content: &Content,
) -> Result<Plan, WriteError> {
    let policy = spec.target.creation_policy;
    let desired = desired_secret(
        es,
        spec,
        &content.data,
        &content.labels,
        &content.annotations,
    );
    let updated = match (policy, live) {
        (CreationPolicy::None, _) => return Ok(Plan::Done(Written::Skipped)),
        (CreationPolicy::Merge, None) => return Ok(Plan::Done(Written::Missing)),
        (_, None) => return Ok(Plan::Create(desired)),
        (CreationPolicy::Owner | CreationPolicy::Orphan, Some(live)) => {
            if !is_ours(live, es) {
                return Err(refusal(live, policy));
            }
            replaced(live, &desired)
        }
        (CreationPolicy::Merge | CreationPolicy::CreateOrMerge, Some(live)) => {
            let mut merged = merge_into(live, &desired);
            rehash(&mut merged);
            merged
        }
    };
    let live = live.unwrap_or(&Value::Null);
    if owned_fields(&updated) == owned_fields(live) {
        return Ok(Plan::Done(Written::Unchanged));
    }
    if live.get("immutable").and_then(Value::as_bool) == Some(true) {
        return Err(WriteError::Immutable);
    }
    Ok(Plan::Update(updated))
}

/// `live` without the data keys this ExternalSecret writes (`None`: all of them), rehashed;
/// `None` when nothing would change.
pub(crate) fn stripped(live: &Value, keys: Option<&BTreeSet<String>>) -> Option<Value> {
    let mut out = live.clone();
    let data = out.get_mut("data").and_then(Value::as_object_mut)?;
    let before = data.len();
    data.retain(|k, _| keys.is_some_and(|keys| !keys.contains(k)));
    if data.len() == before {
        return None;
    }
    rehash(&mut out);
    Some(out)
}

/// The keys an ExternalSecret writes that are known from its spec alone (`data[].secretKey`
/// and template `data` keys); `None` when the Secret is all its own (creationPolicy Owner or
/// Orphan).
pub(crate) fn own_keys(spec: &ExternalSecretSpec) -> Option<BTreeSet<String>> {
    if matches!(
        spec.target.creation_policy,
        CreationPolicy::Owner | CreationPolicy::Orphan
    ) {
        return None;
    }
    let mut keys: BTreeSet<String> = spec.data.iter().map(|d| d.secret_key.clone()).collect();
    if let Some(t) = &spec.target.template {
        keys.extend(t.data.keys().cloned());
    }
    Some(keys)
}

async fn get_target(shared: &Shared, ns: &str, name: &str) -> Result<Option<Value>, WriteError> {
    shared
        .api
        .get(&shared.api.secrets, Some(ns), name)
        .await
        .map_err(WriteError::Api)
}

/// Brings the target Secret to `content` (create, replace or nothing), retrying lost races.
pub(crate) async fn sync_target(
    shared: &Shared,
    es: &Value,
    spec: &ExternalSecretSpec,
    content: &Content,
) -> Result<Written, WriteError> {
    let ns = str_at(es, "/metadata/namespace");
    let manager = field_manager(str_at(es, "/metadata/name"));
    let api = &shared.api;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let live = get_target(shared, ns, &spec.target.name).await?;
        let result = match plan(es, spec, live.as_ref(), content)? {
            Plan::Done(w) => return Ok(w),
            Plan::Create(obj) => api
                .create(&api.secrets, Some(ns), &obj, &manager)
                .await
                .map(|_| Written::Created),
            Plan::Update(obj) => api
                .replace(&api.secrets, Some(ns), &obj, &manager)
                .await
                .map(|_| Written::Updated),
        };
        match result {
            Ok(w) => return Ok(w),
            Err(e) if e.status == Some(409) && attempt < CONFLICT_ATTEMPTS => continue,
            Err(e) => return Err(WriteError::Api(e)),
        }
    }
}

/// `deletionPolicy` when the provider returned no data (§5): Retain keeps the Secret, Delete
/// deletes it (only a Secret this ExternalSecret owns), Merge strips this ExternalSecret's keys.
pub(crate) async fn on_empty(
    shared: &Shared,
    es: &Value,
    spec: &ExternalSecretSpec,
) -> Result<Written, WriteError> {
    let ns = str_at(es, "/metadata/namespace");
    match spec.target.deletion_policy {
        DeletionPolicy::Retain => Ok(Written::Retained),
        DeletionPolicy::Delete => {
            let live = get_target(shared, ns, &spec.target.name).await?;
            if live.as_ref().is_some_and(|l| is_ours(l, es)) {
                delete_target(shared, ns, &spec.target.name).await?;
            }
            Ok(Written::Deleted)
        }
        DeletionPolicy::Merge => strip_target(shared, es, spec).await,
    }
}

async fn delete_target(shared: &Shared, ns: &str, name: &str) -> Result<(), WriteError> {
    shared
        .api
        .delete(&shared.api.secrets, Some(ns), name)
        .await
        .map_err(WriteError::Api)
}

/// Removes this ExternalSecret's keys from the target Secret (a Secret that is ours, or any
/// Secret under Merge/CreateOrMerge).
async fn strip_target(
    shared: &Shared,
    es: &Value,
    spec: &ExternalSecretSpec,
) -> Result<Written, WriteError> {
    let ns = str_at(es, "/metadata/namespace");
    let Some(live) = get_target(shared, ns, &spec.target.name).await? else {
        return Ok(Written::Unchanged);
    };
    let keys = own_keys(spec);
    if keys.is_none() && !is_ours(&live, es) {
        return Err(refusal(&live, spec.target.creation_policy));
    }
    let Some(updated) = stripped(&live, keys.as_ref()) else {
        return Ok(Written::Unchanged);
    };
    let manager = field_manager(str_at(es, "/metadata/name"));
    shared
        .api
        .replace(&shared.api.secrets, Some(ns), &updated, &manager)
        .await
        .map_err(WriteError::Api)?;
    Ok(Written::Updated)
}

/// The clean-up before the finalizer goes (the ExternalSecret is being deleted): deletionPolicy
/// Delete with creationPolicy Owner deletes the Secret; Merge/CreateOrMerge with deletionPolicy
/// Merge strip this ExternalSecret's keys; otherwise the Secret stays (Owner's goes with the
/// ownerReference, by garbage collection).
pub(crate) async fn finalize(
    shared: &Shared,
    es: &Value,
    spec: &ExternalSecretSpec,
) -> Result<Option<Written>, WriteError> {
    let ns = str_at(es, "/metadata/namespace");
    match (spec.target.creation_policy, spec.target.deletion_policy) {
        (CreationPolicy::Owner, DeletionPolicy::Delete) => {
            let live = get_target(shared, ns, &spec.target.name).await?;
            if !live.as_ref().is_some_and(|l| is_ours(l, es)) {
                return Ok(None);
            }
            delete_target(shared, ns, &spec.target.name).await?;
            Ok(Some(Written::Deleted))
        }
        (CreationPolicy::Merge | CreationPolicy::CreateOrMerge, DeletionPolicy::Merge) => {
            match strip_target(shared, es, spec).await? {
                Written::Updated => Ok(Some(Written::Updated)),
                _ => Ok(None),
            }
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fjord_eso::spec::parse_external_secret;
    use fjord_eso::target::data_hash;
    use serde_json::json;

    fn es(target: Value) -> Value {
        json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
            "metadata": {"name": "es", "namespace": "ns", "uid": "uid-1", "generation": 1},
            "spec": {"secretStoreRef": {"name": "vault", "kind": "ClusterSecretStore"},
                "target": target,
                "data": [{"secretKey": "password", "remoteRef": {"key": "k", "property": "p"}}]}})
    }

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    fn content_of(pairs: &[(&str, &str)]) -> Content {
        Content {
            data: data(pairs),
            ..Content::default()
        }
    }

    /// What the API server would store for a plan's object.
    fn stored(obj: &Value) -> Value {
        let mut s = obj.clone();
        s["metadata"]["resourceVersion"] = json!("7");
        s
    }

    fn setup(target: Value) -> (Value, ExternalSecretSpec) {
        let es = es(target);
        let spec = parse_external_secret(&es).expect("valid");
        (es, spec)
    }

    #[test]
    fn owner_creates_then_leaves_an_unchanged_secret_alone() {
        let (es, spec) = setup(json!({"name": "db"}));
        let c = content_of(&[("password", "s3cret")]);
        let Plan::Create(obj) = plan(&es, &spec, None, &c).unwrap() else {
            panic!("create expected")
        };
        assert_eq!(obj["metadata"]["name"], "db");
        assert_eq!(obj["metadata"]["ownerReferences"][0]["uid"], "uid-1");
        assert!(is_ours(&obj, &es));
        assert!(secret_intact(&obj));
        let live = stored(&obj);
        assert_eq!(
            plan(&es, &spec, Some(&live), &c).unwrap(),
            Plan::Done(Written::Unchanged)
        );
        // New data: an update that keeps the resourceVersion.
        let c2 = content_of(&[("password", "new")]);
        let Plan::Update(up) = plan(&es, &spec, Some(&live), &c2).unwrap() else {
            panic!("update expected")
        };
        assert_eq!(up["metadata"]["resourceVersion"], "7");
        assert_eq!(secret_data(&up).unwrap(), data(&[("password", "new")]));
        assert!(secret_intact(&up));
    }

    #[test]
    fn owner_and_orphan_never_overwrite_a_foreign_secret() {
        let foreign = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "namespace": "ns", "resourceVersion": "3"},
            "data": {"other": "eA=="}});
        for policy in ["Owner", "Orphan"] {
            let (es, spec) = setup(json!({"name": "db", "creationPolicy": policy}));
            let err = plan(
                &es,
                &spec,
                Some(&foreign),
                &content_of(&[("password", "x")]),
            )
            .unwrap_err();
            let text = err.to_string();
            assert!(text.starts_with("spec.target.name: Secret ns/db exists and is not managed by this ExternalSecret"), "{text}");
            assert!(text.contains(policy), "{text}");
            assert!(!err.is_transient());
        }
        let mut other_es = foreign.clone();
        other_es["metadata"]["ownerReferences"] = json!([{"apiVersion": "external-secrets.io/v1",
            "kind": "ExternalSecret", "name": "other", "uid": "uid-2", "controller": true}]);
        let (es, spec) = setup(json!({"name": "db"}));
        let err = plan(
            &es,
            &spec,
            Some(&other_es),
            &content_of(&[("password", "x")]),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("target is owned by another ExternalSecret (other)"),
            "{err}"
        );
    }

    #[test]
    fn merge_writes_into_a_foreign_secret_and_keeps_its_keys() {
        let foreign = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "namespace": "ns", "resourceVersion": "3", "labels": {"team": "a"}},
            "data": {"other": "eA=="}});
        for policy in ["Merge", "CreateOrMerge"] {
            let (es, spec) = setup(json!({"name": "db", "creationPolicy": policy}));
            let c = content_of(&[("password", "pw")]);
            let Plan::Update(up) = plan(&es, &spec, Some(&foreign), &c).unwrap() else {
                panic!("update expected")
            };
            assert_eq!(
                secret_data(&up).unwrap(),
                data(&[("other", "x"), ("password", "pw")])
            );
            assert_eq!(up["metadata"]["labels"]["team"], "a");
            assert!(up["metadata"].get("ownerReferences").is_none());
            // The hash covers the whole merged data, so the next pass sees it intact …
            assert!(secret_intact(&up), "{up}");
            // … and a second sync writes nothing.
            assert_eq!(
                plan(&es, &spec, Some(&stored(&up)), &c).unwrap(),
                Plan::Done(Written::Unchanged)
            );
        }
    }

    #[test]
    fn merge_does_not_create_none_writes_nothing_create_or_merge_creates() {
        let c = content_of(&[("password", "pw")]);
        let (es, spec) = setup(json!({"creationPolicy": "Merge"}));
        assert_eq!(
            plan(&es, &spec, None, &c).unwrap(),
            Plan::Done(Written::Missing)
        );
        let (es, spec) = setup(json!({"creationPolicy": "None"}));
        assert_eq!(
            plan(&es, &spec, None, &c).unwrap(),
            Plan::Done(Written::Skipped)
        );
        let (es, spec) = setup(json!({"creationPolicy": "CreateOrMerge"}));
        let Plan::Create(obj) = plan(&es, &spec, None, &c).unwrap() else {
            panic!("create expected")
        };
        assert_eq!(obj["metadata"]["name"], "es");
        assert!(obj["metadata"].get("ownerReferences").is_none());
    }

    #[test]
    fn an_immutable_target_refuses_changes_only() {
        let (es, spec) = setup(json!({"name": "db", "immutable": true}));
        let c = content_of(&[("password", "a")]);
        let Plan::Create(obj) = plan(&es, &spec, None, &c).unwrap() else {
            panic!("create expected")
        };
        assert_eq!(obj["immutable"], true);
        let live = stored(&obj);
        assert_eq!(
            plan(&es, &spec, Some(&live), &c).unwrap(),
            Plan::Done(Written::Unchanged)
        );
        let err = plan(&es, &spec, Some(&live), &content_of(&[("password", "b")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "could not update secret, target is immutable"
        );
    }

    #[test]
    fn orphan_recognises_its_own_secret_by_field_manager() {
        let (es, spec) = setup(json!({"name": "db", "creationPolicy": "Orphan"}));
        let c = content_of(&[("password", "a")]);
        let Plan::Create(obj) = plan(&es, &spec, None, &c).unwrap() else {
            panic!("create expected")
        };
        assert!(obj["metadata"].get("ownerReferences").is_none());
        let mut live = stored(&obj);
        live["metadata"]["managedFields"] =
            json!([{"manager": field_manager("es"), "operation": "Update"}]);
        assert!(is_ours(&live, &es));
        assert!(matches!(
            plan(&es, &spec, Some(&live), &content_of(&[("password", "b")])).unwrap(),
            Plan::Update(_)
        ));
    }

    #[test]
    fn template_replace_merge_and_metadata() {
        let (_, spec) = setup(json!({"template": {"type": "kubernetes.io/basic-auth",
            "metadata": {"labels": {"user": "{{ .password | upper }}"}},
            "data": {"url": "postgres://{{ .password }}@db"}}}));
        let c = content(&spec, data(&[("password", "pw")])).unwrap();
        assert_eq!(c.data, data(&[("url", "postgres://pw@db")]));
        assert_eq!(c.labels.get("user").map(String::as_str), Some("PW"));
        let (_, spec) = setup(json!({"template": {"mergePolicy": "Merge",
            "data": {"url": "x{{ .password }}"}}}));
        let c = content(&spec, data(&[("password", "pw")])).unwrap();
        assert_eq!(c.data, data(&[("password", "pw"), ("url", "xpw")]));
        // No template data: the fetched data stays.
        let (_, spec) = setup(json!({"template": {"metadata": {"annotations": {"a": "b"}}}}));
        let c = content(&spec, data(&[("password", "pw")])).unwrap();
        assert_eq!(c.data, data(&[("password", "pw")]));
        assert_eq!(c.annotations.get("a").map(String::as_str), Some("b"));
        let (_, spec) = setup(json!({}));
        assert_eq!(
            content(&spec, data(&[("k", "v")])).unwrap(),
            content_of(&[("k", "v")])
        );
    }

    #[test]
    fn stripping_removes_only_this_external_secrets_keys() {
        let live = json!({"metadata": {"name": "db", "annotations": {}},
            "data": {"password": "eA==", "other": "eQ=="}});
        let keys: BTreeSet<String> = ["password".to_string()].into();
        let out = stripped(&live, Some(&keys)).unwrap();
        assert_eq!(secret_data(&out).unwrap(), data(&[("other", "y")]));
        assert_eq!(
            out["metadata"]["annotations"][ANNOTATION_DATA_HASH],
            data_hash(&data(&[("other", "y")]))
        );
        assert!(stripped(&out, Some(&keys)).is_none());
        let all = stripped(&live, None).unwrap();
        assert_eq!(secret_data(&all).unwrap(), BTreeMap::new());
        let (_, merge) =
            setup(json!({"creationPolicy": "Merge", "template": {"data": {"t": "x"}}}));
        let expected: BTreeSet<String> = ["password".to_string(), "t".to_string()].into();
        assert_eq!(own_keys(&merge), Some(expected));
        let (_, owner) = setup(json!({}));
        assert_eq!(own_keys(&owner), None);
    }
}
