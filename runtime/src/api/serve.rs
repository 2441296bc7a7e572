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
//! With a certificate and key (`http.tls`) every connection is TLS, its
//! handshake bound by the header time-out.
//!
//! WebSocket upgrades go on past the connection's task; they are opened only
//! with a ticket or a token, and the CTI module bounds what they hold.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
pub use tokio_rustls::TlsAcceptor;
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
    serve_with(listener, app, limits, None, stats, shutdown).await;
}

/// The same, over TLS when `tls` is given: each connection's handshake must
/// end within the header time-out, like the headers of a request.
pub async fn serve_with(
    listener: TcpListener,
    app: axum::Router,
    limits: HttpLimits,
    tls: Option<TlsAcceptor>,
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
        let service = service.clone();
        let http1 = http1.clone();
        let shutdown = shutdown.clone();
        let tls = tls.clone();
        let handshake_within = limits.header_timeout;
        tracker.spawn(async move {
            let _slot = slot;
            let Some(acceptor) = tls else {
                return connection(TokioIo::new(stream), &http1, service, peer, shutdown).await;
            };
            match tokio::time::timeout(handshake_within, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => {
                    connection(TokioIo::new(stream), &http1, service, peer, shutdown).await
                }
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake too slow"),
            }
        });
    }
    tracker.close();
    let _ = tokio::time::timeout(Duration::from_secs(10), tracker.wait()).await;
}

/// One connection, plain or TLS, until it ends or the server shuts down.
async fn connection<IO>(
    io: TokioIo<IO>,
    http1: &hyper::server::conn::http1::Builder,
    service: TowerToHyperService<axum::Router>,
    peer: SocketAddr,
    shutdown: CancellationToken,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    // Handlers that need the peer (the sign-in guard) find it in the
    // request's extensions, as axum's `ConnectInfo`.
    let per_connection =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            hyper::service::Service::call(&service, req)
        });
    let conn = http1.serve_connection(io, per_connection).with_upgrades();
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
}

/// Why the certificate or key cannot serve TLS.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct TlsError {
    /// The file.
    pub path: std::path::PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

/// A TLS acceptor from a PEM certificate chain and its PEM private key.
pub fn tls_acceptor(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<TlsAcceptor, TlsError> {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |path: &std::path::Path, reason: String| TlsError {
        path: path.to_path_buf(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad(cert, format!("cannot read the certificate: {e}")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(cert, format!("not a PEM certificate: {e}")))?;
    if chain.is_empty() {
        return Err(bad(cert, "holds no certificate".into()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| bad(key, format!("not a PEM private key: {e}")))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(cert, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| bad(key, format!("does not go with the certificate: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate for 127.0.0.1, written as PEM files.
    fn certificate(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, String) {
        let signed = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
        let cert = signed.cert.pem();
        std::fs::create_dir_all(dir).unwrap();
        let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&c, &cert).unwrap();
        std::fs::write(&k, signed.signing_key.serialize_pem()).unwrap();
        (c, k, cert)
    }

    #[tokio::test]
    async fn with_a_certificate_the_server_speaks_https_only() {
        let dir = std::env::temp_dir().join(format!("dialect-tls-{}", std::process::id()));
        let (cert, key, pem) = certificate(&dir);
        let acceptor = tls_acceptor(&cert, &key).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().route("/ping", axum::routing::get(|| async { "pong" }));
        let shutdown = CancellationToken::new();
        tokio::spawn(serve_with(
            listener,
            app,
            HttpLimits::default(),
            Some(acceptor),
            Arc::new(Stats::default()),
            shutdown.clone(),
        ));
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
            .build()
            .unwrap();
        let answer = client
            .get(format!("https://{addr}/ping"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(answer, "pong");
        let plain = reqwest::Client::new()
            .get(format!("http://{addr}/ping"))
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        assert!(plain.is_err(), "plain HTTP gets no answer: {plain:?}");
        shutdown.cancel();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_key_that_is_not_the_certificates_is_named() {
        let dir = std::env::temp_dir().join(format!("dialect-tls-bad-{}", std::process::id()));
        let (cert, _, _) = certificate(&dir);
        let other = dir.join("other");
        let (_, other_key, _) = certificate(&other);
        let e = tls_acceptor(&cert, &other_key).err().unwrap().to_string();
        assert!(e.contains("does not go with the certificate"), "{e}");
        let e = tls_acceptor(&cert, &cert).err().unwrap().to_string();
        assert!(e.contains("not a PEM private key"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
