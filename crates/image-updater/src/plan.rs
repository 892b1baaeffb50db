//! One Application's plan for a cycle: its annotations parsed and checked, each image's
//! current tag (with revert detection), the registry's pick, and where the change goes.

use std::collections::BTreeMap;

use fjord_image::edit::KustomizeImage;
use fjord_image::updater::{
    self, AppUpdateSpec, BranchChange, BranchSpec, ImageSpec, WriteBack, WriteTarget,
    ANNOTATION_PREFIX, REVERTED_ANNOTATION, WRITTEN_ANNOTATION,
};
use serde_json::Value;

use crate::api::str_at;
use crate::check::{self, CheckCtx};
use crate::current;
use crate::gitread::{self, GitReader};
use crate::metrics::UpdaterMetrics;

/// One image to move.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    /// The image's alias in the annotations.
    pub(crate) alias: String,
    /// The image name (no tag).
    pub(crate) image: String,
    /// The tag before (empty when unknown).
    pub(crate) old: String,
    /// The tag (or digest) after.
    pub(crate) new: String,
    /// The kustomize override string (`name:tag`, `orig=name:tag`).
    pub(crate) override_str: String,
    /// The kustomization `images:` entry.
    pub(crate) entry: KustomizeImage,
}

/// The file a Git write-back edits.
#[derive(Debug, Clone)]
pub(crate) enum GitFile {
    /// A kustomization file (repository-relative path).
    Kustomization(String),
    /// An `.argocd-source-<app>.yaml` file (repository-relative path).
    ArgocdSource(String),
}

impl GitFile {
    /// The file's repository-relative path.
    pub(crate) fn path(&self) -> &str {
        match self {
            GitFile::Kustomization(p) | GitFile::ArgocdSource(p) => p,
        }
    }
}

/// Where a Git write-back goes.
#[derive(Debug, Clone)]
pub(crate) struct GitTarget {
    /// The repository URL.
    pub(crate) repo_url: String,
    /// The branch committed on and pushed.
    pub(crate) branch: String,
    /// `git-branch`'s target when it is a template (`branch` is named from the changes).
    pub(crate) branch_template: Option<String>,
    /// Where the branch starts when it does not exist yet.
    pub(crate) base: Option<String>,
    /// The file edited.
    pub(crate) file: GitFile,
}

/// An app's plan.
pub(crate) struct AppPlan {
    /// The Application as listed.
    pub(crate) app: Value,
    /// `metadata.name`.
    pub(crate) name: String,
    /// Condition messages (set as `ImageUpdateError`); any one means no write.
    pub(crate) errors: Vec<String>,
    /// Images to move.
    pub(crate) changes: Vec<Change>,
    /// `None`: write-back `argocd`.
    pub(crate) git: Option<GitTarget>,
    /// The `written` annotation as it should be after the cycle's writes.
    pub(crate) written: BTreeMap<String, String>,
    /// The `reverted` annotation as it should be.
    pub(crate) reverted: BTreeMap<String, String>,
    /// The Git write-back of this cycle succeeded (committed, or nothing to commit).
    pub(crate) git_done: bool,
}

/// Parses `alias=tag,alias=tag`.
pub(crate) fn parse_map(text: &str) -> BTreeMap<String, String> {
    text.split(',')
        .filter_map(|p| {
            let (a, t) = p.trim().split_once('=')?;
            (!a.is_empty() && !t.is_empty()).then(|| (a.to_string(), t.to_string()))
        })
        .collect()
}

/// The app's annotations as a map.
pub(crate) fn annotations(app: &Value) -> BTreeMap<String, String> {
    app.pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect()
}

/// What the plan needs from the cycle.
pub(crate) struct PlanCtx<'a, 'b, 'c> {
    pub(crate) check: CheckCtx<'a, 'b>,
    pub(crate) git: &'a mut GitReader<'c>,
    pub(crate) metrics: &'a UpdaterMetrics,
}

impl AppPlan {
    fn new(app: Value) -> AppPlan {
        let ann = annotations(&app);
        let map = |k: &str| ann.get(k).map(|v| parse_map(v)).unwrap_or_default();
        AppPlan {
            name: str_at(&app, "/metadata/name").to_string(),
            written: map(WRITTEN_ANNOTATION),
            reverted: map(REVERTED_ANNOTATION),
            app,
            errors: Vec::new(),
            changes: Vec::new(),
            git: None,
            git_done: false,
        }
    }
}

/// Sources the updater cannot write: Helm charts and multi-source apps.
fn unsupported_source(app: &Value) -> Option<String> {
    if app.pointer("/spec/sources").is_some_and(|s| !s.is_null()) {
        return Some("the Application has spec.sources (multi-source): the image updater supports a single spec.source".into());
    }
    if app
        .pointer("/spec/source/helm")
        .is_some_and(|h| !h.is_null())
        || !str_at(app, "/spec/source/chart").is_empty()
    {
        return Some(format!(
            "the Application's source is helm: annotation {ANNOTATION_PREFIX}image-list cannot be applied to Helm sources (not supported yet)"
        ));
    }
    None
}

/// Plans one app.
pub(crate) async fn plan_app(ctx: &mut PlanCtx<'_, '_, '_>, app: Value) -> AppPlan {
    let mut plan = AppPlan::new(app);
    let spec = match updater::parse_annotations(&annotations(&plan.app)) {
        Ok(Some(s)) => s,
        Ok(None) => return plan,
        Err(e) => {
            plan.errors.push(fjord_model::chain(&e));
            return plan;
        }
    };
    if let Some(msg) = unsupported_source(&plan.app) {
        plan.errors.push(msg);
        return plan;
    }
    let git_head = match git_target(ctx, &mut plan, &spec).await {
        Ok(h) => h,
        Err(msg) => {
            plan.errors.push(msg);
            return plan;
        }
    };
    let rolled_back = rolled_back(&plan.app, git_head.as_ref().map(|h| h.1));
    for image in &spec.images {
        UpdaterMetrics::add(&ctx.metrics.images_checked, 1);
        if let Err(msg) = plan_image(ctx, &mut plan, image, git_head.as_ref(), rolled_back).await {
            plan.errors.push(msg);
        }
    }
    if !plan.changes.is_empty() {
        if let Err(msg) = name_branch(&mut plan) {
            plan.errors.push(msg);
        }
    }
    plan
}

/// The current tag of an image: the target file at the branch head (git) or the spec
/// (argocd), else the deployed image.
fn current_tag(
    plan: &AppPlan,
    image: &ImageSpec,
    file_text: Option<&str>,
) -> Result<Option<String>, String> {
    let from_target = match (&plan.git, file_text) {
        (Some(g), Some(text)) => match &g.file {
            GitFile::Kustomization(_) => current::from_kustomization(text, image)?,
            GitFile::ArgocdSource(_) => current::from_argocd_source(text, image)?,
        },
        (Some(_), None) => None,
        (None, _) => current::from_overrides(&current::spec_overrides(&plan.app), image),
    };
    Ok(from_target.or_else(|| current::from_summary(&plan.app, image).flatten()))
}

async fn plan_image(
    ctx: &mut PlanCtx<'_, '_, '_>,
    plan: &mut AppPlan,
    image: &ImageSpec,
    git_head: Option<&(Option<String>, fjord_source::Oid)>,
    rolled_back: bool,
) -> Result<(), String> {
    let text = git_head.and_then(|(t, _)| t.as_deref());
    let current = current_tag(plan, image, text)
        .map_err(|e| format!("image {}: reading the current tag: {e}", image.image.name()))?;
    let deployed = current::from_summary(&plan.app, image).is_some();
    if current.is_none() && !deployed && !image.force_update {
        return Ok(());
    }
    // The key of this image in the written/reverted annotations: its alias, else its name.
    let alias = image.id();
    let mut reverted = plan.reverted.get(&alias).cloned();
    if let (Some(w), Some(c)) = (plan.written.get(&alias).cloned(), current.as_deref()) {
        // newest-build orders tags by build time, which names do not carry: any tag other than
        // the one the updater wrote was put there by a human.
        let older = match image.strategy {
            updater::Strategy::NewestBuild => true,
            _ => updater::is_newer(image, &w, c),
        };
        if w != c && older {
            // A human put an older tag back: remember what they reverted, take their tag as
            // the baseline, and wait for something newer than the reverted one.
            crate::api::log(
                "info",
                &plan.name,
                &format!(
                    "image {}: {c} is older than the {w} the updater wrote: treated as reverted",
                    image.image.name()
                ),
            );
            plan.reverted.insert(alias.clone(), w.clone());
            plan.written.insert(alias.clone(), c.to_string());
            reverted = Some(w);
        } else if rolled_back && w == c {
            plan.reverted.insert(alias.clone(), w.clone());
            reverted = Some(w);
        }
    }
    let picked = check::check(
        &mut ctx.check,
        image,
        current.as_deref(),
        reverted.as_deref(),
    )
    .await?;
    if let Some(new) = picked {
        plan.changes.push(Change {
            alias,
            image: image.image.name(),
            old: current.unwrap_or_default(),
            override_str: current::override_string(image, &new),
            entry: current::kustomization_entry(image, &new),
            new,
        });
    }
    Ok(())
}

/// Whether the app's last operation synced a revision other than its branch head while
/// automated sync is off (`fjord app rollback`, or a sync to an older commit).
fn rolled_back(app: &Value, head: Option<fjord_source::Oid>) -> bool {
    let Some(head) = head else { return false };
    let rev = str_at(app, "/status/operationState/operation/sync/revision");
    app.pointer("/spec/syncPolicy/automated")
        .is_none_or(Value::is_null)
        && rev.len() == 40
        && str_at(app, "/status/operationState/phase") == "Succeeded"
        && rev != head.to_string()
}

/// The repository-relative path of `name` in directory `dir` (`.` or `""`: the root).
fn in_dir(dir: &str, name: &str) -> String {
    match dir.trim_matches('/') {
        "" | "." => name.to_string(),
        d => format!("{d}/{name}"),
    }
}

/// The annotation key `k` with the updater's prefix.
fn key(k: &str) -> String {
    format!("{ANNOTATION_PREFIX}{k}")
}

/// The base and push branch of a Git write-back (`git-branch`, else the tracked branch). A
/// templated push branch is left as `None` (named once the changes are known).
fn branches(
    branch: Option<&BranchSpec>,
    tracked: &str,
) -> Result<(Option<String>, Option<String>), String> {
    let (base, push) = match branch {
        None => (None, Some(tracked.to_string())),
        Some(b) => {
            let base = b
                .base
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or(tracked.to_string());
            let push = match b.target.clone().filter(|s| !s.is_empty()) {
                Some(t) if t.contains("{{") => None,
                Some(t) => Some(t),
                None => Some(base.clone()),
            };
            (Some(base), push)
        }
    };
    for b in [push.as_ref(), base.as_ref()].into_iter().flatten() {
        let r = format!("refs/heads/{b}");
        if b.contains("..") || b.starts_with('-') || !git2::Reference::is_valid_name(&r) {
            return Err(format!(
                "annotation {}: branch {b:?} is not a valid branch name",
                key("git-branch")
            ));
        }
    }
    Ok((base, push))
}

/// For write-back `git`: resolves the target (repository, branch, file), fetches, and reads
/// the file at the branch head. Returns `None` for write-back `argocd`.
async fn git_target(
    ctx: &mut PlanCtx<'_, '_, '_>,
    plan: &mut AppPlan,
    spec: &AppUpdateSpec,
) -> Result<Option<(Option<String>, fjord_source::Oid)>, String> {
    let WriteBack::Git {
        branch,
        target,
        repository,
        ..
    } = &spec.write_back
    else {
        return Ok(None);
    };
    let app = &plan.app;
    let url = repository
        .clone()
        .unwrap_or_else(|| str_at(app, "/spec/source/repoURL").to_string());
    let source_path = str_at(app, "/spec/source/path").to_string();
    let target_rev = str_at(app, "/spec/source/targetRevision").to_string();
    let dir = match target {
        WriteTarget::ArgocdSource => WriteTarget::KustomizationInSource(".".into()),
        other => other.clone(),
    }
    .kustomization_dir(&source_path)
    .map_err(|e| {
        format!(
            "annotation {}: {}",
            key("write-back-target"),
            fjord_model::chain(&e)
        )
    })?
    .unwrap_or_else(|| ".".into());
    let repo = ctx.git.repo(&url).await?;
    let tracked = gitread::branch_of(&repo, &target_rev);
    let (base, push) = branches(branch.as_ref(), &tracked)?;
    let head = push
        .as_deref()
        .and_then(|b| gitread::head(&repo, b))
        .or_else(|| base.as_deref().and_then(|b| gitread::head(&repo, b)))
        .ok_or_else(|| {
            format!(
                "repository {}: branch {} not found",
                fjord_source::redact_url(&url),
                push.as_deref().or(base.as_deref()).unwrap_or(&tracked)
            )
        })?;
    let file = match target {
        WriteTarget::ArgocdSource => {
            GitFile::ArgocdSource(in_dir(&dir, &format!(".argocd-source-{}.yaml", plan.name)))
        }
        _ => {
            let mut found = None;
            for n in ["kustomization.yaml", "kustomization.yml", "Kustomization"] {
                let p = in_dir(&dir, n);
                if gitread::read_file(&repo, head, &p)?.is_some() {
                    found = Some(p);
                    break;
                }
            }
            GitFile::Kustomization(found.ok_or_else(|| {
                format!(
                    "annotation {}: no kustomization in {dir:?} of {}",
                    key("write-back-target"),
                    fjord_source::redact_url(&url)
                )
            })?)
        }
    };
    let text = gitread::read_file(&repo, head, file.path())?;
    plan.git = Some(GitTarget {
        repo_url: url,
        branch: push.unwrap_or_default(),
        branch_template: branch
            .as_ref()
            .and_then(|b| b.target.clone())
            .filter(|t| t.contains("{{")),
        base: base.filter(|_| branch.is_some()),
        file,
    });
    Ok(Some((text, head)))
}

/// Names a templated push branch from the app's changes (`.Images`, `.SHA256`).
fn name_branch(plan: &mut AppPlan) -> Result<(), String> {
    let Some(g) = plan.git.as_mut() else {
        return Ok(());
    };
    let Some(template) = g.branch_template.clone() else {
        return Ok(());
    };
    let changes: Vec<BranchChange> = plan
        .changes
        .iter()
        .map(|c| BranchChange {
            name: c.image.clone(),
            alias: c.alias.clone(),
            old_tag: c.old.clone(),
            new_tag: c.new.clone(),
        })
        .collect();
    let input = updater::branch_hash_input(&changes);
    let sha = sha256_hex(input.as_bytes());
    g.branch = updater::branch_name(&template, &changes, &sha).map_err(|e| {
        format!(
            "annotation {}: {}",
            key("git-branch"),
            fjord_model::chain(&e)
        )
    })?;
    Ok(())
}

/// Lower-case hex SHA-256.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn alias_maps_round_trip_and_skip_junk() {
        let m = parse_map("web=v1.2.0, api=1.0 ,bad,=x,y=");
        assert_eq!(updater::format_alias_tags(&m), "api=1.0,web=v1.2.0");
    }

    #[test]
    fn helm_and_multi_source_apps_are_refused() {
        let helm = json!({"spec": {"source": {"repoURL": "r", "chart": "c"}}});
        assert!(unsupported_source(&helm).unwrap().contains("helm"));
        let multi = json!({"spec": {"sources": [{"repoURL": "r"}]}});
        assert!(unsupported_source(&multi).unwrap().contains("multi-source"));
        let plain = json!({"spec": {"source": {"repoURL": "r", "path": "p"}}});
        assert!(unsupported_source(&plain).is_none());
    }

    #[test]
    fn a_sync_to_an_older_commit_without_automation_is_a_rollback() {
        let head = fjord_source::Oid::from_str(&"b".repeat(40)).unwrap();
        let app = |rev: &str, automated: bool| {
            let mut a = json!({"spec": {"syncPolicy": {}}, "status": {"operationState": {
                "phase": "Succeeded", "operation": {"sync": {"revision": rev}}}}});
            if automated {
                a["spec"]["syncPolicy"]["automated"] = json!({});
            }
            a
        };
        assert!(rolled_back(&app(&"a".repeat(40), false), Some(head)));
        assert!(!rolled_back(&app(&"b".repeat(40), false), Some(head)));
        assert!(!rolled_back(&app(&"a".repeat(40), true), Some(head)));
        assert!(!rolled_back(&app(&"a".repeat(40), false), None));
    }
}
