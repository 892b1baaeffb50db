//! kustomize's read-time migrations (`FixKustomization`) and the `images:` merge of
//! `edit set image`.

use std::collections::BTreeMap;

use serde_json::{Map as JsonMap, Value};

use super::arg::{SetImageArg, KEEP};

type Obj = JsonMap<String, Value>;

fn text<'a>(o: &'a Obj, key: &str) -> &'a str {
    o.get(key).and_then(Value::as_str).unwrap_or("")
}

/// `a ++ b` of two slice values (nil when the result has nothing, as Go's `append`).
fn concat(a: Option<Value>, b: Option<Value>) -> Value {
    let mut out = Vec::new();
    for v in [a, b].into_iter().flatten() {
        if let Value::Array(items) = v {
            out.extend(items);
        }
    }
    if out.is_empty() {
        Value::Null
    } else {
        Value::Array(out)
    }
}

/// `FixKustomization`: default `kind`/`apiVersion`, `bases` into `resources`, `imageTags`
/// into `images`, generator `env` into `envs`, `helmChartInflationGenerator` into
/// `helmCharts`/`helmGlobals`.
pub(super) fn fix_kustomization(k: &mut Obj) {
    if text(k, "kind").is_empty() {
        k.insert("kind".into(), "Kustomization".into());
    }
    if text(k, "apiVersion").is_empty() {
        let version = if text(k, "kind") == "Component" {
            "kustomize.config.k8s.io/v1alpha1"
        } else {
            "kustomize.config.k8s.io/v1beta1"
        };
        k.insert("apiVersion".into(), version.into());
    }
    let resources = concat(k.remove("resources"), k.remove("bases"));
    k.insert("resources".into(), resources);
    k.insert("bases".into(), Value::Null);
    let images = concat(k.remove("images"), k.remove("imageTags"));
    k.insert("images".into(), images);
    k.insert("imageTags".into(), Value::Null);
    for generator in ["configMapGenerator", "secretGenerator"] {
        if let Some(Value::Array(items)) = k.get_mut(generator) {
            for item in items.iter_mut().filter_map(Value::as_object_mut) {
                let env = text(item, "env").to_string();
                if env.is_empty() {
                    continue;
                }
                let envs = concat(item.remove("envs"), Some(Value::Array(vec![env.into()])));
                item.insert("envs".into(), envs);
                item.insert("env".into(), "".into());
            }
        }
    }
    fix_helm(k);
}

fn fix_helm(k: &mut Obj) {
    let old = match k.insert("helmChartInflationGenerator".into(), Value::Null) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    };
    let (mut chart_home, mut config_home) = (String::new(), String::new());
    let mut charts = Vec::new();
    for o in old.iter().filter_map(Value::as_object) {
        if !text(o, "helmHome").is_empty() {
            config_home = text(o, "helmHome").to_string();
        }
        if !text(o, "chartHome").is_empty() {
            chart_home = text(o, "chartHome").to_string();
        }
        let mut c = Obj::new();
        for (to, from) in [
            ("name", "chartName"),
            ("version", "chartVersion"),
            ("repo", "chartRepoUrl"),
            ("valuesFile", "values"),
            ("valuesInline", "valuesLocal"),
            ("valuesMerge", "valuesMerge"),
            ("releaseName", "releaseName"),
        ] {
            c.insert(to.into(), o.get(from).cloned().unwrap_or(Value::Null));
        }
        charts.push(Value::Object(c));
    }
    let globals_nil = k.get("helmGlobals").is_none_or(Value::is_null);
    if globals_nil && (!chart_home.is_empty() || !config_home.is_empty()) {
        let mut g = Obj::new();
        g.insert("chartHome".into(), chart_home.into());
        g.insert("configHome".into(), config_home.into());
        k.insert("helmGlobals".into(), Value::Object(g));
    }
    let merged = concat(k.remove("helmCharts"), Some(Value::Array(charts)));
    k.insert("helmCharts".into(), merged);
}

/// One `images:` entry.
#[derive(Clone, Default)]
struct Img {
    name: String,
    new_name: String,
    tag_suffix: String,
    new_tag: String,
    digest: String,
}

impl Img {
    fn from_json(v: &Value) -> Img {
        let o = v.as_object().cloned().unwrap_or_default();
        Img {
            name: text(&o, "name").into(),
            new_name: text(&o, "newName").into(),
            tag_suffix: text(&o, "tagSuffix").into(),
            new_tag: text(&o, "newTag").into(),
            digest: text(&o, "digest").into(),
        }
    }

    fn from_arg(a: &SetImageArg) -> Img {
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        Img {
            name: a.name.clone(),
            new_name: s(&a.new_name),
            tag_suffix: String::new(),
            new_tag: s(&a.new_tag),
            digest: s(&a.digest),
        }
    }

    /// kustomize's replace helpers build a fresh entry: `tagSuffix` is lost.
    fn with(&self, new_name: &str, new_tag: &str, digest: &str) -> Img {
        Img {
            name: self.name.clone(),
            new_name: new_name.into(),
            tag_suffix: String::new(),
            new_tag: new_tag.into(),
            digest: digest.into(),
        }
    }

    /// Resolves `*` components against `file`'s values.
    fn keep_from(self, file: &Img) -> Img {
        let mut img = self;
        if img.new_name == KEEP {
            img = img.with(&file.new_name, &img.new_tag, &img.digest);
        }
        if img.new_tag == KEEP {
            img = img.with(&img.new_name, &file.new_tag, &img.digest);
        }
        if img.digest == KEEP {
            img = img.with(&img.new_name, &img.new_tag, &file.digest);
        }
        img
    }

    fn to_json(&self) -> Value {
        let mut o = Obj::new();
        o.insert("name".into(), self.name.clone().into());
        o.insert("newName".into(), self.new_name.clone().into());
        o.insert("tagSuffix".into(), self.tag_suffix.clone().into());
        o.insert("newTag".into(), self.new_tag.clone().into());
        o.insert("digest".into(), self.digest.clone().into());
        Value::Object(o)
    }
}

/// The `images:` list after `set image ARGS`: args keyed by name (last wins); each file entry
/// whose name an arg (or an earlier entry) already holds resolves that holder's `*`s against
/// itself, other entries are added; leftover `*`s become empty; the list is sorted by name.
pub(super) fn merge_images(file: Option<&Value>, args: &[SetImageArg]) -> Value {
    let mut map: BTreeMap<String, Img> = BTreeMap::new();
    for a in args {
        map.insert(a.name.clone(), Img::from_arg(a));
    }
    let entries: Vec<Img> = match file {
        Some(Value::Array(items)) => items.iter().map(Img::from_json).collect(),
        _ => Vec::new(),
    };
    for im in entries {
        let merged = match map.get(&im.name) {
            Some(held) => held.clone().keep_from(&im),
            None => im.clone(),
        };
        map.insert(im.name.clone(), merged);
    }
    let empty = Img::default();
    Value::Array(
        map.into_values()
            .map(|img| img.keep_from(&empty).to_json())
            .collect(),
    )
}
