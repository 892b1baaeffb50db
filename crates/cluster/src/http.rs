//! The HTTP/1.1 front end: request decoding, fault injection, chunked watch streams and replies.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::{Request, Response};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::engine::Engine;
use crate::errors::ApiError;
use crate::faults::{verb, Faults};
use crate::request::{parse_path, ApiRequest, Query, Reply, Target};

type ResBody = BoxBody<Bytes, Infallible>;

/// A response body fed by a channel (watch streams).
struct ChannelBody(mpsc::Receiver<Bytes>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

fn full(
    status: u16,
    content_type: &str,
    body: Vec<u8>,
    headers: &[(String, String)],
) -> Response<ResBody> {
    let mut b = Response::builder()
        .status(status)
        .header("Content-Type", content_type)
        .header("Cache-Control", "no-cache, private");
    for (k, v) in headers {
        b = b.header(k.as_str(), v.as_str());
    }
    b.body(Full::new(Bytes::from(body)).boxed())
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed()))
}

fn reply_response(r: Reply) -> Response<ResBody> {
    if let Some(raw) = r.raw {
        return full(r.status, &r.content_type, raw, &r.headers);
    }
    let body = match &r.body {
        serde_json::Value::String(s) if r.content_type.starts_with("text/") => {
            s.clone().into_bytes()
        }
        v => serde_json::to_vec(v).unwrap_or_default(),
    };
    full(r.status, &r.content_type, body, &r.headers)
}

fn error_response(e: &ApiError) -> Response<ResBody> {
    if e.plain_text {
        // Go's http.NotFound, as the real server answers paths outside every served group.
        let body = format!("{}\n", e.message).into_bytes();
        return full(e.code, "text/plain; charset=utf-8", body, &[]);
    }
    let mut headers = Vec::new();
    if let Some(r) = e.retry_after {
        headers.push(("Retry-After".to_string(), r.to_string()));
    }
    full(
        e.code,
        "application/json",
        serde_json::to_vec(&e.to_status()).unwrap_or_default(),
        &headers,
    )
}

fn header(req: &Request<Incoming>, name: &str) -> String {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

async fn handle(
    engine: Arc<Engine>,
    faults: Arc<Faults>,
    req: Request<Incoming>,
) -> Result<Response<ResBody>, Infallible> {
    if let Some(p) = crate::proxy::parse(req.uri().path()) {
        return Ok(match crate::proxy::forward(&engine, &p, req).await {
            Ok(r) => full(r.status, &r.content_type, r.body, &r.headers),
            Err(e) => error_response(&e),
        });
    }
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let target = parse_path(&path);
    let query = Query::parse(req.uri().query().unwrap_or(""));
    let content_type = header(&req, "content-type");
    let accept = header(&req, "accept");
    let user_agent = header(&req, "user-agent");
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(e) => {
            return Ok(error_response(&ApiError::bad_request(format!(
                "reading body: {e}"
            ))))
        }
    };
    let api = ApiRequest {
        method,
        target,
        query,
        content_type,
        accept,
        user_agent,
        body,
    };
    if let Target::Resource(rp) = &api.target {
        let watching = api.method == "GET" && api.query.flag("watch");
        let v = verb(&api.method, rp.name.is_some(), watching);
        if let Some(d) = faults.latency(v) {
            tokio::time::sleep(d).await;
        }
        if let Some(e) = faults
            .injected_error()
            .or_else(|| faults.rule_error(v, &rp.plural))
        {
            return Ok(error_response(&e));
        }
        if watching {
            let start = match engine.start_watch(&api, rp) {
                Ok(s) => s,
                Err(e) => return Ok(error_response(&unserved(&engine, &path, e))),
            };
            let (tx, rx) = mpsc::channel(256);
            tokio::spawn(start.run(tx, faults.drop_watch_after()));
            let resp = Response::builder()
                .status(200)
                .header("Content-Type", "application/json")
                .header("Cache-Control", "no-cache, private")
                .body(ChannelBody(rx).boxed())
                .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed()));
            return Ok(resp);
        }
    }
    // A request on one object (or discovery) holds the state lock for microseconds and is
    // answered on this task; a collection read or delete can take long (100k objects), so it
    // runs on the blocking pool. Either way the wait for the group commit holds no thread.
    let staged = if runs_long(&api) {
        let engine = engine.clone();
        match tokio::task::spawn_blocking(move || engine.handle_staged(&api)).await {
            Ok(staged) => staged,
            Err(e) => {
                let e = ApiError::internal(format!("handler panicked: {e}"));
                return Ok(error_response(&e));
            }
        }
    } else {
        engine.handle_staged(&api)
    };
    let (reply, ticket) = staged;
    if let Err(e) = engine.durable(ticket).await {
        return Ok(error_response(&e));
    }
    Ok(match reply {
        Ok(r) => reply_response(r),
        Err(e) => error_response(&unserved(&engine, &path, e)),
    })
}

/// A 404 for a path no resource answers becomes Go's plain-text `404 page not found` when the
/// path is outside every served API group, as the real server's mux answers it.
fn unserved(engine: &Engine, path: &str, e: ApiError) -> ApiError {
    if e.is_no_route() && !engine.serves_path(path) {
        ApiError::page_not_found()
    } else {
        e
    }
}

/// Whether answering `api` may take long: reads and deletes of whole collections.
fn runs_long(api: &ApiRequest) -> bool {
    match &api.target {
        Target::Resource(rp) => {
            rp.name.is_none() && matches!(api.method.as_str(), "GET" | "DELETE")
        }
        _ => false,
    }
}

/// Accepts connections until `shutdown` turns true.
pub async fn accept_loop(
    listener: TcpListener,
    engine: Arc<Engine>,
    faults: Arc<Faults>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let (engine, faults) = (engine.clone(), faults.clone());
                conns.spawn(async move {
                    let svc = hyper::service::service_fn(move |req| handle(engine.clone(), faults.clone(), req));
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, svc).await;
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.abort_all();
}
