//! autoscaling HorizontalPodAutoscaler, v1 to v2 (gitops-engine `health_hpa.go`).

use serde_json::Value;

use super::{convert, health, unsupported, CheckError};
use crate::object::{self, annotation, conditions, json_type, Condition};
use crate::status::{Health, HealthStatus};

/// Annotation in which `autoscaling/v1` HPAs carry their conditions as a JSON list.
pub const ANNOTATION_HPA_CONDITIONS: &str = "autoscaling.alpha.kubernetes.io/conditions";

const WAITING: &str = "Waiting to Autoscale";

/// HPA: the first condition that is a known failure (Degraded) or a True `AbleToScale` /
/// `ScalingLimited` (Healthy) decides, with that condition's message; otherwise Progressing
/// `Waiting to Autoscale`.
pub(super) fn hpa(obj: &Value) -> Result<Health, CheckError> {
    let conds = match object::group_version(obj) {
        ("autoscaling", "v1") => {
            let Some(text) = annotation(obj, ANNOTATION_HPA_CONDITIONS) else {
                return health(HealthStatus::Progressing, WAITING);
            };
            let conds = parse_annotation(text)?;
            if conds.is_empty() {
                return health(HealthStatus::Progressing, WAITING);
            }
            conds
        }
        ("autoscaling", "v2beta1") | ("autoscaling", "v2beta2") | ("autoscaling", "v2") => {
            conditions(obj, &["status", "conditions"]).map_err(convert("HPA"))?
        }
        _ => return Err(unsupported("HPA", obj)),
    };
    for c in &conds {
        if is_degraded(c) {
            return health(HealthStatus::Degraded, c.message.clone());
        }
        if is_healthy(c) {
            return health(HealthStatus::Healthy, c.message.clone());
        }
    }
    health(HealthStatus::Progressing, WAITING)
}

fn is_degraded(c: &Condition) -> bool {
    matches!(
        (c.kind.as_str(), c.reason.as_str()),
        ("AbleToScale", "FailedGetScale")
            | ("AbleToScale", "FailedUpdateScale")
            | ("ScalingActive", "FailedGetResourceMetric")
            | ("ScalingActive", "InvalidSelector")
    )
}

fn is_healthy(c: &Condition) -> bool {
    matches!(c.kind.as_str(), "AbleToScale" | "ScalingLimited") && c.status == "True"
}

/// Decodes the v1 conditions annotation the way Go's `encoding/json` fills `[]hpaCondition`:
/// field names match case-insensitively, unknown fields are ignored, `null` is empty.
fn parse_annotation(text: &str) -> Result<Vec<Condition>, CheckError> {
    let bad = |detail: String| CheckError::HpaConditionsAnnotation { detail };
    let value: Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    let items = match &value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => {
            return Err(bad(format!(
                "json: cannot unmarshal {} into Go value of type []health.hpaCondition",
                json_type(other)
            )))
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let map = match item {
            Value::Null => {
                out.push(Condition::default());
                continue;
            }
            Value::Object(map) => map,
            other => {
                return Err(bad(format!(
                    "json: cannot unmarshal {} into Go value of type health.hpaCondition",
                    json_type(other)
                )))
            }
        };
        let field = |name: &str| -> Result<String, CheckError> {
            let found = map.get(name).or_else(|| {
                map.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            });
            match found {
                None | Some(Value::Null) => Ok(String::new()),
                Some(Value::String(s)) => Ok(s.clone()),
                Some(other) => Err(bad(format!(
                    "json: cannot unmarshal {} into Go struct field hpaCondition.{} of type string",
                    json_type(other),
                    capitalise(name)
                ))),
            }
        };
        out.push(Condition::read(field)?);
    }
    Ok(out)
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}
