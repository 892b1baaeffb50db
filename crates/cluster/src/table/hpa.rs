//! The Table row of a HorizontalPodAutoscaler (autoscaling v1 or v2 fields).

use serde_json::{json, Value};

use super::s;
use super::text::Col;

fn n(c: &str) -> Col {
    (c.to_string(), "string".to_string(), 0)
}

/// A quantity's text, `<unknown>` when absent.
fn qty(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Number(x)) => x.to_string(),
        _ => "<unknown>".into(),
    }
}

/// `current/target` of one metric (`(avg)` for per-pod averages of objects and external metrics).
fn value_pair(target: &Value, current: Option<&Value>, avg_suffix: bool) -> String {
    if target.get("averageValue").is_some() {
        let cur = qty(current.and_then(|c| c.get("averageValue")));
        let suffix = if avg_suffix { " (avg)" } else { "" };
        format!("{cur}/{}{suffix}", qty(target.get("averageValue")))
    } else {
        let cur = qty(current.and_then(|c| c.get("value")));
        format!("{cur}/{}", qty(target.get("value")))
    }
}

fn resource_metric(spec: &Value, status: Option<&Value>) -> String {
    let target = &spec["target"];
    let current = status.map(|st| &st["current"]);
    let name = s(spec, "/name");
    if target.get("averageValue").is_some() {
        return format!("{name}: {}", value_pair(target, current, false));
    }
    let cur = current
        .and_then(|c| c["averageUtilization"].as_i64())
        .map_or_else(|| "<unknown>".to_string(), |u| format!("{u}%"));
    let tgt = target["averageUtilization"]
        .as_i64()
        .map_or_else(|| "<auto>".to_string(), |u| format!("{u}%"));
    format!("{name}: {cur}/{tgt}")
}

fn metric(spec: &Value, status: Option<&Value>) -> String {
    let ty = s(spec, "/type");
    let key = match ty.as_str() {
        "External" => "external",
        "Pods" => "pods",
        "Object" => "object",
        "Resource" => "resource",
        "ContainerResource" => "containerResource",
        _ => return "<unknown type>".into(),
    };
    let part = &spec[key];
    let current = status.map(|st| &st[key]).filter(|c| c.is_object());
    match key {
        "resource" | "containerResource" => resource_metric(part, current),
        "pods" => value_pair(&part["target"], current.map(|c| &c["current"]), false),
        _ => value_pair(&part["target"], current.map(|c| &c["current"]), true),
    }
}

/// The autoscaler's metrics in v2 form (a v1 CPU target becomes a Resource metric).
fn metrics(obj: &Value) -> (Vec<Value>, Vec<Value>) {
    if let Some(pct) = obj.pointer("/spec/targetCPUUtilizationPercentage") {
        let spec = json!({"type": "Resource", "resource": {"name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": pct}}});
        let status = obj
            .pointer("/status/currentCPUUtilizationPercentage")
            .map(|c| json!({"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": c}}}));
        return (vec![spec], status.into_iter().collect());
    }
    let list = |p: &str| {
        obj.pointer(p)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    (list("/spec/metrics"), list("/status/currentMetrics"))
}

fn targets(obj: &Value) -> String {
    const MAX: usize = 2;
    let (specs, statuses) = metrics(obj);
    if specs.is_empty() {
        return "<none>".into();
    }
    let shown: Vec<String> = specs
        .iter()
        .take(MAX)
        .enumerate()
        .map(|(i, spec)| metric(spec, statuses.get(i)))
        .collect();
    let mut text = shown.join(", ");
    if specs.len() > MAX {
        text.push_str(&format!(" + {} more...", specs.len() - MAX));
    }
    text
}

/// Columns and cells of a HorizontalPodAutoscaler's row.
pub(super) fn columns_and_cells(obj: &Value, name: Value, age: Value) -> (Vec<Col>, Vec<Value>) {
    let min = obj
        .pointer("/spec/minReplicas")
        .and_then(Value::as_i64)
        .map_or_else(|| "<unset>".to_string(), |m| m.to_string());
    (
        vec![
            n("Name"),
            n("Reference"),
            n("Targets"),
            n("MinPods"),
            n("MaxPods"),
            n("Replicas"),
            n("Age"),
        ],
        vec![
            name,
            json!(format!(
                "{}/{}",
                s(obj, "/spec/scaleTargetRef/kind"),
                s(obj, "/spec/scaleTargetRef/name")
            )),
            json!(targets(obj)),
            json!(min),
            json!(obj
                .pointer("/spec/maxReplicas")
                .and_then(Value::as_i64)
                .unwrap_or(0)),
            json!(obj
                .pointer("/status/currentReplicas")
                .and_then(Value::as_i64)
                .unwrap_or(0)),
            age,
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utilization_targets_name_their_resource() {
        let hpa = json!({"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 2, "maxReplicas": 5,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]}});
        let (cols, cells) = columns_and_cells(&hpa, json!("h"), json!("1s"));
        assert_eq!(cols.len(), 7);
        assert_eq!(cells[1], "Deployment/web");
        assert_eq!(cells[2], "cpu: <unknown>/50%");
        assert_eq!(cells[3], "2");
        assert_eq!(cells[4], 5);
    }

    #[test]
    fn more_than_two_metrics_are_counted() {
        let m = json!({"type": "Pods", "pods": {"metric": {"name": "q"}, "target": {"type": "AverageValue", "averageValue": "1k"}}});
        let hpa = json!({"spec": {"metrics": [m, m, m]}, "status": {"currentMetrics": [
            {"type": "Pods", "pods": {"current": {"averageValue": "500"}}}]}});
        assert_eq!(targets(&hpa), "500/1k, <unknown>/1k + 1 more...");
        assert_eq!(targets(&json!({"spec": {}})), "<none>");
    }

    #[test]
    fn v1_cpu_target_prints_as_a_resource_metric() {
        let hpa = json!({"spec": {"targetCPUUtilizationPercentage": 80}, "status": {"currentCPUUtilizationPercentage": 10}});
        assert_eq!(targets(&hpa), "cpu: 10%/80%");
    }
}
