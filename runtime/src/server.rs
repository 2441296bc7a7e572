//! The server: `dialect run`. Starts storage, the program, SIP, media, speech and
//! the HTTP API from a [`Config`], answers calls until `shutdown` resolves, then
//! shuts down gracefully: new calls get 503, calls in progress may finish until the
//! grace period ends, then they are hung up with BYE.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::api::AppState;
use crate::call::{CallEnv, Limiter, Speaker};
use crate::config::Config;
use crate::deploy::ProgramSlot;
use crate::stats::Stats;
use crate::store::{PgStore, SharedStore, SledStore};
use dialect_media::PortAllocator;
use dialect_sip::registrar::{Registrar, RegistrarConfig};
use dialect_sip::{EndpointConfig, SipEndpoint, trunk};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Storage could not be opened, or what it holds could not be loaded.
    #[error("storage: {0}")]
    Store(#[from] crate::store::StoreError),
    /// The workorder engine could not load the open orders.
    #[error("workorders: {0}")]
    Workorders(#[from] crate::workorder::WoError),
    /// The configuration names no program to run.
    #[error("program: give a project or a bundle in the configuration")]
    NoProgram,
    /// A runtime without a `cluster` section was pointed at the database of a
    /// running cluster: it would run a second workorder engine, outbox and
    /// dialer beside the cluster's.
    #[error(
        "store: this database is used by a cluster ({holder} runs its {service}); give this runtime a `cluster` section (url and the cluster's secret) to join it"
    )]
    ClusterDatabase {
        /// The service found running.
        service: &'static str,
        /// The runtime running it.
        holder: String,
    },
    /// The bundle file could not be read.
    #[error("program: cannot read {}: {source}", path.display())]
    ReadBundle {
        /// The bundle's path.
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// The project or bundle could not be loaded.
    #[error("program: {0}")]
    Program(#[from] crate::deploy::DeployError),
    /// A secret in the data folder (the admin token, the summary key) could not
    /// be read or written.
    #[error("cannot keep {what} in {}: {source}", path.display())]
    Secret {
        /// Which secret.
        what: &'static str,
        /// Its file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The HTTP server's certificate or key cannot serve TLS.
    #[error("http.tls: {0}")]
    Tls(#[from] crate::api::serve::TlsError),
    /// A socket could not be bound.
    #[error("cannot listen for {what} on {addr}: {source}")]
    Bind {
        /// SIP or HTTP.
        what: &'static str,
        /// The configured address (`sip.listen` or `http.listen`).
        addr: std::net::SocketAddr,
        /// Why the system refused it.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Addresses the server actually listens on (ports may have been 0).
#[derive(Debug, Clone)]
pub struct Listening {
    /// SIP over UDP; `None` when `sip.udp` is off.
    pub sip_udp: Option<std::net::SocketAddr>,
    /// SIP over TCP; `None` when `sip.tcp` is off.
    pub sip_tcp: Option<std::net::SocketAddr>,
    /// The HTTP API, which always listens.
    pub http: std::net::SocketAddr,
}

/// A running server: its addresses, and the future that runs it to the end.
pub struct Server {
    /// Where it listens.
    pub listening: Listening,
    /// The API state (for tests and embedding).
    pub state: AppState,
    run: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
}

impl Server {
    /// Runs until shutdown has completed.
    pub async fn serve(self) {
        self.run.await
    }
}

/// Starts everything; the returned server runs when awaited. `shutdown` starts a
/// graceful shutdown.
pub async fn start(config: Config, shutdown: CancellationToken) -> Result<Server, StartError> {
    let config = Arc::new(config);
    crate::limits::raise_and_report(&config);
    // Everything under the data folder is private to the server's user.
    crate::private::private_umask();
    let not_private = crate::private::secure_data_dir(&config.data_dir).map_err(|e| {
        crate::store::StoreError::Db(format!("cannot create {}: {e}", config.data_dir.display()))
    })?;
    for (path, e) in not_private.iter().take(10) {
        tracing::warn!(
            "cannot make {} private (readable by its owner only): {e}",
            path.display()
        );
    }
    let store: SharedStore = match &config.store {
        crate::config::StoreChoice::Sled => Arc::new(SledStore::open(&config.data_dir)?),
        crate::config::StoreChoice::Postgres(target) => {
            let target = target.clone();
            tracing::info!(store = target.redacted(), "opening the PostgreSQL store");
            let opened = tokio::task::spawn_blocking(move || PgStore::open(&target))
                .await
                .map_err(crate::store::StoreError::from)?;
            Arc::new(opened?)
        }
    };
    let engine = config.engine;
    // In a cluster, the program deployed last to any runtime (if one was).
    let deployed = match &config.cluster {
        Some(_) => {
            let s = store.clone();
            tokio::task::spawn_blocking(move || crate::cluster::program::stored(&*s))
                .await
                .map_err(crate::store::StoreError::from)??
        }
        None => None,
    };
    let bytes = match (deployed, &config.bundle, &config.project) {
        (Some(b), _, _) => {
            tracing::info!("running the program last deployed to the cluster");
            b
        }
        (None, Some(b), _) => std::fs::read(b).map_err(|source| StartError::ReadBundle {
            path: b.clone(),
            source,
        })?,
        (None, None, Some(p)) => crate::deploy::compile_project(p)?,
        (None, None, None) => return Err(StartError::NoProgram),
    };
    let added = crate::lists::load_all(&*store)?;
    let program = Arc::new(ProgramSlot::with_lists(
        &bytes,
        engine,
        config.services.clone(),
        added,
    )?);
    tracing::info!(
        version = program.version(),
        "program loaded in {} ms",
        program.current().info.load_ms
    );

    // SIP.
    let sip_shutdown = CancellationToken::new();
    let ep_config = EndpointConfig {
        udp: config.sip.udp.then_some(config.sip.listen),
        tcp: config.sip.tcp.then_some(config.sip.listen),
        public_host: config.sip.public_host.clone(),
        limits: config.sip.limits.message(),
        tcp_limits: config.sip.limits.tcp(),
        ..EndpointConfig::default()
    };
    let (endpoint, mut incoming) = SipEndpoint::bind(ep_config, sip_shutdown.clone())
        .await
        .map_err(|source| StartError::Bind {
            what: "SIP",
            addr: config.sip.listen,
            source: source.into(),
        })?;
    // Agent phone HA1s come from the ACD (configured agents and API changes);
    // the registrar is created first, the ACD fills the cell right after.
    let creds: Arc<std::sync::OnceLock<Arc<crate::acd::AgentCredentials>>> =
        Arc::new(std::sync::OnceLock::new());
    let creds_lookup = creds.clone();
    let registrar = Registrar::new(
        RegistrarConfig {
            auth: config.sip.auth.to_auth(&config.sip.realm),
            ..RegistrarConfig::default()
        },
        Arc::new(move |user: &str| {
            use dialect_sip::registrar::CredentialLookup;
            creds_lookup.get().and_then(|c| c.ha1(user))
        }),
        sip_shutdown.clone(),
    );
    let (acd, mut acd_dials) = crate::acd::AcdHandle::spawn(
        config.acd.clone(),
        crate::acd::ProgramSource::Slot(program.clone()),
        &config.agents,
        store.clone(),
        Some(registrar.clone()),
        sip_shutdown.clone(),
    );
    let _ = creds.set(acd.credentials());
    let mut trunks = Vec::new();
    for t in &config.trunks {
        let mut tc = trunk::TrunkConfig::new(
            &t.name,
            &format!("sip:{}", t.host),
            t.host.split(':').next().unwrap_or(&t.host),
            t.username.as_deref().unwrap_or("dialect"),
        );
        if let (Some(u), Some(p)) = (&t.username, &t.password) {
            tc.credentials = Some(dialect_sip::auth::Credentials {
                username: u.clone(),
                password: p.clone(),
            });
        }
        tc.transport = t.transport.kind();
        tc.expires = t.register_expiry.0.as_secs() as u32;
        if t.register {
            let _status =
                trunk::start_registration(&endpoint, tc.clone(), sip_shutdown.child_token());
        }
        trunks.push((t.clone(), tc));
    }
    let stats = Arc::new(Stats::default());
    let outbound =
        crate::outbound::OutboundPolicy::new(&config, trunks, store.clone(), stats.clone());

    // Speech.
    let speaker = Speaker::new(match config.speech.tts.as_str() {
        "off" => None,
        other => {
            let mut sc = dialect_speech::SpeechConfig::default();
            if other.starts_with("http") {
                sc.tts = dialect_speech::config::TtsEngine::Bridge {
                    url: other.to_string(),
                    timeout_ms: 10_000,
                };
            }
            sc.tts_cache_dir = Some(config.data_dir.join("tts-cache"));
            sc.build_tts().ok()
        }
    });
    let asr = match config.speech.asr.as_str() {
        "off" => None,
        other => {
            let mut sc = dialect_speech::SpeechConfig::default();
            if other.starts_with("http") {
                sc.asr = dialect_speech::config::AsrEngine::Bridge {
                    url: other.to_string(),
                    timeout_ms: 10_000,
                };
            }
            match sc.build_asr().await {
                Ok(a) => Some(a),
                Err(e) => {
                    tracing::warn!("speech recognition is off: {e}");
                    None
                }
            }
        }
    };

    // In a cluster, the services one runtime runs at a time (`crate::cluster`).
    let cluster = config
        .cluster
        .as_ref()
        .map(|c| crate::cluster::Cluster::new(store.clone(), c));
    if let Some(c) = &cluster {
        crate::cluster::program::follow(store.clone(), program.clone(), shutdown.clone())?;
        // One runtime runs the ACD for every call of the cluster.
        crate::cluster::acd::SharedAcd::start(
            c.clone(),
            &acd,
            Some(registrar.clone()),
            sip_shutdown.clone(),
        );
    } else {
        for service in [
            crate::workorder::shared::SERVICE,
            crate::cluster::acd::SERVICE,
            crate::dialer::LEASE,
            crate::cluster::OUTBOX,
        ] {
            let s = store.clone();
            let holder = tokio::task::spawn_blocking(move || s.lease_holder(service))
                .await
                .map_err(crate::store::StoreError::from)??;
            if let Some(holder) = holder {
                return Err(StartError::ClusterDatabase { service, holder });
            }
        }
    }

    // Workorders: load the open orders and re-arm their timers (in a cluster,
    // whichever runtime holds the engine's lease does).
    let people = crate::workorder::people::Directory::new(&config.api_users, &config.roles);
    let workorders = match &cluster {
        None => {
            let (workorders, wo_report) = crate::workorder::WorkorderHandle::start_with_people(
                store.clone(),
                program.clone(),
                crate::time::PausableClock::system(),
                people,
            )
            .await?;
            tracing::info!(
                open = wo_report.open_orders,
                timers = wo_report.timers,
                due_now = wo_report.due_now,
                "workorders loaded in {} ms",
                wo_report.load_ms
            );
            workorders
        }
        Some(cluster) => crate::workorder::WorkorderHandle::start_shared(
            store.clone(),
            program.clone(),
            crate::time::PausableClock::system(),
            cluster.clone(),
            shutdown.clone(),
            people,
        ),
    };
    workorders.set_role_members(&config.roles).await;

    // HTTP: bound before the call environment, whose lookups must know it.
    let listener = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .map_err(|source| StartError::Bind {
            what: "HTTP",
            addr: config.http.listen,
            source: source.into(),
        })?;
    let http_addr = listener.local_addr().map_err(|source| StartError::Bind {
        what: "HTTP",
        addr: config.http.listen,
        source: source.into(),
    })?;
    let (users, ivr_token) = api_users(&config)?;
    let secret = |what: &'static str, file: &str| {
        let path = config.data_dir.join(file);
        crate::auth::stored_secret(&path, 32)
            .map(|(s, _)| s)
            .map_err(|source| StartError::Secret { what, path, source })
    };
    let summary_key = secret("the summary-link key", "summary-key")?;
    let tls = match &config.http.tls {
        Some(t) => Some(crate::api::serve::tls_acceptor(&t.cert, &t.key)?),
        None => None,
    };
    let access = Arc::new(
        crate::api::access::Access::new(
            &config.http.allowed_origins,
            summary_key.into_bytes(),
            config.data_dir.join("uploads"),
            config.http.max_bundle_size,
        )
        .over_tls(tls.is_some()),
    );

    let _ = stats.sip.set(endpoint.live_counters());
    let _ = stats.sip_auth.set(registrar.authenticator().counters());
    let recordings = config.data_dir.join("recordings");
    let _ = std::fs::create_dir_all(&recordings);
    let hangup_all = CancellationToken::new();
    let ports = PortAllocator::new(
        config.rtp.ip,
        config.rtp.ports.first..=config.rtp.ports.last,
    );
    let _ = stats.ports.set(ports.clone());
    let _ = stats.load.set(crate::overload::LoadGuard::start(
        crate::overload::Thresholds::of(&config.limits),
        shutdown.clone(),
    ));
    let sources = crate::admission::SourceLimiter::new(
        config.limits.calls_per_source,
        config.limits.calls_per_source_per_second,
        config
            .trunks
            .iter()
            .flat_map(|t| t.sources.iter().copied())
            .chain(config.limits.trusted_sources.iter().copied()),
        Some(registrar.clone()),
    );
    let call_events = crate::call::CallEvents::default();
    let flow_stats = crate::flowstats::FlowStatsSink::spawn(
        store.clone(),
        config
            .cluster
            .as_ref()
            .map(|c| c.url.clone())
            .unwrap_or_default(),
    );
    let _ = stats.flow_stats.set(flow_stats.clone());
    crate::flowstats::spawn_sweep(
        store.clone(),
        cluster.as_ref(),
        config.flow_stats.retention.map(|r| r.0),
        shutdown.clone(),
    );
    let env = Arc::new(CallEnv {
        endpoint: endpoint.clone(),
        ports,
        program: program.clone(),
        store: store.clone(),
        stats: stats.clone(),
        flow_stats: flow_stats.clone(),
        speaker,
        asr,
        config: config.clone(),
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .unwrap_or_default(),
        registrar: Some(registrar.clone()),
        outbound: outbound.clone(),
        recordings: PathBuf::from(&recordings),
        media_ip: config.rtp.ip,
        limiter: Limiter::new(config.limits.max_calls, config.limits.calls_per_second),
        shutdown: shutdown.clone(),
        hangup_all: hangup_all.clone(),
        workorders: Some(Arc::new(workorders.clone())),
        asr_phrases: std::sync::Mutex::new(HashMap::new()),
        acd: Some(acd.clone()),
        own_api: Some(crate::call::OwnApi {
            addr: http_addr,
            token: ivr_token,
        }),
        events: call_events.clone(),
    });

    // Notifications that flows queue leave through the configured gateways
    // (in a cluster, from the runtime holding the outbox's lease).
    match &cluster {
        None => {
            crate::notify::spawn(store.clone(), &config.notify, shutdown.clone());
        }
        Some(cluster) => {
            let notify = config.notify.clone();
            cluster.run_while_leading(
                crate::cluster::OUTBOX,
                shutdown.clone(),
                move |fenced, lost| {
                    crate::notify::spawn(fenced, &notify, lost);
                },
            );
        }
    }

    // Calls in progress, which a graceful shutdown waits for: the SIP loop's and
    // the dialer's.
    let tracker = TaskTracker::new();
    let dialer = crate::dialer::DialerHandle::spawn(
        env.clone(),
        tracker.clone(),
        shutdown.clone(),
        cluster.clone(),
    );

    // HTTP API.
    let ready = Arc::new(AtomicBool::new(false));
    let state = AppState {
        store: store.clone(),
        users: Arc::new(users),
        program: program.clone(),
        ready: ready.clone(),
        stats: stats.clone(),
        workorders: workorders.clone(),
        acd: acd.clone(),
        outbound: outbound.clone(),
        access,
        call_events,
        dialer,
        event_feed: Default::default(),
        cluster: cluster.clone(),
    };
    let app = crate::api::router(state.clone());
    let http_shutdown = CancellationToken::new();
    let http_task = tokio::spawn(crate::api::serve::serve_with(
        listener,
        app,
        crate::api::serve::HttpLimits::from_config(&config.http),
        tls,
        stats.clone(),
        http_shutdown.clone(),
    ));

    let listening = Listening {
        sip_udp: endpoint.udp_addr(),
        sip_tcp: endpoint.tcp_addr(),
        http: http_addr,
    };
    // Addresses as an operator types them (`127.0.0.1:5060`, or `off`), then
    // the one line a newcomer needs to hear the first flow.
    let sip_at = listening.sip_udp.or(listening.sip_tcp);
    let sip = sip_at.map_or_else(|| "off".to_string(), |a| a.to_string());
    tracing::info!(%sip, http = %listening.http, "Dialect is ready");
    if let Some(addr) = sip_at {
        let current = program.current();
        if let Some((number, _)) = current.program.shared().ir.numbers.first() {
            tracing::info!("to place a test call, call sip:{number}@{addr} from a softphone");
        }
    }
    ready.store(true, Ordering::SeqCst);

    let grace = config.limits.shutdown_grace.0;
    let run = async move {
        loop {
            tokio::select! {
                req = incoming.recv() => {
                    let Some(req) = req else { break };
                    match req.method() {
                        rsip::Method::Invite => match sources.admit(req.source.addr.ip()) {
                            Ok(slot) => crate::call::accept(&env, req, &tracker, slot),
                            Err(why) => crate::admission::refuse(req, why, &env.stats),
                        },
                        rsip::Method::Register => registrar.handle(&req),
                        // Kamailio's dispatcher probes with OPTIONS: a node
                        // past its capacity says so, and gets no new calls.
                        rsip::Method::Options => match stats.load.get().and_then(|l| l.refusal()) {
                            Some(_) => req.reply(503),
                            None => req.reply(200),
                        },
                        _ => req.reply(405),
                    }
                }
                // Callbacks and agents' outbound calls: one call task each.
                Some(order) = acd_dials.recv() => crate::call::dialled::place(&env, order, &tracker),
                _ = shutdown.cancelled() => break,
            }
        }
        // Graceful shutdown: refuse new calls (the endpoint keeps answering 503),
        // let calls finish, then hang up the rest.
        tracing::info!("shutting down: {} calls in progress", tracker.len());
        let refuse = {
            let env = env.clone();
            let tracker = tracker.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        req = incoming.recv() => {
                            let Some(req) = req else { break };
                            match req.method() {
                                rsip::Method::Invite => crate::call::accept(&env, req, &tracker, None),
                                rsip::Method::Register => registrar.handle(&req),
                                _ => req.reply(503),
                            }
                        }
                        // No new calls are placed while shutting down: the ACD
                        // releases the reserved agents.
                        Some(order) = acd_dials.recv() => {
                            crate::call::dialled::refuse(&env, &order, "shutting down").await;
                        }
                    }
                }
            })
        };
        tracker.close();
        if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
            tracing::info!("grace period over: hanging up {} calls", tracker.len());
            hangup_all.cancel();
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), tracker.wait()).await;
        }
        refuse.abort();
        http_shutdown.cancel();
        let _ = http_task.await;
        workorders.stop().await;
        sip_shutdown.cancel();
    };
    Ok(Server {
        listening,
        state,
        run: Box::pin(run),
    })
}

/// The API users: the configured ones, or one admin whose token is kept in the
/// data folder (made and printed once at the first start); and the runtime's
/// own user for the lookups its flows send to this API, with a token made now.
fn api_users(config: &Config) -> Result<(crate::auth::Users, String), StartError> {
    let mut list = config.api_users.clone();
    if list.is_empty() {
        let path = config.data_dir.join(crate::auth::ADMIN_TOKEN_FILE);
        let (token, new) =
            crate::auth::admin_token(&config.data_dir).map_err(|source| StartError::Secret {
                what: "the admin token",
                path: path.clone(),
                source,
            })?;
        if new {
            // Shown once, on the terminal only (not in logs that are collected).
            eprintln!(
                "No api_users are configured: the API's admin token is\n\n    {token}\n\n\
                 It is kept in {} (readable by this user only); give it as `Authorization: Bearer TOKEN` \
                 or to `dialect deploy --token`.",
                path.display()
            );
        }
        tracing::info!(
            "API users: one admin, its token in {} (no api_users configured)",
            path.display()
        );
        list.push(crate::config::ApiUser {
            name: "admin".into(),
            token,
            password: None,
            role: crate::config::Role::Admin,
            department: None,
            email: None,
            phone: None,
        });
    }
    let mut users = crate::auth::Users::with_session_idle(&list, config.http.session_idle.0);
    let ivr_token = crate::auth::random_secret(24);
    users.add_system_user(crate::auth::IVR_USER, &ivr_token);
    Ok((users, ivr_token))
}

/// Runs a server to the end (the entry point of `dialect run`).
pub async fn run(
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        shutdown.await;
        t.cancel();
    });
    let server = start(config, token).await?;
    server.serve().await;
    Ok(())
}
