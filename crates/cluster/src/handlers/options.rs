//! The request options every write carries (`CreateOptions`, `UpdateOptions`, `PatchOptions`,
//! `DeleteOptions`): checked before the body is read, as the real server does, and refused with
//! one 422 that lists every bad option in the server's order.

use crate::errors::{ApiError, Cause};
use crate::request::ApiRequest;
use fjord_model::go::quote;

/// The longest field manager the server accepts, in bytes.
const MAX_MANAGER: usize = 128;

/// Which options type a request's query is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Options {
    /// POST.
    Create,
    /// PUT.
    Update,
    /// PATCH; `apply` for `application/apply-patch+yaml`.
    Patch {
        /// A server-side apply.
        apply: bool,
    },
}

impl Options {
    fn kind(self) -> &'static str {
        match self {
            Options::Create => "CreateOptions",
            Options::Update => "UpdateOptions",
            Options::Patch { .. } => "PatchOptions",
        }
    }
}

/// The causes for a bad `dryRun` value (`All` is the only one; empty is refused too).
pub(crate) fn dry_run_causes(values: &[&str]) -> Vec<Cause> {
    if values.iter().all(|v| *v == "All") {
        return Vec::new();
    }
    let shown = serde_json::to_string(values).unwrap_or_default();
    vec![Cause::new(
        "FieldValueNotSupported",
        format!("Unsupported value: {shown}: supported values: \"All\""),
        "dryRun",
    )]
}

/// The causes for a bad field manager: too long, or characters that do not print.
fn manager_causes(manager: &str) -> Vec<Cause> {
    let mut causes = Vec::new();
    if manager.len() > MAX_MANAGER {
        causes.push(Cause::new(
            "FieldValueTooLong",
            format!("Too long: may not be more than {MAX_MANAGER} bytes"),
            "fieldManager",
        ));
    }
    if let Some((i, c)) = manager.char_indices().find(|(_, c)| c.is_control()) {
        causes.push(Cause::new(
            "FieldValueInvalid",
            format!(
                "Invalid value: {}: invalid character U+{:04X} (at position {i})",
                quote(manager),
                c as u32
            ),
            "fieldManager",
        ));
    }
    causes
}

/// The causes for a bad `fieldValidation` value.
fn field_validation_causes(value: Option<&str>) -> Vec<Cause> {
    match value {
        None | Some("" | "Ignore" | "Strict" | "Warn") => Vec::new(),
        Some(v) => vec![Cause::new(
            "FieldValueNotSupported",
            format!(
                "Unsupported value: {}: supported values: \"\", \"Ignore\", \"Strict\", \"Warn\"",
                quote(v)
            ),
            "fieldValidation",
        )],
    }
}

/// Checks a write's query options; every problem becomes one cause of a single 422.
pub(crate) fn check(req: &ApiRequest, opts: Options) -> Result<(), ApiError> {
    let q = &req.query;
    let mut causes = Vec::new();
    let manager = q.get("fieldManager").unwrap_or("");
    match opts {
        Options::Patch { apply: false } if q.get("force").is_some() => causes.push(Cause::new(
            "FieldValueForbidden",
            "Forbidden: may not be specified for non-apply patch",
            "force",
        )),
        Options::Patch { apply: true } if manager.is_empty() => causes.push(Cause::new(
            "FieldValueRequired",
            "Required value: is required for apply patch",
            "fieldManager",
        )),
        _ => {}
    }
    causes.extend(manager_causes(manager));
    if let Some(d) = q.get("dryRun") {
        causes.extend(dry_run_causes(&[d]));
    }
    causes.extend(field_validation_causes(q.get("fieldValidation")));
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid_options(opts.kind(), causes))
    }
}

/// The field manager of a write: `fieldManager`, else the User-Agent's program name (the value
/// is checked by [`check`]).
pub(crate) fn field_manager(req: &ApiRequest) -> String {
    if let Some(m) = req.query.get("fieldManager").filter(|m| !m.is_empty()) {
        return m.to_string();
    }
    let ua = req.user_agent.split('/').next().unwrap_or("").trim();
    if ua.is_empty() {
        "unknown".to_string()
    } else {
        ua.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{Query, Target};

    fn req(query: &str) -> ApiRequest {
        ApiRequest {
            method: "POST".into(),
            target: Target::Unknown,
            query: Query::parse(query),
            content_type: String::new(),
            accept: String::new(),
            user_agent: String::new(),
            body: Vec::new(),
        }
    }

    #[test]
    fn bad_options_are_one_invalid_status_in_the_servers_order() {
        let e = check(
            &req("dryRun=Bogus&fieldValidation=Sometimes&fieldManager=a%01b"),
            Options::Create,
        )
        .expect_err("invalid");
        assert_eq!(e.code, 422);
        assert_eq!(
            e.message,
            "CreateOptions.meta.k8s.io \"\" is invalid: [fieldManager: Invalid value: \"a\\x01b\": \
             invalid character U+0001 (at position 1), dryRun: Unsupported value: [\"Bogus\"]: \
             supported values: \"All\", fieldValidation: Unsupported value: \"Sometimes\": \
             supported values: \"\", \"Ignore\", \"Strict\", \"Warn\"]"
        );
        let e =
            check(&req("force=true&dryRun="), Options::Patch { apply: false }).expect_err("force");
        assert_eq!(e.causes[0].field, "force");
        assert_eq!(
            e.causes[1].message,
            "Unsupported value: [\"\"]: supported values: \"All\""
        );
        let e = check(&req(""), Options::Patch { apply: true }).expect_err("manager");
        assert_eq!(e.causes[0].reason, "FieldValueRequired");
        assert!(check(&req("dryRun=All&fieldValidation=Strict"), Options::Update).is_ok());
    }
}
