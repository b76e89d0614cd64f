//! The HTTP accept loop: hyper with the limits that keep slow or idle
//! clients from exhausting the server.
//!
//! `axum::serve` has no header timeout and no connection cap, so a client
//! that opens connections and never finishes a request (slowloris) could
//! hold sockets forever. Here every connection must deliver a complete
//! request head within the header timeout (this also closes keep-alive
//! connections left idle that long), and connections beyond the cap are
//! closed at once instead of queueing behind the ones already held.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use prometheus_client::metrics::gauge::Gauge;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use super::forwarded::TrustedProxies;
use super::front::FrontService;

use super::security::MAX_HEAD_BYTES;

/// How much of the server one client connection may hold.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// Open connections at most; more are closed on arrival.
    pub max_connections: usize,
    /// Time a client has to send a complete request head, counted from
    /// the connection's start or the end of its previous response.
    pub header_timeout: Duration,
    /// How long shutdown waits for in-flight requests.
    pub drain_timeout: Duration,
}

/// Serves `service` (the router in its front layer) on `listener` until
/// `stop` completes, then stops accepting and lets open connections finish
/// (up to the drain timeout). Each request carries its client's address
/// (`ConnectInfo`): the peer's, or behind a trusted proxy the one it names.
pub async fn serve(
    listener: TcpListener,
    service: FrontService,
    limits: ConnectionLimits,
    proxies: Arc<TrustedProxies>,
    open: Gauge,
    stop: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        // Request line and headers together; hyper answers 431 beyond it.
        // (The REST layer's own URI limit, with a JSON body, is lower.)
        .max_buf_size(MAX_HEAD_BYTES);

    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut refusals = RefusalLog::default();
    tokio::pin!(stop);

    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            refusals.note(limits.max_connections);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let proxies = Arc::clone(&proxies);
        let service = service
            .clone()
            .map_request(move |mut request: Request<Incoming>| {
                let client = proxies.client(remote, request.headers());
                request.extensions_mut().insert(ConnectInfo(client));
                request.map(Body::new)
            });
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let open = open.clone();
        open.inc();
        tokio::spawn(async move {
            let connection =
                builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!(%remote, error = %e, "connection ended with an error");
            }
            drop(slot);
            open.dec();
        });
    }

    drop(listener);
    if tokio::time::timeout(limits.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "gave up waiting for open connections after {:?}",
            limits.drain_timeout
        );
    }
    Ok(())
}

/// Accept errors are about one connection or a passing shortage (file
/// descriptors, memory); none should stop the server. Back off briefly on
/// a shortage so the loop does not spin.
async fn accept_failed(e: &io::Error) {
    match e.kind() {
        io::ErrorKind::ConnectionAborted
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionRefused => {}
        _ => {
            tracing::warn!(error = %e, "accepting a connection failed; retrying shortly");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Logs refused connections at most once a second, with a count, so a
/// flood does not also flood the log. Only the accept loop touches it.
#[derive(Default)]
struct RefusalLog {
    since_last: u64,
    last: Option<Instant>,
}

impl RefusalLog {
    fn note(&mut self, max: usize) {
        self.since_last += 1;
        if self
            .last
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
        {
            self.last = Some(Instant::now());
            tracing::warn!(
                refused = self.since_last,
                "connection limit ({max}) reached: closing new connections"
            );
            self.since_last = 0;
        }
    }
}
