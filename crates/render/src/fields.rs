//! The typed fields of a kustomization, each parsed once when the file is read.
//!
//! A malformed field is not reported when the file is read but when the build reaches the step
//! that uses it (so the build's order decides which of several problems is reported, and a
//! field only the top kustomization uses, such as `sortOptions`, is never checked below it):
//! a field is kept as [`Parsed`], or as [`Entries`] for a list whose good entries run before
//! the bad one is reported. Entries that name files (patches, `replacements`) are declarations
//! here; the files are read when the level's transformers run.

use crate::generate::{GenerateError, GeneratorArgs, GeneratorKind, GeneratorOptions};
use crate::metadata::BuildMetadata;
use crate::order::SortOrder;
use crate::patch::{EntryError, PatchEntry};
use crate::replacements::{ReplacementEntry, ReplacementError};
use crate::transform::images::ImageSpec;
use crate::transform::labels::{self, LabelSpec};
use crate::transform::replicas::ReplicaSpec;
use crate::transform::TransformError;
use crate::vars::{Var, VarError};
use fjord_yaml::Node;
use indexmap::IndexMap;

/// Why a field of a kustomization is malformed (reported as the step that uses it reports it).
#[derive(Clone, Debug, thiserror::Error)]
pub enum FieldError {
    /// The field has the wrong shape.
    #[error("{file}: field '{field}': {problem}")]
    Shape {
        /// The kustomization file.
        file: String,
        /// The field.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// A transformer option (`labels`, `commonLabels`, `commonAnnotations`) is malformed.
    #[error("{file}")]
    Transform {
        /// The kustomization file.
        file: String,
        /// What is wrong.
        #[source]
        source: TransformError,
    },
    /// A generator field is malformed.
    #[error("{file}")]
    Generate {
        /// The kustomization file.
        file: String,
        /// What is wrong.
        #[source]
        source: GenerateError,
    },
    /// A patch entry is malformed.
    #[error("{file}")]
    Patch {
        /// The kustomization file.
        file: String,
        /// What is wrong.
        #[source]
        source: EntryError,
    },
    /// A `replacements:` entry is malformed.
    #[error("{file}")]
    Replacement {
        /// The kustomization file.
        file: String,
        /// What is wrong.
        #[source]
        source: ReplacementError,
    },
    /// A `vars:` entry is malformed.
    #[error("{file}")]
    Vars {
        /// The kustomization file.
        file: String,
        /// What is wrong.
        #[source]
        source: VarError,
    },
}

/// A field's typed value, or why it is malformed.
pub type Parsed<T> = Result<T, FieldError>;

/// A list field's entries up to the first malformed one, and that entry's problem.
#[derive(Clone, Debug)]
pub struct Entries<T> {
    /// The good entries before the first bad one.
    pub items: Vec<T>,
    /// The problem of the first bad entry (or of the field as a whole).
    pub error: Option<FieldError>,
}

impl<T> Default for Entries<T> {
    fn default() -> Self {
        Entries {
            items: Vec::new(),
            error: None,
        }
    }
}

impl<T> Entries<T> {
    /// Reads the entries of `list` with `parse` (given the index and the entry), stopping at
    /// the first error.
    fn parse<'n>(
        list: impl IntoIterator<Item = &'n Node>,
        mut parse: impl FnMut(usize, &Node) -> Parsed<T>,
    ) -> Entries<T> {
        let mut out = Entries::default();
        for (i, entry) in list.into_iter().enumerate() {
            match parse(i, entry) {
                Ok(item) => out.items.push(item),
                Err(e) => {
                    out.error = Some(e);
                    break;
                }
            }
        }
        out
    }

    /// What to report once the good entries have run: the bad entry's problem, if any.
    pub fn after_items(&self) -> Result<(), FieldError> {
        self.error.clone().map_or(Ok(()), Err)
    }

    /// Only the problem: the field as a whole is malformed.
    fn failed(error: FieldError) -> Entries<T> {
        Entries {
            items: Vec::new(),
            error: Some(error),
        }
    }
}

/// The typed fields of one kustomization file, besides the files, names and namespace kept on
/// [`Kustomization`](crate::kustomization::Kustomization).
#[derive(Clone, Debug)]
pub struct Fields {
    /// `openapi.path`: an OpenAPI document extending the merge schema.
    pub openapi_path: Option<String>,
    /// `sortOptions` (read at the top only).
    pub sort_options: Parsed<Option<SortOrder>>,
    /// `buildMetadata` (read at the top only).
    pub build_metadata: Parsed<Option<BuildMetadata>>,
    /// `generatorOptions`.
    pub generator_options: Parsed<Option<GeneratorOptions>>,
    /// `configMapGenerator`.
    pub config_map_generator: Entries<GeneratorArgs>,
    /// `secretGenerator`.
    pub secret_generator: Entries<GeneratorArgs>,
    /// `generators:` entries (paths or inline YAML).
    pub generators: Entries<String>,
    /// `transformers:` entries (paths or inline YAML).
    pub transformers: Entries<String>,
    /// `labels:` entries followed by `commonLabels`.
    pub labels: Parsed<Vec<LabelSpec>>,
    /// `commonAnnotations` (empty when absent).
    pub common_annotations: Parsed<IndexMap<String, String>>,
    /// `replicas`.
    pub replicas: Parsed<Vec<ReplicaSpec>>,
    /// `images`.
    pub images: Parsed<Vec<ImageSpec>>,
    /// `imageTags` (the deprecated spelling of `images`).
    pub image_tags: Parsed<Vec<ImageSpec>>,
    /// `patchesStrategicMerge` (files are read when the level's transformers run).
    pub patches_strategic_merge: Entries<PatchEntry>,
    /// `patches`.
    pub patches: Entries<PatchEntry>,
    /// `patchesJson6902`.
    pub patches_json6902: Entries<PatchEntry>,
    /// `replacements` (entries naming a file are read when the transformer runs).
    pub replacements: Entries<ReplacementEntry>,
    /// `vars`.
    pub vars: Parsed<Vec<Var>>,
    /// The first helm field present (`helmCharts`, `helmGlobals`,
    /// `helmChartInflationGenerator`), which fjord refuses.
    pub helm: Option<&'static str>,
    /// Whether `validators` is set (fjord refuses it).
    pub validators: bool,
}

/// Reads one file's fields.
struct Reader<'d> {
    doc: &'d Node,
    file: &'d str,
}

impl Fields {
    /// Parses the fields of the kustomization `doc` (read from `file`, as shown in messages).
    pub fn parse(doc: &Node, file: &str) -> Fields {
        let r = Reader { doc, file };
        Fields {
            openapi_path: r
                .field("openapi")
                .and_then(|n| n.str_at(&["path"]))
                .map(str::to_string),
            sort_options: r.shaped("sortOptions", SortOrder::parse),
            build_metadata: r.shaped("buildMetadata", BuildMetadata::parse),
            generator_options: r
                .field("generatorOptions")
                .map(GeneratorOptions::parse)
                .transpose()
                .map_err(|e| r.generate(e)),
            config_map_generator: r.generator(GeneratorKind::ConfigMap),
            secret_generator: r.generator(GeneratorKind::Secret),
            generators: r.plugin_entries("generators"),
            transformers: r.plugin_entries("transformers"),
            labels: r.labels(),
            common_annotations: r
                .field("commonAnnotations")
                .map(|n| labels::string_map(n, "commonAnnotations"))
                .transpose()
                .map(Option::unwrap_or_default)
                .map_err(|e| r.transform(e)),
            replicas: r.list_of("replicas", ReplicaSpec::parse),
            images: r.list_of("images", ImageSpec::parse),
            image_tags: r.list_of("imageTags", ImageSpec::parse),
            patches_strategic_merge: r
                .patches("patchesStrategicMerge", PatchEntry::parse_strategic_merge),
            patches: r.patches("patches", PatchEntry::parse),
            patches_json6902: r.patches("patchesJson6902", PatchEntry::parse_json6902),
            replacements: r.replacements(),
            vars: r
                .field("vars")
                .map(crate::vars::parse_list)
                .transpose()
                .map(Option::unwrap_or_default)
                .map_err(|source| FieldError::Vars {
                    file: file.to_string(),
                    source,
                }),
            helm: ["helmCharts", "helmGlobals", "helmChartInflationGenerator"]
                .into_iter()
                .find(|f| r.field(f).is_some()),
            validators: r.field("validators").is_some(),
        }
    }
}

impl Reader<'_> {
    /// The raw value of a field, if present and not null.
    fn field(&self, name: &str) -> Option<&Node> {
        self.doc.get(name).filter(|n| !n.is_null())
    }

    fn shape(&self, field: &str, problem: &str) -> FieldError {
        FieldError::Shape {
            file: self.file.to_string(),
            field: field.to_string(),
            problem: problem.to_string(),
        }
    }

    fn transform(&self, source: TransformError) -> FieldError {
        FieldError::Transform {
            file: self.file.to_string(),
            source,
        }
    }

    fn generate(&self, source: GenerateError) -> FieldError {
        FieldError::Generate {
            file: self.file.to_string(),
            source,
        }
    }

    /// An optional field whose parser names its problem as text.
    fn shaped<T>(&self, field: &str, parse: fn(&Node) -> Result<T, String>) -> Parsed<Option<T>> {
        self.field(field)
            .map(|n| parse(n).map_err(|problem| self.shape(field, &problem)))
            .transpose()
    }

    /// The entries of a list field (empty when absent), `must be a list` otherwise.
    fn list(&self, field: &str) -> Parsed<&[Node]> {
        match self.field(field) {
            None => Ok(&[]),
            Some(list) => list
                .as_seq()
                .map(Vec::as_slice)
                .ok_or_else(|| self.shape(field, "must be a list")),
        }
    }

    /// A list field whose entries' problems are reported as the field's.
    fn list_of<T, E: ToString>(
        &self,
        field: &str,
        parse: fn(&Node) -> Result<T, E>,
    ) -> Parsed<Vec<T>> {
        self.list(field)?
            .iter()
            .map(|e| parse(e).map_err(|e| self.shape(field, &e.to_string())))
            .collect()
    }

    /// `configMapGenerator` or `secretGenerator`.
    fn generator(&self, kind: GeneratorKind) -> Entries<GeneratorArgs> {
        match self.list(kind.kustomization_field()) {
            Err(e) => Entries::failed(e),
            Ok(list) => Entries::parse(list, |_, entry| {
                GeneratorArgs::parse(entry, kind).map_err(|e| self.generate(e))
            }),
        }
    }

    /// `generators:` or `transformers:`: a list of strings.
    fn plugin_entries(&self, field: &str) -> Entries<String> {
        let Some(list) = self.field(field) else {
            return Entries::default();
        };
        let Some(list) = list.as_seq() else {
            return Entries::failed(
                self.shape(field, "must be a list of file paths or inline YAML"),
            );
        };
        Entries::parse(list, |i, entry| {
            entry
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| self.shape(field, &format!("entry {i} must be a string")))
        })
    }

    /// A patch field; kustomize ignores one that is not a list.
    fn patches(
        &self,
        field: &str,
        parse: fn(&Node) -> Result<PatchEntry, EntryError>,
    ) -> Entries<PatchEntry> {
        let list = self.doc.get(field).and_then(Node::as_seq);
        Entries::parse(list.into_iter().flatten(), |_, entry| {
            parse(entry).map_err(|source| FieldError::Patch {
                file: self.file.to_string(),
                source,
            })
        })
    }

    /// `replacements`: inline replacements or files to read.
    fn replacements(&self) -> Entries<ReplacementEntry> {
        let err = |source| FieldError::Replacement {
            file: self.file.to_string(),
            source,
        };
        let Some(list) = self.field("replacements") else {
            return Entries::default();
        };
        match crate::replacements::entry_nodes(list) {
            Err(e) => Entries::failed(err(e)),
            Ok(items) => {
                Entries::parse(items, |_, item| ReplacementEntry::parse(item).map_err(err))
            }
        }
    }

    /// `labels:` entries, then `commonLabels` as one more.
    fn labels(&self) -> Parsed<Vec<LabelSpec>> {
        let mut specs = Vec::new();
        for (i, e) in self.list("labels")?.iter().enumerate() {
            specs
                .push(LabelSpec::parse(e, &format!("labels[{i}]")).map_err(|e| self.transform(e))?);
        }
        if let Some(common) = self.field("commonLabels") {
            specs.push(LabelSpec::common(
                labels::string_map(common, "commonLabels").map_err(|e| self.transform(e))?,
            ));
        }
        Ok(specs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Fields {
        Fields::parse(
            &fjord_yaml::parse_document(yaml.as_bytes()).unwrap(),
            "k.yaml",
        )
    }

    #[test]
    fn list_entries_keep_the_good_ones_before_the_bad_one() {
        let f = parse("generators: [a.yaml, b.yaml, {x: 1}, c.yaml]\n");
        assert_eq!(f.generators.items, ["a.yaml", "b.yaml"]);
        assert_eq!(
            f.generators.after_items().unwrap_err().to_string(),
            "k.yaml: field 'generators': entry 2 must be a string"
        );
        let f = parse("transformers: 3\n");
        assert!(f.transformers.items.is_empty());
        assert!(f.transformers.after_items().is_err());
    }

    #[test]
    fn malformed_fields_are_kept_for_the_step_that_reads_them() {
        let f = parse("sortOptions: {order: random}\nimages: 4\ncommonLabels: {a: b}\n");
        assert!(f.sort_options.unwrap_err().to_string().contains("random"));
        assert_eq!(
            f.images.unwrap_err().to_string(),
            "k.yaml: field 'images': must be a list"
        );
        assert_eq!(f.labels.unwrap().len(), 1);
        assert!(f.vars.unwrap().is_empty());
        assert_eq!(f.helm, None);
    }
}
