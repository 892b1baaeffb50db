//! [`RegistryClient`]: tag lists, manifests and image configs through the auth flow, the
//! per-registry rate limit and the shared cache.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::HeaderValue;
use http::Method;
use serde_json::Value;

use crate::auth::{Auth, Scheme};
use crate::cache::{FlightCache, Limiters};
use crate::conf::Endpoint;
use crate::error::{Ctx, RegistryError, Step};
use crate::headers::next_link;
use crate::manifest::{
    parse_manifest, select, sha256_digest, valid_digest, ImageConfig, Parsed, Platform, TagMeta,
    ACCEPT,
};
use crate::secret::{identity, Credentials};
use crate::transport::{origin_of, resolve, Resp, Transport};

/// The default timeout of one request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// At most this many tag-list pages are read.
const MAX_PAGES: usize = 10_000;

/// How a [`RegistryClient`] behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientOptions {
    /// How long tag lists and tag → manifest answers are reused.
    pub cache_ttl: Duration,
    /// The timeout of one request.
    pub timeout: Duration,
    /// `n=` of tag-list requests (`None`: the registry's default page).
    pub page_size: Option<u32>,
}

impl ClientOptions {
    /// Options with `cache_ttl`, the default timeout and no page size.
    pub fn new(cache_ttl: Duration) -> ClientOptions {
        ClientOptions {
            cache_ttl,
            timeout: DEFAULT_TIMEOUT,
            page_size: None,
        }
    }
}

/// A manifest as fetched: its digest (computed), content type and bytes.
#[derive(Debug)]
struct Manifest {
    digest: String,
    content_type: Option<String>,
    body: Bytes,
}

/// (API URL, repository, tag or digest, credential identity).
type Key4 = (String, String, String, String);
/// (API URL, repository, digest).
type Key3 = (String, String, String);

/// An OCI distribution client: cheap to clone; clones share the connection pools, the request
/// counter, learned auth schemes, tokens and the cache.
#[derive(Clone)]
pub struct RegistryClient {
    inner: Arc<Inner>,
}

struct Inner {
    options: ClientOptions,
    transport: Arc<Transport>,
    auth: Auth,
    limiters: Limiters,
    tags: FlightCache<(String, String, String), Arc<Vec<String>>>,
    manifests: FlightCache<Key4, Arc<Manifest>>,
    configs: FlightCache<Key3, Arc<ImageConfig>>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("options", &self.inner.options)
            .field("requests", &self.requests())
            .finish_non_exhaustive()
    }
}

impl RegistryClient {
    /// A client whose tag lists are reused for `cache_ttl`.
    pub fn new(cache_ttl: Duration) -> RegistryClient {
        RegistryClient::with_options(ClientOptions::new(cache_ttl))
    }

    /// A client with `options`.
    pub fn with_options(options: ClientOptions) -> RegistryClient {
        RegistryClient {
            inner: Arc::new(Inner {
                transport: Arc::new(Transport::new(options.timeout)),
                options,
                auth: Auth::new(),
                limiters: Limiters::new(),
                tags: FlightCache::new(),
                manifests: FlightCache::new(),
                configs: FlightCache::new(),
            }),
        }
    }

    /// HTTP requests sent so far (pings, tokens, pages, manifests, blobs, redirects).
    pub fn requests(&self) -> u64 {
        self.inner.transport.requests()
    }

    /// Every tag of `repo` (`default_ns` added to one-segment names), following `Link` pages;
    /// cached per (registry, repository, credentials) for the cache TTL, one listing in flight
    /// per key.
    pub async fn list_tags(
        &self,
        ep: &Endpoint,
        repo: &str,
        creds: Option<&Credentials>,
    ) -> Result<Arc<Vec<String>>, RegistryError> {
        let repo = checked_repo(ep, repo)?;
        let key = (ep.api_url.clone(), repo.clone(), identity(creds));
        let (this, ep, creds) = (self.clone(), ep.clone(), creds.cloned());
        let ttl = self.inner.options.cache_ttl;
        let fetch = async move {
            let tags = this.fetch_tags(&ep, &repo, creds.as_ref()).await?;
            Ok((Arc::new(tags), Some(ttl)))
        };
        self.inner.tags.get(key, fetch).await
    }

    /// The digest of the manifest `tag` points at (sha256 over its bytes).
    pub async fn manifest_digest(
        &self,
        ep: &Endpoint,
        repo: &str,
        tag: &str,
        creds: Option<&Credentials>,
    ) -> Result<String, RegistryError> {
        let repo = checked_repo(ep, repo)?;
        let m = self.manifest(ep, &repo, tag, creds).await?;
        Ok(m.digest.clone())
    }

    /// The digest of `tag` and the newest `created` of its images of `platforms` (every real
    /// platform when empty). Per-platform manifests and configs are cached by digest for good.
    pub async fn tag_meta(
        &self,
        ep: &Endpoint,
        repo: &str,
        tag: &str,
        platforms: &[Platform],
        creds: Option<&Credentials>,
    ) -> Result<TagMeta, RegistryError> {
        let repo = checked_repo(ep, repo)?;
        let top = self.manifest(ep, &repo, tag, creds).await?;
        let ctx = Ctx::new(&ep.api_url, &repo, Step::Manifest);
        let parsed =
            parse_manifest(top.content_type.as_deref(), &top.body).map_err(|r| ctx.protocol(r))?;
        let created = match parsed {
            Parsed::Image { config } => {
                let config = self.config(ep, &repo, &config.digest, creds).await?;
                config.of(platforms).then(|| config.created()).flatten()
            }
            Parsed::Index(entries) => {
                let mut newest = None;
                for entry in select(&entries, platforms) {
                    let child = self.manifest(ep, &repo, &entry.digest, creds).await?;
                    let Parsed::Image { config } =
                        parse_manifest(child.content_type.as_deref(), &child.body)
                            .map_err(|r| ctx.protocol(r))?
                    else {
                        return Err(ctx.protocol("an index inside an index"));
                    };
                    let config = self.config(ep, &repo, &config.digest, creds).await?;
                    newest = newest.max(config.created());
                }
                newest
            }
        };
        Ok(TagMeta {
            digest: top.digest.clone(),
            created,
        })
    }

    /// The manifest of `reference` (a tag: cached for the TTL; a digest: for good, checked).
    async fn manifest(
        &self,
        ep: &Endpoint,
        repo: &str,
        reference: &str,
        creds: Option<&Credentials>,
    ) -> Result<Arc<Manifest>, RegistryError> {
        let by_digest = reference.contains(':');
        let ctx = Ctx::new(&ep.api_url, repo, Step::Manifest);
        if by_digest && !valid_digest(reference) || !by_digest && !valid_tag(reference) {
            return Err(ctx.protocol(format!("{reference:?} is not a tag or digest")));
        }
        let (ident, ttl) = if by_digest {
            (String::new(), None)
        } else {
            (identity(creds), Some(self.inner.options.cache_ttl))
        };
        let key = (
            ep.api_url.clone(),
            repo.to_string(),
            reference.to_string(),
            ident,
        );
        let (this, ep, repo, reference, creds) = (
            self.clone(),
            ep.clone(),
            repo.to_string(),
            reference.to_string(),
            creds.cloned(),
        );
        let fetch = async move {
            let url = format!("{}/v2/{repo}/manifests/{reference}", ep.api_url);
            let accept = [("accept", HeaderValue::from_static(ACCEPT))];
            let resp = this
                .get(&ep, &repo, creds.as_ref(), &ctx, &url, &accept)
                .await?;
            if resp.status != 200 {
                return Err(ctx.status(resp.status, resp.retry_after()));
            }
            let digest = sha256_digest(&resp.body);
            if by_digest && digest != reference {
                return Err(ctx.protocol(format!("content does not match {reference}")));
            }
            if let Some(h) = resp.header("docker-content-digest") {
                if h.starts_with("sha256:") && h != digest {
                    tracing::warn!(registry = %ep.api_url, %repo, %reference, header = h,
                        computed = %digest, "Docker-Content-Digest differs; using the computed one");
                }
            }
            let m = Manifest {
                digest,
                content_type: resp.header("content-type").map(str::to_string),
                body: resp.body,
            };
            Ok((Arc::new(m), ttl))
        };
        self.inner.manifests.get(key, fetch).await
    }

    /// The image config blob `digest` (redirects followed), cached for good.
    async fn config(
        &self,
        ep: &Endpoint,
        repo: &str,
        digest: &str,
        creds: Option<&Credentials>,
    ) -> Result<Arc<ImageConfig>, RegistryError> {
        let ctx = Ctx::new(&ep.api_url, repo, Step::Blob);
        if !valid_digest(digest) {
            return Err(ctx.protocol(format!("config digest {digest:?} is not a digest")));
        }
        let key = (ep.api_url.clone(), repo.to_string(), digest.to_string());
        let (this, ep, repo, digest, creds) = (
            self.clone(),
            ep.clone(),
            repo.to_string(),
            digest.to_string(),
            creds.cloned(),
        );
        let fetch = async move {
            let url = format!("{}/v2/{repo}/blobs/{digest}", ep.api_url);
            let resp = this
                .get(&ep, &repo, creds.as_ref(), &ctx, &url, &[])
                .await?;
            if resp.status != 200 {
                return Err(ctx.status(resp.status, resp.retry_after()));
            }
            if digest.starts_with("sha256:") && sha256_digest(&resp.body) != digest {
                return Err(ctx.protocol(format!("content does not match {digest}")));
            }
            let config: ImageConfig = serde_json::from_slice(&resp.body)
                .map_err(|_| ctx.protocol("the image config is not JSON"))?;
            Ok((Arc::new(config), None))
        };
        self.inner.configs.get(key, fetch).await
    }

    /// Reads every page of the tag list.
    async fn fetch_tags(
        &self,
        ep: &Endpoint,
        repo: &str,
        creds: Option<&Credentials>,
    ) -> Result<Vec<String>, RegistryError> {
        let ctx = Ctx::new(&ep.api_url, repo, Step::Tags);
        let origin = origin_of(&ep.api_url);
        let mut url = format!("{}/v2/{repo}/tags/list", ep.api_url);
        if let Some(n) = self.inner.options.page_size {
            url.push_str(&format!("?n={n}"));
        }
        let mut tags = Vec::new();
        let mut seen = HashSet::new();
        for _ in 0..MAX_PAGES {
            let resp = self.get(ep, repo, creds, &ctx, &url, &[]).await?;
            if resp.status != 200 {
                return Err(ctx.status(resp.status, resp.retry_after()));
            }
            let page: Value = serde_json::from_slice(&resp.body)
                .map_err(|_| ctx.protocol("the tag list is not JSON"))?;
            match page.get("tags") {
                None | Some(Value::Null) => {}
                Some(Value::Array(list)) => {
                    tags.extend(list.iter().filter_map(Value::as_str).map(str::to_string))
                }
                Some(_) => return Err(ctx.protocol("`tags` is not a list")),
            }
            let Some(next) = resp.header("link").and_then(next_link) else {
                return Ok(tags);
            };
            let next = resolve(&url, &next);
            if origin_of(&next) != origin {
                return Err(ctx.protocol("the next page is on another host"));
            }
            if !seen.insert(next.clone()) {
                return Err(ctx.protocol("the pages loop"));
            }
            url = next;
        }
        Err(ctx.protocol(format!("more than {MAX_PAGES} pages")))
    }

    /// The scheme of `ep`: learned before, or from a ping when the endpoint pings.
    async fn scheme(&self, ep: &Endpoint, ctx: &Ctx) -> Result<Option<Scheme>, RegistryError> {
        if let Some(s) = self.inner.auth.scheme(&ep.api_url) {
            return Ok(Some(s));
        }
        if !ep.ping {
            return Ok(None);
        }
        let ping = Ctx {
            step: Step::Ping,
            ..ctx.clone()
        };
        self.inner.limiters.wait(&ep.api_url, ep.limit).await;
        let url = format!("{}/v2/", ep.api_url);
        let resp = self
            .inner
            .transport
            .send(&ping, ep.insecure, Method::GET, &url, &[])
            .await?;
        match resp.status {
            200 | 401 => Ok(self.inner.auth.learn(&ep.api_url, &resp)),
            s => Err(ping.status(s, resp.retry_after())),
        }
    }

    /// GET `url` of `repo` with authentication: a 401 teaches the scheme (or means the cached
    /// token expired) and the request is sent once more; a second 401 is
    /// [`RegistryError::Unauthorized`].
    async fn get(
        &self,
        ep: &Endpoint,
        repo: &str,
        creds: Option<&Credentials>,
        ctx: &Ctx,
        url: &str,
        headers: &[(&'static str, HeaderValue)],
    ) -> Result<Resp, RegistryError> {
        let inner = &self.inner;
        let scheme = self.scheme(ep, ctx).await?;
        let first = match &scheme {
            Some(s) => {
                inner
                    .auth
                    .header(&inner.transport, ctx, ep.insecure, s, repo, creds, false)
                    .await?
            }
            None => None,
        };
        let resp = self.send(ep, ctx, url, headers, first.clone()).await?;
        if resp.status != 401 {
            return Ok(resp);
        }
        let unauthorized = || ctx.status(401, None);
        let learned = inner
            .auth
            .learn(&ep.api_url, &resp)
            .ok_or_else(unauthorized)?;
        let again = inner
            .auth
            .header(
                &inner.transport,
                ctx,
                ep.insecure,
                &learned,
                repo,
                creds,
                true,
            )
            .await?
            .ok_or_else(unauthorized)?;
        if learned == Scheme::Basic && first.as_ref() == Some(&again) {
            return Err(unauthorized());
        }
        let resp = self.send(ep, ctx, url, headers, Some(again)).await?;
        if resp.status == 401 {
            return Err(unauthorized());
        }
        Ok(resp)
    }

    /// One rate-limited GET (redirects followed).
    async fn send(
        &self,
        ep: &Endpoint,
        ctx: &Ctx,
        url: &str,
        headers: &[(&'static str, HeaderValue)],
        auth: Option<HeaderValue>,
    ) -> Result<Resp, RegistryError> {
        self.inner.limiters.wait(&ep.api_url, ep.limit).await;
        let mut all = headers.to_vec();
        if let Some(a) = auth {
            all.push(("authorization", a));
        }
        self.inner
            .transport
            .send_following(ctx, ep.insecure, url, &all)
            .await
    }
}

/// `repo` with the endpoint's default namespace, checked against the distribution grammar
/// (lower-case components separated by `/`) so it cannot change the request path.
fn checked_repo(ep: &Endpoint, repo: &str) -> Result<String, RegistryError> {
    let full = ep.repository(repo);
    let ok = !full.is_empty()
        && full.len() <= 255
        && full.split('/').all(|c| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
                && c.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
                && c.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
        });
    if ok {
        Ok(full)
    } else {
        Err(Ctx::new(&ep.api_url, repo, Step::Tags).protocol("not a valid repository name"))
    }
}

/// A tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn valid_tag(tag: &str) -> bool {
    tag.len() <= 128
        && tag
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        let hub = Endpoint::docker_hub();
        assert_eq!(checked_repo(&hub, "nginx").unwrap(), "library/nginx");
        assert_eq!(checked_repo(&hub, "a/b-c/d_e.f").unwrap(), "a/b-c/d_e.f");
        for bad in ["", "Nginx", "a//b", "a/../b", "-a", "a?x=1", "a b"] {
            assert!(checked_repo(&hub, bad).is_err(), "{bad}");
        }
        assert!(valid_tag("v1.2.3-rc_1"));
        assert!(!valid_tag(".x") && !valid_tag("a/b") && !valid_tag(""));
    }

    #[tokio::test]
    async fn nothing_listening_is_unreachable() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let ep = Endpoint::new("x", &format!("http://127.0.0.1:{port}"));
        let client = RegistryClient::new(Duration::from_secs(60));
        let err = client.list_tags(&ep, "a", None).await.unwrap_err();
        assert!(
            matches!(
                err,
                RegistryError::Unreachable {
                    step: Step::Ping,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.is_transient());
        assert_eq!(client.requests(), 1);
    }
}
