//! YAML for fjord.
//!
//! fjord keeps every manifest as a [`Node`] tree, the same shape kustomize's kyaml keeps: a scalar
//! holds the text it was written with and the tag it resolved to, so a transformer can read the
//! original spelling (an annotation written `0x1F` stays `"0x1F"` when kustomize turns it into a
//! string) while the emitter can still print numbers and booleans as kustomize does.
//!
//! - [`parse_documents`] / [`parse_document`]: text to trees, hardened against hostile input
//!   (alias bombs, deep nesting, invalid UTF-8, duplicate keys).
//! - [`emit`] / [`emit_documents`]: trees to the exact bytes `kubectl kustomize` prints.
//! - [`to_json_value`] / [`from_json_value`] / [`emit_json_list`]: JSON views with the same
//!   value semantics.
//!
//! ```
//! use fjord_yaml::{emit, parse_document, Tag};
//!
//! let doc = parse_document(b"kind: ConfigMap\ndata:\n  mode: 0x1F\n  debug: 'true'\n").unwrap();
//! let mode = doc.get_path(&["data", "mode"]).and_then(|n| n.as_scalar()).unwrap();
//! assert_eq!((mode.value.as_str(), mode.tag), ("0x1F", Tag::Int));
//! assert_eq!(doc.str_at(&["data", "debug"]), Some("true"));
//! // Printed as `kubectl kustomize` prints it: keys sorted, the integer in decimal.
//! let text = emit(&doc).unwrap();
//! assert_eq!(text, "data:\n  debug: \"true\"\n  mode: 31\nkind: ConfigMap\n");
//! ```

mod decode;
mod emit;
mod json;
mod node;
mod number;
mod parse;
mod resolve;
mod timestamp;

pub use emit::{emit, emit_documents, EmitError};
pub use json::{emit_json_list, from_json_value, to_json_value, write_json_string};
pub use node::{Map, Node, Scalar};
pub use parse::{parse_document, parse_documents, ParseError};
pub use resolve::{is_yaml_style_float, Tag};
