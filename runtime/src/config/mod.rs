//! The runtime's configuration: YAML (serde_yaml, kept in this one module so the
//! crate can be swapped for a maintained fork in one line), with embedded defaults
//! for every key. A wrong key or value is reported with the file, line and column
//! and the server does not start.
//!
//! - `mod.rs`: the sections and their defaults, loading and the first checks.
//! - `validate`: the checks across sections (outbound plans, limits, tokens).
//! - `tests`: both, against YAML as operators write it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

pub use dialect_acd::AgentConfig;
pub use validate::{MIN_TOKEN_LEN, OLD_DEFAULT_TOKEN, parse_origin, weak_token};

mod validate;

/// A duration written as in flows: `5s`, `2m`, `1h30m`, `500ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration(pub std::time::Duration);

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        dialect_lang::literal::parse_duration(s.trim())
            .filter(|ms| *ms >= 0)
            .map(|ms| Duration(std::time::Duration::from_millis(ms as u64)))
            .ok_or_else(|| {
                serde::de::Error::custom(format!("`{s}` is not a duration such as 30s, 5m or 1h"))
            })
    }
}

/// The `store` key: `sled` (the default: one machine, no setup, the data in
/// `data_dir`) or `postgres://user@host/database` (also `postgresql://`, and
/// `postgres:///database?host=/run/postgresql` over a unix socket). Its `Debug`
/// never shows a password, and neither does an error about it.
#[derive(Clone, Default)]
pub enum StoreChoice {
    /// The embedded sled store in `data_dir`.
    #[default]
    Sled,
    /// A PostgreSQL database.
    Postgres(Box<crate::store::PgTarget>),
}

impl std::fmt::Debug for StoreChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreChoice::Sled => f.write_str("sled"),
            StoreChoice::Postgres(t) => f.write_str(t.redacted()),
        }
    }
}

impl<'de> Deserialize<'de> for StoreChoice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StoreChoice, D::Error> {
        let s = String::deserialize(d)?;
        let s = s.trim();
        if s == "sled" {
            Ok(StoreChoice::Sled)
        } else if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            crate::store::PgTarget::parse(s)
                .map(|t| StoreChoice::Postgres(Box::new(t)))
                .map_err(|e| serde::de::Error::custom(format!("store: {e}")))
        } else {
            // The value is not repeated: a mistyped URL may hold a password.
            Err(serde::de::Error::custom(
                "store: write `sled` or a PostgreSQL URL such as `postgres://dialect@db1/dialect`",
            ))
        }
    }
}

/// A port range written `20000-29999`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    /// First port (inclusive). Only even ports carry RTP, and the range spans at
    /// least four ports.
    pub first: u16,
    /// Last port (inclusive).
    pub last: u16,
}

impl<'de> Deserialize<'de> for PortRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PortRange, D::Error> {
        let s = String::deserialize(d)?;
        let bad =
            || serde::de::Error::custom(format!("`{s}` is not a port range such as 20000-29999"));
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let first: u16 = a.trim().parse().map_err(|_| bad())?;
        let last: u16 = b.trim().parse().map_err(|_| bad())?;
        if first > last || last - first < 3 {
            return Err(bad());
        }
        Ok(PortRange { first, last })
    }
}

/// Everything the runtime needs to start.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// SIP listen addresses.
    pub sip: SipConfig,
    /// The HTTP API's listen address and what its connections may hold.
    pub http: HttpConfig,
    /// RTP ports and address, and the legs' DTMF, latching and SRTP defaults.
    pub rtp: RtpConfig,
    /// Where data (sled), recordings and logs go.
    pub data_dir: PathBuf,
    /// Which store keeps the data: `sled` (embedded, in `data_dir`) or a
    /// PostgreSQL database shared by several runtimes.
    pub store: StoreChoice,
    /// A project folder to compile at start.
    pub project: Option<PathBuf>,
    /// Or a bundle to load at start.
    pub bundle: Option<PathBuf>,
    /// Which back-end runs the flows.
    pub engine: dialect_compiler::Engine,
    /// Limits against overload.
    pub limits: Limits,
    /// How much is logged, and in what form.
    pub logging: Logging,
    /// Whether whole calls are recorded, and the limits of a recording.
    pub recording: RecordingConfig,
    /// Carrier trunks: where outgoing calls leave, and whose incoming calls are
    /// (by source address).
    pub trunks: Vec<TrunkConfig>,
    /// Agents and their phones.
    pub agents: Vec<AgentConfig>,
    /// API users and their roles. None given: one admin whose token is generated
    /// at the first start and kept in the data folder ([`crate::auth::admin_token`]).
    pub api_users: Vec<ApiUser>,
    /// Text-to-speech and speech recognition.
    pub speech: SpeechConfig,
    /// Base URLs replacing those written in the project's services (by service name).
    pub services: BTreeMap<String, String>,
    /// Number of the flow answering calls whose dialled number no flow declares.
    pub default_number: Option<String>,
    /// ACD settings the queues do not state (ring time, callbacks, service level).
    pub acd: dialect_acd::AcdConfig,
    /// Which numbers calls placed by the platform may reach, through which trunks,
    /// how many and how fast (toll-fraud protection; see `crate::outbound`).
    pub outbound: OutboundConfig,
    /// The outbound dialer: lines per campaign, callees' time zones.
    pub dialer: DialerConfig,
    /// Where SMS and e-mail notifications leave, and how they are retried
    /// (see `crate::notify`).
    pub notify: NotifyConfig,
    /// The project's own roles (`role dispatcher "派单员"` in the flows) and the
    /// API users who have them, by name: `roles: { dispatcher: [wang, li] }`. A
    /// user takes a transition whose `by` list names their role or one of these.
    pub roles: BTreeMap<String, Vec<String>>,
    /// Several runtimes on one PostgreSQL store: this runtime's address for the
    /// others, and their shared secret (see `crate::cluster`). Absent: this
    /// runtime runs every service itself.
    pub cluster: Option<ClusterConfig>,
    /// How long the statistics per flow are kept (see `crate::flowstats`).
    pub flow_stats: FlowStatsConfig,
}

/// The `flow_stats` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlowStatsConfig {
    /// Hours of figures older than this are deleted (hourly, by one runtime
    /// of a cluster). None (the default): kept until removed, as the ACD's
    /// call records, the contact records and the recordings are.
    pub retention: Option<Duration>,
}

/// The shortest retention of the statistics per flow: a shorter one would
/// delete the hours still being counted (a call counts in the hour it began).
pub const MIN_FLOW_STATS_RETENTION: std::time::Duration = std::time::Duration::from_secs(2 * 3600);

/// The `cluster` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// How the other runtimes reach this one's HTTP API
    /// (`http://10.0.0.12:8080`); also this runtime's name in the leases, so
    /// it must differ on every runtime.
    pub url: String,
    /// Shared by every runtime of the cluster: requests between runtimes carry
    /// it (at least 16 characters).
    pub secret: String,
    /// How long a service stays with a runtime that stopped renewing its lease:
    /// the longest a service is without a runtime after its runtime dies.
    #[serde(default = "default_lease")]
    pub lease: Duration,
}

fn default_lease() -> Duration {
    Duration(std::time::Duration::from_secs(5))
}

/// The `dialer` section: what campaigns do not state themselves.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DialerConfig {
    /// Lines a campaign may hold at once when its mode names no `max
    /// channels` (the trunk's channels, shared with inbound, bound it too).
    pub max_channels: u32,
    /// Time zones by number prefix (`"0991": "Asia/Urumqi"`), for callees whose
    /// list gives none; the longest prefix wins; else the calendar's zone.
    pub zones: dialect_dialer::window::ZoneTable,
    /// How often each running campaign looks for targets to dial.
    pub tick: Duration,
    /// A folder watched for list files: `IMPORT_DIR/CAMPAIGN/FILE` is imported
    /// into that campaign, then moved to `done/` (or `failed/`) with its report.
    pub import_dir: Option<PathBuf>,
    /// How often the import folder is looked at.
    pub import_every: Duration,
    /// The share of people the answering-machine detector takes for machines
    /// (measured: 0.71 % on the generated corpus; measure your own calls with
    /// `dialect amd detect`). Each machine verdict counts this much of an
    /// abandoned call in the abandon rate, as Ofcom asks.
    pub machine_false_positive_rate: f64,
}

impl Default for DialerConfig {
    fn default() -> DialerConfig {
        DialerConfig {
            max_channels: 30,
            zones: dialect_dialer::window::ZoneTable::default(),
            tick: Duration(std::time::Duration::from_millis(250)),
            import_dir: None,
            import_every: Duration(std::time::Duration::from_secs(30)),
            machine_false_positive_rate: 0.0071,
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            sip: SipConfig::default(),
            http: HttpConfig::default(),
            rtp: RtpConfig::default(),
            data_dir: PathBuf::from("./data"),
            store: StoreChoice::Sled,
            project: Some(PathBuf::from("./flows/hotline")),
            bundle: None,
            engine: dialect_compiler::Engine::Native,
            limits: Limits::default(),
            logging: Logging::default(),
            recording: RecordingConfig::default(),
            trunks: Vec::new(),
            agents: Vec::new(),
            api_users: Vec::new(),
            speech: SpeechConfig::default(),
            services: BTreeMap::new(),
            default_number: Some("10000".into()),
            acd: dialect_acd::AcdConfig::default(),
            outbound: OutboundConfig::default(),
            dialer: DialerConfig::default(),
            notify: NotifyConfig::default(),
            roles: BTreeMap::new(),
            cluster: None,
            flow_stats: FlowStatsConfig::default(),
        }
    }
}

/// The `notify` section: the gateways notifications leave through and their
/// retries. A channel left out keeps its notifications queued (visible, with
/// the reason) until it is configured.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// The SMTP relay e-mail goes through.
    pub email: Option<EmailConfig>,
    /// The gateway SMS go through: `smpp` or `http`.
    pub sms: Option<SmsConfig>,
    /// Back-off between attempts, and how many before a notification fails.
    pub retry: RetryConfig,
    /// How often the outbox is looked at for new and due notifications.
    pub poll: Duration,
    /// Most notifications being sent at once.
    pub concurrency: usize,
}

impl Default for NotifyConfig {
    fn default() -> NotifyConfig {
        NotifyConfig {
            email: None,
            sms: None,
            retry: RetryConfig::default(),
            poll: Duration(std::time::Duration::from_secs(1)),
            concurrency: 8,
        }
    }
}

/// `notify.email`: an SMTP relay.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// The relay's host (and the name its certificate carries, with TLS).
    pub host: String,
    /// Its port (25; 587 with STARTTLS; 465 with TLS).
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    /// `none`, `starttls` or `tls`.
    #[serde(default)]
    pub tls: EmailTls,
    /// User name, when the relay asks for authentication.
    pub user: Option<String>,
    /// Its password.
    pub password: Option<String>,
    /// The sender: `Name <address>`; the name may be Chinese.
    pub from: String,
    /// How long one mail may take to hand over.
    #[serde(default = "default_gateway_timeout")]
    pub timeout: Duration,
}

fn default_smtp_port() -> u16 {
    25
}

fn default_gateway_timeout() -> Duration {
    Duration(std::time::Duration::from_secs(30))
}

/// How the connection to the SMTP relay is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailTls {
    /// In clear.
    #[default]
    None,
    /// `STARTTLS`, required.
    Starttls,
    /// TLS from the first byte.
    Tls,
}

/// `notify.sms`: exactly one of `smpp` and `http`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsConfig {
    /// The carrier's SMSC over SMPP 3.4.
    pub smpp: Option<SmppSection>,
    /// An HTTP SMS gateway.
    pub http: Option<HttpSmsSection>,
}

/// `notify.sms.smpp`: the account at the carrier's SMSC.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmppSection {
    /// The SMSC's host.
    pub host: String,
    /// Its port.
    #[serde(default = "default_smpp_port")]
    pub port: u16,
    /// The account (at most 15 characters).
    pub system_id: String,
    /// Its password (at most 8 characters).
    pub password: String,
    /// The ESME type, when the carrier asks for one (at most 12 characters).
    #[serde(default)]
    pub system_type: String,
    /// The sender handsets show: a number (such as the hotline's) or a name.
    #[serde(default)]
    pub source_addr: String,
    /// Type of number of the sender; by default 5 (alphanumeric) for a name,
    /// 0 for digits.
    pub source_ton: Option<u8>,
    /// Numbering plan of the sender; by default 0 for a name, 1 for digits.
    pub source_npi: Option<u8>,
    /// `enquire_link` after this long without traffic.
    #[serde(default = "default_enquire_link")]
    pub enquire_link: Duration,
    /// How long the SMSC may take to answer.
    #[serde(default = "default_smpp_response")]
    pub response_timeout: Duration,
    /// Most submits waiting for an answer at once.
    #[serde(default = "default_smpp_window")]
    pub window: usize,
}

fn default_smpp_port() -> u16 {
    2775
}

fn default_enquire_link() -> Duration {
    Duration(std::time::Duration::from_secs(30))
}

fn default_smpp_response() -> Duration {
    Duration(std::time::Duration::from_secs(10))
}

fn default_smpp_window() -> usize {
    10
}

/// `notify.sms.http`: an HTTP SMS gateway.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSmsSection {
    /// Where messages are posted (`http://` or `https://`).
    pub url: String,
    /// Sent as a bearer token, when given.
    pub token: Option<String>,
    /// How long one request may take.
    #[serde(default = "default_gateway_timeout")]
    pub timeout: Duration,
}

/// `notify.retry`: exponential back-off between attempts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// The wait after the first failed attempt; each next one doubles it.
    pub first: Duration,
    /// The longest wait.
    pub max: Duration,
    /// Attempts before a notification is marked failed.
    pub attempts: u32,
}

impl Default for RetryConfig {
    fn default() -> RetryConfig {
        RetryConfig {
            first: Duration(std::time::Duration::from_secs(30)),
            max: Duration(std::time::Duration::from_secs(3600)),
            attempts: 8,
        }
    }
}

/// The `sip` section: where SIP listens, what it advertises, what a message
/// may hold and how agent phones authenticate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipConfig {
    /// UDP and TCP listen address.
    pub listen: SocketAddr,
    /// Listen on UDP.
    pub udp: bool,
    /// Listen on TCP.
    pub tcp: bool,
    /// Host to advertise in Via/Contact (when bound to 0.0.0.0 or behind NAT).
    pub public_host: Option<String>,
    /// Realm of the registrar's digest challenges.
    pub realm: String,
    /// Ring (180) this long before answering a call.
    pub ring_time: Duration,
    /// What one message and the TCP connections of others may hold.
    pub limits: SipLimits,
    /// Digest authentication of agent phones: nonces and lock-outs.
    pub auth: SipAuthConfig,
}

impl Default for SipConfig {
    fn default() -> SipConfig {
        SipConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 5060)),
            udp: true,
            tcp: true,
            public_host: None,
            realm: "dialect".into(),
            ring_time: Duration(std::time::Duration::ZERO),
            limits: SipLimits::default(),
            auth: SipAuthConfig::default(),
        }
    }
}

/// Limits on what the network can make the SIP layer hold (`sip.limits`): a
/// message over a size or header-count limit is answered 513 or 400, or dropped
/// when it deserves no answer; TCP connections are capped and timed out.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipLimits {
    /// Largest UDP datagram taken, in bytes.
    pub udp_message_size: usize,
    /// Largest message over TCP, in bytes.
    pub tcp_message_size: usize,
    /// Most header lines in one message.
    pub headers: usize,
    /// Most Via values in one message.
    pub vias: usize,
    /// Most Route values, and most Record-Route values, in one message.
    pub routes: usize,
    /// Most TCP connections opened to us at once.
    pub tcp_connections: usize,
    /// Most TCP connections from one IP address.
    pub tcp_connections_per_source: usize,
    /// A message over TCP must arrive whole within this.
    pub tcp_message_timeout: Duration,
    /// A TCP connection with nothing arriving this long is closed.
    pub tcp_idle_timeout: Duration,
}

impl Default for SipLimits {
    fn default() -> SipLimits {
        let m = dialect_sip::message::MessageLimits::default();
        let t = dialect_sip::transport::TcpLimits::default();
        SipLimits {
            udp_message_size: m.max_datagram,
            tcp_message_size: m.max_stream,
            headers: m.max_headers,
            vias: m.max_vias,
            routes: m.max_routes,
            tcp_connections: t.max_connections,
            tcp_connections_per_source: t.max_per_source,
            tcp_message_timeout: Duration(t.message_timeout),
            tcp_idle_timeout: Duration(t.idle_timeout),
        }
    }
}

/// Digest authentication of agent phones (REGISTER, REFER): how long a nonce
/// lives and when failures lock a source address or a user out. The defaults
/// let a phone with a typo retry a few times and hold a guesser to a handful
/// of tries an hour.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipAuthConfig {
    /// How long a nonce may be used (5s to 1h).
    pub nonce_lifetime: Duration,
    /// Failures are counted over this long.
    pub failure_window: Duration,
    /// Failures from one address before it is locked out.
    pub source_failures: u32,
    /// The first lock-out of an address; each further one doubles.
    pub source_lockout: Duration,
    /// The longest lock-out of an address.
    pub source_lockout_max: Duration,
    /// Wrong passwords for one user, from anywhere, before the user is locked
    /// (except for addresses it used successfully within `trusted_for`).
    pub user_failures: u32,
    /// The first lock-out of a user; each further one doubles.
    pub user_lockout: Duration,
    /// The longest lock-out of a user.
    pub user_lockout_max: Duration,
    /// How long an address that authenticated as a user is exempt from that
    /// user's lock-out.
    pub trusted_for: Duration,
}

impl Default for SipAuthConfig {
    fn default() -> SipAuthConfig {
        let d = dialect_sip::auth::AuthConfig::default();
        let l = d.lockout;
        SipAuthConfig {
            nonce_lifetime: Duration(d.nonce_lifetime),
            failure_window: Duration(l.window),
            source_failures: l.source_failures,
            source_lockout: Duration(l.source_lockout),
            source_lockout_max: Duration(l.source_lockout_max),
            user_failures: l.user_failures,
            user_lockout: Duration(l.user_lockout),
            user_lockout_max: Duration(l.user_lockout_max),
            trusted_for: Duration(l.trusted_for),
        }
    }
}

impl SipLimits {
    /// The SIP layer's message limits.
    pub fn message(&self) -> dialect_sip::message::MessageLimits {
        dialect_sip::message::MessageLimits {
            max_datagram: self.udp_message_size,
            max_stream: self.tcp_message_size,
            max_headers: self.headers,
            max_vias: self.vias,
            max_routes: self.routes,
        }
    }

    /// The SIP layer's TCP connection limits.
    pub fn tcp(&self) -> dialect_sip::transport::TcpLimits {
        dialect_sip::transport::TcpLimits {
            max_connections: self.tcp_connections,
            max_per_source: self.tcp_connections_per_source,
            message_timeout: self.tcp_message_timeout.0,
            idle_timeout: self.tcp_idle_timeout.0,
        }
    }
}

impl SipAuthConfig {
    /// The SIP layer's settings for `realm`.
    pub fn to_auth(&self, realm: &str) -> dialect_sip::auth::AuthConfig {
        let d = dialect_sip::auth::AuthConfig::default();
        dialect_sip::auth::AuthConfig {
            realm: realm.to_string(),
            nonce_lifetime: self.nonce_lifetime.0,
            lockout: dialect_sip::auth::lockout::LockoutConfig {
                window: self.failure_window.0,
                source_failures: self.source_failures,
                source_lockout: self.source_lockout.0,
                source_lockout_max: self.source_lockout_max.0,
                user_failures: self.user_failures,
                user_lockout: self.user_lockout.0,
                user_lockout_max: self.user_lockout_max.0,
                trusted_for: self.trusted_for.0,
                ..d.lockout
            },
            ..d
        }
    }

    /// The first setting that is out of range: (key, what is wrong).
    fn problem(&self) -> Option<(&'static str, String)> {
        let secs = |d: Duration| d.0.as_secs_f64();
        if !(5.0..=3600.0).contains(&secs(self.nonce_lifetime)) {
            return Some(("nonce_lifetime", "must be between 5s and 1h".into()));
        }
        for (key, n) in [
            ("source_failures", self.source_failures),
            ("user_failures", self.user_failures),
        ] {
            if !(1..=1000).contains(&n) {
                return Some((key, "must be between 1 and 1000".into()));
            }
        }
        for (key, d) in [
            ("failure_window", self.failure_window),
            ("source_lockout", self.source_lockout),
            ("user_lockout", self.user_lockout),
        ] {
            if secs(d) < 1.0 {
                return Some((key, "must be at least 1s".into()));
            }
        }
        for (key, max, base_key, base) in [
            (
                "source_lockout_max",
                self.source_lockout_max,
                "source_lockout",
                self.source_lockout,
            ),
            (
                "user_lockout_max",
                self.user_lockout_max,
                "user_lockout",
                self.user_lockout,
            ),
        ] {
            if max.0 < base.0 {
                return Some((key, format!("must not be shorter than `{base_key}`")));
            }
        }
        None
    }
}

/// The HTTP API, and what its connections may hold.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Listen address (default `127.0.0.1:8080`; on any address but loopback, weak
    /// API tokens stop the server from starting).
    pub listen: SocketAddr,
    /// Most connections at once; beyond it new ones are closed at once.
    pub max_connections: usize,
    /// Most connections from one IP address (behind a reverse proxy every
    /// connection comes from the proxy: raise it to `max_connections` there).
    pub max_connections_per_source: usize,
    /// A request's headers must arrive whole within this, and a kept-alive
    /// connection waiting for its next request is closed after it.
    pub header_timeout: Duration,
    /// Longest time a request may take, body included (WebSockets, once
    /// opened, are not bound by it).
    pub request_timeout: Duration,
    /// Largest bundle `POST /api/v1/deploy` takes, in bytes.
    pub max_bundle_size: u64,
    /// Origins (`https://desk.example.com`) whose pages may open the WebSockets,
    /// besides the API's own origin.
    pub allowed_origins: Vec<String>,
    /// A signed-in session ends after this long without a request (an open
    /// desk's event stream keeps it in use).
    pub session_idle: Duration,
    /// Serve HTTPS with this certificate and key (PEM files); session cookies
    /// are then marked `Secure`. Use it whenever the desk is reached from
    /// another machine.
    pub tls: Option<TlsFiles>,
}

/// The HTTP server's certificate chain and private key, PEM files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The certificate chain, the server's first.
    pub cert: PathBuf,
    /// Its private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_connections: 512,
            max_connections_per_source: 64,
            header_timeout: Duration(std::time::Duration::from_secs(10)),
            request_timeout: Duration(std::time::Duration::from_secs(60)),
            max_bundle_size: 512 * 1024 * 1024,
            allowed_origins: Vec::new(),
            session_idle: Duration(std::time::Duration::from_secs(60 * 60)),
            tls: None,
        }
    }
}

/// The `rtp` section: ports, the media address, and the legs' DTMF, latching
/// and SRTP defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RtpConfig {
    /// Ports RTP sockets are bound from (default `20000-29999`).
    pub ports: PortRange,
    /// IP address to bind and put in SDP.
    pub ip: std::net::IpAddr,
    /// Whether received audio is searched for DTMF tones.
    pub inband_dtmf: InbandDtmf,
    /// Which source RTP is taken from, for every leg that does not say
    /// otherwise (a trunk's `latch`, `rtp.phones.latch`).
    pub latch: LatchMode,
    /// Whether legs use SRTP, for every leg that does not say otherwise.
    pub srtp: SrtpMode,
    /// Agents' and supervisors' phones.
    pub phones: LegMedia,
}

impl Default for RtpConfig {
    fn default() -> RtpConfig {
        RtpConfig {
            ports: PortRange {
                first: 20000,
                last: 29999,
            },
            ip: std::net::IpAddr::from([127, 0, 0, 1]),
            inband_dtmf: InbandDtmf::Auto,
            latch: LatchMode::Strict,
            srtp: SrtpMode::Offer,
            phones: LegMedia::default(),
        }
    }
}

/// Media settings of one kind of leg; a key not given takes `rtp.latch` or
/// `rtp.srtp`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LegMedia {
    /// Which source RTP is taken from.
    pub latch: Option<LatchMode>,
    /// Whether SRTP is used.
    pub srtp: Option<SrtpMode>,
}

/// Which source a leg takes RTP from (see `docs/operations.md`, "Media:
/// latching and SRTP").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LatchMode {
    /// Only the exact address (IP and port) of the far end's SDP.
    Strict,
    /// The SDP's IP or the far end's SIP source IP, any port, fixed by the
    /// first valid packet: for phones and carriers behind NAT.
    Nat,
}

impl LatchMode {
    /// The media session's setting.
    pub fn latch(self) -> dialect_media::Latch {
        match self {
            LatchMode::Strict => dialect_media::Latch::Strict,
            LatchMode::Nat => dialect_media::Latch::Nat,
        }
    }
}

/// Whether a leg uses SRTP (SDES keys, `AES_CM_128_HMAC_SHA1_80`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SrtpMode {
    /// Plain RTP only.
    Off,
    /// SRTP when the far end can, plain RTP otherwise.
    Offer,
    /// SRTP only; calls without it are refused.
    Require,
}

impl SrtpMode {
    /// The SDP negotiation's setting.
    pub fn policy(self) -> dialect_sip::sdp::SrtpPolicy {
        match self {
            SrtpMode::Off => dialect_sip::sdp::SrtpPolicy::Off,
            SrtpMode::Offer => dialect_sip::sdp::SrtpPolicy::Offer,
            SrtpMode::Require => dialect_sip::sdp::SrtpPolicy::Require,
        }
    }
}

/// Limits against overload (REQUIREMENTS S4).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Most calls at once; beyond it INVITEs get 503.
    pub max_calls: usize,
    /// Most new calls per second; beyond it INVITEs get 503.
    pub calls_per_second: u32,
    /// How long calls in progress may go on after SIGTERM.
    pub shutdown_grace: Duration,
    /// Most calls at once from one untrusted source address (trunks'
    /// `sources` and registered agent phones are trusted).
    pub calls_per_source: usize,
    /// Most new calls a second from one untrusted source address.
    pub calls_per_source_per_second: u32,
    /// Source addresses trusted like trunks (this machine by default, for
    /// local tests and load generators).
    pub trusted_sources: Vec<std::net::IpAddr>,
    /// New calls get 503 while the call tasks' scheduler runs later than
    /// this, smoothed (`0s`: not measured). See [`crate::overload`].
    pub max_scheduling_delay: Duration,
    /// New calls get 503 while more than this percentage of the media clock's
    /// wake-ups in the last half second were over 1 ms late (0: not measured).
    pub max_media_late_percent: u32,
    /// New calls get 503 while the machine's CPU is idle less than this
    /// percentage of the time (0, the default: not measured; a shared
    /// machine's idle time says little about this process).
    pub min_idle_cpu: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_calls: 4000,
            calls_per_second: 1000,
            shutdown_grace: Duration(std::time::Duration::from_secs(30)),
            calls_per_source: 20,
            calls_per_source_per_second: 5,
            trusted_sources: vec![
                std::net::IpAddr::from([127, 0, 0, 1]),
                std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
            ],
            max_scheduling_delay: Duration(std::time::Duration::from_millis(50)),
            max_media_late_percent: 50,
            min_idle_cpu: 0,
        }
    }
}

/// The `logging` section: how much is logged, and in what form.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Logging {
    /// `error`, `warn`, `info`, `debug`, `trace`, or a tracing filter.
    pub level: String,
    /// How log lines are written.
    pub format: LogFormat,
}

impl Default for Logging {
    fn default() -> Logging {
        Logging {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// Call recording (REQUIREMENTS D3).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordingConfig {
    /// Record every call from answer to hang-up.
    pub whole_call: bool,
    /// Longest whole-call recording.
    pub max_duration: Duration,
    /// Largest recording file in bytes.
    pub max_bytes: u64,
}

impl Default for RecordingConfig {
    fn default() -> RecordingConfig {
        RecordingConfig {
            whole_call: false,
            max_duration: Duration(std::time::Duration::from_secs(2 * 3600)),
            max_bytes: 200 * 1024 * 1024,
        }
    }
}

/// The transport of a trunk's SIP traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// SIP over UDP (most carriers).
    #[default]
    Udp,
    /// SIP over TCP (large messages, carriers that ask for it).
    Tcp,
}

impl Transport {
    /// The SIP layer's name for it.
    pub fn kind(self) -> dialect_sip::transport::TransportKind {
        match self {
            Transport::Udp => dialect_sip::transport::TransportKind::Udp,
            Transport::Tcp => dialect_sip::transport::TransportKind::Tcp,
        }
    }
}

/// When received audio is searched for DTMF tones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InbandDtmf {
    /// Until the first RFC 4733 event arrives: a phone that sends events
    /// usually leaves the tones in its audio too, and one path is enough.
    Auto,
    /// Always, even alongside RFC 4733 events.
    Always,
    /// Never (saves the detector's CPU on trunks known to send events).
    Never,
}

impl InbandDtmf {
    /// The media session's setting.
    pub fn mode(self) -> dialect_media::InbandMode {
        match self {
            InbandDtmf::Auto => dialect_media::InbandMode::UntilRfc4733,
            InbandDtmf::Always => dialect_media::InbandMode::On,
            InbandDtmf::Never => dialect_media::InbandMode::Off,
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// A carrier trunk (spec 000 §5.1.1).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkConfig {
    /// Name, shown in contact records and logs; calls that name a trunk to leave
    /// on (`outbound.emergency.trunk`) match it or the `group`.
    pub name: String,
    /// The carrier's host:port.
    pub host: String,
    /// How SIP reaches the carrier.
    #[serde(default)]
    pub transport: Transport,
    /// Digest user name.
    #[serde(default)]
    pub username: Option<String>,
    /// Digest password; used only together with `username`.
    #[serde(default)]
    pub password: Option<String>,
    /// Whether to keep a registration at the carrier (default: no).
    #[serde(default)]
    pub register: bool,
    /// Registration interval: the expiry asked of the carrier (default `1h`).
    #[serde(default = "default_register_expiry")]
    pub register_expiry: Duration,
    /// Most simultaneous calls.
    #[serde(default = "default_channels")]
    pub channels: usize,
    /// Trunk group (e.g. `long_distance`), usable in queue priorities as `trunk`.
    #[serde(default)]
    pub group: Option<String>,
    /// Caller id presented on outgoing calls.
    #[serde(default)]
    pub caller_id: Option<String>,
    /// Calls from these source IPs belong to this trunk (none given: the host's
    /// address, when the host is written as an IP address). Only calls from them
    /// take the trunk's DIDs, group and asserted caller number.
    #[serde(default)]
    pub sources: Vec<std::net::IpAddr>,
    /// Dialled numbers (DIDs) of this trunk, and the number whose flow answers each.
    #[serde(default)]
    pub dids: BTreeMap<String, String>,
    /// The dial plan of calls leaving on this trunk (default: `outbound.default_plan`).
    #[serde(default)]
    pub dial_plan: Option<String>,
    /// Most new outgoing calls a second (the carrier's limit).
    #[serde(default = "default_trunk_cps")]
    pub calls_per_second: u32,
    /// Where the carrier puts the caller's verified number.
    #[serde(default)]
    pub asserted_identity: AssertedIdentity,
    /// Which source this trunk's legs take RTP from (default: `rtp.latch`).
    #[serde(default)]
    pub latch: Option<LatchMode>,
    /// Whether this trunk's legs use SRTP (default: `rtp.srtp`).
    #[serde(default)]
    pub srtp: Option<SrtpMode>,
}

fn default_channels() -> usize {
    30
}

fn default_trunk_cps() -> u32 {
    10
}

fn default_register_expiry() -> Duration {
    Duration(std::time::Duration::from_secs(3600))
}

/// The outbound-call policy: every call the platform places (a flow's
/// `transfer number`, a callback, an agent's REFER or desktop dial, transfer and
/// consultation, the dialer) must match the dial plan of its origin and of the
/// trunk it leaves on, fit the trunk's channels and call rate, and stay within its
/// account's hourly guard.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboundConfig {
    /// How numbers are brought to one form before plans match them.
    pub numbers: dialect_numbers::NumberRules,
    /// Dial plans by name, besides the built-in `national`.
    pub plans: BTreeMap<String, DialPlanConfig>,
    /// The plan of trunks, origins and agents that name none.
    pub default_plan: String,
    /// The plan of each kind of call (unset: `default_plan`).
    pub origins: OriginPlans,
    /// Emergency numbers: agents may always call them, machines never.
    pub emergency: EmergencyConfig,
    /// Calls and minutes an hour per account, and when to raise an alarm.
    pub guard: GuardConfig,
}

impl Default for OutboundConfig {
    fn default() -> OutboundConfig {
        OutboundConfig {
            numbers: dialect_numbers::NumberRules::default(),
            plans: BTreeMap::new(),
            default_plan: "national".into(),
            origins: OriginPlans::default(),
            emergency: EmergencyConfig::default(),
            guard: GuardConfig::default(),
        }
    }
}

/// A dial plan: a number may be dialled when it matches an `allow` pattern and
/// no `deny` pattern (patterns: `dialect_numbers::pattern`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DialPlanConfig {
    /// Numbers that may be dialled.
    pub allow: Vec<dialect_numbers::Pattern>,
    /// Numbers that may not, even when an `allow` pattern matches.
    pub deny: Vec<dialect_numbers::Pattern>,
}

/// The dial plan of each origin of outbound calls.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OriginPlans {
    /// A flow's `transfer number`, and a queue rule's destination `number`.
    pub flows: Option<String>,
    /// Callbacks the ACD places for callers who asked for one.
    pub callbacks: Option<String>,
    /// Agents: REFER from their phones, dial, transfer and consult from the desktop
    /// (an agent's own `dial_plan` comes first).
    pub agents: Option<String>,
    /// Calls the dialer places for campaigns.
    pub dialer: Option<String>,
}

/// Emergency numbers: a person (an agent) may always call them, through
/// `trunk` when one is named, outside every plan and guard; a machine (the
/// dialer, a callback) never may.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmergencyConfig {
    /// The emergency numbers (China: 110, 119, 120, 122).
    pub numbers: Vec<String>,
    /// The trunk or trunk group emergency calls leave on (default: any).
    pub trunk: Option<String>,
}

impl Default for EmergencyConfig {
    fn default() -> EmergencyConfig {
        EmergencyConfig {
            numbers: ["110", "119", "120", "122"].map(String::from).to_vec(),
            trunk: None,
        }
    }
}

/// Hourly limits of each account: every agent on their own, and the flows, the
/// callbacks and each campaign as a whole.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardConfig {
    /// Each agent, counted on their own.
    pub agent: HourlyLimit,
    /// All flows' transfers to numbers together.
    pub flows: HourlyLimit,
    /// All callbacks together.
    pub callbacks: HourlyLimit,
    /// Each campaign, counted on its own.
    pub dialer: HourlyLimit,
    /// Share of a limit at which the alarm is raised (logged, counted in the
    /// metrics and written to the audit log, once an hour per account).
    pub alarm_at: Percent,
}

impl Default for GuardConfig {
    fn default() -> GuardConfig {
        GuardConfig {
            agent: HourlyLimit {
                calls: 60,
                minutes: 90,
            },
            flows: HourlyLimit {
                calls: 1_000,
                minutes: 6_000,
            },
            callbacks: HourlyLimit {
                calls: 500,
                minutes: 3_000,
            },
            dialer: HourlyLimit {
                calls: 5_000,
                minutes: 10_000,
            },
            alarm_at: Percent(0.8),
        }
    }
}

/// Calls placed and minutes talked in any hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HourlyLimit {
    /// Calls placed (answered or not).
    pub calls: u32,
    /// Minutes of answered calls, those in progress included.
    pub minutes: u32,
}

/// A share written as `80%` (or a number from 0 to 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percent(pub f64);

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Percent, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(f64),
            Text(String),
        }
        let share = match Raw::deserialize(d)? {
            Raw::Number(n) => n,
            Raw::Text(t) => t
                .trim()
                .strip_suffix('%')
                .and_then(|n| n.trim().parse::<f64>().ok())
                .map(|n| n / 100.0)
                .ok_or_else(|| {
                    serde::de::Error::custom(format!("`{t}` is not a share such as 80%"))
                })?,
        };
        if !(0.0..=1.0).contains(&share) {
            return Err(serde::de::Error::custom("a share is between 0% and 100%"));
        }
        Ok(Percent(share))
    }
}

/// Where a trunk's calls carry the caller's verified number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssertedIdentity {
    /// P-Asserted-Identity (RFC 3325), set by the carrier.
    #[default]
    Pai,
    /// The From header: carriers that verify the calling number and put it there.
    From,
    /// Nowhere: callers of this trunk cannot be called back unless they enter
    /// a number the flow accepts.
    None,
}

/// A user of the HTTP API, as `api_users` lists them (see docs/operations.md,
/// API users and roles).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiUser {
    /// Name (for the audit log).
    pub name: String,
    /// Bearer token the user sends (`Authorization: Bearer TOKEN`), or its
    /// digest `sha256:HEX` as `dialect passwd --token` prints it, so that the
    /// configuration does not hold the token itself. Empty for a person who
    /// only signs in with a password. When the API listens beyond loopback a
    /// token given in clear must not be weak ([`weak_token`]).
    #[serde(default)]
    pub token: String,
    /// An Argon2id hash of the user's password (`dialect passwd` prints one),
    /// for signing in at a browser (`POST /api/v1/login`).
    #[serde(default)]
    pub password: Option<String>,
    /// What the user may do.
    pub role: Role,
    /// Department: the only one whose workorders a `handler` sees; for any role,
    /// notifications addressed to the department reach the user.
    #[serde(default)]
    pub department: Option<String>,
    /// Where workorder reminders and escalations addressed to the user (by
    /// name, role, project role or department) reach them by e-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// Where they reach the user by SMS.
    #[serde(default)]
    pub phone: Option<String>,
}

/// What an API user may do: the roles of spec 000 §9 (S1), and the role the
/// runtime itself acts as (flows creating orders, timers firing), which no
/// configured user can have. The workorder lifecycles name the same roles in
/// their `by ROLE` lists (`dialect_lang::check::ROLES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Answers calls and works its own workorders and tasks.
    Agent,
    /// Watches and steers agents and queues; sees sensitive fields unmasked.
    Supervisor,
    /// Listens to calls and reads records for quality checks.
    QualityInspector,
    /// Writes and deploys flows; reads reports.
    Analyst,
    /// May do everything.
    Admin,
    /// Works the workorders of its department.
    Handler,
    /// The runtime itself (IVR, timers).
    #[serde(skip_deserializing)]
    System,
}

impl Role {
    /// The name used in the configuration, the API and the language.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::QualityInspector => "quality_inspector",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
            Role::Handler => "handler",
            Role::System => "system",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Role, String> {
        [
            Role::Agent,
            Role::Supervisor,
            Role::QualityInspector,
            Role::Analyst,
            Role::Admin,
            Role::Handler,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
        .ok_or_else(|| format!("`{s}` is not a role"))
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `speech` section: which engines speak and recognize.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpeechConfig {
    /// `espeak` (built in), the URL of a speech bridge, or `off`.
    pub tts: String,
    /// `pocketsphinx` (built in), the URL of a speech bridge, or `off`.
    pub asr: String,
}

impl Default for SpeechConfig {
    fn default() -> SpeechConfig {
        SpeechConfig {
            tts: "espeak".into(),
            asr: "pocketsphinx".into(),
        }
    }
}

/// A configuration problem, located in the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The configuration file.
        path: PathBuf,
        /// Why.
        reason: std::io::Error,
    },
    /// A key or value is wrong.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        /// The configuration file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong (names the key).
        message: String,
    },
}

impl Config {
    /// Reads a YAML file; every key not given keeps its default.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.to_path_buf(),
            reason: e,
        })?;
        Config::parse(path, &text)
    }

    /// Parses YAML text (the path is for messages).
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let c: Config = serde_yaml::from_str(text).map_err(|e| {
            let message = e
                .to_string()
                .split(" at line ")
                .next()
                .unwrap_or("")
                .to_string();
            // The loader places the store's own check at the document's
            // start: the error is the `store` key's.
            let (line, column) = if message.starts_with("store: ") {
                locate(text, "store:")
            } else {
                e.location()
                    .map(|l| (l.line(), l.column()))
                    .unwrap_or((1, 1))
            };
            ConfigError::Invalid {
                path: path.to_path_buf(),
                line,
                column,
                message,
            }
        })?;
        c.validate(path, text)?;
        Ok(c)
    }

    fn validate(&self, path: &Path, text: &str) -> Result<(), ConfigError> {
        let at = |key: &str, message: String| {
            let (line, column) = locate(text, key);
            ConfigError::Invalid {
                path: path.to_path_buf(),
                line,
                column,
                message,
            }
        };
        if self.project.is_some()
            && self.bundle.is_some()
            && text.contains("bundle:")
            && text.contains("project:")
        {
            return Err(at(
                "bundle",
                "give either `project` or `bundle`, not both".into(),
            ));
        }
        self.validate_outbound(&at)?;
        self.validate_limits(&at)?;
        self.validate_tokens(&at)?;
        self.validate_contacts(&at)?;
        self.validate_notify(&at)?;
        self.validate_cluster(&at)?;
        if let Some(r) = self.flow_stats.retention
            && r.0 < MIN_FLOW_STATS_RETENTION
        {
            return Err(at(
                "retention",
                "flow_stats.retention: keep at least 2h, or the hours still being counted are deleted".into(),
            ));
        }
        let fp = self.dialer.machine_false_positive_rate;
        if !(0.0..0.5).contains(&fp) {
            return Err(at(
                "machine_false_positive_rate",
                format!(
                    "dialer.machine_false_positive_rate: {fp} is not a share of calls between 0 and 0.5 (0.0071 is 0.71 %)"
                ),
            ));
        }
        if self.dialer.max_channels == 0 {
            return Err(at(
                "max_channels",
                "dialer.max_channels: a campaign needs at least one line".into(),
            ));
        }
        if let Some((key, what)) = self.sip.auth.problem() {
            let (line, column) = locate_after(text, &["auth:"], key);
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line,
                column,
                message: format!("sip.auth.{key}: {what}"),
            });
        }
        let realm = &self.sip.realm;
        if realm.is_empty()
            || realm
                .chars()
                .any(|c| c == '"' || c == '\\' || c.is_control())
        {
            return Err(at(
                "realm",
                "sip.realm: give a realm without quotes, backslashes or control characters".into(),
            ));
        }
        for a in &self.agents {
            if let Err(weak) = dialect_sip::auth::check_password(&a.id, &a.password) {
                let (line, column) = locate_after(text, &["id", &a.id], "password");
                return Err(ConfigError::Invalid {
                    path: path.to_path_buf(),
                    line,
                    column,
                    message: format!(
                        "agents: `{}`: {weak} (see \"SIP authentication\" in the operations guide)",
                        a.id
                    ),
                });
            }
        }
        for t in &self.trunks {
            if t.register && (t.username.is_none() || t.password.is_none()) {
                return Err(at(
                    &t.name,
                    format!(
                        "trunks: `{}` registers but has no username/password",
                        t.name
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Applies `DIALECT_*` overrides used by tests and scripts (listen addresses, data dir).
    pub fn with_env_overrides(mut self) -> Config {
        if let Ok(v) = std::env::var("DIALECT_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        self
    }
}

/// Line and column of the first `needle` at or after the first line holding
/// every one of `anchor` (1-based), else (1, 1): for a key inside a list entry
/// or a section.
fn locate_after(text: &str, anchor: &[&str], needle: &str) -> (usize, usize) {
    let Some(start) = text
        .lines()
        .position(|l| anchor.iter().all(|a| l.contains(a)))
    else {
        return (1, 1);
    };
    for (i, line) in text.lines().enumerate().skip(start) {
        if let Some(c) = line.find(needle) {
            return (i + 1, line[..c].chars().count() + 1);
        }
    }
    (start + 1, 1)
}

/// Line and column of the first occurrence of `needle` in `text` (1-based), for messages.
fn locate(text: &str, needle: &str) -> (usize, usize) {
    for (i, line) in text.lines().enumerate() {
        if let Some(c) = line.find(needle) {
            return (i + 1, line[..c].chars().count() + 1);
        }
    }
    (1, 1)
}

#[cfg(test)]
mod tests;
