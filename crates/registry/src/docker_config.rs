//! Credentials from a docker config (`.dockerconfigjson` of a pull secret).

use base64::Engine;
use serde_json::Value;

use crate::error::RegistryError;
use crate::secret::Credentials;

/// The credentials in `json` (`{"auths": {KEY: {"auth": base64(user:pass)}}}`) for the registry at
/// `api_url`: the first `auths` key naming the same host (`https://ghcr.io`, `ghcr.io`,
/// `ghcr.io/v2/`; Docker Hub's aliases such as `https://index.docker.io/v1/` count as one host).
/// `auth` wins; without it `username`/`password` are read. `Ok(None)` when no key matches.
pub fn credentials_from_docker_config(
    json: &[u8],
    api_url: &str,
) -> Result<Option<Credentials>, RegistryError> {
    let err = |reason: &str| RegistryError::DockerConfig {
        registry: api_url.to_string(),
        reason: reason.to_string(),
    };
    let doc: Value = serde_json::from_slice(json).map_err(|_| err("not valid JSON"))?;
    let auths = match doc.get("auths") {
        Some(Value::Object(a)) => a,
        None | Some(Value::Null) => return Ok(None),
        Some(_) => return Err(err("`auths` is not an object")),
    };
    let want = host_of(api_url);
    let Some((key, entry)) = auths
        .iter()
        .find(|(key, _)| same_registry(&host_of(key), &want))
    else {
        return Ok(None);
    };
    let at = |what: &str| err(&format!("auths[{key:?}]: {what}"));
    if let Some(auth) = entry.get("auth").and_then(Value::as_str) {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| at("`auth` is not base64"))?;
        let text = String::from_utf8(raw).map_err(|_| at("`auth` is not UTF-8"))?;
        return Credentials::from_user_pass(&text)
            .map(Some)
            .ok_or_else(|| at("`auth` is not user:password"));
    }
    match (
        entry.get("username").and_then(Value::as_str),
        entry.get("password").and_then(Value::as_str),
    ) {
        (Some(u), Some(p)) => Ok(Some(Credentials::new(u, p))),
        _ => Err(at("no `auth` (nor `username` and `password`)")),
    }
}

/// The host (with port) of a URL or registry key, lower-cased.
fn host_of(url: &str) -> String {
    let s = url.trim();
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    s.split('/').next().unwrap_or("").to_ascii_lowercase()
}

fn same_registry(a: &str, b: &str) -> bool {
    let hub = |h: &str| {
        matches!(
            h,
            "docker.io" | "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com"
        )
    };
    a == b || (hub(a) && hub(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn keys_by_url_or_host() {
        let json = format!(
            r#"{{"auths":{{"https://ghcr.io":{{"auth":"{}"}},"127.0.0.1:5000":{{"auth":"{}"}},
               "https://index.docker.io/v1/":{{"auth":"{}"}}}}}}"#,
            b64("gh:tok"),
            b64("local:pw:with:colons"),
            b64("hub:pw")
        );
        let c = credentials_from_docker_config(json.as_bytes(), "https://ghcr.io/")
            .unwrap()
            .unwrap();
        assert_eq!((c.username.as_str(), c.password.expose()), ("gh", "tok"));
        let c = credentials_from_docker_config(json.as_bytes(), "http://127.0.0.1:5000")
            .unwrap()
            .unwrap();
        assert_eq!(c.password.expose(), "pw:with:colons");
        let c = credentials_from_docker_config(json.as_bytes(), "https://registry-1.docker.io")
            .unwrap()
            .unwrap();
        assert_eq!(c.username, "hub");
        assert!(
            credentials_from_docker_config(json.as_bytes(), "http://127.0.0.1:50001")
                .unwrap()
                .is_none(),
            "another port is another registry"
        );
        assert!(credentials_from_docker_config(b"{}", "https://ghcr.io")
            .unwrap()
            .is_none());
    }

    #[test]
    fn bad_entries_are_errors_without_secrets() {
        let json = format!(
            r#"{{"auths":{{"ghcr.io":{{"auth":"{}"}}}}}}"#,
            b64("secretonly")
        );
        let err = credentials_from_docker_config(json.as_bytes(), "https://ghcr.io")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not user:password"), "{err}");
        assert!(!err.contains("secretonly"), "{err}");
        let err = credentials_from_docker_config(b"{", "https://ghcr.io").unwrap_err();
        assert!(err.to_string().contains("not valid JSON"));
        let json = br#"{"auths":{"ghcr.io":{"username":"u","password":"p"}}}"#;
        let c = credentials_from_docker_config(json, "https://ghcr.io")
            .unwrap()
            .unwrap();
        assert_eq!(c.username, "u");
    }
}
