//! Custom schemas: swagger 2.0 `definitions` (kustomize's `openapi:` field) and a CRD's
//! `openAPIV3Schema`.

use super::{FieldInfo, ListType, PatchStrategy, Schema, TypeId};
use fjord_model::Gvk;
use fjord_yaml::Node;

/// Why a custom schema could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenApiError {
    /// The swagger document has no `definitions` mapping.
    #[error("openapi schema has no `definitions` mapping")]
    NoDefinitions,
    /// A `$ref` is not of the form `#/definitions/NAME`.
    #[error("definition {definition}: unsupported $ref {reference:?}")]
    BadRef {
        /// The definition holding the reference.
        definition: String,
        /// The reference.
        reference: String,
    },
    /// A `$ref` names a definition that does not exist.
    #[error("definition {definition}: $ref to missing definition {target:?}")]
    MissingRef {
        /// The definition holding the reference.
        definition: String,
        /// The missing definition.
        target: String,
    },
    /// An extension has a value of the wrong shape.
    #[error("{at}: bad {extension}")]
    BadExtension {
        /// Where: definition and property.
        at: String,
        /// The extension's name.
        extension: &'static str,
    },
    /// The object is not a CustomResourceDefinition with `spec.group` and `spec.names.kind`.
    #[error("not a CustomResourceDefinition: missing {field}")]
    NotACrd {
        /// The missing field.
        field: &'static str,
    },
}

/// Adds swagger 2.0 definitions to `schema`.
pub(super) fn extend_from_swagger(schema: &mut Schema, doc: &Node) -> Result<(), OpenApiError> {
    let defs = doc
        .get("definitions")
        .and_then(Node::as_map)
        .ok_or(OpenApiError::NoDefinitions)?;
    // First pass: every definition gets a type, so references resolve in any order.
    for name in defs.keys() {
        let id = schema.intern(name);
        *schema.def_mut(id) = super::TypeDef {
            name: name.clone(),
            ..Default::default()
        };
    }
    for (name, def) in defs {
        let id = schema.intern(name);
        let mut ctx = Ctx {
            schema: &mut *schema,
            definition: name,
            swagger: Some(defs),
        };
        ctx.fill_type(id, def)?;
        if let Some(gvks) = def
            .get("x-kubernetes-group-version-kind")
            .and_then(Node::as_seq)
        {
            for g in gvks {
                let gvk = Gvk::new(
                    g.str_at(&["group"]).unwrap_or_default(),
                    g.str_at(&["version"]).unwrap_or_default(),
                    g.str_at(&["kind"]).unwrap_or_default(),
                );
                schema.set_root(gvk, id, 0);
            }
        }
    }
    Ok(())
}

/// Adds the kinds of a CRD to `schema`.
pub(super) fn extend_from_crd(schema: &mut Schema, crd: &Node) -> Result<(), OpenApiError> {
    let group = crd
        .str_at(&["spec", "group"])
        .ok_or(OpenApiError::NotACrd {
            field: "spec.group",
        })?;
    let kind = crd
        .str_at(&["spec", "names", "kind"])
        .ok_or(OpenApiError::NotACrd {
            field: "spec.names.kind",
        })?;
    let versions = crd.get_path(&["spec", "versions"]).and_then(Node::as_seq);
    for v in versions.into_iter().flatten() {
        let Some(version) = v.str_at(&["name"]) else {
            continue;
        };
        let name = format!("{group}/{version}/{kind}");
        let id = schema.intern(&name);
        *schema.def_mut(id) = super::TypeDef {
            name: name.clone(),
            ..Default::default()
        };
        if let Some(s) = v.get_path(&["schema", "openAPIV3Schema"]) {
            let mut ctx = Ctx {
                schema: &mut *schema,
                definition: &name,
                swagger: None,
            };
            ctx.fill_type(id, s)?;
        }
        // Every custom resource has standard object metadata.
        if let Some(meta) = schema.type_named("ObjectMeta") {
            let info = FieldInfo {
                ty: Some(meta),
                ..FieldInfo::default()
            };
            schema.def_mut(id).fields.insert("metadata".into(), info);
        }
        schema.set_root(Gvk::new(group, version, kind), id, 0);
    }
    Ok(())
}

/// The state of one definition's conversion.
struct Ctx<'a> {
    schema: &'a mut Schema,
    definition: &'a str,
    /// The swagger `definitions` (`None` for a CRD, where `$ref` is not allowed).
    swagger: Option<&'a fjord_yaml::Map>,
}

impl Ctx<'_> {
    /// Fills type `id` from an object schema (`properties`, `additionalProperties`,
    /// `x-kubernetes-map-type`).
    fn fill_type(&mut self, id: TypeId, s: &Node) -> Result<(), OpenApiError> {
        if s.str_at(&["x-kubernetes-map-type"]) == Some("atomic") {
            self.schema.def_mut(id).atomic = true;
        }
        if let Some(props) = s.get("properties").and_then(Node::as_map) {
            for (pname, p) in props {
                let info = self.field(p, pname)?;
                self.schema.def_mut(id).fields.insert(pname.clone(), info);
            }
        }
        if let Some(ap) = s
            .get("additionalProperties")
            .filter(|n| n.as_map().is_some())
        {
            let info = self.field(ap, "additionalProperties")?;
            self.schema.def_mut(id).additional = Some(info);
        }
        Ok(())
    }

    /// Converts one property schema.
    fn field(&mut self, p: &Node, pname: &str) -> Result<FieldInfo, OpenApiError> {
        let at = || format!("{}.{pname}", self.definition);
        let mut info = FieldInfo::default();
        if let Some(strategy) = p.str_at(&["x-kubernetes-patch-strategy"]) {
            info.smp.strategy =
                PatchStrategy::parse(strategy).ok_or(OpenApiError::BadExtension {
                    at: at(),
                    extension: "x-kubernetes-patch-strategy",
                })?;
        }
        info.smp.merge_key = p
            .str_at(&["x-kubernetes-patch-merge-key"])
            .map(str::to_string);
        info.map_atomic = p.str_at(&["x-kubernetes-map-type"]) == Some("atomic");
        let is_array = p.str_at(&["type"]) == Some("array") || p.get("items").is_some();
        if is_array {
            info.is_list = true;
            info.list = list_type(p).ok_or(OpenApiError::BadExtension {
                at: at(),
                extension: "x-kubernetes-list-type",
            })?;
            if let Some(items) = p.get("items") {
                info.ty = self.value_type(items, pname)?;
            }
        } else {
            info.ty = self.value_type(p, pname)?;
            // The map type of an object schema belongs to its (anonymous) type too.
            if info.map_atomic {
                if let Some(t) = info.ty {
                    self.schema.def_mut(t).atomic = true;
                }
            }
        }
        Ok(info)
    }

    /// The struct type a schema describes, or `None` for a scalar or free-form value.
    fn value_type(&mut self, s: &Node, pname: &str) -> Result<Option<TypeId>, OpenApiError> {
        let reference = s.str_at(&["$ref"]).or_else(|| {
            let all = s.get("allOf")?.as_seq()?;
            all.iter().find_map(|n| n.str_at(&["$ref"]))
        });
        if let Some(r) = reference {
            let bad = || OpenApiError::BadRef {
                definition: self.definition.into(),
                reference: r.into(),
            };
            let target = r.strip_prefix("#/definitions/").ok_or_else(bad)?;
            let defs = self.swagger.ok_or_else(bad)?;
            if !defs.contains_key(target) {
                return Err(OpenApiError::MissingRef {
                    definition: self.definition.into(),
                    target: target.into(),
                });
            }
            return Ok(Some(self.schema.intern(target)));
        }
        let has_props = s.get("properties").and_then(Node::as_map).is_some();
        let has_additional = s
            .get("additionalProperties")
            .and_then(Node::as_map)
            .is_some();
        if !has_props && !has_additional {
            return Ok(None);
        }
        let id = self
            .schema
            .anonymous(&format!("{}.{pname}", self.definition));
        self.fill_type(id, s)?;
        Ok(Some(id))
    }
}

/// The SSA list type of an array schema; `None` if the extensions are malformed.
fn list_type(p: &Node) -> Option<ListType> {
    match p.str_at(&["x-kubernetes-list-type"]) {
        None | Some("atomic") => Some(ListType::Atomic),
        Some("set") => Some(ListType::Set),
        Some("map") => {
            let keys: Vec<String> = p
                .get("x-kubernetes-list-map-keys")?
                .as_seq()?
                .iter()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect();
            if keys.is_empty() {
                return None;
            }
            let defaults = keys
                .iter()
                .filter_map(|k| {
                    let d = p
                        .get_path(&["items", "properties", k, "default"])?
                        .as_str()?;
                    Some((k.clone(), d.to_string()))
                })
                .collect();
            Some(ListType::Map { keys, defaults })
        }
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fjord_yaml::Map;

    fn s(v: &str) -> Node {
        Node::string(v)
    }
    fn map(pairs: Vec<(&str, Node)>) -> Node {
        Node::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect::<Map>(),
        )
    }

    fn swagger() -> Node {
        let item = map(vec![(
            "properties",
            map(vec![("name", map(vec![("type", s("string"))]))]),
        )]);
        let spec = map(vec![(
            "properties",
            map(vec![(
                "items",
                map(vec![
                    ("type", s("array")),
                    (
                        "items",
                        map(vec![("$ref", s("#/definitions/com.example.Item"))]),
                    ),
                    ("x-kubernetes-patch-strategy", s("merge")),
                    ("x-kubernetes-patch-merge-key", s("name")),
                    ("x-kubernetes-list-type", s("map")),
                    ("x-kubernetes-list-map-keys", Node::Seq(vec![s("name")])),
                ]),
            )]),
        )]);
        let foo = map(vec![
            (
                "x-kubernetes-group-version-kind",
                Node::Seq(vec![map(vec![
                    ("group", s("example.com")),
                    ("version", s("v1")),
                    ("kind", s("Foo")),
                ])]),
            ),
            ("properties", map(vec![("spec", spec)])),
        ]);
        map(vec![(
            "definitions",
            map(vec![("com.example.Foo", foo), ("com.example.Item", item)]),
        )])
    }

    #[test]
    fn swagger_definitions_become_kinds() {
        let mut schema = Schema::builtin().clone();
        schema.extend_from_openapi(&swagger()).unwrap();
        let root = schema.root(&Gvk::new("example.com", "v1", "Foo")).unwrap();
        let spec = schema.field(root, "spec").unwrap().ty.unwrap();
        let items = schema.field(spec, "items").unwrap();
        assert!(items.is_list && items.smp.strategy.merges());
        assert_eq!(items.smp.merge_key.as_deref(), Some("name"));
        assert_eq!(items.ty, schema.type_named("com.example.Item"));
        // Built-ins are still there.
        assert!(schema.root(&Gvk::new("apps", "v1", "Deployment")).is_some());
    }

    #[test]
    fn swagger_errors_name_the_problem() {
        let mut schema = Schema::empty();
        assert_eq!(
            schema.extend_from_openapi(&Node::map()),
            Err(OpenApiError::NoDefinitions)
        );
        let bad = map(vec![(
            "definitions",
            map(vec![(
                "A",
                map(vec![(
                    "properties",
                    map(vec![("b", map(vec![("$ref", s("#/definitions/Z"))]))]),
                )]),
            )]),
        )]);
        assert!(matches!(
            schema.extend_from_openapi(&bad),
            Err(OpenApiError::MissingRef { .. })
        ));
    }

    #[test]
    fn crd_schema_gives_list_and_map_types() {
        let props = map(vec![(
            "spec",
            map(vec![
                ("type", s("object")),
                (
                    "properties",
                    map(vec![
                        (
                            "ports",
                            map(vec![
                                ("type", s("array")),
                                ("x-kubernetes-list-type", s("map")),
                                (
                                    "x-kubernetes-list-map-keys",
                                    Node::Seq(vec![s("port"), s("protocol")]),
                                ),
                                (
                                    "items",
                                    map(vec![
                                        ("type", s("object")),
                                        (
                                            "properties",
                                            map(vec![(
                                                "protocol",
                                                map(vec![
                                                    ("type", s("string")),
                                                    ("default", s("TCP")),
                                                ]),
                                            )]),
                                        ),
                                    ]),
                                ),
                            ]),
                        ),
                        (
                            "selector",
                            map(vec![
                                ("type", s("object")),
                                ("x-kubernetes-map-type", s("atomic")),
                                ("additionalProperties", map(vec![("type", s("string"))])),
                            ]),
                        ),
                    ]),
                ),
            ]),
        )]);
        let crd = map(vec![(
            "spec",
            map(vec![
                ("group", s("example.com")),
                ("names", map(vec![("kind", s("Bar"))])),
                (
                    "versions",
                    Node::Seq(vec![map(vec![
                        ("name", s("v1")),
                        (
                            "schema",
                            map(vec![("openAPIV3Schema", map(vec![("properties", props)]))]),
                        ),
                    ])]),
                ),
            ]),
        )]);
        let schema = Schema::from_crd(&crd).unwrap();
        let root = schema.root(&Gvk::new("example.com", "v1", "Bar")).unwrap();
        assert!(schema.field(root, "metadata").is_some());
        let spec = schema.field(root, "spec").unwrap().ty.unwrap();
        let ports = schema.field(spec, "ports").unwrap();
        assert_eq!(
            ports.list,
            ListType::Map {
                keys: vec!["port".into(), "protocol".into()],
                defaults: vec![("protocol".into(), "TCP".into())]
            }
        );
        assert!(schema.field(spec, "selector").unwrap().map_atomic);
        assert_eq!(
            Schema::from_crd(&Node::map()).unwrap_err(),
            OpenApiError::NotACrd {
                field: "spec.group"
            }
        );
    }
}
