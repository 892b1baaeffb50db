use super::*;

fn one(text: &str) -> Node {
    parse_document(text.as_bytes()).expect("parses")
}

fn tag_of(text: &str, key: &str) -> (String, Tag) {
    let n = one(text);
    let s = n
        .get(key)
        .and_then(Node::as_scalar)
        .expect("scalar")
        .clone();
    (s.value, s.tag)
}

#[test]
fn scalars_are_typed_like_go_yaml_v3() {
    let doc = "a: 0x1F\nb: '0x1F'\nc: yes\nd: ~\ne: |\n  x\nf: !!str 12\ng: !!float 3\nh: 2001-12-14\ni: !custom 12\nj:\n";
    assert_eq!(tag_of(doc, "a"), ("0x1F".into(), Tag::Int));
    assert_eq!(tag_of(doc, "b"), ("0x1F".into(), Tag::Str));
    assert_eq!(tag_of(doc, "c"), ("yes".into(), Tag::Str));
    assert_eq!(tag_of(doc, "d"), ("~".into(), Tag::Null));
    assert_eq!(tag_of(doc, "e"), ("x\n".into(), Tag::Str));
    assert_eq!(tag_of(doc, "f"), ("12".into(), Tag::Str));
    assert_eq!(tag_of(doc, "g"), ("3".into(), Tag::Float));
    assert_eq!(tag_of(doc, "h"), ("2001-12-14".into(), Tag::Timestamp));
    assert_eq!(tag_of(doc, "i"), ("12".into(), Tag::Str));
    assert_eq!(tag_of(doc, "j"), ("".into(), Tag::Null));
}

#[test]
fn flow_timestamps_with_a_time_stay_text() {
    let n = one("a: [2001-12-14T21:59:43Z, 2001-12-14]\nb: {c: 2001-12-14 21:59:43.10}\n");
    let a = n.get("a").and_then(Node::as_seq).unwrap();
    assert_eq!(a[0].as_scalar().unwrap().tag, Tag::Str);
    assert_eq!(a[1].as_scalar().unwrap().tag, Tag::Timestamp);
    assert_eq!(
        n.get_path(&["b", "c"]).unwrap().as_scalar().unwrap().tag,
        Tag::Str
    );
    let block = one("a:\n- 2001-12-14T21:59:43Z\n");
    assert_eq!(
        block.get("a").unwrap().as_seq().unwrap()[0]
            .as_scalar()
            .unwrap()
            .tag,
        Tag::Timestamp
    );
}

#[test]
fn streams_skip_empty_documents() {
    let docs = parse_documents(b"---\n# only a comment\n---\na: 1\n---\n---\nb: 2\n...\n").unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[1].get("b"), Some(&Node::scalar("2", Tag::Int)));
    assert!(parse_documents(b"").unwrap().is_empty());
    assert!(parse_document(b"# nothing\n").unwrap().is_null());
    assert!(matches!(
        parse_document(b"a: 1\n---\nb: 2\n"),
        Err(ParseError::MultipleDocuments { count: 2 })
    ));
    let bom = parse_document("\u{feff}a: 1\n".as_bytes()).unwrap();
    assert!(bom.get("a").is_some());
}

#[test]
fn merge_keys_follow_v3() {
    let n = one("b: &b {x: 1, y: 2}\no: &o {y: 5, w: 6}\nm:\n  w: 0\n  <<: [*o, *b]\n  q: 1\n");
    let m = n.get("m").unwrap();
    assert_eq!(m.get("w"), Some(&Node::scalar("0", Tag::Int)));
    assert_eq!(m.get("y"), Some(&Node::scalar("5", Tag::Int)));
    assert_eq!(m.get("x"), Some(&Node::scalar("1", Tag::Int)));
    assert!(m.get("<<").is_none());
    // A quoted `<<` key is dropped, as kustomize does.
    let q = one("m:\n  \"<<\": {a: 1}\n  z: 1\n");
    assert_eq!(q.get("m").unwrap().as_map().unwrap().len(), 1);
    let err = parse_document(b"m:\n  <<: foo\n").unwrap_err();
    assert!(
        err.to_string()
            .contains("map merge requires map or sequence of maps"),
        "{err}"
    );
}

#[test]
fn errors_carry_positions() {
    let dup = parse_document(b"a: 1\nb: 2\na: 3\n").unwrap_err();
    assert_eq!(
        dup.to_string(),
        "line 3: mapping key \"a\" already defined at line 1"
    );
    assert_eq!((dup.line(), dup.column()), (3, 1));

    let syntax = parse_document(b"a: [1, 2\nb: 3\n").unwrap_err();
    assert!(matches!(syntax, ParseError::Syntax { .. }), "{syntax:?}");
    assert!(syntax.line() >= 1);

    let utf8 = parse_document(b"a: 1\nb: \xff\n").unwrap_err();
    assert_eq!(utf8, ParseError::InvalidUtf8 { line: 2, column: 4 });

    let tagged = parse_document(b"a: !!int abc\n").unwrap_err();
    assert_eq!(
        tagged.to_string(),
        "line 1, column 4: cannot decode !!str `abc` as a !!int"
    );

    let alias = parse_document(b"a: *nope\n").unwrap_err();
    assert!(alias.to_string().contains("unknown anchor"), "{alias}");
    assert_eq!(alias.line(), 1);

    let key = parse_document(b"? [a]\n: b\n").unwrap_err();
    assert!(
        matches!(
            key,
            ParseError::InvalidKey {
                kind: "sequence",
                ..
            }
        ),
        "{key:?}"
    );
}

#[test]
fn alias_bombs_are_refused() {
    let mut bomb = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let names = ["b", "c", "d", "e", "f", "g", "h", "i"];
    let mut prev = "a";
    for n in names {
        bomb.push_str(&format!(
            "{n}: &{n} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
        ));
        prev = n;
    }
    let err = parse_document(bomb.as_bytes()).unwrap_err();
    assert!(matches!(err, ParseError::AliasBudget { .. }), "{err:?}");
    assert!(err.to_string().contains("alias"), "{err}");
    // Modest reuse is fine.
    let ok = one("a: &a {x: 1}\nb: *a\nc: *a\n");
    assert_eq!(ok.get("c"), ok.get("a"));
}

#[test]
fn deep_nesting_is_refused_without_overflow() {
    let deep = "[".repeat(100_000);
    let err = parse_document(deep.as_bytes()).unwrap_err();
    // saphyr caps flow nesting itself (at 256), before our own cap.
    assert!(err.to_string().contains("recursion limit"), "{err}");
    let mut block = String::new();
    for i in 0..1200 {
        block.push_str(&" ".repeat(i));
        block.push_str("k:\n");
    }
    assert!(matches!(
        parse_document(block.as_bytes()),
        Err(ParseError::TooDeep { .. })
    ));
    let fine = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    assert!(parse_document(fine.as_bytes()).is_ok());
}

/// A small xorshift generator: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_and_truncated_input_never_panics() {
    let seeds: &[&[u8]] = &[
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels: {a: b}\ndata:\n  k: |\n    line\n  j: \"q\\x41\\u263A\"\n",
        b"a: &x [1, *x]\nb: !!binary aGk=\n? c\n: - d\n  - {e: f}\n--- !tag\n'g': >-\n  folded\n...\n",
        b"- - - [a, {b: c}]\n- ? x\n  : y\n- !!int 1\n- *undefined\n",
    ];
    let alphabet: &[u8] = b"ab:- \n\t{}[],&*!|>'\"#%@`?~0x1.\\\xc3\xa9";
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for seed in seeds {
        for cut in 0..=seed.len() {
            let _ = parse_documents(&seed[..cut]);
        }
        for _ in 0..300 {
            let mut bytes = seed.to_vec();
            for _ in 0..1 + rng.below(6) {
                let at = rng.below(bytes.len() + 1);
                match rng.below(3) {
                    0 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    1 if at < bytes.len() => bytes[at] = alphabet[rng.below(alphabet.len())],
                    _ => bytes.insert(at, alphabet[rng.below(alphabet.len())]),
                }
            }
            if let Ok(docs) = parse_documents(&bytes) {
                let _ = crate::emit::emit_documents(&docs);
                let _ = crate::json::emit_json_list(&docs);
            }
        }
    }
    for _ in 0..500 {
        let len = rng.below(64);
        let bytes: Vec<u8> = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len())])
            .collect();
        if let Ok(docs) = parse_documents(&bytes) {
            let _ = crate::emit::emit_documents(&docs);
        }
    }
}

#[test]
#[ignore = "timing: run with --release -- --ignored --nocapture"]
fn parse_and_emit_5mb_quickly() {
    let mut text = String::new();
    let mut i = 0;
    while text.len() < 5_000_000 {
        text.push_str(&format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\n  labels:\n    app: web\n    tier: \"1\"\nspec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n      - name: app\n        image: registry.example.com/team/app:v1.2.{i}\n        args: [\"--port=8080\", \"--verbose\"]\n        env:\n        - name: LONG\n          value: the quick brown fox jumps over the lazy dog the quick brown fox jumps over the lazy dog\n        resources: {{limits: {{cpu: 500m, memory: 1Gi}}}}\n---\n"
        ));
        i += 1;
    }
    let start = std::time::Instant::now();
    let docs = parse_documents(text.as_bytes()).unwrap();
    let parsed = start.elapsed();
    let out = crate::emit::emit_documents(&docs).unwrap();
    let total = start.elapsed();
    println!(
        "{} docs, {} bytes: parse {parsed:?}, parse+emit {total:?}, out {} bytes",
        docs.len(),
        text.len(),
        out.len()
    );
}
