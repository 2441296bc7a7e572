//! Services that run on one runtime of a cluster at a time.
//!
//! Several runtimes share one PostgreSQL store (`store: postgres://…`) and a
//! `cluster:` section names each one by the URL the others reach its API at.
//! Some of the runtime's work must be done by exactly one of them: the ACD
//! (one queue order for every runtime's calls: [`acd`]), the workorder
//! engine (it keeps the open orders and their timers in memory and is their
//! only writer, so two engines would fire a reminder twice and overwrite
//! each other's steps), the notification outbox (two workers would send a
//! message twice) and the dialer. Each such service has a lease in the store
//! ([`Store::lease`]); the runtime holding it runs the service, and the
//! others forward to it ([`Cluster::forward`]) what they cannot do
//! themselves.
//!
//! Leadership, step by step:
//! - every runtime tries to take or renew each lease every third of its
//!   time to live (`cluster.lease`, 5 s by default); the database's clock
//!   decides who holds it;
//! - a runtime that could not renew within two thirds of the time to live
//!   stops the service at once, before its lease can lapse;
//! - everything the service writes goes through a [`FencedStore`]: a runtime
//!   that was frozen past its lease (a stalled process, a partition) and
//!   wakes up believing it still leads has every write refused
//!   ([`StoreError::Fenced`]), so the new holder's work is never overwritten;
//! - when the holder dies, its lease lapses and another runtime takes the
//!   service over within one time to live plus one renewal period; it loads
//!   what the old holder committed (a workorder timer the old holder fired is
//!   marked fired in the same batch as its notifications, so it fires once);
//! - a runtime shutting down gives its leases up, so the next takes over at
//!   once.
//!
//! The program and the number lists are shared the other way: a deploy to any
//! runtime is stored, and every runtime follows the store ([`program`]).
//!
//! Requests between runtimes carry the cluster's shared secret and go to
//! `/internal/v1/…` routes, which take no user credentials: the runtime that
//! forwards has already authenticated the user and sends who it is.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::store::{FencedStore, SharedStore, StoreError};

pub mod acd;
pub mod program;

/// The lease (and service) name of the notification outbox.
pub const OUTBOX: &str = "outbox";

/// The header that carries the cluster's secret on requests between runtimes.
pub const SECRET_HEADER: &str = "x-dialect-cluster-secret";

/// Requests between runtimes wait this long for an answer at most.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);

/// Answers larger than this from another runtime are refused.
const MAX_FORWARDED_ANSWER: usize = 16 * 1024 * 1024;

/// This runtime's place in a cluster.
pub struct Cluster {
    store: SharedStore,
    /// This runtime's URL, which is also its name in the leases.
    me: String,
    secret_digest: [u8; 32],
    secret: String,
    ttl: Duration,
    http: reqwest::Client,
    /// The services whose lease this runtime holds now.
    running: std::sync::Mutex<std::collections::BTreeSet<&'static str>>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("me", &self.me).finish()
    }
}

/// Why a request forwarded to another runtime failed.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// No runtime holds the service's lease (its holder died and no other has
    /// taken it over yet).
    #[error("no runtime runs the {0} service at the moment; try again in a few seconds")]
    NoLeader(&'static str),
    /// The holder could not be reached or did not answer in time: what was
    /// asked may or may not have been done.
    #[error("the runtime running the {service} service ({url}) did not answer: {why}")]
    Unreachable {
        /// The service.
        service: &'static str,
        /// Where it was asked.
        url: String,
        /// What went wrong.
        why: String,
    },
    /// The store could not say who holds the lease.
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl Cluster {
    /// This runtime in the cluster the configuration describes.
    pub fn new(store: SharedStore, config: &crate::config::ClusterConfig) -> Arc<Cluster> {
        Arc::new(Cluster {
            store,
            me: config.url.trim_end_matches('/').to_string(),
            secret_digest: crate::auth::token_digest(&config.secret),
            secret: config.secret.clone(),
            ttl: config.lease.0,
            http: reqwest::Client::builder()
                .timeout(FORWARD_TIMEOUT)
                .build()
                .unwrap_or_default(),
            running: Default::default(),
        })
    }

    /// This runtime's URL: its name in the leases.
    pub fn me(&self) -> &str {
        &self.me
    }

    /// The services this runtime runs now (holds the lease of), by name.
    pub fn running(&self) -> Vec<&'static str> {
        self.running
            .lock()
            .map(|r| r.iter().copied().collect())
            .unwrap_or_default()
    }

    fn note(&self, service: &'static str, leading: bool) {
        if let Ok(mut r) = self.running.lock() {
            if leading {
                r.insert(service);
            } else {
                r.remove(service);
            }
        }
    }

    /// The store for the code of `service`: every write fenced by its lease.
    pub fn fenced_store(&self, service: &str) -> SharedStore {
        Arc::new(FencedStore::new(self.store.clone(), service, &self.me))
    }

    /// Whether a request from another runtime carries the cluster's secret
    /// (compared through digests, so the time taken tells nothing of it).
    pub fn authorized(&self, headers: &axum::http::HeaderMap) -> bool {
        let Some(given) = headers.get(SECRET_HEADER).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let given = crate::auth::token_digest(given);
        given
            .iter()
            .zip(self.secret_digest.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    /// Keeps trying to hold the lease of `service` until `shutdown`, and says
    /// through the receiver whether this runtime holds it now. At shutdown the
    /// lease is given up.
    pub fn lead(
        self: &Arc<Self>,
        service: &'static str,
        shutdown: CancellationToken,
    ) -> watch::Receiver<bool> {
        let (tx, rx) = watch::channel(false);
        let me = self.clone();
        tokio::spawn(async move { me.keep_lease(service, tx, shutdown).await });
        rx
    }

    async fn keep_lease(
        self: Arc<Self>,
        service: &'static str,
        leading: watch::Sender<bool>,
        shutdown: CancellationToken,
    ) {
        let period = self.ttl / 3;
        loop {
            let sent = Instant::now();
            let (store, me, ttl) = (self.store.clone(), self.me.clone(), self.ttl);
            let renewal = tokio::time::timeout(
                period,
                tokio::task::spawn_blocking(move || store.lease(service, &me, ttl)),
            )
            .await;
            let held = match renewal {
                Ok(Ok(Ok(held))) => held,
                Ok(Ok(Err(e))) => {
                    tracing::warn!(service, "cannot renew the lease: {e}");
                    false
                }
                Ok(Err(e)) => {
                    tracing::warn!(service, "the lease renewal failed: {e}");
                    false
                }
                Err(_) => {
                    tracing::warn!(service, "the lease renewal took too long");
                    false
                }
            };
            // The latest moment this runtime may still act as the holder: two
            // thirds of the time to live after the renewal was *sent* (the
            // database counts from when it received it, which is later).
            let valid_until = held.then(|| sent + self.ttl * 2 / 3);
            if *leading.borrow() != held {
                if held {
                    tracing::info!(service, node = %self.me, "this runtime now runs the service");
                } else {
                    tracing::warn!(service, node = %self.me, "this runtime no longer runs the service");
                }
                self.note(service, held);
                let _ = leading.send(held);
            }
            let next = sent + period;
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep_until(next.into()) => {}
            }
            if valid_until.is_some_and(|v| Instant::now() >= v) && *leading.borrow() {
                self.note(service, false);
                let _ = leading.send(false);
            }
        }
        if *leading.borrow() {
            self.note(service, false);
            let _ = leading.send(false);
            let (store, me) = (self.store.clone(), self.me.clone());
            let _ = tokio::task::spawn_blocking(move || store.lease(service, &me, Duration::ZERO))
                .await;
        }
    }

    /// Runs `start` (with the service's fenced store and a token cancelled when
    /// the lease is lost) each time this runtime comes to hold the lease of
    /// `service`, until `shutdown`.
    pub fn run_while_leading<F>(
        self: &Arc<Self>,
        service: &'static str,
        shutdown: CancellationToken,
        start: F,
    ) where
        F: Fn(SharedStore, CancellationToken) + Send + 'static,
    {
        let mut leading = self.lead(service, shutdown.clone());
        let me = self.clone();
        tokio::spawn(async move {
            let mut running: Option<CancellationToken> = None;
            loop {
                let now_leading = *leading.borrow_and_update();
                match (now_leading, running.is_some()) {
                    (true, false) => {
                        let token = shutdown.child_token();
                        start(me.fenced_store(service), token.clone());
                        running = Some(token);
                    }
                    (false, true) => {
                        if let Some(t) = running.take() {
                            t.cancel();
                        }
                    }
                    _ => {}
                }
                if leading.changed().await.is_err() {
                    break;
                }
            }
            if let Some(t) = running.take() {
                t.cancel();
            }
        });
    }

    /// Whether the runtime at `url` answers its health check within 2 s.
    pub async fn alive(&self, url: &str) -> bool {
        self.http
            .get(format!("{url}/api/v1/health"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    }

    /// The URL of the runtime holding the lease of `service`, if any.
    pub async fn leader(&self, service: &str) -> Result<Option<String>, StoreError> {
        let (store, service) = (self.store.clone(), service.to_string());
        tokio::task::spawn_blocking(move || store.lease_holder(&service)).await?
    }

    /// Sends `request` as JSON to `path` on the runtime holding the lease of
    /// `service` and returns its answer's status and body. Not retried: the
    /// holder may have done it before its answer was lost.
    pub async fn forward<R: Serialize>(
        &self,
        service: &'static str,
        path: &str,
        request: &R,
    ) -> Result<(u16, bytes::Bytes), ForwardError> {
        let Some(url) = self.leader(service).await? else {
            return Err(ForwardError::NoLeader(service));
        };
        let unreachable = |why: String| ForwardError::Unreachable {
            service,
            url: url.clone(),
            why,
        };
        let resp = self
            .http
            .post(format!("{url}{path}"))
            .header(SECRET_HEADER, &self.secret)
            .json(request)
            .send()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let status = resp.status().as_u16();
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_FORWARDED_ANSWER as u64)
        {
            return Err(unreachable("the answer is too large".into()));
        }
        let body = resp.bytes().await.map_err(|e| unreachable(e.to_string()))?;
        if body.len() > MAX_FORWARDED_ANSWER {
            return Err(unreachable("the answer is too large".into()));
        }
        Ok((status, body))
    }
}

/// Decodes a forwarded answer's JSON body.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body)
        .map_err(|e| format!("an unreadable answer from another runtime: {e}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::config::ClusterConfig;
    use crate::store::{Batch, SledStore};

    fn node(store: &SharedStore, n: u32) -> Arc<Cluster> {
        Cluster::new(
            store.clone(),
            &ClusterConfig {
                url: format!("http://127.0.0.{n}:8080"),
                secret: "a secret of the cluster".into(),
                lease: crate::config::Duration(Duration::from_millis(300)),
            },
        )
    }

    async fn wait_for(rx: &mut watch::Receiver<bool>, want: bool) {
        tokio::time::timeout(Duration::from_secs(3), rx.wait_for(|l| *l == want))
            .await
            .expect("in time")
            .expect("the lease keeper runs");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_runtime_leads_and_another_takes_over_when_it_stops() {
        let dir = std::env::temp_dir().join(format!("dialect-cluster-unit-{}", std::process::id()));
        let store: SharedStore = Arc::new(SledStore::open(&dir).unwrap());
        let (a, b) = (node(&store, 1), node(&store, 2));
        let (stop_a, stop_b) = (CancellationToken::new(), CancellationToken::new());
        let mut lead_a = a.lead("svc", stop_a.clone());
        wait_for(&mut lead_a, true).await;
        let mut lead_b = b.lead("svc", stop_b.clone());
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert!(!*lead_b.borrow(), "one holder while the first renews");
        assert_eq!(a.running(), vec!["svc"]);
        assert!(b.running().is_empty());
        assert_eq!(
            b.leader("svc").await.unwrap().as_deref(),
            Some("http://127.0.0.1:8080")
        );

        // The holder's writes pass its fence; the other's do not.
        let mut batch = Batch::new();
        batch.put("t", b"a".to_vec(), b"1".to_vec());
        a.fenced_store("svc").commit(batch.clone()).unwrap();
        assert!(matches!(
            b.fenced_store("svc").commit(batch),
            Err(StoreError::Fenced(_))
        ));

        // The first stops: it gives the lease up and the second takes it.
        stop_a.cancel();
        wait_for(&mut lead_b, true).await;
        assert_eq!(b.running(), vec!["svc"]);
        assert!(a.running().is_empty());
        stop_b.cancel();
        wait_for(&mut lead_b, false).await;
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn only_the_cluster_secret_is_authorized() {
        let dir = std::env::temp_dir().join(format!("dialect-cluster-auth-{}", std::process::id()));
        let store: SharedStore = Arc::new(SledStore::open(&dir).unwrap());
        let c = node(&store, 1);
        let mut headers = axum::http::HeaderMap::new();
        assert!(!c.authorized(&headers), "no secret");
        headers.insert(SECRET_HEADER, "a secret of the clusteR".parse().unwrap());
        assert!(!c.authorized(&headers), "a wrong secret");
        headers.insert(SECRET_HEADER, "a secret of the cluster".parse().unwrap());
        assert!(c.authorized(&headers));
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
