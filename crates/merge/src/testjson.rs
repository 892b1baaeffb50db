//! A small JSON reader for tests (the YAML parser lives in another crate and is not needed to
//! build trees by hand).

use fjord_yaml::{Map, Node, Tag};

/// Parses JSON text into a node; panics on malformed input (tests only).
pub(crate) fn j(text: &str) -> Node {
    let mut p = P {
        s: text.as_bytes(),
        i: 0,
    };
    let n = p.value();
    p.ws();
    assert_eq!(p.i, p.s.len(), "trailing JSON in {text}");
    n
}

struct P<'a> {
    s: &'a [u8],
    i: usize,
}

impl P<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn value(&mut self) -> Node {
        self.ws();
        match self.s[self.i] {
            b'{' => {
                self.i += 1;
                let mut m = Map::new();
                loop {
                    self.ws();
                    if self.s[self.i] == b'}' {
                        self.i += 1;
                        return Node::Map(m);
                    }
                    let k = self.string();
                    self.ws();
                    assert_eq!(self.s[self.i], b':');
                    self.i += 1;
                    let v = self.value();
                    m.insert(k, v);
                    self.ws();
                    if self.s[self.i] == b',' {
                        self.i += 1;
                    }
                }
            }
            b'[' => {
                self.i += 1;
                let mut v = Vec::new();
                loop {
                    self.ws();
                    if self.s[self.i] == b']' {
                        self.i += 1;
                        return Node::Seq(v);
                    }
                    v.push(self.value());
                    self.ws();
                    if self.s[self.i] == b',' {
                        self.i += 1;
                    }
                }
            }
            b'"' => Node::string(self.string()),
            _ => {
                let start = self.i;
                while self.i < self.s.len() && !b",]} \n\t".contains(&self.s[self.i]) {
                    self.i += 1;
                }
                let word = std::str::from_utf8(&self.s[start..self.i]).expect("utf8");
                match word {
                    "null" => Node::null(),
                    "true" | "false" => Node::scalar(word, Tag::Bool),
                    w if w.contains(['.', 'e', 'E']) => Node::scalar(w, Tag::Float),
                    w => Node::scalar(w, Tag::Int),
                }
            }
        }
    }

    fn string(&mut self) -> String {
        assert_eq!(self.s[self.i], b'"');
        self.i += 1;
        let mut out = String::new();
        while self.s[self.i] != b'"' {
            if self.s[self.i] == b'\\' {
                self.i += 1;
                out.push(match self.s[self.i] {
                    b'n' => '\n',
                    b't' => '\t',
                    c => c as char,
                });
                self.i += 1;
                continue;
            }
            let start = self.i;
            while self.s[self.i] != b'"' && self.s[self.i] != b'\\' {
                self.i += 1;
            }
            out.push_str(std::str::from_utf8(&self.s[start..self.i]).expect("utf8"));
        }
        self.i += 1;
        out
    }
}
