//! Builds the whole application (REST + UI + middleware); `main` and the
//! tests both start the server through [`Application::build`].

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use tokio::net::TcpListener;
use tower::Layer;
use tower_http::trace::TraceLayer;

use crate::app::{shell, App};
use crate::rpc::status as rpc;
use crate::server::assets::{self, SiteAssets};
use crate::server::auth::{Auth, AuthError};
use crate::server::config::Config;
use crate::server::http::forwarded::TrustedProxies;
use crate::server::http::{
    security, serve, ConnectionLimits, Doors, FrontLayer, FrontService, RequestLimits,
    RoutePatterns,
};
use crate::server::inference::ModelRegistry;
use crate::server::rate::{RateLimiter, StreamSlots};
use crate::server::rest::{self, MetricsState};
use crate::server::state::{AppState, Services};
use crate::server::store::{self, ChangeFeed, StoreError, StoreOptions};
use crate::server::telemetry::Metrics;
use crate::server::{page_cache, pages};

/// Longest path plus query string accepted (nginx's default is the same);
/// longer ones get a JSON 414.
const MAX_URI_BYTES: usize = 8 * 1024;

/// How each door renders what the front layer refuses.
pub const DOORS: Doors = Doors {
    rest: rest::refusal,
    open_inference: rest::open_inference_refusal,
    server_functions: rpc::refusal,
};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    #[error("cannot set up authentication: {0}")]
    Auth(#[from] AuthError),
    /// The task loading them failed (a panic in a model's loader).
    #[error("cannot load the models: {0}")]
    Models(#[source] tokio::task::JoinError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A server bound to its port, ready to run.
pub struct Application {
    listener: TcpListener,
    /// The router inside the front layer.
    service: FrontService,
    addr: SocketAddr,
    limits: ConnectionLimits,
    proxies: Arc<TrustedProxies>,
    metrics: Arc<Metrics>,
    /// `/metrics` on its own address, when configured.
    metrics_listener: Option<(TcpListener, Router)>,
    changes: Arc<ChangeFeed>,
    /// The items, for the retention jobs.
    store: Arc<dyn store::ItemStore>,
    /// How long the trash keeps deleted items (`None`: for ever, and no
    /// purge job).
    trash_retention: Option<Duration>,
    /// Which revisions the history keeps, and how often its job looks.
    history: (store::HistoryRetention, Duration),
}

impl Application {
    /// Opens the seams (the store, applying migrations; auth; the
    /// models), binds the listeners and builds the service: the router
    /// inside the front layer. Port 0 picks a free port; see
    /// [`Application::addr`].
    pub async fn build(config: &Config) -> Result<Application, StartupError> {
        let metrics = Metrics::new();
        let seams = Seams::open(config, &metrics).await?;
        let (listener, addr) = bind(config.addr).await?;
        let metrics_listener = match config.metrics_addr {
            Some(metrics_addr) => Some(bind(metrics_addr).await?.0),
            None => None,
        };
        let changes = Arc::clone(&seams.changes);
        let state = app_state(config, addr, seams, &metrics);
        let (router, patterns) = router(state.clone());
        let own_metrics = metrics_listener.map(|listener| (listener, metrics_route(&state, false)));
        let service = front_layer(config, &state, patterns).layer(with_metrics_and_cors(
            config,
            router,
            &state,
            own_metrics.is_some(),
        ));
        Ok(Application {
            listener,
            service,
            addr,
            limits: ConnectionLimits {
                max_connections: config.max_connections as usize,
                header_timeout: Duration::from_secs_f64(config.header_timeout),
                drain_timeout: Duration::from_secs(30),
            },
            proxies: Arc::new(TrustedProxies::new(config.trusted_proxies.clone())),
            metrics,
            metrics_listener: own_metrics,
            changes,
            store: Arc::clone(&state.store),
            trash_retention: config.trash_retention.0,
            history: (config.history_retention, config.history_prune_period),
        })
    }

    /// The address actually bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address `/metrics` is served on when it has its own.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|(listener, _)| listener.local_addr().ok())
    }

    /// Serves until Ctrl-C or SIGTERM, then finishes in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` completes, then finishes in-flight requests.
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        if let Some((listener, router)) = self.metrics_listener {
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router).await {
                    tracing::error!(error = %e, "the metrics listener stopped");
                }
            });
        }
        let (history, period) = self.history;
        let pruning = (history != store::HistoryRetention::Forever).then(|| {
            tokio::spawn(store::prune_history(
                Arc::clone(&self.store),
                history,
                period,
            ))
        });
        let indexing = tokio::spawn(store::keep_search_indexed(Arc::clone(&self.store)));
        let retention = self.trash_retention.map(|retention| {
            tokio::spawn(store::purge_expired_trash(
                Arc::clone(&self.store),
                retention,
            ))
        });
        let connections = self.metrics.open_connections.clone();
        // Event streams never end by themselves: end them first, so that
        // shutdown does not wait out the drain timeout on them.
        let changes = self.changes;
        let stop = async move {
            stop.await;
            changes.close();
            indexing.abort();
            if let Some(retention) = retention {
                retention.abort();
            }
            if let Some(pruning) = pruning {
                pruning.abort();
            }
        };
        let limits = self.limits;
        serve(
            self.listener,
            self.service,
            limits,
            self.proxies,
            connections,
            stop,
        )
        .await
    }
}

/// The seams every door calls.
struct Seams {
    store: Arc<dyn store::ItemStore>,
    changes: Arc<ChangeFeed>,
    auth: Arc<Auth>,
    models: Arc<ModelRegistry>,
}

impl Seams {
    async fn open(config: &Config, metrics: &Arc<Metrics>) -> Result<Seams, StartupError> {
        let stores = store::open(&StoreOptions {
            database_url: config.database_url.clone(),
            seed_demo_items: config.seed_demo_items,
            pool_size: config.database_pool as usize,
            commits: metrics.commits(),
            count_bound: config.count_bound,
        })
        .await?;
        let retains = config.history_retention != store::HistoryRetention::Forever;
        stores.items.index_history_by_time(retains).await?;
        let auth = Arc::new(Auth::start(config.auth_options(), stores.users).await?);
        let models_dir = config.models_dir.clone();
        let registry_metrics = Arc::clone(metrics);
        let drift_window = Duration::from_secs(config.drift_window_secs);
        // Loading compiles every model: off the async threads.
        let models = tokio::task::spawn_blocking(move || {
            ModelRegistry::open_with_drift_window(models_dir, registry_metrics, drift_window)
        })
        .await
        .map(Arc::new)
        .map_err(StartupError::Models)?;
        models.watch(Duration::from_millis(config.models_poll_ms));
        Ok(Seams {
            store: stores.items,
            changes: stores.changes,
            auth,
            models,
        })
    }
}

/// A listener on `addr`, and the address it got (port 0 picks one).
async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), StartupError> {
    let error = |source| StartupError::Bind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(error)?;
    let bound = listener.local_addr().map_err(error)?;
    Ok((listener, bound))
}

/// What every handler and server function shares.
fn app_state(config: &Config, addr: SocketAddr, seams: Seams, metrics: &Arc<Metrics>) -> AppState {
    let mut leptos_options = config.leptos_options(addr);
    // Content-hashed file names when the release build made them (it
    // wrote their hashes beside this binary).
    let hashes = assets::build_hashes(&leptos_options.hash_file);
    leptos_options.hash_files = hashes.is_some();
    AppState::new(Services {
        store: seams.store,
        changes: seams.changes,
        models: seams.models,
        assets: SiteAssets::new(&leptos_options, hashes.as_ref()),
        leptos_options,
        pages: Default::default(),
        items: Default::default(),
        html: Default::default(),
        auth: seams.auth,
        metrics: Arc::clone(metrics),
        streams: StreamSlots::new(config.streams_per_client as usize),
        import_max_bytes: config.import_max_bytes,
        import_idle_timeout: Duration::from_secs_f64(config.body_timeout),
    })
}

/// `GET /metrics`, for admins only when `admin_only`.
fn metrics_route(state: &AppState, admin_only: bool) -> Router {
    let metrics = MetricsState {
        metrics: Arc::clone(&state.metrics),
        store: Arc::clone(&state.store),
        models: Arc::clone(&state.models),
        admin_only: admin_only.then(|| Arc::clone(&state.auth)),
    };
    Router::new()
        .route("/metrics", get(rest::metrics_endpoint))
        .with_state(metrics)
}

/// `/metrics` on the main address unless it has one of its own (there it
/// is reachable by the monitoring system alone, and open), and CORS for
/// the configured origins.
fn with_metrics_and_cors(
    config: &Config,
    mut router: Router,
    state: &AppState,
    metrics_elsewhere: bool,
) -> Router {
    if !metrics_elsewhere {
        router = router.merge(metrics_route(state, config.metrics_admin_only));
    }
    match security::cors(&config.cors_origins) {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// The front layer, around the whole router once (`Router::layer` would
/// wrap every route, and axum clones a route's layered service per
/// request). Its limits come first, so a refused request costs as little
/// as possible, but is still answered with its request id, the security
/// headers, a log line and metrics.
fn front_layer(config: &Config, state: &AppState, patterns: RoutePatterns) -> FrontLayer {
    let limits = RequestLimits {
        rate: config
            .rate()
            .map(|(per_second, burst)| RateLimiter::new(per_second, burst)),
        body_timeout: Duration::from_secs_f64(config.body_timeout),
        max_uri_bytes: MAX_URI_BYTES,
        refused: state.metrics.rate_limited.clone(),
        auth: Some(Arc::clone(&state.auth)),
    };
    let guard = security::SiteGuard::new(config.public_origins.clone());
    FrontLayer::new(patterns, Arc::clone(&state.metrics), limits, guard, DOORS)
}

/// The UI's routes, found once per process. Finding them renders the app
/// with resource loading switched off process-wide (a Leptos global), so a
/// page that another server of the same process renders meanwhile would
/// wait for its data forever; tests run many servers in one process.
static UI_ROUTES: LazyLock<Vec<AxumRouteListing>> = LazyLock::new(|| generate_route_list(App));

/// The complete router: REST, the Leptos UI and its server functions; and
/// its route patterns, which label requests in the metrics and logs.
pub fn router(state: AppState) -> (Router, RoutePatterns) {
    let ui_routes = UI_ROUTES.clone();
    let mut paths: Vec<&str> = rest::route_patterns().collect();
    paths.extend(ui_routes.iter().map(|route| route.path()));
    paths.extend(leptos::server_fn::axum::server_fn_paths().map(|(path, _)| path));
    let patterns = RoutePatterns::new(paths);
    let leptos_options = state.leptos_options.clone();
    let ui = Router::new()
        .leptos_routes(&state, ui_routes, move || shell(leptos_options.clone()))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            page_cache::from_cache,
        ));
    let router = Router::new()
        .merge(rest::routes())
        .merge(ui)
        .fallback(pages::fallback)
        .method_not_allowed_fallback(rest::method_not_allowed);
    // Request spans cost a few percent of throughput and are only logged at
    // debug level: add them only when that level is on.
    let router = if tracing::enabled!(target: "tower_http", tracing::Level::DEBUG) {
        router.layer(TraceLayer::new_for_http())
    } else {
        router
    };
    (router.with_state(state), patterns)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
