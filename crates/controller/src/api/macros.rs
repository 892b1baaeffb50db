//! The `api_object!` macro: every API struct is a set of optional, camelCase fields plus an
//! `extra` map that keeps unknown fields, so a parse/serialise round trip loses nothing.

/// Declares an API struct whose fields are all `Option<T>` (absent ≠ empty) and whose
/// unknown fields are preserved in `extra`.
macro_rules! api_object {
    ($(#[$m:meta])* pub struct $name:ident { $( $(#[$fm:meta])* $field:ident : $ty:ty ),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            $(
                $(#[$fm])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
            /// Fields fjord does not model, kept verbatim for lossless round trips.
            #[serde(flatten)]
            pub extra: serde_json::Map<String, serde_json::Value>,
        }
    };
}

pub(crate) use api_object;
