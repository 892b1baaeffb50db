//! A kustomization's `images:` list, edited in place the way Argo CD Image Updater edits it:
//! the entry with the same `name` is replaced where it stands, a new one goes at the end, and
//! `images:` is added at the end of the file when missing. Nothing is re-sorted.

use fjord_yaml::{Map, Node};

use super::block::{self, Entry, Item, Line, Pos};
use super::text;
use super::EditError;

const FILE: &str = "kustomization";

/// The field names of an entry, in the order a new entry is written.
const FIELDS: [&str; 4] = ["name", "newName", "newTag", "digest"];

/// One `images:` entry of a kustomization.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KustomizeImage {
    /// The image name the entry matches.
    pub name: String,
    /// `newName`.
    pub new_name: Option<String>,
    /// `newTag`.
    pub new_tag: Option<String>,
    /// `digest`.
    pub digest: Option<String>,
}

impl KustomizeImage {
    /// The fields that are set, in [`FIELDS`] order.
    fn fields(&self) -> Vec<(&'static str, &str)> {
        let mut out = vec![(FIELDS[0], self.name.as_str())];
        for (k, v) in FIELDS[1..]
            .iter()
            .zip([&self.new_name, &self.new_tag, &self.digest])
        {
            if let Some(v) = v {
                out.push((k, v.as_str()));
            }
        }
        out
    }

    /// The entry as a tree.
    fn node(&self) -> Node {
        let mut m = Map::new();
        for (k, v) in self.fields() {
            m.insert(k.to_string(), Node::string(v));
        }
        Node::Map(m)
    }

    /// The entry from a tree (`None` when `node` is not a mapping with a string `name`).
    fn from_node(node: &Node) -> Option<KustomizeImage> {
        let s = |k: &str| {
            node.get(k)
                .and_then(Node::as_scalar)
                .map(|s| s.value.clone())
        };
        Some(KustomizeImage {
            name: node.get("name")?.as_str()?.to_string(),
            new_name: s("newName"),
            new_tag: s("newTag"),
            digest: s("digest"),
        })
    }
}

/// The `images:` entry named `name`, if the kustomization has one.
pub fn kustomization_image(text: &str, name: &str) -> Result<Option<KustomizeImage>, EditError> {
    let doc = parse(text)?;
    let Some(images) = images_of(&doc)? else {
        return Ok(None);
    };
    Ok(images
        .iter()
        .filter(|n| n.get("name").and_then(Node::as_str) == Some(name))
        .filter_map(KustomizeImage::from_node)
        .next_back())
}

/// Replaces or adds the `images:` entry named `entry.name`, keeping every other byte. An
/// existing entry keeps its place, indentation and comments; its fields become exactly those
/// of `entry` (other fields such as `tagSuffix` go). A new entry is appended to the list
/// (fields in the order name, newName, newTag, digest), and a missing `images:` is added at the
/// end of the file. `Ok(None)` when the kustomization already says this.
pub fn set_kustomization_image(
    text: &str,
    entry: &KustomizeImage,
) -> Result<Option<String>, EditError> {
    let doc = parse(text)?;
    let list = images_of(&doc)?;
    let index = list.and_then(|l| {
        l.iter()
            .rposition(|n| n.get("name").and_then(Node::as_str) == Some(entry.name.as_str()))
    });
    if let (Some(l), Some(i)) = (list, index) {
        if l[i] == entry.node() {
            return Ok(None);
        }
    }
    let lines = block::lines(text);
    let pdocs = block::documents(&lines);
    let root = pdocs.first().map(|d| &d.root);
    let ed = Editor {
        text,
        lines: &lines,
        style: SeqStyle::of(root),
    };
    let images_pos = root.and_then(|r| r.entry("images"));
    let edits = match (images_pos, index) {
        (None, _) => ed.add_key(entry),
        (Some(e), Some(i)) => ed.replace_item(e, i, entry)?,
        (Some(e), None) => ed.append_item(e, entry)?,
    };
    let out = text::splice(text, edits);
    let mut expected = doc.clone();
    set_expected(&mut expected, index, entry);
    text::verify(FILE, &out, std::slice::from_ref(&expected))?;
    Ok(Some(out))
}

fn parse(text: &str) -> Result<Node, EditError> {
    let doc = fjord_yaml::parse_document(text.as_bytes())
        .map_err(|source| EditError::Parse { file: FILE, source })?;
    match doc {
        Node::Map(_) => Ok(doc),
        n if n.is_null() => Ok(n),
        other => Err(shape("the document", &other, "a mapping")),
    }
}

fn shape(path: &str, found: &Node, expected: &'static str) -> EditError {
    EditError::Shape {
        file: FILE,
        path: path.to_string(),
        found: kind_name(found),
        expected,
    }
}

pub(crate) fn kind_name(n: &Node) -> &'static str {
    match n {
        Node::Map(_) => "a mapping",
        Node::Seq(_) => "a list",
        n if n.is_null() => "null",
        Node::Scalar(_) => "a scalar",
    }
}

/// The `images:` list (`None` when absent or null).
fn images_of(doc: &Node) -> Result<Option<&Vec<Node>>, EditError> {
    match doc.get("images") {
        None => Ok(None),
        Some(n) if n.is_null() => Ok(None),
        Some(Node::Seq(items)) => Ok(Some(items)),
        Some(other) => Err(shape("images", other, "a list")),
    }
}

fn set_expected(doc: &mut Node, index: Option<usize>, entry: &KustomizeImage) {
    if doc.is_null() {
        *doc = Node::map();
    }
    let Some(m) = doc.as_map_mut() else { return };
    let images = m
        .entry("images".to_string())
        .or_insert_with(|| Node::Seq(Vec::new()));
    if images.is_null() {
        *images = Node::Seq(Vec::new());
    }
    if let Some(items) = images.as_seq_mut() {
        match index.and_then(|i| items.get_mut(i)) {
            Some(slot) => *slot = entry.node(),
            None => items.push(entry.node()),
        }
    }
}

/// How the file indents sequences: the `-` column relative to the parent key, and the column
/// of an item's keys relative to its `-`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SeqStyle {
    pub dash: usize,
    pub keys: usize,
}

impl SeqStyle {
    /// The style of the first block sequence under a top-level key, else compact with keys two
    /// columns after the dash.
    pub(crate) fn of(root: Option<&Pos>) -> SeqStyle {
        let mut style = SeqStyle { dash: 0, keys: 2 };
        let Some(Pos::Map { indent, entries }) = root else {
            return style;
        };
        for e in entries {
            if let Pos::Seq {
                indent: dash,
                items,
            } = &e.value
            {
                style.dash = dash.saturating_sub(*indent);
                if let Some(Pos::Map { indent: k, .. }) = items.first().map(|i| &i.value) {
                    style.keys = k.saturating_sub(*dash).max(2);
                }
                break;
            }
        }
        style
    }
}

/// `- k: v` lines of an entry at dash column `dash`.
pub(crate) fn entry_lines(fields: &[(&str, &str)], dash: usize, keys: usize, eol: &str) -> String {
    let mut out = String::new();
    for (i, (k, v)) in fields.iter().enumerate() {
        if i == 0 {
            out.push_str(&" ".repeat(dash));
            out.push('-');
            out.push_str(&" ".repeat(keys.saturating_sub(1).max(1)));
        } else {
            out.push_str(&" ".repeat(dash + keys));
        }
        out.push_str(&format!("{k}: {}{eol}", text::value(v)));
    }
    out
}

type Edits = Vec<(std::ops::Range<usize>, String)>;

struct Editor<'a> {
    text: &'a str,
    lines: &'a [Line<'a>],
    style: SeqStyle,
}

impl Editor<'_> {
    fn eol(&self) -> &'static str {
        text::eol(self.text)
    }

    /// `images:` and the entry at the end of the file.
    fn add_key(&self, entry: &KustomizeImage) -> Edits {
        let (at, pre) = text::at_end(self.text);
        let eol = self.eol();
        let body = entry_lines(&entry.fields(), self.style.dash, self.style.keys, eol);
        vec![(at..at, format!("{pre}images:{eol}{body}"))]
    }

    /// Appends `entry` to the list under `images` (an empty, `[]` or block value).
    fn append_item(&self, images: &Entry, entry: &KustomizeImage) -> Result<Edits, EditError> {
        let eol = self.eol();
        match &images.value {
            Pos::Seq { indent, items } => {
                let keys = match items.first().map(|i| &i.value) {
                    Some(Pos::Map { indent: k, .. }) => k - indent,
                    _ => self.style.keys,
                };
                let last = items.last().map_or(images.last_line, |i| i.last_line);
                let (at, pre) = text::after_line(self.text, self.lines, last);
                let body = entry_lines(&entry.fields(), *indent, keys, eol);
                Ok(vec![(at..at, format!("{pre}{body}"))])
            }
            Pos::Empty { .. } | Pos::Opaque { .. } => self.fill_empty(images, &entry.fields()),
            Pos::Map { .. } | Pos::Scalar(_) => Err(self.unsupported(images.line, "not a list")),
        }
    }

    /// Puts a first entry under `images:` written as `images:` or `images: []`.
    fn fill_empty(&self, images: &Entry, fields: &[(&str, &str)]) -> Result<Edits, EditError> {
        let line = &self.lines[images.line];
        let key_col = images.key_start - line.start;
        let mut edits = Vec::new();
        if let Pos::Opaque { .. } = images.value {
            // Only `images: []` (with maybe a comment) is taken.
            let after = &line.text[key_col..];
            let Some(open) = after.find("[]") else {
                return Err(self.unsupported(images.line, "a flow collection"));
            };
            let rest = after[open + 2..].trim_start();
            if images.last_line != images.line || !(rest.is_empty() || rest.starts_with('#')) {
                return Err(self.unsupported(images.line, "a flow collection"));
            }
            let start = line.start + key_col + open;
            // Drop `[]` and the space before it.
            let trimmed = line.text[..key_col + open].trim_end().len();
            edits.push((line.start + trimmed..start + 2, String::new()));
        }
        let (at, pre) = text::after_line(self.text, self.lines, images.line);
        let body = entry_lines(
            fields,
            key_col + self.style.dash,
            self.style.keys,
            self.eol(),
        );
        edits.push((at..at, format!("{pre}{body}")));
        Ok(edits)
    }

    /// Replaces item `index` of the list under `images` with `entry`.
    fn replace_item(
        &self,
        images: &Entry,
        index: usize,
        entry: &KustomizeImage,
    ) -> Result<Edits, EditError> {
        let Some(item) = images.value.item(index) else {
            return Err(self.unsupported(images.line, "not a block list"));
        };
        let Pos::Map { indent, entries } = &item.value else {
            return Err(self.unsupported(item.line, "not a block mapping"));
        };
        match self.edit_fields(item, entries, entry) {
            Some(edits) => Ok(edits),
            None => Ok(self.rewrite_item(item, *indent, entry)),
        }
    }

    /// Field-by-field edit of an entry; `None` when that cannot be done in place (a field to
    /// change or drop is not a one-line scalar, or sits on the `-` line).
    fn edit_fields(&self, item: &Item, entries: &[Entry], entry: &KustomizeImage) -> Option<Edits> {
        let wanted = entry.fields();
        let mut edits = Vec::new();
        let value_of = |k: &str| wanted.iter().find(|(w, _)| *w == k).map(|(_, v)| *v);
        for e in entries {
            match value_of(&e.key) {
                Some(v) => {
                    let Pos::Scalar(s) = &e.value else {
                        return None;
                    };
                    let spelled = text::scalar(v, s.style);
                    if self.text[s.span.clone()] != spelled
                        && current_value(&self.text[s.span.clone()]) != Some(v.to_string())
                    {
                        edits.push((s.span.clone(), spelled));
                    }
                }
                None => {
                    if e.line == item.line {
                        return None;
                    }
                    let start = self.lines[e.line].start;
                    let end = self.lines[e.last_line].end;
                    edits.push((start..end, String::new()));
                }
            }
        }
        let key_col = entries
            .first()
            .map(|e| e.key_start - self.lines[e.line].start)?;
        for (pos, (k, v)) in wanted.iter().enumerate() {
            if entries.iter().any(|e| e.key == *k) {
                continue;
            }
            // After the nearest earlier field that stays, else after the whole entry.
            let anchor = FIELDS[..FIELDS.iter().position(|f| f == k).unwrap_or(pos)]
                .iter()
                .rev()
                .find_map(|f| {
                    entries
                        .iter()
                        .find(|e| e.key == *f && value_of(f).is_some())
                })
                .map_or(item.last_line, |e| e.last_line);
            let (at, pre) = text::after_line(self.text, self.lines, anchor);
            let line = format!(
                "{}{k}: {}{}",
                " ".repeat(key_col),
                text::value(v),
                self.eol()
            );
            edits.push((at..at, format!("{pre}{line}")));
        }
        Some(edits)
    }

    /// Replaces the item's lines with a freshly written entry at the same indentation.
    fn rewrite_item(&self, item: &Item, key_col: usize, entry: &KustomizeImage) -> Edits {
        let start = self.lines[item.line].start;
        let last = &self.lines[item.last_line];
        let (end, eol) = if last.end == last.start + last.text.len() {
            (last.end, "")
        } else {
            (last.end, self.eol())
        };
        let mut body = entry_lines(
            &entry.fields(),
            item.dash_col,
            key_col - item.dash_col,
            self.eol(),
        );
        if eol.is_empty() {
            let trimmed = body.trim_end_matches(['\r', '\n']).len();
            body.truncate(trimmed);
        }
        vec![(start..end, body)]
    }

    fn unsupported(&self, line: usize, reason: &'static str) -> EditError {
        EditError::Unsupported {
            file: FILE,
            line: line + 1,
            path: "images".to_string(),
            reason,
        }
    }
}

/// The string value of a one-line scalar token as written.
fn current_value(token: &str) -> Option<String> {
    let doc = fjord_yaml::parse_document(format!("v: {token}\n").as_bytes()).ok()?;
    let s = doc.get("v")?.as_scalar()?;
    (s.tag == fjord_yaml::Tag::Str).then(|| s.value.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(
        name: &str,
        new_name: Option<&str>,
        tag: Option<&str>,
        digest: Option<&str>,
    ) -> KustomizeImage {
        KustomizeImage {
            name: name.into(),
            new_name: new_name.map(Into::into),
            new_tag: tag.map(Into::into),
            digest: digest.map(Into::into),
        }
    }

    fn set(text: &str, e: &KustomizeImage) -> String {
        set_kustomization_image(text, e).unwrap().unwrap()
    }

    #[test]
    fn replaces_in_place_keeping_comments() {
        let t = "# head\nresources:\n  - a.yaml\nimages:\n  # web\n  - name: web # the web app\n    newName: reg/web # mirror\n    newTag: v1\n  - name: db\n    newTag: \"5\"\n# tail\n";
        let out = set(t, &img("web", Some("reg/web"), Some("v2"), None));
        assert_eq!(out, t.replace("newTag: v1", "newTag: v2"));
        let out = set(t, &img("db", None, Some("6"), None));
        assert_eq!(out, t.replace("newTag: \"5\"", "newTag: \"6\""));
        // Unchanged: nothing to write.
        assert_eq!(
            set_kustomization_image(t, &img("db", None, Some("5"), None)).unwrap(),
            None
        );
    }

    #[test]
    fn whole_entry_is_replaced() {
        let t = "images:\n- name: a\n  newName: b\n  tagSuffix: -x\n  newTag: '1'\n";
        let out = set(t, &img("a", None, Some("2"), Some("sha256:ab")));
        assert_eq!(
            out,
            "images:\n- name: a\n  newTag: '2'\n  digest: sha256:ab\n"
        );
        let t = "images:\n- newTag: 1.0.0\n  name: a\nx: 1\n";
        let out = set(t, &img("a", Some("n"), None, None));
        assert_eq!(out, "images:\n- name: a\n  newName: n\nx: 1\n");
    }

    #[test]
    fn new_field_goes_after_its_predecessor() {
        let t = "images:\n  - name: a\n    newTag: v1\n";
        let out = set(t, &img("a", Some("r/a"), Some("v1"), None));
        assert_eq!(
            out,
            "images:\n  - name: a\n    newName: r/a\n    newTag: v1\n"
        );
    }

    #[test]
    fn appends_and_creates() {
        let t = "images:\n  - name: a\n    newTag: v1\n\n# c\nresources:\n- x.yaml\n";
        let out = set(t, &img("b", None, Some("2"), None));
        assert_eq!(out, "images:\n  - name: a\n    newTag: v1\n  - name: b\n    newTag: \"2\"\n\n# c\nresources:\n- x.yaml\n");
        let t = "resources:\n  - x.yaml # r\n# end";
        let out = set(t, &img("b", None, Some("v2"), None));
        assert_eq!(
            out,
            "resources:\n  - x.yaml # r\n# end\nimages:\n  - name: b\n    newTag: v2\n"
        );
        assert_eq!(
            set("", &img("b", None, Some("v2"), None)),
            "images:\n- name: b\n  newTag: v2\n"
        );
        let t = "images: [] # none\r\nkind: Kustomization\r\n";
        let out = set(t, &img("b", None, Some("v2"), None));
        assert_eq!(
            out,
            "images: # none\r\n- name: b\r\n  newTag: v2\r\nkind: Kustomization\r\n"
        );
        let t = "images:\nkind: Kustomization\n";
        let out = set(t, &img("b", None, None, None));
        assert_eq!(out, "images:\n- name: b\nkind: Kustomization\n");
    }

    #[test]
    fn reads_entries() {
        let t = "images:\n- name: a\n  newName: b\n  newTag: \"1\"\n  digest: sha256:x\n";
        assert_eq!(
            kustomization_image(t, "a").unwrap(),
            Some(img("a", Some("b"), Some("1"), Some("sha256:x")))
        );
        assert_eq!(kustomization_image(t, "b").unwrap(), None);
        assert_eq!(kustomization_image("kind: K\n", "b").unwrap(), None);
    }

    #[test]
    fn refusals() {
        let e =
            set_kustomization_image("images: {a: 1}\n", &img("a", None, None, None)).unwrap_err();
        assert!(
            e.to_string()
                .contains("images is a mapping, expected a list"),
            "{e}"
        );
        let e = set_kustomization_image("images: [{name: a}]\n", &img("a", None, Some("1"), None))
            .unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        let e =
            set_kustomization_image("a: 1\n---\nb: 2\n", &img("a", None, None, None)).unwrap_err();
        assert!(matches!(e, EditError::Parse { .. }), "{e}");
        let e = set_kustomization_image("a: [\n", &img("a", None, None, None)).unwrap_err();
        assert!(matches!(e, EditError::Parse { .. }), "{e}");
    }
}
