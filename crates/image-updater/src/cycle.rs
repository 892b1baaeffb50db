//! One update cycle: settings, apps, plans, write-backs, and each app's record (condition,
//! annotations, events, refresh).

use std::sync::atomic::Ordering;

use base64::Engine as _;
use fjord_image::updater::{
    CredentialRef, WriteBack, ANNOTATION_PREFIX, REVERTED_ANNOTATION, WRITTEN_ANNOTATION,
};
use fjord_source::credentials::SECRET_TYPE_LABEL;
use fjord_source::{CredentialStore, KnownHosts};
use serde_json::{json, Map, Value};

use crate::api::{log, now, str_at};
use crate::check::CheckCtx;
use crate::config::UpdaterConfig;
use crate::creds::CredResolver;
use crate::gitread::GitReader;
use crate::metrics::UpdaterMetrics;
use crate::plan::{self, AppPlan, PlanCtx};
use crate::{gitwrite, Shared, CONDITION_TYPE, CONFIG_MAP};

/// The annotation that asks the controller for a refresh.
const REFRESH_ANNOTATION: &str = "argocd.argoproj.io/refresh";

/// Runs one cycle; failures are logged and recorded on the apps, never fatal.
pub(crate) async fn run(shared: &Shared) {
    if let Err(msg) = cycle(shared).await {
        UpdaterMetrics::add(&shared.metrics.errors, 1);
        log("warn", "", &format!("image update cycle: {msg}"));
    }
    shared
        .metrics
        .registry_requests
        .store(shared.registry.requests(), Ordering::Relaxed);
    UpdaterMetrics::add(&shared.metrics.cycles, 1);
}

/// Reads the ConfigMap; warns (once per change) about keys fjord does not read.
async fn load_config(shared: &Shared) -> Result<UpdaterConfig, String> {
    let ns = &shared.opts.namespace;
    let cm = shared
        .api
        .configmap(ns, CONFIG_MAP)
        .await
        .map_err(|e| fjord_model::chain(&e))?;
    let cfg = UpdaterConfig::from_config_map(cm.as_ref(), ns, CONFIG_MAP)
        .map_err(|e| fjord_model::chain(&*e))?;
    let mut warned = shared.warned_keys.lock().unwrap_or_else(|e| e.into_inner());
    if *warned != cfg.unknown_keys {
        if !cfg.unknown_keys.is_empty() {
            log(
                "warn",
                "",
                &format!(
                    "ConfigMap {ns}/{CONFIG_MAP}: keys not supported by fjord, ignored: {}",
                    cfg.unknown_keys.join(", ")
                ),
            );
        }
        *warned = cfg.unknown_keys.clone();
    }
    Ok(cfg)
}

/// `repository` Secrets made from the `git:secret:<ns>/<name>` write-back credentials of
/// `apps` (the referenced Secret's fields for the app's repository URL), so they take
/// precedence over the controller's repository credentials for that URL.
async fn git_secret_overrides(shared: &Shared, apps: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    for app in apps {
        let Ok(Some(spec)) = fjord_image::updater::parse_annotations(&plan::annotations(app))
        else {
            continue;
        };
        let WriteBack::Git {
            creds: Some(CredentialRef::GitSecret { namespace, name }),
            repository,
            ..
        } = &spec.write_back
        else {
            continue;
        };
        let url = repository
            .clone()
            .unwrap_or_else(|| str_at(app, "/spec/source/repoURL").to_string());
        match shared.api.secret(namespace, name).await {
            Ok(Some(secret)) => {
                let mut data = secret.get("data").cloned().unwrap_or_else(|| json!({}));
                data["url"] = json!(base64::engine::general_purpose::STANDARD.encode(&url));
                out.push(json!({"metadata": {"name": format!("{namespace}/{name}"),
                    "labels": {SECRET_TYPE_LABEL: "repository"}},
                    "data": data}));
            }
            Ok(None) => log(
                "warn",
                str_at(app, "/metadata/name"),
                &format!("git write-back credentials: Secret {namespace}/{name} not found"),
            ),
            Err(e) => log(
                "warn",
                str_at(app, "/metadata/name"),
                &fjord_model::chain(&e),
            ),
        }
    }
    out
}

/// Gives the updater's mirrors the controller's repository credentials (and the apps'
/// `git:secret:` ones) and known hosts.
async fn load_git_settings(shared: &Shared, apps: &[Value]) -> Result<(), String> {
    let ns = &shared.opts.namespace;
    let mut secrets = git_secret_overrides(shared, apps).await;
    secrets.extend(
        shared
            .api
            .list_secrets(ns)
            .await
            .map_err(|e| fjord_model::chain(&e))?,
    );
    let store = CredentialStore::from_secrets(secrets.iter())
        .map_err(|e| format!("repository credentials: {}", fjord_model::chain(&e)))?;
    shared.repos.set_credentials(store);
    if let Some(cm) = shared
        .api
        .configmap(ns, "argocd-ssh-known-hosts-cm")
        .await
        .map_err(|e| fjord_model::chain(&e))?
    {
        let hosts = KnownHosts::from_config_map(&cm)
            .map_err(|e| format!("argocd-ssh-known-hosts-cm: {}", fjord_model::chain(&e)))?;
        shared.repos.set_known_hosts(hosts);
    }
    Ok(())
}

async fn cycle(shared: &Shared) -> Result<(), String> {
    let cfg = load_config(shared).await?;
    let ns = shared.opts.namespace.clone();
    let apps: Vec<Value> = shared
        .api
        .list_apps(&ns)
        .await
        .map_err(|e| fjord_model::chain(&e))?
        .into_iter()
        .filter(|a| {
            a.pointer("/metadata/annotations")
                .and_then(|m| m.get(format!("{ANNOTATION_PREFIX}image-list")))
                .is_some()
                || has_own_condition(a)
        })
        .collect();
    if apps.is_empty() {
        return Ok(());
    }
    load_git_settings(shared, &apps).await?;
    let mut creds = CredResolver::new(&shared.api, shared.opts.ext_timeout);
    let mut reader = GitReader::new(&shared.repos);
    let mut plans = Vec::with_capacity(apps.len());
    {
        let mut ctx = PlanCtx {
            check: CheckCtx {
                registry: &shared.registry,
                conf: &cfg.registries,
                creds: &mut creds,
            },
            git: &mut reader,
            metrics: &shared.metrics,
        };
        for app in apps {
            plans.push(plan::plan_app(&mut ctx, app).await);
        }
    }
    shared
        .metrics
        .registry_requests
        .store(shared.registry.requests(), Ordering::Relaxed);
    write_git(shared, &cfg, &mut reader, &mut plans).await;
    for p in &mut plans {
        finish(shared, p).await;
    }
    Ok(())
}

/// Commits every (repository, branch) group; a failed group records its error on each app.
async fn write_git(
    shared: &Shared,
    cfg: &UpdaterConfig,
    reader: &mut GitReader<'_>,
    plans: &mut [AppPlan],
) {
    for ((_, branch), idx) in gitwrite::groups(plans) {
        let group: Vec<&AppPlan> = idx.iter().map(|&i| &plans[i]).collect();
        let names: Vec<&str> = group.iter().map(|p| p.name.as_str()).collect();
        let result = gitwrite::commit_group(reader, cfg, &group).await;
        match &result {
            Ok(true) => {
                UpdaterMetrics::add(&shared.metrics.commits, 1);
                log(
                    "info",
                    "",
                    &format!(
                        "committed and pushed image updates of {} to branch {branch}",
                        names.join(", ")
                    ),
                );
            }
            Ok(false) => {}
            Err(msg) => log("warn", "", msg),
        }
        for &i in &idx {
            match &result {
                Ok(_) => plans[i].git_done = true,
                Err(msg) => plans[i].errors.push(msg.clone()),
            }
        }
    }
}

/// Whether the app carries the updater's condition (to clear it when the annotation is gone).
fn has_own_condition(app: &Value) -> bool {
    conditions(app)
        .iter()
        .any(|c| str_at(c, "/type") == CONDITION_TYPE)
}

fn conditions(app: &Value) -> Vec<Value> {
    app.pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Records the plan's outcome on its app: write-back `argocd`, annotations, events,
/// condition.
async fn finish(shared: &Shared, p: &mut AppPlan) {
    let api = &shared.api;
    let ns = str_at(&p.app, "/metadata/namespace").to_string();
    let wrote = p.errors.is_empty() && !p.changes.is_empty() && (p.git.is_none() || p.git_done);
    let mut spec_patch = None;
    if wrote && p.git.is_none() {
        let existing = crate::current::spec_overrides(&p.app);
        let new: Vec<String> = p.changes.iter().map(|c| c.override_str.clone()).collect();
        let merged = crate::current::merged_overrides(&existing, &new);
        spec_patch = Some(json!({"source": {"kustomize": {"images": merged}}}));
    }
    if wrote {
        for c in &p.changes {
            p.written.insert(c.alias.clone(), c.new.clone());
            p.reverted.remove(&c.alias);
        }
    }
    let mut annotations = Map::new();
    let current = plan::annotations(&p.app);
    for (key, map) in [
        (WRITTEN_ANNOTATION, &p.written),
        (REVERTED_ANNOTATION, &p.reverted),
    ] {
        let text = fjord_image::updater::format_alias_tags(map);
        let before = current.get(key).cloned().unwrap_or_default();
        if text != before {
            annotations.insert(
                key.into(),
                if text.is_empty() {
                    Value::Null
                } else {
                    json!(text)
                },
            );
        }
    }
    if wrote {
        annotations.insert(REFRESH_ANNOTATION.into(), json!("normal"));
    }
    if !annotations.is_empty() || spec_patch.is_some() {
        let mut patch = json!({"metadata": {"annotations": annotations}});
        if let Some(s) = spec_patch {
            patch["spec"] = s;
        }
        if let Err(e) = api.patch_app(&ns, &p.name, &patch, false).await {
            p.errors.push(fjord_model::chain(&e));
        } else if wrote {
            UpdaterMetrics::add(&shared.metrics.updates, p.changes.len() as u64);
            let list: Vec<String> = p
                .changes
                .iter()
                .map(|c| {
                    format!(
                        "{} {} -> {}",
                        c.image,
                        if c.old.is_empty() { "(none)" } else { &c.old },
                        c.new
                    )
                })
                .collect();
            let msg = format!("images updated: {}", list.join(", "));
            log("info", &p.name, &msg);
            api.event(&p.app, false, "ImagesUpdated", &msg).await;
        }
    }
    set_condition(shared, p).await;
}

/// Sets (or clears) the `ImageUpdateError` condition: the conditions list as read, others
/// kept, ours replaced; written only when it changes. A new error is also an Event.
async fn set_condition(shared: &Shared, p: &AppPlan) {
    let ns = str_at(&p.app, "/metadata/namespace");
    let existing = conditions(&p.app);
    let mut out: Vec<Value> = existing
        .iter()
        .filter(|c| str_at(c, "/type") != CONDITION_TYPE)
        .cloned()
        .collect();
    let mut fresh = Vec::new();
    for msg in &p.errors {
        let prior = existing
            .iter()
            .find(|c| str_at(c, "/type") == CONDITION_TYPE && str_at(c, "/message") == msg);
        match prior {
            Some(c) => out.push(c.clone()),
            None => {
                fresh.push(msg.clone());
                out.push(
                    json!({"type": CONDITION_TYPE, "message": msg, "lastTransitionTime": now()}),
                );
            }
        }
    }
    UpdaterMetrics::add(&shared.metrics.errors, p.errors.len() as u64);
    for msg in &p.errors {
        log("warn", &p.name, msg);
    }
    if out == existing {
        return;
    }
    let patch = json!({"status": {"conditions": out}});
    if let Err(e) = shared.api.patch_app(ns, &p.name, &patch, true).await {
        log(
            "warn",
            &p.name,
            &format!(
                "writing the {CONDITION_TYPE} condition: {}",
                fjord_model::chain(&e)
            ),
        );
        return;
    }
    for msg in fresh {
        shared.api.event(&p.app, true, CONDITION_TYPE, &msg).await;
    }
}
