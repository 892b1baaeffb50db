//! Sync tasks and their order, as Argo CD sorts them: phase, wave, kind rank, name, then the
//! Namespace and CRD dependency fix-ups. Prune waves are mirrored; `PruneLast` prunes after the
//! last Sync wave.

use fjord_model::order::argocd_kind_rank;
use fjord_model::ObjectRef;
use serde_json::Value;

use crate::options::SyncOptions;

/// The hook annotation.
pub const ANNOTATION_HOOK: &str = "argocd.argoproj.io/hook";
/// The hook deletion policy annotation.
pub const ANNOTATION_HOOK_DELETE_POLICY: &str = "argocd.argoproj.io/hook-delete-policy";
/// The wave annotation.
pub const ANNOTATION_SYNC_WAVE: &str = "argocd.argoproj.io/sync-wave";

/// A sync phase, in execution order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum SyncPhase {
    /// Before the application's objects.
    PreSync,
    /// With the application's objects.
    Sync,
    /// After every Sync wave is healthy.
    PostSync,
    /// Only when the sync failed.
    SyncFail,
}

impl SyncPhase {
    /// The phase's name.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncPhase::PreSync => "PreSync",
            SyncPhase::Sync => "Sync",
            SyncPhase::PostSync => "PostSync",
            SyncPhase::SyncFail => "SyncFail",
        }
    }
}

/// When a hook object is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum HookDeletePolicy {
    /// After the hook succeeded.
    HookSucceeded,
    /// After the hook failed.
    HookFailed,
    /// Before a new instance is created (the default).
    BeforeHookCreation,
}

/// The hook phases an object declares: `None` when it is no hook; `Some(empty)` for `Skip` or
/// phases that do not run during a sync (PreDelete, PostDelete).
pub fn hook_phases(obj: &Value) -> Option<Vec<SyncPhase>> {
    let ann = obj.pointer("/metadata/annotations")?;
    if let Some(v) = ann.get(ANNOTATION_HOOK).and_then(Value::as_str) {
        let mut out = Vec::new();
        for p in v.split(',').map(str::trim) {
            let phase = match p {
                "PreSync" => SyncPhase::PreSync,
                "Sync" => SyncPhase::Sync,
                "PostSync" => SyncPhase::PostSync,
                "SyncFail" => SyncPhase::SyncFail,
                _ => continue,
            };
            if !out.contains(&phase) {
                out.push(phase);
            }
        }
        return Some(out);
    }
    let helm = ann.get("helm.sh/hook").and_then(Value::as_str)?;
    let mut out = Vec::new();
    for p in helm.split(',').map(str::trim) {
        let phase = match p {
            "pre-install" | "pre-upgrade" => SyncPhase::PreSync,
            "post-install" | "post-upgrade" => SyncPhase::PostSync,
            "crd-install" => return None,
            _ => continue,
        };
        if !out.contains(&phase) {
            out.push(phase);
        }
    }
    Some(out)
}

/// The deletion policies of a hook (default `BeforeHookCreation`).
pub fn delete_policies(obj: &Value) -> Vec<HookDeletePolicy> {
    let ann = obj.pointer("/metadata/annotations");
    let raw = ann
        .and_then(|a| a.get(ANNOTATION_HOOK_DELETE_POLICY))
        .or_else(|| ann.and_then(|a| a.get("helm.sh/hook-delete-policy")))
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut out = Vec::new();
    for p in raw.split(',').map(str::trim) {
        let pol = match p {
            "HookSucceeded" | "hook-succeeded" => HookDeletePolicy::HookSucceeded,
            "HookFailed" | "hook-failed" => HookDeletePolicy::HookFailed,
            "BeforeHookCreation" | "before-hook-creation" => HookDeletePolicy::BeforeHookCreation,
            _ => continue,
        };
        if !out.contains(&pol) {
            out.push(pol);
        }
    }
    if out.is_empty() {
        out.push(HookDeletePolicy::BeforeHookCreation);
    }
    out
}

/// An object's wave: `argocd.argoproj.io/sync-wave`, else `helm.sh/hook-weight`, else 0.
/// A value that is no integer is an error naming it.
pub fn wave_of(obj: &Value) -> Result<i64, String> {
    let ann = obj.pointer("/metadata/annotations");
    let raw = ann
        .and_then(|a| a.get(ANNOTATION_SYNC_WAVE))
        .or_else(|| ann.and_then(|a| a.get("helm.sh/hook-weight")))
        .and_then(Value::as_str);
    match raw {
        None => Ok(0),
        Some(s) => s
            .trim()
            .parse()
            .map_err(|_| format!("sync wave '{s}' is not an integer")),
    }
}

/// What a task does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum TaskKind {
    /// Apply (or create/replace) the target object.
    Apply,
    /// Delete a live object that is no longer rendered.
    Prune,
}

/// What the server-side dry run of a task's target said.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum DryRun {
    /// Not dry-run: a prune, a kind defined by a CustomResourceDefinition of the same sync, or
    /// an object in a namespace the sync creates. Such an object will be created.
    #[default]
    NotRun,
    /// The object the server would store: its answer, or the live object itself when the
    /// apply provably keeps it (fjord's own last apply set exactly these values; see
    /// `unchanged.rs`), which is not asked.
    Predicted(Value),
    /// The server refused the object.
    Failed {
        /// The server's answer.
        message: String,
        /// Whether the refusal was a `404` (typically: the namespace does not exist).
        not_found: bool,
    },
}

/// One unit of a sync.
#[derive(Debug, Clone)]
pub struct Task {
    /// The object.
    pub id: ObjectRef,
    /// Phase.
    pub phase: SyncPhase,
    /// Wave.
    pub wave: i64,
    /// Apply or prune.
    pub kind: TaskKind,
    /// The desired object (namespace defaulted, tracking annotation set); `None` for prunes.
    pub target: Option<Value>,
    /// The live object when it exists.
    pub live: Option<Value>,
    /// Whether this is a hook.
    pub hook: bool,
    /// Hook deletion policies (empty for non-hooks).
    pub delete_policies: Vec<HookDeletePolicy>,
    /// Effective options (the object's annotation over the application's).
    pub options: SyncOptions,
    /// The server-side dry run of `target` ([`crate::Engine::plan`] runs it).
    pub dry_run: DryRun,
}

impl Task {
    fn sort_key(&self) -> (SyncPhase, i64, usize, &str) {
        (
            self.phase,
            self.wave,
            argocd_kind_rank(&self.id.kind),
            &self.id.name,
        )
    }

    /// For a CRD target: the (group, kind) it defines.
    pub fn crd_defines(&self) -> Option<(String, String)> {
        if self.id.kind != "CustomResourceDefinition" {
            return None;
        }
        let t = self.target.as_ref()?;
        let g = t.pointer("/spec/group")?.as_str()?;
        let k = t.pointer("/spec/names/kind")?.as_str()?;
        Some((g.to_string(), k.to_string()))
    }
}

/// Mirrors prune waves (highest creation wave pruned first) and moves `PruneLast` prunes after
/// the last Sync-phase wave.
pub fn adjust_prune_waves(tasks: &mut [Task]) {
    let prune_waves: Vec<i64> = tasks
        .iter()
        .filter(|t| t.kind == TaskKind::Prune)
        .map(|t| t.wave)
        .collect();
    if let (Some(min), Some(max)) = (
        prune_waves.iter().min().copied(),
        prune_waves.iter().max().copied(),
    ) {
        for t in tasks.iter_mut().filter(|t| t.kind == TaskKind::Prune) {
            t.wave = max + min - t.wave;
        }
    }
    let last_sync = tasks
        .iter()
        .filter(|t| {
            t.phase == SyncPhase::Sync && !(t.kind == TaskKind::Prune && t.options.is_prune_last())
        })
        .map(|t| t.wave)
        .max()
        .unwrap_or(0);
    for t in tasks
        .iter_mut()
        .filter(|t| t.kind == TaskKind::Prune && t.options.is_prune_last())
    {
        t.wave = last_sync + 1;
    }
}

/// Sorts tasks as Argo CD does, then applies the Namespace and CRD fix-ups.
pub fn sort_tasks(tasks: &mut Vec<Task>) {
    tasks.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    // A Namespace goes just before the first task in it, inheriting its phase and wave.
    let mut i = 0;
    while i < tasks.len() {
        let t = &tasks[i];
        if t.id.kind == "Namespace" && t.id.group.is_empty() && t.kind == TaskKind::Apply {
            let ns = t.id.name.clone();
            if let Some(first) = tasks[..i]
                .iter()
                .position(|o| o.id.namespace == ns && o.kind == TaskKind::Apply)
            {
                let mut moved = tasks.remove(i);
                moved.phase = tasks[first].phase;
                moved.wave = tasks[first].wave;
                tasks.insert(first, moved);
            }
        }
        i += 1;
    }
    // A CRD goes before the first custom resource of its group/kind.
    let mut i = 0;
    while i < tasks.len() {
        if let Some((g, k)) = tasks[i]
            .crd_defines()
            .filter(|_| tasks[i].kind == TaskKind::Apply)
        {
            if let Some(first) = tasks[..i]
                .iter()
                .position(|o| o.id.group == g && o.id.kind == k && o.kind == TaskKind::Apply)
            {
                let mut moved = tasks.remove(i);
                moved.phase = tasks[first].phase;
                moved.wave = tasks[first].wave;
                tasks.insert(first, moved);
            }
        }
        i += 1;
    }
}

/// The (phase, wave) steps of the sorted tasks, in order, without `SyncFail`.
pub fn steps(tasks: &[Task]) -> Vec<(SyncPhase, i64)> {
    let mut out: Vec<(SyncPhase, i64)> = Vec::new();
    for t in tasks.iter().filter(|t| t.phase != SyncPhase::SyncFail) {
        if out.last() != Some(&(t.phase, t.wave)) {
            out.push((t.phase, t.wave));
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn task(group: &str, kind: &str, ns: &str, name: &str, phase: SyncPhase, wave: i64) -> Task {
        Task {
            id: ObjectRef::new(group, "v1", kind, ns, name),
            phase,
            wave,
            kind: TaskKind::Apply,
            target: None,
            live: None,
            hook: false,
            delete_policies: vec![],
            options: SyncOptions::default(),
            dry_run: DryRun::NotRun,
        }
    }

    #[test]
    fn api_version_leaves_the_core_group_out() {
        let core = task("", "ConfigMap", "ns", "a", SyncPhase::Sync, 0);
        assert_eq!(core.id.api_version(), "v1");
        let apps = task("apps", "Deployment", "ns", "a", SyncPhase::Sync, 0);
        assert_eq!(apps.id.api_version(), "apps/v1");
    }

    fn names(tasks: &[Task]) -> Vec<String> {
        tasks.iter().map(|t| t.id.name.clone()).collect()
    }

    #[test]
    fn sorts_by_phase_wave_kind_name() {
        let mut ts = vec![
            task("apps", "Deployment", "a", "web", SyncPhase::Sync, 0),
            task("", "ConfigMap", "a", "cfg-b", SyncPhase::Sync, 0),
            task("", "ConfigMap", "a", "cfg-a", SyncPhase::Sync, 0),
            task("batch", "Job", "a", "migrate", SyncPhase::PreSync, 5),
            task("", "Service", "a", "late", SyncPhase::Sync, 1),
            task("x.io", "Widget", "a", "w", SyncPhase::Sync, 0),
            task("batch", "Job", "a", "after", SyncPhase::PostSync, -3),
            task("", "Secret", "a", "early", SyncPhase::Sync, -1),
        ];
        sort_tasks(&mut ts);
        assert_eq!(
            names(&ts),
            ["migrate", "early", "cfg-a", "cfg-b", "web", "w", "late", "after"]
        );
        assert_eq!(
            steps(&ts),
            [
                (SyncPhase::PreSync, 5),
                (SyncPhase::Sync, -1),
                (SyncPhase::Sync, 0),
                (SyncPhase::Sync, 1),
                (SyncPhase::PostSync, -3)
            ]
        );
    }

    #[test]
    fn namespace_and_crd_move_before_their_users() {
        let mut crd = task(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            "",
            "widgets.x.io",
            SyncPhase::Sync,
            3,
        );
        crd.target = Some(json!({"spec": {"group": "x.io", "names": {"kind": "Widget"}}}));
        let mut ts = vec![
            task("", "Namespace", "", "shop", SyncPhase::Sync, 2),
            task("", "ConfigMap", "shop", "cfg", SyncPhase::PreSync, 0),
            crd,
            task("x.io", "Widget", "shop", "w", SyncPhase::Sync, 1),
        ];
        sort_tasks(&mut ts);
        assert_eq!(names(&ts), ["shop", "cfg", "widgets.x.io", "w"]);
        assert_eq!((ts[0].phase, ts[0].wave), (SyncPhase::PreSync, 0));
        assert_eq!((ts[2].phase, ts[2].wave), (SyncPhase::Sync, 1));
    }

    #[test]
    fn prune_waves_mirror_and_prune_last_goes_after_last_wave() {
        let mut ts = vec![task("", "ConfigMap", "a", "keep", SyncPhase::Sync, 4)];
        for (name, wave) in [("p0", 0), ("p2", 2)] {
            let mut t = task("", "ConfigMap", "a", name, SyncPhase::Sync, wave);
            t.kind = TaskKind::Prune;
            ts.push(t);
        }
        let mut last = task("", "ConfigMap", "a", "plast", SyncPhase::Sync, 0);
        last.kind = TaskKind::Prune;
        last.options.prune_last = Some(true);
        ts.push(last);
        adjust_prune_waves(&mut ts);
        sort_tasks(&mut ts);
        assert_eq!(names(&ts), ["p2", "p0", "keep", "plast"]);
        assert_eq!(ts.iter().map(|t| t.wave).collect::<Vec<_>>(), [0, 2, 4, 5]);
    }

    #[test]
    fn hooks_waves_and_policies_from_annotations() {
        let obj = json!({"metadata": {"annotations": {
            ANNOTATION_HOOK: "PreSync, SyncFail, PreDelete",
            ANNOTATION_HOOK_DELETE_POLICY: "HookSucceeded,HookFailed",
            ANNOTATION_SYNC_WAVE: "-2"}}});
        assert_eq!(
            hook_phases(&obj),
            Some(vec![SyncPhase::PreSync, SyncPhase::SyncFail])
        );
        assert_eq!(
            delete_policies(&obj),
            [
                HookDeletePolicy::HookSucceeded,
                HookDeletePolicy::HookFailed
            ]
        );
        assert_eq!(wave_of(&obj), Ok(-2));
        let skip = json!({"metadata": {"annotations": {ANNOTATION_HOOK: "Skip"}}});
        assert_eq!(hook_phases(&skip), Some(vec![]));
        let helm = json!({"metadata": {"annotations": {"helm.sh/hook": "pre-install", "helm.sh/hook-weight": "3"}}});
        assert_eq!(hook_phases(&helm), Some(vec![SyncPhase::PreSync]));
        assert_eq!(wave_of(&helm), Ok(3));
        assert_eq!(
            delete_policies(&helm),
            [HookDeletePolicy::BeforeHookCreation]
        );
        let plain = json!({"metadata": {"name": "x"}});
        assert_eq!(hook_phases(&plain), None);
        assert!(
            wave_of(&json!({"metadata": {"annotations": {ANNOTATION_SYNC_WAVE: "soon"}}})).is_err()
        );
    }
}
