//! Git write-back: every app of a cycle that writes to the same (repository, branch) goes into
//! ONE commit, made and pushed by [`fjord_source::Repo::commit_and_push`] (a rejected push is
//! re-done on the new tip, never forced).

use std::collections::BTreeMap;

use fjord_image::updater::{commit_message, Change as MessageChange};
use fjord_source::{normalize_url, redact_url, CommitRequest, Signature, TreeView};

use crate::config::UpdaterConfig;
use crate::gitread::GitReader;
use crate::plan::{AppPlan, Change, GitFile};

/// One app's edit inside a group's commit.
struct AppEdit {
    file: GitFile,
    changes: Vec<Change>,
}

/// The (repository, branch) groups of the apps with Git changes and no errors: indexes into
/// `plans`, in order.
pub(crate) fn groups(plans: &[AppPlan]) -> BTreeMap<(String, String), Vec<usize>> {
    let mut out: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for (i, p) in plans.iter().enumerate() {
        let Some(g) = &p.git else { continue };
        if p.errors.is_empty() && !p.changes.is_empty() {
            out.entry((normalize_url(&g.repo_url), g.branch.clone()))
                .or_default()
                .push(i);
        }
    }
    out
}

/// The commit message of a group: the template's output for one app, the apps' messages
/// joined by a blank line for several.
pub(crate) fn group_message(cfg: &UpdaterConfig, plans: &[&AppPlan]) -> Result<String, String> {
    let mut parts = Vec::new();
    for p in plans {
        let changes: Vec<MessageChange> = p
            .changes
            .iter()
            .map(|c| MessageChange {
                image: c.image.clone(),
                old_tag: c.old.clone(),
                new_tag: c.new.clone(),
            })
            .collect();
        let msg = commit_message(cfg.template.as_deref(), &p.name, &changes)
            .map_err(|e| format!("git.commit-message-template: {}", fjord_model::chain(&e)))?;
        parts.push(msg.trim_end().to_string());
    }
    Ok(parts.join("\n\n") + "\n")
}

/// Applies one app's changes to the current text of its file.
fn edit_text(edit: &AppEdit, text: Option<&str>) -> Result<Option<String>, String> {
    match &edit.file {
        GitFile::Kustomization(path) => {
            let mut cur = text
                .ok_or_else(|| format!("{path} does not exist at the branch head"))?
                .to_string();
            let mut changed = false;
            for c in &edit.changes {
                if let Some(new) = fjord_image::edit::set_kustomization_image(&cur, &c.entry)
                    .map_err(|e| format!("{path}: {}", fjord_model::chain(&e)))?
                {
                    cur = new;
                    changed = true;
                }
            }
            Ok(changed.then_some(cur))
        }
        GitFile::ArgocdSource(path) => {
            let images: Vec<String> = edit
                .changes
                .iter()
                .map(|c| c.override_str.clone())
                .collect();
            fjord_image::edit::argocd_source_with_images(text, &images)
                .map_err(|e| format!("{path}: {}", fjord_model::chain(&e)))
        }
    }
}

/// The edit callback: every app's file read from the tree (once), edited in turn.
fn edit_all(edits: &[AppEdit], tree: &dyn TreeView) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut files: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut changed: BTreeMap<String, String> = BTreeMap::new();
    for e in edits {
        let path = e.file.path().to_string();
        if !files.contains_key(&path) {
            let bytes = tree.read(&path).map_err(|err| fjord_model::chain(&err))?;
            let text = bytes
                .map(String::from_utf8)
                .transpose()
                .map_err(|_| format!("{path} is not UTF-8"))?;
            files.insert(path.clone(), text);
        }
        let cur = changed.get(&path).cloned().or_else(|| files[&path].clone());
        if let Some(new) = edit_text(e, cur.as_deref())? {
            changed.insert(path, new);
        }
    }
    Ok(changed
        .into_iter()
        .filter(|(p, t)| files.get(p).cloned().flatten().as_deref() != Some(t.as_str()))
        .map(|(p, t)| (p, t.into_bytes()))
        .collect())
}

/// Commits and pushes one group; `Ok(true)` when a commit was pushed, `Ok(false)` when the
/// files already held the new tags. Errors name the repository (password removed) and branch.
pub(crate) async fn commit_group(
    reader: &mut GitReader<'_>,
    cfg: &UpdaterConfig,
    plans: &[&AppPlan],
) -> Result<bool, String> {
    let Some(target) = plans.first().and_then(|p| p.git.clone()) else {
        return Ok(false);
    };
    let message = group_message(cfg, plans)?;
    let edits: Vec<AppEdit> = plans
        .iter()
        .filter_map(|p| {
            Some(AppEdit {
                file: p.git.as_ref()?.file.clone(),
                changes: p.changes.clone(),
            })
        })
        .collect();
    let repo = reader.repo(&target.repo_url).await?;
    let author = Signature {
        name: cfg.user.clone(),
        email: cfg.email.clone(),
    };
    let sign_off = cfg.sign_off;
    let url = redact_url(&target.repo_url);
    let branch = target.branch.clone();
    let done = tokio::task::spawn_blocking(move || {
        let req = CommitRequest {
            branch: &target.branch,
            base: target.base.as_deref(),
            message: &message,
            author,
            sign_off,
        };
        let mut edit = |tree: &dyn TreeView| edit_all(&edits, tree);
        repo.commit_and_push(&req, &mut edit)
    })
    .await
    .map_err(|_| format!("pushing to {url} branch {branch}: task failed"))?;
    done.map(|oid| oid.is_some()).map_err(|e| {
        format!(
            "pushing to {url} branch {branch}: {}",
            fjord_model::chain(&e)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fjord_image::edit::KustomizeImage;
    use std::collections::HashMap;

    struct Files(HashMap<String, String>);

    impl TreeView for Files {
        fn read(&self, path: &str) -> Result<Option<Vec<u8>>, fjord_source::RepoError> {
            Ok(self.0.get(path).map(|t| t.clone().into_bytes()))
        }
    }

    fn change(image: &str, new: &str) -> Change {
        Change {
            alias: "a".into(),
            image: image.into(),
            old: "1.0".into(),
            new: new.into(),
            override_str: format!("{image}:{new}"),
            entry: KustomizeImage {
                name: image.into(),
                new_tag: Some(new.into()),
                ..Default::default()
            },
        }
    }

    #[test]
    fn one_edit_covers_every_app_and_skips_unchanged_files() {
        let k = "resources:\n- d.yaml\nimages:\n- name: reg/web\n  newTag: \"1.0\" # pinned\n";
        let tree = Files(HashMap::from([
            ("a/kustomization.yaml".to_string(), k.to_string()),
            ("b/kustomization.yaml".to_string(), k.to_string()),
        ]));
        let edits = vec![
            AppEdit {
                file: GitFile::Kustomization("a/kustomization.yaml".into()),
                changes: vec![change("reg/web", "1.1")],
            },
            AppEdit {
                file: GitFile::Kustomization("b/kustomization.yaml".into()),
                changes: vec![change("reg/web", "1.0")],
            },
            AppEdit {
                file: GitFile::ArgocdSource("c/.argocd-source-c.yaml".into()),
                changes: vec![change("reg/api", "2.0")],
            },
        ];
        let out = edit_all(&edits, &tree).unwrap();
        let paths: Vec<&str> = out.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["a/kustomization.yaml", "c/.argocd-source-c.yaml"]);
        let a = String::from_utf8(out[0].1.clone()).unwrap();
        assert!(a.contains("1.1") && a.contains("# pinned"), "{a}");
        let c = String::from_utf8(out[1].1.clone()).unwrap();
        assert!(c.contains("reg/api:2.0"), "{c}");
        let missing = vec![AppEdit {
            file: GitFile::Kustomization("z/kustomization.yaml".into()),
            changes: vec![change("reg/web", "1.1")],
        }];
        assert!(edit_all(&missing, &tree)
            .unwrap_err()
            .contains("does not exist"));
    }
}
