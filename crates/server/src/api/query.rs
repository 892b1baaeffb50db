//! Query strings: parsed once, every parameter checked against the endpoint's list (an unknown
//! one is a 400 naming it, so a typo never silently widens a request).

use crate::error::ApiError;

/// The parameters of one request, in order (a name may repeat: `projects=a&projects=b`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses `query` (percent-decoded, `+` as space) and refuses a name not in `allowed`.
    pub fn parse(query: Option<&str>, allowed: &[&str]) -> Result<Params, ApiError> {
        let mut out = Vec::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = decode(k).ok_or_else(|| ApiError::bad_request("malformed query string"))?;
            let v = decode(v).ok_or_else(|| {
                ApiError::bad_request(format!("query parameter {k:?}: malformed value"))
            })?;
            if !allowed.contains(&k.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter {k:?} (this endpoint takes: {})",
                    allowed.join(", ")
                )));
            }
            out.push((k, v));
        }
        Ok(Params(out))
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name` (a repeated parameter; a comma-separated value is split).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// A boolean parameter (`true`/`false`; absent is `default`); anything else is a 400.
    pub fn bool(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        match self.get(name) {
            None | Some("") => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(ApiError::bad_request(format!(
                "query parameter {name:?}: {other:?} is not true or false"
            ))),
        }
    }
}

/// Percent-decoding (`+` is a space); `None` for a bad escape or bytes that are not UTF-8.
fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_repeats_and_refuses_unknown_names() {
        let p = Params::parse(
            Some("projects=a&projects=b%2Cc&search=x+y"),
            &["projects", "search"],
        )
        .unwrap();
        assert_eq!(p.all("projects"), vec!["a", "b", "c"]);
        assert_eq!(p.get("search"), Some("x y"));
        let err = Params::parse(Some("projcts=a"), &["projects"]).unwrap_err();
        assert_eq!(err.status.as_u16(), 400);
        assert!(err.message.contains("\"projcts\""), "{}", err.message);
        assert!(Params::parse(Some("a=%zz"), &["a"]).is_err());
        assert!(Params::parse(Some("refresh=maybe"), &["refresh"])
            .unwrap()
            .bool("refresh", false)
            .is_err());
    }
}
