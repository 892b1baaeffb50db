//! JSON request bodies: at most [`MAX_BODY`] bytes, decoded into a typed value; a malformed,
//! oversized or mistyped body is a 400 whose message says what was wrong (and where); and
//! [`json`], the one way a handler answers with JSON.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::ApiError;
use crate::state::AppState;

/// The largest request body accepted (1 MiB).
pub const MAX_BODY: usize = 1 << 20;

/// A JSON body decoded into `T` (an empty body decodes as `{}`).
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<JsonBody<T>, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            ApiError::bad_request(format!(
                "request body: {} (at most {MAX_BODY} bytes)",
                e.body_text()
            ))
        })?;
        if bytes.len() > MAX_BODY {
            return Err(ApiError::bad_request(format!(
                "request body is {} bytes; the limit is {MAX_BODY}",
                bytes.len()
            )));
        }
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request(format!("request body is not valid: {e}")))
    }
}

/// A JSON response with this status.
pub fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("encoding the response: {e}"),
        )
            .into_response(),
    }
}
