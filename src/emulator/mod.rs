//! `runlake emulate`: a local LangSmith read API over JSONL run files.
//!
//! Faithful where runlake and the official SDK depend on it (v1 and v2 run queries, cursors,
//! page-size limits, `select`, the filter language, auth answers, rate-limit tiers) and able to
//! misbehave on purpose (seeded faults), so exports can be tested over real HTTP without
//! credentials. Binds to loopback unless told otherwise.
//!
//! Also serves feedback entries (`feedback`: `GET /api/v1/feedback`, consistent with each
//! run's `feedback_stats`), and lets tests change the data while it runs (`admin`:
//! `/_admin/runs`, `/_admin/feedback`; in process, [`Emulator::store`]).
//!
//! For benchmarks, `--capture DIR` ([`EmulatorConfig::capture`]) writes the body of every API
//! answer, as buffered before any injected truncation, to `DIR/NNNNNN-<route>.json`: a
//! six-digit sequence number in the order the answers were produced, then the method and the
//! matched route, `/` turned into `-` and `{}` into `_` (e.g. `000003-POST-api-v2-runs-query.json`,
//! `000004-GET-api-v2-traces-_trace_id_-runs.json`).
//! `/_stats`, `/_admin` and `/_blobs` are not API routes and are not captured.

mod admin;
mod api_v1;
mod api_v2;
mod api_v2_threads;
mod api_v2_traces;
mod blobs;
mod error;
mod faults;
mod feedback;
pub mod limits;

mod stats;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::StreamExt;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

pub use crate::runstore::{SharedStore, Store, open_maybe_compressed};
pub use error::ApiError;
pub use faults::{Fault, FaultConfig};
pub use stats::StatsSnapshot;

use crate::filter::Expr;
use limits::{RateLimiter, Tier};

/// Which run-query APIs the emulated deployment has; `/info`'s flags say the same, as the
/// SDK and runlake's `api = "auto"` read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Deployment {
    /// v1 and v2, as LangSmith Cloud today (`ch_query_enabled` and `sdb_query_enabled`).
    #[default]
    #[value(name = "saas", alias = "dual")]
    Saas,
    /// v1 `/runs/query` only, as a self-hosted LangSmith before 0.16: `/api/v2/…` answers 404.
    #[value(name = "v1-only", alias = "clickhouse")]
    V1Only,
    /// v2 only (SmithDB): v1 `/runs/query` answers 501.
    #[value(name = "v2-only", alias = "smithdb")]
    V2Only,
}

impl Deployment {
    pub fn has_v1(self) -> bool {
        matches!(self, Deployment::Saas | Deployment::V1Only)
    }

    pub fn has_v2(self) -> bool {
        matches!(self, Deployment::Saas | Deployment::V2Only)
    }
}

#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    pub bind: SocketAddr,
    /// The one accepted API key; `None` accepts any non-empty key.
    pub api_key: Option<String>,
    /// When set, requests must name this workspace in `X-Tenant-Id` (an org-scoped key).
    pub workspace_id: Option<String>,
    /// LangSmith's rate-limit tiers, with windows divided by this factor; `None` = no limits.
    pub rate_limit_speedup: Option<f64>,
    pub faults: FaultConfig,
    pub deployment: Deployment,
    /// Write every API answer's body into this directory (see the module doc); `None` = off.
    pub capture: Option<PathBuf>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            api_key: None,
            workspace_id: None,
            rate_limit_speedup: None,
            faults: FaultConfig::default(),
            deployment: Deployment::default(),
            capture: None,
        }
    }
}

impl EmulatorConfig {
    /// The tenant every project belongs to.
    pub fn tenant_id(&self) -> String {
        self.workspace_id
            .clone()
            .unwrap_or_else(|| "00000000-0000-4000-8000-00000000e1a0".into())
    }
}

pub struct AppState {
    pub store: SharedStore,
    pub config: EmulatorConfig,
    limiter: Option<RateLimiter>,
    faults: faults::Faults,
    pub stats: stats::Stats,
    /// Sequence number of the next captured body (`config.capture`).
    captured: AtomicU64,
}

/// Who a rate-limit tier counts requests for.
#[derive(Debug, Clone, Copy)]
pub enum Identity {
    Key,
    Tenant,
}

impl AppState {
    pub fn check_rate(
        &self,
        headers: &HeaderMap,
        tiers: &[(Tier, Identity)],
    ) -> Result<(), ApiError> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        let header = |name| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let checks: Vec<(Tier, String)> = tiers
            .iter()
            .map(|(tier, who)| match who {
                Identity::Key => (*tier, header("x-api-key")),
                Identity::Tenant => {
                    let tenant = header("x-tenant-id");
                    (
                        *tier,
                        if tenant.is_empty() {
                            format!("key:{}", header("x-api-key"))
                        } else {
                            tenant
                        },
                    )
                }
            })
            .collect();
        limiter
            .admit(&checks)
            .map_err(|(tier, wait)| ApiError::rate_limited(wait, tier.name))
    }
}

/// Parses a JSON body; malformed JSON or wrong types answer 422 as FastAPI does.
pub(crate) fn parse_body<T: serde::de::DeserializeOwned + Default>(
    body: &[u8],
) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| ApiError::validation(&["body"], e.to_string()))
}

pub(crate) fn parse_filter(param: &str, text: Option<&str>) -> Result<Option<Expr>, ApiError> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => crate::filter::parse(text)
            .map(Some)
            .map_err(|e| ApiError::bad_request(format!("Invalid {param} {text:?}: {e}"))),
    }
}

pub(crate) fn parse_time(param: &str, text: Option<&str>) -> Result<Option<i64>, ApiError> {
    text.map(|t| {
        crate::model::parse_timestamp(t)
            .map(|t| t.timestamp_micros())
            .ok_or_else(|| {
                ApiError::validation(
                    &["body", param],
                    format!("Input should be a valid datetime, got {t:?}"),
                )
            })
    })
    .transpose()
}

pub(crate) fn json_response(body: String) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// Closes the connection a request arrived on, without an answer (the "drop" fault).
#[derive(Clone)]
struct ConnectionKill(Arc<Notify>);

#[derive(Clone, Copy)]
struct PeerAddr(SocketAddr);

fn router(state: Arc<AppState>) -> Router {
    let v1 = Router::new()
        .route("/info", get(api_v1::info))
        .route("/sessions", get(api_v1::sessions))
        .route("/sessions/{id}", get(api_v1::session_by_id))
        .route("/runs/query", post(api_v1::runs_query))
        .route("/feedback", get(feedback::list))
        .route("/feedback/{id}", get(feedback::read));
    let api = Router::new()
        .merge(v1.clone())
        .nest("/api/v1", v1)
        .route("/api/v2/runs/query", post(api_v2::runs_query))
        .route("/v2/runs/query", post(api_v2::runs_query))
        .route("/api/v2/traces/query", post(api_v2_traces::traces_query))
        .route(
            "/api/v2/traces/{trace_id}/runs",
            get(api_v2_traces::trace_runs),
        )
        .route("/api/v2/threads/query", post(api_v2_threads::threads_query))
        .route(
            "/api/v2/threads/stats",
            post(api_v2_threads::aggregate_stats),
        )
        .route(
            "/api/v2/threads/{thread_id}/traces",
            get(api_v2_threads::thread_traces),
        )
        .route(
            "/api/v2/threads/{thread_id}/stats",
            get(api_v2_threads::thread_stats),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            gatekeeper,
        ));
    api.route("/_stats", get(stats_route))
        .route("/_blobs/{*key}", get(blobs::get_blob))
        .merge(admin::routes())
        .fallback(not_found)
        .with_state(state)
}

async fn stats_route(State(app): State<Arc<AppState>>) -> Response {
    axum::Json(app.stats.snapshot()).into_response()
}

async fn not_found(State(app): State<Arc<AppState>>, req: Request) -> Response {
    app.stats
        .record(&format!("{} (unmatched)", req.method()), "404", 0);
    ApiError::not_found("Not Found").into_response()
}

/// Every API request passes here: stats, injected faults, authentication, coarse rate limits.
async fn gatekeeper(State(app): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = format!(
        "{} {}",
        req.method(),
        req.extensions()
            .get::<MatchedPath>()
            .map_or("?", |p| p.as_str())
    );
    let fault = app.faults.draw();
    if fault != Fault::None {
        app.stats.fault(fault.label());
    }
    match fault {
        Fault::ServerError(code) => {
            let status = StatusCode::from_u16(code).expect("valid code");
            app.stats.record(&route, status.as_str(), 0);
            return ApiError::detail(status, "Injected fault (runlake emulate)").into_response();
        }
        Fault::Drop => {
            app.stats.record(&route, "dropped", 0);
            if let Some(kill) = req.extensions().get::<ConnectionKill>() {
                kill.0.notify_one();
            }
            // The connection task drops this future along with the socket.
            std::future::pending::<()>().await;
            unreachable!("the connection is closed");
        }
        Fault::Slow(delay) => tokio::time::sleep(delay).await,
        Fault::None | Fault::Truncate => {}
    }
    let response = match authenticate(&app, &req) {
        Err(e) => e.into_response(),
        Ok(()) => match coarse_rate_check(&app, &req) {
            Err(e) => e.into_response(),
            Ok(()) => next.run(req).await,
        },
    };
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    app.stats
        .record(&route, parts.status.as_str(), bytes.len() as u64);
    if let Some(dir) = &app.config.capture {
        capture(&app, dir, &route, &bytes);
    }
    if fault == Fault::Truncate && bytes.len() > 1 {
        // Promise the whole body, send half, then fail the stream: the client sees a cut-off
        // answer, as from a proxy that gave up.
        let half = bytes.slice(..bytes.len() / 2);
        // The pause lets hyper flush the head and the first half before the stream fails.
        let cut = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "injected truncation",
            ))
        };
        let stream = futures::stream::iter([Ok(half)]).chain(futures::stream::once(cut));
        let mut response = Response::from_parts(parts, Body::from_stream(stream));
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
        return response;
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Writes one answer's body for `--capture` (the module doc has the file names).
fn capture(app: &AppState, dir: &std::path::Path, route: &str, body: &[u8]) {
    let n = app.captured.fetch_add(1, Ordering::Relaxed);
    let name: String = route
        .replacen(" /", "-", 1)
        .chars()
        .map(|c| match c {
            ' ' | '/' => '-',
            '{' | '}' => '_',
            c => c,
        })
        .collect();
    let path = dir.join(format!("{n:06}-{name}.json"));
    if let Err(e) = std::fs::write(&path, body) {
        tracing::warn!("cannot capture {}: {e}", path.display());
    }
}

fn authenticate(app: &AppState, req: &Request) -> Result<(), ApiError> {
    if req.uri().path().ends_with("/info") {
        return Ok(()); // /info is public, as on LangSmith
    }
    let key = req
        .headers()
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let key_ok = match &app.config.api_key {
        Some(expected) => key == expected,
        None => !key.is_empty(),
    };
    if !key_ok {
        return Err(ApiError::detail(StatusCode::UNAUTHORIZED, "Invalid token"));
    }
    if let Some(workspace) = &app.config.workspace_id {
        match req
            .headers()
            .get("x-tenant-id")
            .and_then(|v| v.to_str().ok())
        {
            None | Some("") => {
                return Err(ApiError {
                    status: StatusCode::FORBIDDEN,
                    body: serde_json::json!({ "error": "org_scoped_key_requires_workspace" }),
                    retry_after: None,
                });
            }
            Some(tenant) if tenant != workspace => {
                return Err(ApiError::detail(
                    StatusCode::FORBIDDEN,
                    "Forbidden: this key has no access to that workspace",
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Limits that do not depend on the query body; run queries check their own tiers.
fn coarse_rate_check(app: &AppState, req: &Request) -> Result<(), ApiError> {
    let path = req.uri().path();
    if path.ends_with("/runs/query") {
        return Ok(());
    }
    if path.ends_with("/info") {
        let Some(limiter) = &app.limiter else {
            return Ok(());
        };
        let ip = req
            .extensions()
            .get::<PeerAddr>()
            .map_or("?".into(), |p| p.0.ip().to_string());
        return limiter
            .admit(&[(limits::INFO_PER_IP, ip)])
            .map_err(|(tier, wait)| ApiError::rate_limited(wait, tier.name));
    }
    app.check_rate(req.headers(), &[(limits::OTHER_PER_KEY, Identity::Key)])
}

/// A running emulator; dropping it does not stop it, call [`Emulator::shutdown`].
pub struct Emulator {
    addr: SocketAddr,
    state: Arc<AppState>,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Emulator {
    /// Binds and starts serving in the background on the current tokio runtime.
    pub async fn start(store: Store, config: EmulatorConfig) -> std::io::Result<Emulator> {
        let listener = TcpListener::bind(config.bind).await?;
        let addr = listener.local_addr()?;
        if let Some(dir) = &config.capture {
            std::fs::create_dir_all(dir)?;
        }
        let state = Arc::new(AppState {
            captured: AtomicU64::new(0),
            limiter: config.rate_limit_speedup.map(RateLimiter::new),
            faults: faults::Faults::new(config.faults.clone()),
            stats: stats::Stats::default(),
            store: SharedStore::new(store),
            config,
        });
        let (shutdown, stop) = watch::channel(false);
        let app = router(state.clone());
        let task = tokio::spawn(accept_loop(listener, app, stop));
        Ok(Emulator {
            addr,
            state,
            shutdown,
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL, e.g. `http://127.0.0.1:41234` (LangSmith's origin; `/api/v1` is appended by
    /// clients, and the bare routes work too).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.state.stats.snapshot()
    }

    /// The served data, to read or change while serving (as the `/_admin` routes do).
    pub fn store(&self) -> &SharedStore {
        &self.state.store
    }

    /// Stops accepting, lets in-flight requests finish (up to 5 s), then returns.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

async fn accept_loop(listener: TcpListener, app: Router, mut stop: watch::Receiver<bool>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                connections.spawn(serve_connection(stream, peer, app.clone(), stop.clone()));
            }
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(5), drain)
        .await
        .is_err()
    {
        connections.abort_all();
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    app: Router,
    mut stop: watch::Receiver<bool>,
) {
    let kill = Arc::new(Notify::new());
    let service = {
        let kill = kill.clone();
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectionKill(kill.clone()));
            req.extensions_mut().insert(PeerAddr(peer));
            app.clone().oneshot(req.map(Body::new))
        })
    };
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = kill.notified() => {} // dropping `conn` closes the socket mid-request
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}
