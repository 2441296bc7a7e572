//! The HTTP listener: hyper's HTTP/1.1 server with the limits that keep idle
//! and slow clients from holding the server's descriptors (slow-loris).
//!
//! - Connections are capped in number, globally and per source address; over
//!   a cap a new connection is closed at once, so it holds a descriptor only
//!   for that moment.
//! - A request's headers must arrive whole within `header_timeout` (hyper's
//!   `header_read_timeout`, whose clock also runs while a kept-alive connection
//!   waits for its next request): an idle or trickling connection is closed.
//! - A request may take at most `request_timeout`, body included (408).
//! - When the process has no descriptor left, `accept` fails: that is logged
//!   as what it is, counted, and the loop backs off instead of spinning.
//!
//! WebSocket upgrades go on past the connection's task; they are opened only
//! with a ticket or a token, and the CTI module bounds what they hold.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::stats::Stats;

/// The caps and time-outs of the HTTP listener (`http.*` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Most connections at once.
    pub max_connections: usize,
    /// Most connections from one IP address.
    pub max_per_source: usize,
    /// Headers of a request must arrive within this; idle kept-alive
    /// connections are closed after it.
    pub header_timeout: Duration,
    /// Longest a request may take.
    pub request_timeout: Duration,
}

impl HttpLimits {
    /// The limits the `http` section of the configuration sets.
    pub fn from_config(http: &crate::config::HttpConfig) -> HttpLimits {
        HttpLimits {
            max_connections: http.max_connections,
            max_per_source: http.max_connections_per_source,
            header_timeout: http.header_timeout.0,
            request_timeout: http.request_timeout.0,
        }
    }
}

impl Default for HttpLimits {
    fn default() -> HttpLimits {
        HttpLimits::from_config(&crate::config::HttpConfig::default())
    }
}

#[derive(Debug, Default)]
struct Counts {
    by_ip: HashMap<IpAddr, usize>,
    total: usize,
}

/// An open connection's place under the caps; given back when it closes.
struct Slot {
    counts: Arc<Mutex<Counts>>,
    ip: IpAddr,
}

impl Slot {
    fn take(counts: &Arc<Mutex<Counts>>, ip: IpAddr, limits: &HttpLimits) -> Option<Slot> {
        let mut c = counts.lock().unwrap_or_else(|p| p.into_inner());
        if c.total >= limits.max_connections {
            return None;
        }
        let mine = c.by_ip.entry(ip).or_insert(0);
        if *mine >= limits.max_per_source {
            return None;
        }
        *mine += 1;
        c.total += 1;
        Some(Slot {
            counts: counts.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.by_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                c.by_ip.remove(&self.ip);
            }
        }
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown`, then lets the
/// requests in flight finish (at most 10 s).
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: HttpLimits,
    stats: Arc<Stats>,
    shutdown: CancellationToken,
) {
    let app = app.layer(tower_http::timeout::TimeoutLayer::with_status_code(
        axum::http::StatusCode::REQUEST_TIMEOUT,
        limits.request_timeout,
    ));
    let service = TowerToHyperService::new(app);
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let counts = Arc::new(Mutex::new(Counts::default()));
    let tracker = TaskTracker::new();
    let mut last_warning: Option<tokio::time::Instant> = None;
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.cancelled() => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                if dialect_sip::transport::out_of_descriptors(&e) {
                    stats
                        .http_descriptors_exhausted
                        .fetch_add(1, Ordering::Relaxed);
                    let now = tokio::time::Instant::now();
                    if last_warning.is_none_or(|t| now - t > Duration::from_secs(10)) {
                        last_warning = Some(now);
                        tracing::error!(
                            "cannot accept HTTP connections: the process has no file descriptor left ({e}); \
                             lower http.max_connections or raise the open-files limit"
                        );
                    }
                } else {
                    tracing::debug!(error = %e, "HTTP accept failed");
                }
                // The error repeats until a descriptor frees up: do not spin on it.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(slot) = Slot::take(&counts, peer.ip(), &limits) else {
            stats
                .http_connections_refused
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%peer, "refusing an HTTP connection: a connection cap is reached");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        // Handlers that need the peer (the sign-in guard) find it in the
        // request's extensions, as axum's `ConnectInfo`.
        let inner = service.clone();
        let per_connection =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                hyper::service::Service::call(&inner, req)
            });
        let conn = http1
            .serve_connection(TokioIo::new(stream), per_connection)
            .with_upgrades();
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            let _slot = slot;
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(%peer, error = %e, "HTTP connection ended");
                    }
                }
                _ = shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    tracker.close();
    let _ = tokio::time::timeout(Duration::from_secs(10), tracker.wait()).await;
}
