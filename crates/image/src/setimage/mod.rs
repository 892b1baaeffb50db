//! `kustomize edit set image`, byte for byte (kustomize v5.5.0).
//!
//! kustomize reads the kustomization into its typed struct (strict: unknown fields are
//! errors; YAML 1.1 typing, so `namespace: 123` is an error), applies its deprecated-field
//! migrations, replaces or adds `images:` entries, and writes the file back field by field:
//! fields in their original order with the comment lines above them, new fields in canonical
//! order after them, every value re-printed through a JSON round trip (map keys sorted,
//! `omitempty`, lists not indented, ambiguous strings quoted). [`set_image`] computes that
//! text; [`find_kustomization`] finds the file as kustomize does.
//!
//! ```
//! use fjord_image::setimage::{set_image, SetImageArg};
//!
//! let args = [SetImageArg::parse("nginx:1.25").unwrap()];
//! let out = set_image("resources:\n  - app.yaml # the app\n", &args).unwrap();
//! assert_eq!(
//!     out,
//!     "resources:\n- app.yaml\napiVersion: kustomize.config.k8s.io/v1beta1\n\
//!      kind: Kustomization\nimages:\n- name: nginx\n  newTag: \"1.25\"\n"
//! );
//! ```

mod arg;
mod decode;
mod fix;
mod kustfile;
mod schema;
mod yaml11;

use std::path::{Path, PathBuf};

use serde_json::Value;
use thiserror::Error;

pub use arg::{split_reference, SetImageArg, KEEP};

/// The file names kustomize recognises, in the order it checks them.
pub const KUSTOMIZATION_FILE_NAMES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Why `set image` failed. The messages are kustomize's.
#[derive(Debug, Error)]
pub enum SetImageError {
    /// No argument was given.
    #[error("no image specified")]
    NoArgs,
    /// An argument has none of the accepted forms.
    #[error(
        "invalid format of image, use one of the following options:\n\
         - <image>=<newimage>:<newtag>\n\
         - <image>=<newimage>@<digest>\n\
         - <image>=<newimage>:<newtag>@<digest>\n\
         - <image>=<newimage>\n\
         - <image>:<newtag>\n\
         - <image>:<newtag>@<digest>\n\
         - <image>@<digest>"
    )]
    InvalidArg {
        /// The argument.
        arg: String,
    },
    /// The directory has none of the kustomization file names.
    #[error("Missing kustomization file 'kustomization.yaml'.")]
    MissingFile {
        /// The directory searched.
        dir: PathBuf,
    },
    /// The directory has more than one of them.
    #[error("Found multiple kustomization file: [{}]", names.join(" "))]
    MultipleFiles {
        /// The directory searched.
        dir: PathBuf,
        /// The names found.
        names: Vec<String>,
    },
    /// The kustomization name is a directory.
    #[error("{name} should be a file")]
    NotAFile {
        /// The name found.
        name: String,
    },
    /// Looking at the directory failed.
    #[error("reading {}", path.display())]
    Io {
        /// The path looked at.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid kustomization (YAML syntax, unknown field, wrong type).
    #[error("invalid Kustomization: {message}")]
    Invalid {
        /// kustomize's message after the prefix, e.g. `json: unknown field "foo"`.
        message: String,
    },
    /// A field could not be printed back.
    #[error("writing field {field} of the kustomization")]
    Write {
        /// The field's JSON name.
        field: String,
        /// The cause.
        #[source]
        source: fjord_yaml::EmitError,
    },
}

/// The kustomization file in `dir` (`kustomization.yaml`, `kustomization.yml` or
/// `Kustomization`), with kustomize's errors when there is none, more than one, or a directory
/// of that name.
pub fn find_kustomization(dir: &Path) -> Result<PathBuf, SetImageError> {
    let mut found = Vec::new();
    for name in KUSTOMIZATION_FILE_NAMES {
        let path = dir.join(name);
        match path.symlink_metadata() {
            Ok(_) => found.push(name),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(SetImageError::Io { path, source }),
        }
    }
    let name = match found.as_slice() {
        [] => {
            return Err(SetImageError::MissingFile {
                dir: dir.to_path_buf(),
            })
        }
        [one] => *one,
        many => {
            return Err(SetImageError::MultipleFiles {
                dir: dir.to_path_buf(),
                names: many.iter().map(|s| s.to_string()).collect(),
            })
        }
    };
    let path = dir.join(name);
    if path.is_dir() {
        return Err(SetImageError::NotAFile {
            name: name.to_string(),
        });
    }
    Ok(path)
}

/// Parses every argument (the first bad one fails; none at all is [`SetImageError::NoArgs`]).
pub fn parse_args<S: AsRef<str>>(args: &[S]) -> Result<Vec<SetImageArg>, SetImageError> {
    if args.is_empty() {
        return Err(SetImageError::NoArgs);
    }
    args.iter()
        .map(|a| SetImageArg::parse(a.as_ref()))
        .collect()
}

/// The new text of a kustomization after `kustomize edit set image ARGS` (v5.5.0 bytes). The
/// file is always rewritten by kustomize, so the result may differ from the input even when
/// no image changed.
pub fn set_image(kustomization_text: &str, args: &[SetImageArg]) -> Result<String, SetImageError> {
    if args.is_empty() {
        return Err(SetImageError::NoArgs);
    }
    let root = yaml11::read_first_document(kustomization_text)
        .map_err(|message| SetImageError::Invalid { message })?;
    let mut k = match decode::decode_kustomization(&root, schema::kustomization()) {
        Ok(Value::Object(k)) => k,
        Ok(_) => serde_json::Map::new(),
        Err(message) => return Err(SetImageError::Invalid { message }),
    };
    fix::fix_kustomization(&mut k);
    let images = fix::merge_images(k.get("images"), args);
    k.insert("images".into(), images);
    let original = kustfile::commented_fields(kustomization_text);
    kustfile::write(&k, &original).map_err(|(field, source)| SetImageError::Write { field, source })
}
