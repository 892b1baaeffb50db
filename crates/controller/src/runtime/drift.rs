//! Drift forensics for a comparison: which drifted fields of which objects, and who last set
//! each (from the live objects' `managedFields`). The server, `fjord app diff` and the
//! controller's sync-status Event all use these.

/// The drifted fields of one compared object and who last set each (from its live
/// `managedFields`); empty unless the object exists on both sides and differs. Never a value.
pub fn drift_of(c: &fjord_sync::Compared) -> Vec<fjord_diff::forensics::Drift> {
    if c.diff.status != fjord_diff::DiffStatus::Modified {
        return Vec::new();
    }
    let (Some(d), Some(l)) = (&c.diff.desired, &c.diff.live) else {
        return Vec::new();
    };
    let managed = c
        .task
        .live
        .as_ref()
        .and_then(|v| v.pointer("/metadata/managedFields"));
    fjord_diff::forensics::drift(d, l, managed)
}

/// How many drifted fields the sync-status Event names (the rest are counted).
const EVENT_DRIFT_FIELDS: usize = 5;

/// One line per drifted field of the modified objects of `diffs`, e.g. `apps/Deployment
/// guestbook/web: spec.replicas set by kubectl-scale (Update) at 2026-12-07T14:02:11Z`. Fields
/// last set by fjord's own sync are left out (a new commit, not drift). Never a value: only
/// paths, managers, operations and times.
pub fn drift_lines(diffs: &[fjord_sync::Compared]) -> Vec<String> {
    let mut out = Vec::new();
    for c in diffs {
        let fields = drift_of(c)
            .into_iter()
            .filter(|f| f.manager != fjord_sync::FIELD_MANAGER);
        let id = &c.task.id;
        let group = &id.group;
        let sep = if group.is_empty() { "" } else { "/" };
        let ns = if id.namespace.is_empty() {
            String::new()
        } else {
            format!("{}/", id.namespace)
        };
        for f in fields {
            out.push(format!("{group}{sep}{} {ns}{}: {f}", id.kind, id.name));
        }
    }
    out
}

/// The Event text of drift lines: the first five, then "and N more".
pub fn drift_summary(lines: &[String]) -> String {
    let mut text = lines
        .iter()
        .take(EVENT_DRIFT_FIELDS)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if lines.len() > EVENT_DRIFT_FIELDS {
        text += &format!("; and {} more", lines.len() - EVENT_DRIFT_FIELDS);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_text_is_bounded() {
        let lines: Vec<String> = (0..8).map(|i| format!("f{i}")).collect();
        assert_eq!(drift_summary(&lines[..2]), "f0; f1");
        assert_eq!(drift_summary(&lines), "f0; f1; f2; f3; f4; and 3 more");
    }
}
