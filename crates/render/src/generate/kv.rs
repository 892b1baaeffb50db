//! Key/value pairs from literals, files and env files, read as kustomize's kv loader does.

use super::args::GeneratorArgs;
use super::GenerateError;
use crate::loader::Loader;

/// One key and its raw bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    /// The data key.
    pub key: String,
    /// The value; file contents may be any bytes.
    pub value: Vec<u8>,
}

/// Loads every pair of a generator: env files first, then literals, then files (kustomize's
/// order), with the file-reading errors wrapped as kustomize wraps them.
pub fn load_pairs(args: &GeneratorArgs, loader: &Loader) -> Result<Vec<Pair>, GenerateError> {
    let mut all = Vec::new();
    for p in &args.envs {
        let content = read(loader, p).map_err(|e| kv_err("env source files:", &args.envs, e))?;
        all.extend(
            pairs_from_env(&content).map_err(|e| kv_err("env source files:", &args.envs, e))?,
        );
    }
    for lit in &args.literals {
        let (k, v) =
            parse_literal(lit).map_err(|e| kv_err("literal sources", &args.literals, e))?;
        all.push(Pair {
            key: k,
            value: v.into_bytes(),
        });
    }
    for src in &args.files {
        let wrap = |e| kv_err("file sources:", &args.files, e);
        let (key, path) = parse_file_source(src).map_err(wrap)?;
        let value = read(loader, &path).map_err(wrap)?;
        all.push(Pair { key, value });
    }
    Ok(all)
}

/// `loading KV pairs: <what> [a b]: <err>`.
fn kv_err(what: &str, list: &[String], err: String) -> GenerateError {
    GenerateError::LoadPairs {
        message: format!("{what} [{}]: {err}", list.join(" ")),
    }
}

/// Reads a file through the loader; a directory is refused as kustomize refuses it.
fn read(loader: &Loader, rel: &str) -> Result<Vec<u8>, String> {
    let path = loader.resolve(rel).map_err(|e| fjord_model::chain(&e))?;
    if path.is_dir() {
        return Err(format!("'{}' must resolve to a file", path.display()));
    }
    loader.read(rel).map_err(|e| fjord_model::chain(&e))
}

/// Splits a literal `key=value`; the value loses one pair of matching surrounding quotes.
pub fn parse_literal(source: &str) -> Result<(String, String), String> {
    match source.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), remove_quotes(v).to_string())),
        _ => Err(format!(
            "invalid literal source {source}, expected key=value"
        )),
    }
}

/// Strips one pair of surrounding `"` or `'` when both ends carry the same one.
fn remove_quotes(s: &str) -> &str {
    let b = s.as_bytes();
    if b.len() >= 2 && b[0] == b[b.len() - 1] && (b[0] == b'"' || b[0] == b'\'') {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

/// Splits a file source `path` or `key=path` into the key and the path.
pub fn parse_file_source(source: &str) -> Result<(String, String), String> {
    let n = source.matches('=').count();
    match n {
        0 => Ok((base_name(source), source.to_string())),
        1 if source.starts_with('=') => Err(format!(
            "missing key name for file path {:?} in source {:?}",
            &source[1..],
            source
        )),
        1 if source.ends_with('=') => Err(format!(
            "missing file path for key name {:?} in source {:?}",
            &source[..source.len() - 1],
            source
        )),
        1 => {
            let (k, p) = source.split_once('=').unwrap_or((source, ""));
            Ok((k.to_string(), p.to_string()))
        }
        _ => Err(format!(
            "source {source:?} key name or file path contains '='"
        )),
    }
}

/// Go's `path.Base`: the last slash-separated element.
fn base_name(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let trimmed = p.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
}

/// Parses an env file: one `KEY=value` a line; blank lines and `#` comments skipped; leading
/// whitespace dropped; a line without `=` gives an empty value; a UTF-8 BOM is dropped from
/// the first line only; `\r\n` line ends are accepted; lines must be valid UTF-8.
pub fn pairs_from_env(content: &[u8]) -> Result<Vec<Pair>, String> {
    let mut out = Vec::new();
    let mut lines: Vec<&[u8]> = content.split(|b| *b == b'\n').collect();
    if content.ends_with(b"\n") {
        lines.pop();
    }
    for (i, raw) in lines.into_iter().enumerate() {
        let mut line = raw.strip_suffix(b"\r").unwrap_or(raw);
        let Ok(text) = std::str::from_utf8(line) else {
            let nums: Vec<String> = line.iter().map(|b| b.to_string()).collect();
            return Err(format!(
                "line [{}] has invalid utf8 bytes : {}",
                nums.join(" "),
                String::from_utf8_lossy(line)
            ));
        };
        if i == 0 {
            line = text.strip_prefix('\u{feff}').unwrap_or(text).as_bytes();
        }
        let text = std::str::from_utf8(line).unwrap_or_default().trim_start();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let (key, value) = text.split_once('=').unwrap_or((text, ""));
        if key.is_empty() {
            continue;
        }
        out.push(Pair {
            key: key.to_string(),
            value: value.as_bytes().to_vec(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(p: &[Pair]) -> Vec<(String, String)> {
        p.iter()
            .map(|p| {
                (
                    p.key.clone(),
                    String::from_utf8_lossy(&p.value).into_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn literals_lose_one_pair_of_matching_quotes() {
        let cases = [
            ("b=\"two\"", "b", "two"),
            ("c='three'", "c", "three"),
            ("e=\"x\"y", "e", "\"x\"y"),
            ("h=\"", "h", "\""),
            ("i='q'", "i", "q"),
            ("d=", "d", ""),
            ("g=a=b", "g", "a=b"),
            (" f = sp ", " f ", " sp "),
        ];
        for (src, k, v) in cases {
            assert_eq!(
                parse_literal(src).unwrap(),
                (k.to_string(), v.to_string()),
                "{src}"
            );
        }
        assert_eq!(
            parse_literal("=1").unwrap_err(),
            "invalid literal source =1, expected key=value"
        );
        assert!(parse_literal("abc").is_err());
    }

    #[test]
    fn file_sources_as_kustomize_splits_them() {
        assert_eq!(
            parse_file_source("dir/f.txt").unwrap(),
            ("f.txt".into(), "dir/f.txt".into())
        );
        assert_eq!(
            parse_file_source("k=f.txt").unwrap(),
            ("k".into(), "f.txt".into())
        );
        assert_eq!(
            parse_file_source("=f.txt").unwrap_err(),
            "missing key name for file path \"f.txt\" in source \"=f.txt\""
        );
        assert_eq!(
            parse_file_source("k=").unwrap_err(),
            "missing file path for key name \"k\" in source \"k=\""
        );
        assert_eq!(
            parse_file_source("a=b=f.txt").unwrap_err(),
            "source \"a=b=f.txt\" key name or file path contains '='"
        );
    }

    #[test]
    fn env_files_match_kubectl() {
        // Captured from kubectl kustomize v5.5: keys keep inner spaces, `export` is not
        // special, a bare key gives "", quotes are kept.
        let env = b"# comment\n\nA=1\nB = two \nexport C=3\nD\nE=\"quoted\"\n  H=  spaced\n=x\n";
        let got = kv(&pairs_from_env(env).unwrap());
        let want = [
            ("A", "1"),
            ("B ", " two "),
            ("export C", "3"),
            ("D", ""),
            ("E", "\"quoted\""),
            ("H", "  spaced"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn env_bom_only_on_first_line_and_crlf() {
        let env = b"\xef\xbb\xbfA=1\r\nB=2\r\n\xef\xbb\xbfC=1\nD=a#b";
        let got = kv(&pairs_from_env(env).unwrap());
        assert_eq!(got[0], ("A".into(), "1".into()));
        assert_eq!(got[1], ("B".into(), "2".into()));
        assert_eq!(got[2], ("\u{feff}C".into(), "1".into()));
        assert_eq!(got[3], ("D".into(), "a#b".into()));
    }

    #[test]
    fn env_invalid_utf8_is_reported_like_kustomize() {
        let e = pairs_from_env(b"A=1\nB=\xff\n").unwrap_err();
        assert!(
            e.starts_with("line [66 61 255] has invalid utf8 bytes : B="),
            "{e}"
        );
    }
}
