use std::collections::{HashMap, HashSet};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use bytes::Bytes;
use chrono::Utc;
use futures::{Stream, StreamExt, TryStreamExt};
use reqwest::header::{HeaderMap, HeaderValue};
use serde::Deserialize;
use tokio::sync::{OnceCell, Semaphore};

use super::limiter::{Lane, Pacer};
use super::{ApiChoice, ClientConfig, ClientError, ClientStats, RunsQuery};
use serde_json::value::RawValue;

use crate::model::{Page, Run};

/// The runs API a client ended up using.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ApiVersion {
    V1,
    V2,
}

/// A stream of pages of runs (each with the runs of it that could not be read).
pub type PageStream = Pin<Box<dyn Stream<Item = Result<Page, ClientError>> + Send>>;

use super::query::SEVEN_DAYS;

/// The LangSmith client. Cheap to clone; clones share limiters, the in-flight cap and counters.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// For pre-signed URLs: no default headers, so no credential ever reaches them. Built on
    /// first use: most loads never fetch one, and each client loads the system's root
    /// certificates (~10 ms of CPU).
    presigned: std::sync::OnceLock<reqwest::Client>,
    config: ClientConfig,
    pacer: Pacer,
    in_flight: Semaphore,
    stats: ClientStats,
    offer: OnceCell<Offer>,
    projects: Mutex<HashMap<String, String>>,
}

/// The run-query APIs a deployment offers.
#[derive(Debug, Clone, Copy)]
struct Offer {
    v1: bool,
    v2: bool,
}

#[derive(Deserialize)]
struct V1Page {
    #[serde(default)]
    runs: Vec<Run>,
    #[serde(default)]
    cursors: Option<HashMap<String, Option<String>>>,
}

#[derive(Deserialize)]
struct V2Page {
    #[serde(default)]
    items: Vec<Run>,
    #[serde(default)]
    next_cursor: Option<String>,
}

/// A page of runs as one of the APIs sends it.
trait RunsPage: serde::de::DeserializeOwned {
    /// The runs and the next page's cursor.
    fn into_parts(self) -> (Vec<Run>, Option<String>);
}

impl RunsPage for V1Page {
    fn into_parts(self) -> (Vec<Run>, Option<String>) {
        let next = self.cursors.and_then(|mut c| c.remove("next").flatten());
        (self.runs, next)
    }
}

impl RunsPage for V2Page {
    fn into_parts(self) -> (Vec<Run>, Option<String>) {
        (self.items, self.next_cursor)
    }
}

/// Either API's page with its runs as raw records, for reading them one by one.
#[derive(Deserialize)]
struct RawPage<'a> {
    #[serde(borrow, default, alias = "items")]
    runs: Vec<&'a RawValue>,
    #[serde(default)]
    cursors: Option<HashMap<String, Option<String>>>,
    #[serde(default)]
    next_cursor: Option<String>,
}

/// A page read whole (the fast path); when a run in it does not fit, read again run by run,
/// so the others are kept and the bad ones set aside, named by `origin`.
fn read_page<P: RunsPage>(
    bytes: &[u8],
    origin: impl FnOnce() -> String,
) -> Result<(Page, Option<String>), ClientError> {
    match parse_json::<P>(bytes) {
        Ok(page) => {
            let (runs, next) = page.into_parts();
            Ok((Page::of(runs), next))
        }
        Err(ClientError::Unreadable { .. }) => {
            let text = crate::utf8(bytes).map_err(|e| malformed(&e, bytes.len()))?;
            let raw: RawPage = serde_json::from_str(text).map_err(|e| classify(e, bytes.len()))?;
            let next = raw
                .next_cursor
                .or_else(|| raw.cursors.and_then(|mut c| c.remove("next").flatten()));
            Ok((Page::read_each(&raw.runs, &origin()), next))
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
struct Session {
    id: String,
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Client, ClientError> {
        crate::ensure_crypto_provider();
        let key = config.api_key.as_ref().ok_or(ClientError::MissingApiKey)?;
        let mut headers = HeaderMap::new();
        let mut key_header = HeaderValue::from_str(key.expose()).map_err(|_| {
            ClientError::Unsupported(
                "the API key contains characters HTTP headers cannot carry".into(),
            )
        })?;
        key_header.set_sensitive(true);
        headers.insert("x-api-key", key_header);
        if let Some(ws) = &config.workspace_id {
            let value = HeaderValue::from_str(ws).map_err(|_| {
                ClientError::Unsupported(format!("workspace id {ws:?} is not a valid header value"))
            })?;
            headers.insert("x-tenant-id", value);
        }
        headers.insert("accept", HeaderValue::from_static("application/json"));
        let http = http_client(&config, headers, Tls::for_endpoint(&config.endpoint))?;
        let pacer = Pacer::new(config.rate_window, |lane| config.lane_limit(lane));
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                presigned: std::sync::OnceLock::new(),
                in_flight: Semaphore::new(config.max_in_flight.max(1)),
                pacer,
                stats: ClientStats::default(),
                offer: OnceCell::new(),
                projects: Mutex::new(HashMap::new()),
                config,
            }),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    pub fn stats(&self) -> super::StatsSnapshot {
        self.inner.stats.snapshot()
    }

    /// Each lane's allowance per rate window now (`None`: not paced), and the window.
    pub fn lane_limits(&self) -> (Vec<(Lane, Option<u32>)>, Duration) {
        (self.inner.pacer.limits(), self.inner.pacer.window())
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.inner.config.endpoint, path)
    }

    /// `GET` a pre-signed URL (where LangSmith offloaded a payload) through the same
    /// retries, in-flight cap and pacing (the `Other` lane) as API requests, but with no
    /// credentials: neither the API key nor the workspace id goes to a URL that carries its
    /// own signature, whatever its host. A relative URL (`/…`) is resolved against the
    /// endpoint, as the SDK resolves relative pre-signed URLs.
    pub async fn get_presigned(&self, url: &str) -> Result<Bytes, ClientError> {
        let absolute = if url.starts_with('/') {
            self.url(url)
        } else {
            url.to_string()
        };
        if !is_presigned(&absolute) {
            return Err(ClientError::Offloaded {
                url: without_query(url).to_string(),
                status: None,
                detail: "not an http(s) URL".into(),
            });
        }
        self.request(&[Lane::Other], "GET", &absolute, None, |b| {
            Ok(Bytes::copy_from_slice(b))
        })
        .await
    }

    /// `GET /api/v1/info`.
    pub async fn info(&self) -> Result<serde_json::Value, ClientError> {
        self.request(&[Lane::Other], "GET", "/api/v1/info", None, parse_json)
            .await
    }

    /// Which run-query APIs the deployment offers, read once from `/info` (as the SDK reads
    /// it: v1 unless `ch_query_enabled` is false, v2 where `sdb_query_enabled` is true). An
    /// unreadable `/info` counts as v1 only, the SDK's assumption too.
    async fn offer(&self) -> Result<Offer, ClientError> {
        self.inner
            .offer
            .get_or_try_init(|| async move {
                match self.info().await {
                    Ok(info) => {
                        let flags = &info["instance_flags"];
                        let offer = Offer {
                            v1: flags["ch_query_enabled"].as_bool().unwrap_or(true),
                            v2: flags["sdb_query_enabled"].as_bool().unwrap_or(false),
                        };
                        tracing::debug!(?offer, "run-query APIs offered, from /info");
                        Ok(offer)
                    }
                    Err(
                        e @ (ClientError::Unauthorized { .. }
                        | ClientError::WorkspaceRequired { .. }),
                    ) => Err(e),
                    Err(e) => {
                        tracing::warn!("cannot read /info ({e}); using the v1 runs API");
                        Ok(Offer {
                            v1: true,
                            v2: false,
                        })
                    }
                }
            })
            .await
            .copied()
    }

    /// The API that carries `query`: the configured one, or for `auto` v2 wherever the
    /// deployment offers it, v1 where it does not, or where the query needs what only v1 has
    /// (`parent_run`, oldest-first order) and v1 is offered.
    pub async fn api_for(&self, query: &RunsQuery) -> Result<ApiVersion, ClientError> {
        Ok(match self.inner.config.api {
            ApiChoice::V1 => ApiVersion::V1,
            ApiChoice::V2 => ApiVersion::V2,
            ApiChoice::Auto => {
                let offer = self.offer().await?;
                if offer.v2 && (query.expressible_in_v2() || !offer.v1) {
                    ApiVersion::V2
                } else {
                    ApiVersion::V1
                }
            }
        })
    }

    /// The API a plain query (one v2 can express) uses.
    pub async fn api_version(&self) -> Result<ApiVersion, ClientError> {
        self.api_for(&RunsQuery::default()).await
    }

    /// Runs per page, and ids per fetch, on `api`.
    pub fn page_size(&self, api: ApiVersion) -> usize {
        match api {
            ApiVersion::V1 => self.inner.config.v1_page_size.clamp(1, 100),
            ApiVersion::V2 => self.inner.config.v2_page_size.clamp(1, 1000),
        }
    }

    /// A project's id from its exact name, looked up once per client.
    pub async fn resolve_project(&self, name: &str) -> Result<String, ClientError> {
        if let Some(id) = self.inner.projects.lock().unwrap().get(name) {
            return Ok(id.clone());
        }
        let path = format!("/api/v1/sessions?name={}&limit=1", urlencode(name));
        let sessions: Vec<Session> = self
            .request(&[Lane::Other], "GET", &path, None, parse_json)
            .await?;
        let id = sessions.into_iter().next().map(|s| s.id).ok_or_else(|| {
            ClientError::ProjectNotFound {
                name: name.to_string(),
                endpoint: self.inner.config.endpoint.clone(),
            }
        })?;
        self.inner
            .projects
            .lock()
            .unwrap()
            .insert(name.to_string(), id.clone());
        Ok(id)
    }

    /// Every page of a query, in order, fetched lazily: a consumer that stops reading stops
    /// the requests, and nothing is buffered beyond the page being handed out.
    pub fn pages(&self, query: RunsQuery) -> PageStream {
        struct State {
            client: Client,
            query: RunsQuery,
            /// The API and the rate lanes of this query, decided at its first page: its
            /// filters are read once, not at every page.
            carrier: Option<(ApiVersion, &'static [Lane])>,
            cursor: Option<String>,
            done: bool,
        }
        let state = State {
            client: self.clone(),
            query,
            carrier: None,
            cursor: None,
            done: false,
        };
        Box::pin(futures::stream::try_unfold(state, |mut st| async move {
            if st.done {
                return Ok(None);
            }
            let carrier = match st.carrier {
                Some(c) => c,
                None => *st.carrier.insert(st.client.carrier(&st.query).await?),
            };
            let (page, next) = st
                .client
                .page_on(carrier, &st.query, st.cursor.as_deref())
                .await?;
            let empty = page.runs.is_empty() && page.rejected.is_empty();
            st.done = empty || next.as_deref().is_none_or(str::is_empty);
            st.cursor = next;
            if empty {
                return Ok(None);
            }
            Ok(Some((page, st)))
        }))
    }

    /// One page of a query, through the API that carries it.
    pub async fn page(
        &self,
        query: &RunsQuery,
        cursor: Option<&str>,
    ) -> Result<(Page, Option<String>), ClientError> {
        let carrier = self.carrier(query).await?;
        self.page_on(carrier, query, cursor).await
    }

    /// The API that carries `query` and the rate lanes its requests draw on.
    async fn carrier(
        &self,
        query: &RunsQuery,
    ) -> Result<(ApiVersion, &'static [Lane]), ClientError> {
        Ok(match self.api_for(query).await? {
            ApiVersion::V1 => (ApiVersion::V1, query.v1_lanes(Utc::now())),
            ApiVersion::V2 => (ApiVersion::V2, &[Lane::V2]),
        })
    }

    async fn page_on(
        &self,
        (api, lanes): (ApiVersion, &'static [Lane]),
        query: &RunsQuery,
        cursor: Option<&str>,
    ) -> Result<(Page, Option<String>), ClientError> {
        let size = self.page_size(api);
        let origin = |path: &str| {
            let at = cursor.map_or(String::new(), |c| format!(" (cursor {c})"));
            format!("POST {}{path}{at}", self.inner.config.endpoint)
        };
        let (path, body) = match api {
            ApiVersion::V1 => ("/api/v1/runs/query", query.v1_body(size, cursor)),
            ApiVersion::V2 => ("/api/v2/runs/query", query.v2_body(size, cursor)?),
        };
        let read = |b: &[u8]| match api {
            ApiVersion::V1 => read_page::<V1Page>(b, || origin(path)),
            ApiVersion::V2 => read_page::<V2Page>(b, || origin(path)),
        };
        let (page, next) = self.request(lanes, "POST", path, Some(body), read).await?;
        self.inner.stats.runs(page.runs.len());
        Ok((page, next))
    }

    /// Like [`Client::pages`], with the window cut into windows of at most `max_window`
    /// fetched concurrently (LangSmith rates ≤ 7-day windows higher). Runs come in no
    /// particular order; runs on a shared boundary are delivered once.
    pub fn pages_split(&self, query: RunsQuery, max_window: chrono::TimeDelta) -> PageStream {
        let parts = query.split(max_window, Utc::now());
        if parts.len() == 1 {
            return self.pages(query);
        }
        let boundaries: HashSet<i64> = parts
            .iter()
            .skip(1)
            .filter_map(|p| p.start_time)
            .map(|t| t.timestamp_micros())
            .collect();
        let mut seen_on_boundary = HashSet::new();
        let merged = futures::stream::select_all(parts.into_iter().map(|p| self.pages(p)));
        Box::pin(merged.map_ok(move |mut page| {
            page.runs.retain(|r| {
                let on_boundary = r
                    .start_time
                    .value()
                    .is_some_and(|t| boundaries.contains(&t.micros()));
                !on_boundary || seen_on_boundary.insert(r.id.clone())
            });
            page
        }))
    }

    /// A query's pages. With `split_windows`, a v1 query's window longer than 7 days is cut
    /// into 7-day windows (v1's faster tier); v2 has no such tiers, so its window stays whole.
    pub fn query(&self, query: RunsQuery, split_windows: bool) -> PageStream {
        let client = self.clone();
        let stream = futures::stream::once(async move {
            let api = client.api_for(&query).await?;
            Ok::<_, ClientError>(if split_windows && api == ApiVersion::V1 {
                client.pages_split(query, SEVEN_DAYS)
            } else {
                client.pages(query)
            })
        })
        .try_flatten();
        Box::pin(stream)
    }

    /// Runs by id, in requests of at most one page each (100 ids on v1, 1,000 on v2), sent
    /// concurrently within the client's limits. `base` supplies projects and `select`.
    pub fn fetch_by_ids(&self, base: &RunsQuery, ids: Vec<String>) -> PageStream {
        let client = self.clone();
        let base = base.clone();
        let stream = futures::stream::once(async move {
            let batch = client.page_size(client.api_for(&base).await?);
            let queries: Vec<RunsQuery> = ids
                .chunks(batch)
                .map(|chunk| RunsQuery {
                    ids: Some(chunk.to_vec()),
                    ..base.clone()
                })
                .collect();
            let concurrency = client.inner.config.max_in_flight.max(1);
            Ok::<_, ClientError>(
                futures::stream::iter(queries.into_iter().map(move |q| client.pages(q)))
                    .flatten_unordered(concurrency),
            )
        })
        .try_flatten();
        Box::pin(stream)
    }

    /// One request with rate limiting, the in-flight cap and retries. `parse` runs inside the
    /// retried attempt, so a truncated or malformed body is retried like a dropped connection.
    /// `path` is an API path (`/api/…`), or an absolute pre-signed URL sent without
    /// credentials ([`Client::get_presigned`]).
    pub(super) async fn request<T>(
        &self,
        lanes: &[Lane],
        method: &'static str,
        path: &str,
        body: Option<serde_json::Value>,
        parse: impl Fn(&[u8]) -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        let config = &self.inner.config;
        let max_attempts = config.max_attempts.max(1);
        let backoff = ExponentialBuilder::default()
            .with_min_delay(config.backoff_min)
            .with_max_delay(config.backoff_max)
            .with_max_times(max_attempts - 1)
            .with_jitter();
        let body = body.map(|b| Bytes::from(serde_json::to_vec(&b).expect("JSON body")));
        let attempt = || self.attempt(lanes, method, path, body.clone(), &parse);
        let mut attempts = 1;
        // A pre-signed URL's query is its signature: never logged.
        let shown = without_query(path);
        let result = attempt
            .retry(backoff)
            .when(ClientError::is_retryable)
            .adjust(|e: &ClientError, delay| e.retry_after().or(delay))
            .notify(|e: &ClientError, delay: Duration| {
                attempts += 1;
                self.inner.stats.retry();
                tracing::debug!(
                    "{method} {shown}: {e}; retrying in {:.2}s",
                    delay.as_secs_f64()
                );
            })
            .await;
        result.map_err(|e| {
            if e.is_retryable() && attempts > 1 {
                ClientError::Exhausted {
                    attempts,
                    last: Box::new(e),
                }
            } else {
                e
            }
        })
    }

    async fn attempt<T>(
        &self,
        lanes: &[Lane],
        method: &'static str,
        path: &str,
        body: Option<Bytes>,
        parse: &impl Fn(&[u8]) -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        let inner = &self.inner;
        // The permit first: the pacer records when a request really leaves, as the server
        // counts its arrival.
        let _permit = inner
            .in_flight
            .acquire()
            .await
            .expect("semaphore never closed");
        let ticket = inner.pacer.acquire(lanes).await;
        let presigned = is_presigned(path);
        let shown = without_query(path);
        let endpoint = match presigned {
            true => &url::Url::parse(path)
                .map_or_else(|_| shown.to_string(), |u| u.origin().ascii_serialization()),
            false => &inner.config.endpoint,
        };
        let transport = |e: reqwest::Error| ClientError::Transport {
            endpoint: endpoint.clone(),
            detail: error_chain(&e),
        };
        let mut request = match (method, presigned) {
            ("GET", true) => {
                let client = match inner.presigned.get() {
                    Some(client) => client,
                    None => {
                        let built = http_client(&inner.config, HeaderMap::new(), Tls::Verified)?;
                        inner.presigned.get_or_init(|| built)
                    }
                };
                client.get(path)
            }
            ("GET", false) => inner.http.get(self.url(path)),
            (_, _) => inner.http.post(self.url(path)),
        };
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        inner.stats.request();
        let started = Instant::now();
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers());
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(str::to_string);
        let bytes = response.bytes().await.map_err(transport)?;
        inner.stats.bytes(bytes.len());
        tracing::debug!(
            "{method} {shown} → {status}, {} bytes in {} ms",
            bytes.len(),
            started.elapsed().as_millis()
        );
        let detail = || error_detail(&bytes);
        match status {
            200..=299 => {
                inner.pacer.succeeded(&ticket);
                parse(&bytes)
            }
            429 => {
                inner.stats.throttled();
                inner.pacer.throttled(&ticket, retry_after);
                Err(ClientError::RateLimited { retry_after })
            }
            // An object store's answer, not LangSmith's: 403 is an expired or wrong
            // signature, 404 a payload gone.
            s if presigned && !matches!(s, 408 | 425 | 500..=599) => Err(ClientError::Offloaded {
                url: shown.to_string(),
                status: Some(status),
                detail: detail(),
            }),
            // A deployment without the API asked for: v1 queries on SmithDB only answer 501,
            // v2 routes on a deployment without SmithDB do not exist. Never worth a retry.
            501 if path.starts_with("/api/v1/runs") => Err(ClientError::ApiMissing {
                endpoint: endpoint.clone(),
                api: "v1",
                status,
                what: format!("{method} {path}"),
            }),
            404 if path.starts_with("/api/v2/") => Err(ClientError::ApiMissing {
                endpoint: endpoint.clone(),
                api: "v2",
                status,
                what: format!("{method} {path}"),
            }),
            // Redirects a client follows never get here: this is one it stopped at.
            300..=399 if location.is_some() => Err(ClientError::Redirected {
                endpoint: endpoint.clone(),
                status,
                location: location.unwrap_or_default(),
            }),
            401 => Err(ClientError::Unauthorized {
                endpoint: endpoint.clone(),
            }),
            403 if detail().contains("org_scoped_key_requires_workspace") => {
                Err(ClientError::WorkspaceRequired {
                    endpoint: endpoint.clone(),
                })
            }
            403 => Err(ClientError::Forbidden {
                endpoint: endpoint.clone(),
                detail: detail(),
            }),
            404 => Err(ClientError::NotFound {
                what: format!("{method} {path}"),
                detail: detail(),
            }),
            408 | 425 | 500..=599 => Err(ClientError::Server {
                status,
                detail: detail(),
            }),
            _ => Err(ClientError::BadRequest {
                status,
                detail: detail(),
            }),
        }
    }
}

/// Whether a client speaks TLS, checked against the system's root certificates.
#[derive(Clone, Copy)]
enum Tls {
    Verified,
    /// A plain `http://` endpoint (the emulator, a local deployment): no root certificates
    /// loaded (~2 ms of CPU per client), and no redirect followed to `https://`, which would
    /// fail on them; it is answered with what to fix instead.
    Plain,
}

impl Tls {
    fn for_endpoint(endpoint: &str) -> Tls {
        match endpoint.starts_with("http://") {
            true => Tls::Plain,
            false => Tls::Verified,
        }
    }
}

/// An HTTP client with the configured timeouts and pool, sending `headers` with every request.
fn http_client(
    config: &ClientConfig,
    headers: HeaderMap,
    tls: Tls,
) -> Result<reqwest::Client, ClientError> {
    let builder = reqwest::Client::builder()
        .user_agent(concat!("runlake/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(config.connect_timeout)
        .timeout(config.request_timeout)
        .pool_max_idle_per_host(config.max_in_flight)
        .default_headers(headers);
    let builder = match tls {
        Tls::Verified => builder,
        Tls::Plain => builder
            .tls_certs_only([])
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                match (attempt.url().scheme(), attempt.previous().len()) {
                    ("http", 0..10) => attempt.follow(),
                    ("http", _) => attempt.error("more than 10 redirects"),
                    _ => attempt.stop(),
                }
            })),
    };
    builder.build().map_err(|e| ClientError::Transport {
        endpoint: config.endpoint.clone(),
        detail: e.to_string(),
    })
}

/// Whether `path` is an absolute URL (a pre-signed one) rather than an API path.
fn is_presigned(path: &str) -> bool {
    path.starts_with("https://") || path.starts_with("http://")
}

/// A URL without its query (a pre-signed URL's signature), for messages.
pub fn without_query(url: &str) -> &str {
    url.split_once('?').map_or(url, |(base, _)| base)
}

/// Validates UTF-8 once for the whole body, then parses from `&str`: from bytes, serde_json
/// would validate every string and raw value again as it copies it out.
pub(super) fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ClientError> {
    let text = crate::utf8(bytes).map_err(|e| malformed(&e, bytes.len()))?;
    serde_json::from_str(text).map_err(|e| classify(e, bytes.len()))
}

fn malformed(e: &dyn std::fmt::Display, len: usize) -> ClientError {
    ClientError::Malformed {
        detail: format!("{e} ({len} bytes)"),
    }
}

fn classify(e: serde_json::Error, len: usize) -> ClientError {
    match e.classify() {
        // Whole, well-formed JSON that does not fit: the same bytes would come again, so
        // this is no transient fault to retry.
        serde_json::error::Category::Data => ClientError::Unreadable {
            detail: e.to_string(),
        },
        _ => malformed(&e, len),
    }
}

/// `Retry-After` as seconds or an HTTP date, or the millisecond variant.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return Some(Duration::from_secs_f64(ms.max(0.0) / 1000.0));
    }
    let value = text("retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return Some(Duration::from_secs_f64(secs.max(0.0)));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

/// The server's `detail` (or `error`) text, shortened.
fn error_detail(bytes: &[u8]) -> String {
    let text = match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(v) => match v.get("detail").or_else(|| v.get("error")) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => v.to_string(),
        },
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    };
    let mut text: String = text.chars().take(500).collect();
    if text.is_empty() {
        text = "(empty body)".into();
    }
    text
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
        let mut h = HeaderMap::new();
        let later = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(30));
        h.insert("retry-after", HeaderValue::from_str(&later).unwrap());
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(27) && d <= Duration::from_secs(30),
            "{d:?}"
        );
    }

    #[test]
    fn a_cut_off_body_is_retried_a_body_that_does_not_fit_is_not() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Page {
            runs: Vec<crate::model::Run>,
        }
        let cut = parse_json::<Page>(br#"{"runs": [{"id": "a", "na"#).unwrap_err();
        assert!(cut.is_retryable(), "{cut}");
        let bad =
            parse_json::<Page>(br#"{"runs": [{"id": "a", "start_time": true}]}"#).unwrap_err();
        assert!(matches!(bad, ClientError::Unreadable { .. }), "{bad:?}");
        assert!(!bad.is_retryable());
        assert!(
            bad.to_string().contains("start_time") || bad.to_string().contains("boolean"),
            "{bad}"
        );
        // Epoch milliseconds, as the JS SDK sends them, are read.
        let ok = parse_json::<Page>(br#"{"runs": [{"id": "a", "start_time": 1771405201990}]}"#);
        assert!(ok.is_ok(), "{ok:?}");
    }

    #[test]
    fn names_are_url_encoded() {
        assert_eq!(urlencode("my project/é"), "my%20project%2F%C3%A9");
    }
}
