//! The kustomization file: found, read, checked field by field, and kept typed.
//!
//! Every field is typed once, when the file is read: the files and names here, the rest in
//! [`Fields`] (whose problems are reported when the build reaches the field, and whose entries
//! naming files — patches, `replacements` — are read then).

use crate::fields::Fields;
use crate::loader::{LoadError, Loader};
use fjord_yaml::Node;
use std::path::{Path, PathBuf};

/// The file names kustomize looks for, in its order of preference.
pub const FILE_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Every top-level field of a kustomize v5.5 Kustomization or Component.
const KNOWN_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "openapi",
    "namePrefix",
    "nameSuffix",
    "namespace",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "patchesStrategicMerge",
    "patchesJson6902",
    "patches",
    "images",
    "imageTags",
    "replacements",
    "replicas",
    "vars",
    "sortOptions",
    "resources",
    "components",
    "crds",
    "bases",
    "configMapGenerator",
    "secretGenerator",
    "helmGlobals",
    "helmCharts",
    "helmChartInflationGenerator",
    "generatorOptions",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "buildMetadata",
];

/// Whether a file is a Kustomization or a Component.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KustKind {
    /// `kind: Kustomization` (or no kind).
    Kustomization,
    /// `kind: Component`.
    Component,
}

/// Why a kustomization file is not usable.
#[derive(Debug, thiserror::Error)]
pub enum KustomizationError {
    /// No kustomization file in the directory.
    #[error(
        "no kustomization file (kustomization.yaml, kustomization.yml or Kustomization) in '{dir}'"
    )]
    NotFound {
        /// The directory searched.
        dir: String,
    },
    /// More than one kustomization file in the directory.
    #[error("found multiple kustomization files in '{dir}': {names}")]
    Ambiguous {
        /// The directory.
        dir: String,
        /// The file names found.
        names: String,
    },
    /// The file could not be read.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The file is not valid YAML.
    #[error("{file}")]
    Parse {
        /// The file.
        file: String,
        /// The parse error.
        #[source]
        source: fjord_yaml::ParseError,
    },
    /// The file is empty.
    #[error("{file}: kustomization file is empty")]
    Empty {
        /// The file.
        file: String,
    },
    /// The file holds something other than a mapping.
    #[error("{file}: a kustomization must be a YAML mapping")]
    NotAMap {
        /// The file.
        file: String,
    },
    /// A top-level field kustomize does not know.
    #[error("{file}: unknown field \"{field}\" in the kustomization")]
    UnknownField {
        /// The file.
        file: String,
        /// The field.
        field: String,
    },
    /// A field has the wrong shape.
    #[error("{file}: field '{field}': {problem}")]
    BadField {
        /// The file.
        file: String,
        /// The field (dotted path).
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// `apiVersion`/`kind` are not a kustomization's.
    #[error("{file}: {problem}")]
    BadKind {
        /// The file.
        file: String,
        /// What is wrong.
        problem: String,
    },
}

/// A parsed kustomization file.
#[derive(Clone, Debug)]
pub struct Kustomization {
    /// The file it was read from (for messages).
    pub file: PathBuf,
    /// Kustomization or Component.
    pub kind: KustKind,
    /// `resources` followed by the deprecated `bases`.
    pub resources: Vec<String>,
    /// `components`.
    pub components: Vec<String>,
    /// `crds`.
    pub crds: Vec<String>,
    /// `configurations`.
    pub configurations: Vec<String>,
    /// `namePrefix`.
    pub name_prefix: String,
    /// `nameSuffix`.
    pub name_suffix: String,
    /// `namespace`.
    pub namespace: String,
    /// Every other field (`metadata` aside, which the build does not read).
    pub fields: Fields,
}

/// Finds the kustomization file in `dir`, if there is one. Two candidates is an error, as in
/// kustomize.
pub fn find(dir: &Path) -> Result<Option<&'static str>, KustomizationError> {
    let found: Vec<&'static str> = FILE_NAMES
        .iter()
        .copied()
        .filter(|n| dir.join(n).is_file())
        .collect();
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        many => Err(KustomizationError::Ambiguous {
            dir: dir.display().to_string(),
            names: many.join(", "),
        }),
    }
}

impl Kustomization {
    /// Reads and checks the kustomization in the loader's root directory.
    pub fn load(loader: &Loader) -> Result<Kustomization, KustomizationError> {
        Kustomization::load_with(loader, None)
    }

    /// Like [`Kustomization::load`], with `replacement` read in place of the file's bytes (the
    /// file must still exist): what a `kustomize edit` command made of it.
    pub fn load_with(
        loader: &Loader,
        replacement: Option<&[u8]>,
    ) -> Result<Kustomization, KustomizationError> {
        let dir = loader.root();
        let name = find(dir)?.ok_or_else(|| KustomizationError::NotFound {
            dir: dir.display().to_string(),
        })?;
        let file = dir.join(name);
        let bytes = match replacement {
            Some(b) => b.to_vec(),
            None => loader.read(name)?,
        };
        let shown = file.display().to_string();
        let docs =
            fjord_yaml::parse_documents(&bytes).map_err(|source| KustomizationError::Parse {
                file: shown.clone(),
                source,
            })?;
        if docs.is_empty() {
            return Err(KustomizationError::Empty { file: shown });
        }
        if docs.len() > 1 {
            return Err(KustomizationError::BadField {
                file: shown,
                field: "---".into(),
                problem: "a kustomization file must hold exactly one document".into(),
            });
        }
        Kustomization::from_doc(file, &docs[0])
    }

    /// Checks a parsed document.
    pub fn from_doc(file: PathBuf, doc: &Node) -> Result<Kustomization, KustomizationError> {
        let shown = file.display().to_string();
        let map = match doc {
            Node::Map(m) => m,
            n if n.is_null() => return Err(KustomizationError::Empty { file: shown }),
            _ => return Err(KustomizationError::NotAMap { file: shown }),
        };
        if let Some(field) = map.keys().find(|k| !KNOWN_FIELDS.contains(&k.as_str())) {
            return Err(KustomizationError::UnknownField {
                file: shown,
                field: field.clone(),
            });
        }
        let kind = match doc.str_at(&["kind"]).unwrap_or("Kustomization") {
            "Kustomization" => KustKind::Kustomization,
            "Component" => KustKind::Component,
            other => {
                return Err(KustomizationError::BadKind {
                    file: shown,
                    problem: format!("kind '{other}' is neither Kustomization nor Component"),
                })
            }
        };
        if let Some(api) = doc.str_at(&["apiVersion"]) {
            let ok = match kind {
                KustKind::Kustomization => api == "kustomize.config.k8s.io/v1beta1",
                KustKind::Component => api == "kustomize.config.k8s.io/v1alpha1",
            };
            if !ok {
                let want = match kind {
                    KustKind::Kustomization => "kustomize.config.k8s.io/v1beta1",
                    KustKind::Component => "kustomize.config.k8s.io/v1alpha1",
                };
                return Err(KustomizationError::BadKind {
                    file: shown,
                    problem: format!("apiVersion for {kind:?} should be {want}, not '{api}'"),
                });
            }
        }
        let list = |field: &str| string_list(doc, field, &shown);
        let mut resources = list("resources")?;
        resources.extend(list("bases")?);
        let scalar = |field: &str| string_field(doc, field, &shown);
        Ok(Kustomization {
            kind,
            resources,
            components: list("components")?,
            crds: list("crds")?,
            configurations: list("configurations")?,
            name_prefix: scalar("namePrefix")?,
            name_suffix: scalar("nameSuffix")?,
            namespace: scalar("namespace")?,
            fields: Fields::parse(doc, &shown),
            file,
        })
    }

    /// The file path as shown in messages.
    pub fn shown(&self) -> String {
        self.file.display().to_string()
    }
}

/// Reads a field that must be a list of strings (absent or null → empty).
fn string_list(doc: &Node, field: &str, file: &str) -> Result<Vec<String>, KustomizationError> {
    let bad = |problem: String| KustomizationError::BadField {
        file: file.to_string(),
        field: field.to_string(),
        problem,
    };
    match doc.get(field) {
        None => Ok(Vec::new()),
        Some(n) if n.is_null() => Ok(Vec::new()),
        Some(Node::Seq(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| bad(format!("entry {i} must be a string")))
            })
            .collect(),
        Some(_) => Err(bad("must be a list of strings".into())),
    }
}

/// Reads a field that must be a string (absent or null → empty).
fn string_field(doc: &Node, field: &str, file: &str) -> Result<String, KustomizationError> {
    match doc.get(field) {
        None => Ok(String::new()),
        Some(n) if n.is_null() => Ok(String::new()),
        Some(Node::Scalar(s)) => Ok(s.value.clone()),
        Some(_) => Err(KustomizationError::BadField {
            file: file.to_string(),
            field: field.to_string(),
            problem: "must be a string".into(),
        }),
    }
}
