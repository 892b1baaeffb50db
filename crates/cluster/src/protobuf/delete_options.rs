//! A protobuf `DeleteOptions` DELETE body (what client-go, and so `helm uninstall`, sends when it
//! talks protobuf) read into the JSON object a client would have sent, so the delete handler
//! validates and applies both encodings the same way.
//!
//! Field numbers are those of `meta/v1` `generated.proto`: `DeleteOptions` {1 gracePeriodSeconds,
//! 2 preconditions, 3 orphanDependents, 4 propagationPolicy, 5 dryRun, 6
//! ignoreStoreReadErrorWithClusterBreakingPotential} and `Preconditions` {1 uid, 2
//! resourceVersion}. Every field but `dryRun` is a Go pointer, written only when set, so a
//! present zero value (`orphanDependents: false`) is kept as the JSON decoder would.

use serde_json::Value;

use super::schema::{Field, Msg, Ty};
use super::ProtobufError;

/// Failures reading a protobuf `DeleteOptions` body.
#[derive(Debug, thiserror::Error)]
pub enum DeleteOptionsError {
    /// The envelope or the message is not valid protobuf.
    #[error(transparent)]
    Wire(#[from] ProtobufError),
    /// The envelope carries another kind than `DeleteOptions`.
    #[error(
        "expected kind DeleteOptions in the protobuf envelope, got {api_version:?}, Kind={kind:?}"
    )]
    Kind {
        /// Envelope apiVersion.
        api_version: String,
        /// Envelope kind.
        kind: String,
    },
}

const fn pointer(num: u32, name: &'static str, ty: Ty) -> Field {
    Field {
        num,
        name,
        ty,
        rep: false,
        keep: true,
    }
}

static PRECONDITIONS: Msg = Msg(&[
    pointer(1, "uid", Ty::Str),
    pointer(2, "resourceVersion", Ty::Str),
]);

static DELETE_OPTIONS: Msg = Msg(&[
    pointer(1, "gracePeriodSeconds", Ty::Int),
    pointer(2, "preconditions", Ty::Msg(&PRECONDITIONS)),
    pointer(3, "orphanDependents", Ty::Bool),
    pointer(4, "propagationPolicy", Ty::Str),
    Field {
        num: 5,
        name: "dryRun",
        ty: Ty::Str,
        rep: true,
        keep: false,
    },
    pointer(
        6,
        "ignoreStoreReadErrorWithClusterBreakingPotential",
        Ty::Bool,
    ),
]);

/// Reads a `k8s\0`-enveloped `DeleteOptions` into its JSON form (`apiVersion` and `kind` from
/// the envelope, then the fields that were set).
pub fn decode_delete_options(body: &[u8]) -> Result<Value, DeleteOptionsError> {
    let data = body.strip_prefix(b"k8s\0").ok_or(ProtobufError::Magic)?;
    let env = super::envelope(data)?;
    if !env.encoding.is_empty() {
        return Err(ProtobufError::Encoding(env.encoding).into());
    }
    if env.kind != "DeleteOptions" {
        return Err(DeleteOptionsError::Kind {
            api_version: env.api_version,
            kind: env.kind,
        });
    }
    let mut obj = serde_json::Map::new();
    obj.insert("apiVersion".into(), Value::String(env.api_version));
    obj.insert("kind".into(), Value::String(env.kind));
    obj.extend(super::message(env.raw, &DELETE_OPTIONS, "DeleteOptions")?);
    Ok(Value::Object(obj))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protobuf::tests::{ld, vi};
    use serde_json::json;

    fn wrap(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
        let type_meta = [ld(1, api_version.as_bytes()), ld(2, kind.as_bytes())].concat();
        let mut body = b"k8s\0".to_vec();
        body.extend([ld(1, &type_meta), ld(2, raw), ld(3, b""), ld(4, b"")].concat());
        body
    }

    /// What client-go writes for `helm uninstall`: Background propagation, nothing else.
    fn helm_body() -> Vec<u8> {
        wrap("v1", "DeleteOptions", &ld(4, b"Background"))
    }

    #[test]
    fn reads_every_field() {
        let pre = [ld(1, b"u-1"), ld(2, b"42")].concat();
        let raw = [
            vi(1, (-1i64) as u64),
            ld(2, &pre),
            vi(3, 0),
            ld(4, b"Foreground"),
            ld(5, b"All"),
            vi(6, 1),
        ]
        .concat();
        let v =
            decode_delete_options(&wrap("meta.k8s.io/v1", "DeleteOptions", &raw)).expect("decodes");
        assert_eq!(
            v,
            json!({
                "apiVersion": "meta.k8s.io/v1",
                "kind": "DeleteOptions",
                "gracePeriodSeconds": -1,
                "preconditions": {"uid": "u-1", "resourceVersion": "42"},
                "orphanDependents": false,
                "propagationPolicy": "Foreground",
                "dryRun": ["All"],
                "ignoreStoreReadErrorWithClusterBreakingPotential": true,
            })
        );
    }

    #[test]
    fn helm_body_and_empty_message() {
        let v = decode_delete_options(&helm_body()).expect("decodes");
        assert_eq!(v["propagationPolicy"], "Background");
        assert!(v.get("orphanDependents").is_none());
        let v = decode_delete_options(&wrap("v1", "DeleteOptions", b"")).expect("empty");
        assert_eq!(v, json!({"apiVersion": "v1", "kind": "DeleteOptions"}));
        // Unknown fields are skipped, as Go's decoder does.
        let raw = [vi(99, 7), ld(4, b"Orphan")].concat();
        let v = decode_delete_options(&wrap("v1", "DeleteOptions", &raw)).expect("unknown");
        assert_eq!(v["propagationPolicy"], "Orphan");
    }

    #[test]
    fn other_kinds_encodings_and_garbage_are_errors() {
        let e = decode_delete_options(&wrap("v1", "ConfigMap", b"")).expect_err("kind");
        assert!(e.to_string().contains("Kind=\"ConfigMap\""), "{e}");
        let e = decode_delete_options(b"{\"kind\":\"DeleteOptions\"}").expect_err("json");
        assert!(
            matches!(e, DeleteOptionsError::Wire(ProtobufError::Magic)),
            "{e}"
        );
        let mut gz = b"k8s\0".to_vec();
        gz.extend(ld(3, b"gzip"));
        assert!(decode_delete_options(&gz).is_err());
        // A string field sent as a varint.
        let e = decode_delete_options(&wrap("v1", "DeleteOptions", &vi(4, 1))).expect_err("wt");
        assert!(e.to_string().contains("propagationPolicy"), "{e}");
        // Not UTF-8.
        let bad = wrap("v1", "DeleteOptions", &ld(4, &[0xff, 0xfe]));
        assert!(decode_delete_options(&bad).is_err());
        // Wire type 7 does not exist.
        assert!(decode_delete_options(&wrap("v1", "DeleteOptions", &[0x0f])).is_err());
        // A varint that never ends.
        let long = [&[0x08][..], &[0xff; 11]].concat();
        assert!(decode_delete_options(&wrap("v1", "DeleteOptions", &long)).is_err());
    }

    #[test]
    fn every_truncation_is_an_error_never_a_panic() {
        let pre = [ld(1, b"uid"), ld(2, b"7")].concat();
        let raw = [vi(1, 30), ld(2, &pre), ld(4, b"Background"), ld(5, b"All")].concat();
        let body = wrap("v1", "DeleteOptions", &raw);
        assert!(decode_delete_options(&body).is_ok());
        // Cutting the envelope anywhere past the magic either still parses (a cut on a field
        // boundary) or fails cleanly; cuts inside the magic always fail.
        for n in 0..body.len() {
            let r = decode_delete_options(&body[..n]);
            if n < 4 {
                assert!(r.is_err(), "cut at {n}");
            }
        }
        // Cutting the raw message inside a field is always an error.
        let type_meta = [ld(1, b"v1"), ld(2, b"DeleteOptions")].concat();
        for n in 1..raw.len() {
            let boundary = [0, 2, 2 + 2 + pre.len(), 2 + 2 + pre.len() + 12].contains(&n);
            let mut body = b"k8s\0".to_vec();
            body.extend([ld(1, &type_meta), ld(2, &raw[..n])].concat());
            let r = decode_delete_options(&body);
            assert_eq!(r.is_ok(), boundary, "cut at {n}: {r:?}");
        }
        // Flipping every byte never panics.
        for i in 0..body.len() {
            for b in [0x00, 0x7f, 0x80, 0xff] {
                let mut m = body.clone();
                m[i] = b;
                let _ = decode_delete_options(&m);
            }
        }
    }
}
