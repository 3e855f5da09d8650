//! The HTTP service (`bangfu serve`): signed statements in through [`Intake`], the read models,
//! the log's entries, tree head and proofs out, each read authorised by a signed request
//! ([`auth`]). See `docs/api.md` for the routes and who may read what.
//!
//! One process holds the log's writer (through the intake), a projector following the log in the
//! background (so reads are current within about a second), and a directory of keys refreshed as
//! the log grows. Nothing else is kept between requests, so several instances can serve one
//! PostgreSQL log; only one of them appends at a time (the database's write lock decides).

pub mod auth;
pub mod checkpoints;
pub mod error;
mod inspect;
mod ledger;
pub mod openapi;
pub mod params;
mod reads;
mod statements;

use crate::intake::{Clock, Intake, Window};
use auth::{Caller, Directory, parse_authorization, verify_request};
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, MatchedPath, OriginalUri, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{MethodRouter, get, post};
use bangfu_domain::date::Date;
use bangfu_projections::projector::{self, Projector};
use bangfu_projections::views::{MemViews, ViewStore};
use bangfu_projections::watch::LogWatch;
use bangfu_store::backend::Backend;
use bangfu_store::log::Log;
use error::{ApiError, ApiResult};
use params::AtQuery;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{RwLock, Semaphore, watch};

/// How the service runs.
#[derive(Clone)]
pub struct Options {
    /// `/readyz` answers 503 while the read models are more than this many entries behind.
    pub ready_lag: u64,
    /// The `signed_at` window for statements.
    pub window: Window,
    /// Milliseconds since the epoch; the system clock outside tests.
    pub clock: Clock,
    /// How long shutdown waits for requests in flight before it closes the log anyway.
    pub shutdown_grace: Duration,
    /// Signing checkpoints and gathering cosignatures; `None`: no log key, no checkpoints.
    pub checkpoints: Option<Arc<checkpoints::Checkpointer>>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            ready_lag: 1000,
            window: Window::default(),
            clock: Arc::new(system_clock),
            shutdown_grace: Duration::from_secs(30),
            checkpoints: None,
        }
    }
}

pub fn system_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// As-of answers replay the log into memory; the last few are kept, since a client paging
/// through a past state asks for the same size again and again.
const REPLAYS_KEPT: usize = 4;
/// Replays at a time: each holds a whole read model in memory.
const REPLAYS_AT_ONCE: usize = 2;

/// What every handler shares.
pub struct App<B: Backend, V: ViewStore> {
    /// `None` once shutdown has closed it. Submissions hold a read guard while in the writer, so
    /// shutdown's write guard waits for them.
    intake: RwLock<Option<Intake<B>>>,
    backend: B,
    views: V,
    directory: Directory,
    replays: Mutex<VecDeque<(u64, Arc<MemViews>)>>,
    replaying: Semaphore,
    follower_alive: std::sync::atomic::AtomicBool,
    options: Options,
}

/// A single answer and the log size it reflects.
#[derive(serde::Serialize)]
pub struct One<T> {
    pub log_size: u64,
    pub data: T,
}

/// A page of answers, the log size they reflect, and the cursor of the next page (`None` on the
/// last).
#[derive(serde::Serialize)]
pub struct List<T> {
    pub log_size: u64,
    pub data: Vec<T>,
    pub next: Option<String>,
}

/// The read models to answer from: the live ones, or a replay of the log up to a past size.
pub(crate) enum Snapshot {
    Live,
    Past(Arc<MemViews>),
}

/// A snapshot and the log size it reflects.
pub(crate) struct At {
    pub snapshot: Snapshot,
    pub size: u64,
}

/// Runs `$body` with `$v` bound to the views of `$at` (live or replayed), like `with_store!`.
macro_rules! with_views {
    ($app:expr, $at:expr, |$v:ident| $body:expr) => {
        match &$at.snapshot {
            $crate::service::Snapshot::Live => {
                let $v = &$app.views;
                $body
            }
            $crate::service::Snapshot::Past(past) => {
                let $v = past.as_ref();
                $body
            }
        }
    };
}
pub(crate) use with_views;

impl<B: Backend + Clone, V: ViewStore + Clone> App<B, V> {
    fn now(&self) -> i64 {
        (self.options.clock)()
    }

    /// The snapshot `at` asks for, replayed if it is in the past.
    pub(crate) async fn at(&self, at: &AtQuery) -> ApiResult<At> {
        let size = match (&at.as_of, at.at_size) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_parameter(
                    "as_of 与 at_size 只能给一个 / give as_of or at_size, not both",
                ));
            }
            (Some(day), None) => {
                let day = Date::parse(day).map_err(|e| {
                    ApiError::bad_parameter(format!(
                        "as_of {day:?}: {e}; 日期格式 YYYY-MM-DD / write the date as YYYY-MM-DD, e.g. 2016-03-01"
                    ))
                })?;
                projector::size_at_end_of(&self.backend, day).await?
            }
            (None, Some(n)) => {
                let n = params::at_least("at_size", n, 0)?;
                let have = self.backend.size().await?;
                if n > have {
                    return Err(ApiError::bad_parameter(format!(
                        "at_size {n}: 账本只有 {have} 条 / the ledger has only {have} entries; choose at most {have}"
                    )));
                }
                n
            }
            (None, None) => {
                return Ok(At {
                    snapshot: Snapshot::Live,
                    size: self.views.applied().await?,
                });
            }
        };
        Ok(At {
            snapshot: Snapshot::Past(self.replay(size).await?),
            size,
        })
    }

    async fn replay(&self, size: u64) -> ApiResult<Arc<MemViews>> {
        let cached = |app: &Self| {
            let kept = app.replays.lock().unwrap_or_else(|e| e.into_inner());
            kept.iter()
                .find(|(n, _)| *n == size)
                .map(|(_, v)| v.clone())
        };
        if let Some(v) = cached(self) {
            return Ok(v);
        }
        let _permit = self
            .replaying
            .acquire()
            .await
            .map_err(|_| ApiError::unavailable("the service is shutting down"))?;
        // Someone may have replayed the same size while we waited.
        if let Some(v) = cached(self) {
            return Ok(v);
        }
        let views = Arc::new(projector::as_of(&self.backend, size).await?);
        let mut kept = self.replays.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() >= REPLAYS_KEPT {
            kept.pop_front();
        }
        kept.push_back((size, views.clone()));
        Ok(views)
    }
}

impl<B: Backend + Clone, V: ViewStore + Clone> FromRequestParts<Arc<App<B, V>>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App<B, V>>,
    ) -> Result<Caller, ApiError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Ok(Caller::Anonymous);
        };
        let value = value.to_str().map_err(|_| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "bad_authorization",
                "Authorization 头只能是 ASCII / the Authorization header must be ASCII: `Bangfu key=…,ts=…,sig=…`",
            )
        })?;
        let credentials = parse_authorization(value)?;
        // The path and query exactly as the client sent them.
        let uri = parts
            .extensions
            .get::<OriginalUri>()
            .map(|u| u.0.clone())
            .unwrap_or_else(|| parts.uri.clone());
        let target = uri
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or_else(|| uri.path());
        let key = verify_request(&credentials, parts.method.as_str(), target, app.now())?;
        match app.directory.signer(&key) {
            Err(e) if e.code == "key_unknown" => {
                // Registered a moment ago, perhaps: look again at the log's current size.
                app.directory.refresh(&app.backend).await?;
                app.directory.signer(&key).map(Caller::Signed)
            }
            other => other.map(Caller::Signed),
        }
    }
}

/// The router and, beside it, the list of what it routes, so the OpenAPI description can be
/// checked against it (axum cannot list its routes).
pub struct Routes<S> {
    pub router: Router<S>,
    /// `(method, path)`, lower-case methods, paths in OpenAPI's `{param}` syntax (axum 0.8's too).
    pub table: Vec<(&'static str, &'static str)>,
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    fn new() -> Routes<S> {
        Routes {
            router: Router::new(),
            table: Vec::new(),
        }
    }

    fn route(mut self, method: &'static str, path: &'static str, m: MethodRouter<S>) -> Self {
        self.table.push((method, path));
        self.router = self.router.route(path, m);
        self
    }

    fn get<H, T>(self, path: &'static str, h: H) -> Self
    where
        H: axum::handler::Handler<T, S>,
        T: 'static,
    {
        self.route("get", path, get(h))
    }

    fn post<H, T>(self, path: &'static str, h: H) -> Self
    where
        H: axum::handler::Handler<T, S>,
        T: 'static,
    {
        self.route("post", path, post(h))
    }
}

/// Every route of the service.
pub fn routes<B: Backend + Clone, V: ViewStore + Clone>() -> Routes<Arc<App<B, V>>> {
    Routes::new()
        .get("/healthz", ledger::healthz)
        .get("/readyz", ledger::readyz::<B, V>)
        .get("/openapi.json", openapi::serve_openapi)
        .post("/v1/statements", statements::submit::<B, V>)
        .get("/v1/checkpoint", checkpoints::latest::<B, V>)
        .get("/v1/checkpoints", checkpoints::list::<B, V>)
        .post("/v1/checkpoints", checkpoints::sign_now::<B, V>)
        .get("/v1/tree-head", ledger::tree_head_at::<B, V>)
        .get("/v1/entries", ledger::entries::<B, V>)
        .get("/v1/entries/{index}", ledger::entry::<B, V>)
        .get("/v1/proofs/inclusion", ledger::inclusion::<B, V>)
        .get("/v1/proofs/consistency", ledger::consistency::<B, V>)
        .get("/v1/proofs/tlog", inspect::tlog_proof::<B, V>)
        .get("/v1/anomalies", inspect::anomalies::<B, V>)
        .get("/v1/pairings", reads::pairings_of_program::<B, V>)
        .get("/v1/pairings/{id}", reads::pairing::<B, V>)
        .get("/v1/pairings/{id}/compliance", reads::compliance::<B, V>)
        .get("/v1/cadres/{id}/pairings", reads::pairings_of_cadre::<B, V>)
        .get("/v1/households", reads::households::<B, V>)
        .get("/v1/households/{id}", reads::household::<B, V>)
        .get(
            "/v1/households/{id}/pairings",
            reads::pairings_of_household::<B, V>,
        )
        .get("/v1/households/{id}/receipts", reads::receipts::<B, V>)
        .get("/v1/households/{id}/timeline", reads::timeline::<B, V>)
        .get(
            "/v1/households/{id}/requests",
            reads::requests_of_household::<B, V>,
        )
        .get(
            "/v1/programs/{id}/requests",
            reads::requests_of_program::<B, V>,
        )
        .get("/v1/programs/{id}/scores", reads::scores::<B, V>)
        .get("/v1/funds", reads::funds::<B, V>)
        .get("/v1/funds/{id}", reads::fund::<B, V>)
        .get("/v1/funds/{id}/trail", reads::trail::<B, V>)
        .get(
            "/v1/funds/{id}/contributions/{contribution}",
            reads::contribution::<B, V>,
        )
        .get("/v1/totals", reads::totals::<B, V>)
}

/// The whole HTTP application over an [`App`].
pub fn router<B: Backend + Clone, V: ViewStore + Clone>(app: Arc<App<B, V>>) -> Router {
    routes::<B, V>()
        .router
        .route_layer(axum::middleware::from_fn(log_request))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        // Refuse an oversized body before reading it all; the statement handler turns the
        // rejection into the intake's own `too_large` answer.
        .layer(DefaultBodyLimit::max(crate::intake::MAX_BODY))
        .with_state(app)
}

async fn no_route() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_route",
        "没有这个地址 / no such route; GET /openapi.json lists every route",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "该地址不支持此方法 / this route does not take that method; GET /openapi.json lists every route",
    )
}

/// One structured log line per routed request: the route's template rather than the path, so
/// household ids stay out of the logs.
async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16();
    let ms = started.elapsed().as_millis() as u64;
    if status >= 500 {
        tracing::error!(%method, %route, status, ms, "request");
    } else {
        tracing::info!(%method, %route, status, ms, "request");
    }
    response
}

/// A running service: serve until `shutdown` resolves, then stop accepting, finish requests in
/// flight, close the log's writer (finishing the appends it holds), and stop the follower.
pub async fn serve<B: Backend + Clone, V: ViewStore + Clone>(
    backend: B,
    views: V,
    follow_watch: LogWatch,
    directory_watch: LogWatch,
    listener: tokio::net::TcpListener,
    options: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let directory = Directory::load(&backend).await?;
    let mut projector = Projector::open(&backend, views.clone()).await?;
    let log = Log::open(backend.clone()).await?;
    let intake = Intake::new(log, options.clock.clone(), options.window);
    let app = Arc::new(App {
        intake: RwLock::new(Some(intake)),
        backend: backend.clone(),
        views,
        directory,
        replays: Mutex::new(VecDeque::new()),
        replaying: Semaphore::new(REPLAYS_AT_ONCE),
        follower_alive: std::sync::atomic::AtomicBool::new(true),
        options: options.clone(),
    });

    let (stop, stopped) = watch::channel(false);
    let follower = {
        let (app, backend, stopped) = (app.clone(), backend.clone(), stopped.clone());
        tokio::spawn(async move {
            if let Err(e) = projector.follow(&backend, follow_watch, stopped).await {
                tracing::error!(error = %e, "the read models stopped following the log");
            }
            app.follower_alive
                .store(false, std::sync::atomic::Ordering::Relaxed);
        })
    };
    let checkpointer = checkpoints::spawn(app.clone(), stopped.clone());
    let refresher = {
        let (app, mut stopped, mut watch) = (app.clone(), stopped, directory_watch);
        tokio::spawn(async move {
            loop {
                if let Err(e) = app.directory.refresh(&app.backend).await {
                    tracing::warn!(error = %e, "could not refresh the key directory");
                }
                tokio::select! {
                    _ = watch.changed() => {}
                    _ = stopped.changed() => return,
                }
            }
        })
    };

    tracing::info!(
        address = %listener.local_addr()?,
        log_size = app.directory.applied(),
        checkpoints = %checkpoints::describe(&app.options),
        "serving"
    );
    let (drained_tx, drained) = tokio::sync::oneshot::channel::<()>();
    let grace = options.shutdown_grace;
    let server = axum::serve(listener, router(app.clone())).with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections; finishing requests in flight");
        let _ = drained_tx.send(());
    });
    let server = server.into_future();
    tokio::pin!(server);
    // Serve; once shutdown has begun, give requests in flight `grace` to finish.
    let served = tokio::select! {
        r = &mut server => r,
        _ = async {
            let _ = drained.await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(?grace, "requests still in flight after the grace period; closing anyway");
            Ok(())
        }
    };
    // Appends that reached the writer finish; later ones are refused as `unavailable`.
    if let Some(intake) = app.intake.write().await.take() {
        intake.close().await;
    }
    let _ = stop.send(true);
    let _ = follower.await;
    let _ = refresher.await;
    if let Some(c) = checkpointer {
        let _ = c.await;
    }
    tracing::info!("stopped");
    served.map_err(Into::into)
}

/// The statement handler's access to the intake, for [`statements`].
impl<B: Backend + Clone, V: ViewStore + Clone> App<B, V> {
    pub(crate) async fn submit(
        &self,
        body: &[u8],
    ) -> Result<crate::intake::Accepted, crate::intake::Refusal> {
        let guard = self.intake.read().await;
        match guard.as_ref() {
            Some(intake) => intake.submit(body).await,
            None => Err(crate::intake::Refusal::Unavailable(
                "the service is shutting down".into(),
            )),
        }
    }
}
