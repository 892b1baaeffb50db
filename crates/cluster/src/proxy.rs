//! The service proxy: `/api/v1/namespaces/{ns}/services/{[scheme:]name[:port]}/proxy/{path}`.
//! The Service is read, its port chosen by name or number, an address taken from the Service's
//! Endpoints object, and the request forwarded there over plain HTTP/1.1; the answer's status,
//! headers and body come back unchanged. No Service: 404 naming it; no ready address: 503.
//!
//! Unlike the real API server, loopback and link-local endpoint addresses are accepted (the
//! local API runs beside the processes it proxies to), `https:` targets are refused, and
//! EndpointSlices are not consulted (only the Endpoints object).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::Request;
use serde_json::Value;

use crate::engine::Engine;
use crate::errors::ApiError;
use crate::request::{parse_path, ApiRequest, Query};

/// How long the backend may take to answer.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Largest backend answer relayed.
const MAX_BODY: usize = 64 << 20;

/// A parsed service proxy URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProxyPath {
    namespace: String,
    scheme: String,
    service: String,
    port: String,
    /// The path sent to the backend (`/v1/cert.pem`; `/` when none).
    rest: String,
}

/// The proxy target of `path`, when it is a service proxy URL.
pub(crate) fn parse(path: &str) -> Option<ProxyPath> {
    let rest = path.strip_prefix("/api/v1/namespaces/")?;
    let (namespace, rest) = rest.split_once('/')?;
    let rest = rest.strip_prefix("services/")?;
    let (id, rest) = rest.split_once('/')?;
    let tail = match rest.strip_prefix("proxy") {
        Some("") => "/",
        Some(t) if t.starts_with('/') => t,
        _ => return None,
    };
    let parts: Vec<&str> = id.split(':').collect();
    let (scheme, service, port) = match parts.as_slice() {
        [n] => ("", *n, ""),
        [n, p] => ("", *n, *p),
        [s, n, p] => (*s, *n, *p),
        _ => return None,
    };
    if namespace.is_empty() || service.is_empty() {
        return None;
    }
    Some(ProxyPath {
        namespace: namespace.to_string(),
        scheme: scheme.to_string(),
        service: service.to_string(),
        port: port.to_string(),
        rest: tail.to_string(),
    })
}

/// A relayed answer: status, headers (Content-Type first when present) and body.
pub(crate) struct Relayed {
    pub(crate) status: u16,
    pub(crate) content_type: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

/// Reads one object through the engine (as a GET of its URL would).
fn get(engine: &Engine, path: &str) -> Result<Value, ApiError> {
    let req = ApiRequest {
        method: "GET".into(),
        target: parse_path(path),
        query: Query::default(),
        content_type: String::new(),
        accept: "application/json".into(),
        user_agent: "fjord-cluster-proxy".into(),
        body: Vec::new(),
    };
    engine.handle(&req).map(|r| r.body)
}

/// The backend address of `p`: the Service's port (by name or number), then a ready address of
/// the Endpoints subset serving that port name.
fn resolve(engine: &Engine, p: &ProxyPath) -> Result<SocketAddr, ApiError> {
    let svc_path = format!("/api/v1/namespaces/{}/services/{}", p.namespace, p.service);
    let svc = get(engine, &svc_path)?;
    let ports = svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let name_of = |sp: &Value| {
        sp.get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let number_of = |sp: &Value| sp.get("port").and_then(Value::as_u64);
    let chosen = ports.iter().find(|sp| {
        if p.port.is_empty() {
            name_of(sp).is_empty() || ports.len() == 1
        } else {
            name_of(sp) == p.port || number_of(sp).map(|n| n.to_string()) == Some(p.port.clone())
        }
    });
    let unavailable = || {
        ApiError::generic(
            503,
            "ServiceUnavailable",
            &format!("no endpoints available for service \"{}\"", p.service),
        )
    };
    let Some(sp) = chosen else {
        return Err(unavailable());
    };
    let port_name = name_of(sp);
    let ep_path = format!("/api/v1/namespaces/{}/endpoints/{}", p.namespace, p.service);
    let endpoints = match get(engine, &ep_path) {
        Ok(e) => e,
        Err(e) if e.code == 404 => return Err(unavailable()),
        Err(e) => return Err(e),
    };
    let subsets = endpoints
        .get("subsets")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for subset in &subsets {
        let port = subset
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|ep| name_of(ep) == port_name)
            .and_then(|ep| ep.get("port").and_then(Value::as_u64))
            .and_then(|n| u16::try_from(n).ok());
        let ip = subset
            .get("addresses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| a.get("ip").and_then(Value::as_str))
            .find_map(|ip| ip.parse::<IpAddr>().ok());
        if let (Some(port), Some(ip)) = (port, ip) {
            return Ok(SocketAddr::new(ip, port));
        }
    }
    Err(unavailable())
}

/// Forwards `req` to the Service `p` names and relays the answer.
pub(crate) async fn forward(
    engine: &Engine,
    p: &ProxyPath,
    req: Request<Incoming>,
) -> Result<Relayed, ApiError> {
    if !matches!(
        req.method().as_str(),
        "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD"
    ) {
        return Err(ApiError::method_not_allowed(format!(
            "{} is not supported by the service proxy",
            req.method()
        )));
    }
    if !p.scheme.is_empty() && p.scheme != "http" {
        return Err(ApiError::bad_request(format!(
            "scheme {:?} is not supported by the local API's service proxy (only http)",
            p.scheme
        )));
    }
    let addr = resolve(engine, p)?;
    let target = match req.uri().query() {
        Some(q) => format!("{}?{q}", p.rest),
        None => p.rest.clone(),
    };
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| ApiError::bad_request(format!("reading body: {e}")))?
        .to_bytes();
    let mut out = Request::builder().method(parts.method).uri(target.as_str());
    for (k, v) in &parts.headers {
        // The API server's credentials stay with the API server.
        if k != hyper::header::AUTHORIZATION && k != hyper::header::HOST {
            out = out.header(k, v);
        }
    }
    out = out.header(hyper::header::HOST, addr.to_string());
    let out = out
        .body(Full::new(body))
        .map_err(|e| ApiError::bad_request(format!("proxy request: {e}")))?;
    let failed = |e: String| {
        ApiError::generic(
            503,
            "ServiceUnavailable",
            &format!("error trying to reach service: {e}"),
        )
    };
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let io = hyper_util::rt::TokioIo::new(stream);
        let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(io)
            .await
            .map_err(|e| failed(e.to_string()))?;
        tokio::spawn(conn);
        let res = sender
            .send_request(out)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let status = res.status().as_u16();
        let mut content_type = String::new();
        let mut headers = Vec::new();
        for (k, v) in res.headers() {
            let Ok(v) = v.to_str() else { continue };
            if k == hyper::header::CONTENT_TYPE {
                content_type = v.to_string();
            } else if !matches!(
                k.as_str(),
                "content-length" | "transfer-encoding" | "connection" | "cache-control"
            ) {
                headers.push((k.to_string(), v.to_string()));
            }
        }
        let body = res
            .into_body()
            .collect()
            .await
            .map_err(|e| failed(e.to_string()))?
            .to_bytes();
        if body.len() > MAX_BODY {
            return Err(failed("answer too large".into()));
        }
        Ok(Relayed {
            status,
            content_type,
            headers,
            body: body.to_vec(),
        })
    };
    match tokio::time::timeout(TIMEOUT, exchange).await {
        Ok(r) => r,
        Err(_) => Err(failed(format!("no answer from {addr} within {TIMEOUT:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_service_ids_and_paths() {
        let p = parse("/api/v1/namespaces/kube-system/services/http:sealed:http/proxy/v1/cert.pem")
            .unwrap();
        assert_eq!(
            (p.namespace.as_str(), p.scheme.as_str(), p.service.as_str()),
            ("kube-system", "http", "sealed")
        );
        assert_eq!((p.port.as_str(), p.rest.as_str()), ("http", "/v1/cert.pem"));
        let p = parse("/api/v1/namespaces/a/services/web/proxy").unwrap();
        assert_eq!((p.port.as_str(), p.rest.as_str()), ("", "/"));
        let p = parse("/api/v1/namespaces/a/services/web:8080/proxy/x").unwrap();
        assert_eq!(p.port, "8080");
        assert!(parse("/api/v1/namespaces/a/services/web").is_none());
        assert!(parse("/api/v1/namespaces/a/services/web/status").is_none());
        assert!(parse("/api/v1/namespaces/a/pods/web/proxy/x").is_none());
        assert!(parse("/api/v1/namespaces/a/services/a:b:c:d/proxy/x").is_none());
    }
}
