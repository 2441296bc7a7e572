//! The runtime's configuration: YAML (serde_yaml, kept in this one module so the
//! crate can be swapped for a maintained fork in one line), with embedded defaults
//! for every key. A wrong key or value is reported with the file, line and column
//! and the server does not start.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

pub use dialect_acd::AgentConfig;

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

/// A port range written `20000-29999`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    /// First port.
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
    /// HTTP API.
    pub http: HttpConfig,
    /// RTP media.
    pub rtp: RtpConfig,
    /// Where data (sled), recordings and logs go.
    pub data_dir: PathBuf,
    /// A project folder to compile at start.
    pub project: Option<PathBuf>,
    /// Or a bundle to load at start.
    pub bundle: Option<PathBuf>,
    /// Which back-end runs the flows.
    pub engine: dialect_compiler::Engine,
    /// Limits against overload.
    pub limits: Limits,
    /// Logging.
    pub logging: Logging,
    /// Call recording.
    pub recording: RecordingConfig,
    /// Carrier trunks.
    pub trunks: Vec<TrunkConfig>,
    /// Agents and their phones.
    pub agents: Vec<AgentConfig>,
    /// API users and their roles.
    pub api_users: Vec<ApiUser>,
    /// Text-to-speech and speech recognition.
    pub speech: SpeechConfig,
    /// Base URLs replacing those written in the project's services (by service name).
    pub services: BTreeMap<String, String>,
    /// Number of the flow answering calls whose dialled number no flow declares.
    pub default_number: Option<String>,
    /// ACD settings the queues do not state (ring time, callbacks, service level).
    pub acd: dialect_acd::AcdConfig,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            sip: SipConfig::default(),
            http: HttpConfig::default(),
            rtp: RtpConfig::default(),
            data_dir: PathBuf::from("./data"),
            project: Some(PathBuf::from("./flows/hotline")),
            bundle: None,
            engine: dialect_compiler::Engine::Native,
            limits: Limits::default(),
            logging: Logging::default(),
            recording: RecordingConfig::default(),
            trunks: Vec::new(),
            agents: Vec::new(),
            api_users: vec![ApiUser {
                name: "admin".into(),
                token: "dialect-admin".into(),
                role: Role::Admin,
                department: None,
            }],
            speech: SpeechConfig::default(),
            services: BTreeMap::new(),
            default_number: Some("10000".into()),
            acd: dialect_acd::AcdConfig::default(),
        }
    }
}

/// SIP signalling.
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
            auth: SipAuthConfig::default(),
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

/// The HTTP API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Listen address.
    pub listen: SocketAddr,
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
        }
    }
}

/// RTP media.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RtpConfig {
    /// Port range.
    pub ports: PortRange,
    /// IP address to bind and put in SDP.
    pub ip: std::net::IpAddr,
    /// Whether received audio is searched for DTMF tones.
    pub inband_dtmf: InbandDtmf,
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
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_calls: 4000,
            calls_per_second: 1000,
            shutdown_grace: Duration(std::time::Duration::from_secs(30)),
        }
    }
}

/// Logging.
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
    /// Name.
    pub name: String,
    /// The carrier's host:port.
    pub host: String,
    /// How SIP reaches the carrier.
    #[serde(default)]
    pub transport: Transport,
    /// Digest user name.
    #[serde(default)]
    pub username: Option<String>,
    /// Digest password.
    #[serde(default)]
    pub password: Option<String>,
    /// Register to the carrier.
    #[serde(default)]
    pub register: bool,
    /// Registration interval.
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
    /// Calls from these source IPs belong to this trunk.
    #[serde(default)]
    pub sources: Vec<std::net::IpAddr>,
    /// Dialled numbers (DIDs) of this trunk, and the number whose flow answers each.
    #[serde(default)]
    pub dids: BTreeMap<String, String>,
}

fn default_channels() -> usize {
    30
}

fn default_register_expiry() -> Duration {
    Duration(std::time::Duration::from_secs(3600))
}

/// A user of the HTTP API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiUser {
    /// Name (for the audit log).
    pub name: String,
    /// Bearer token.
    pub token: String,
    /// What the user may do.
    pub role: Role,
    /// Department of a handler.
    #[serde(default)]
    pub department: Option<String>,
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

/// Speech engines.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpeechConfig {
    /// `espeak` (built in) or the URL of a speech bridge.
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
        /// The file.
        path: PathBuf,
        /// Why.
        reason: std::io::Error,
    },
    /// A key or value is wrong.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        /// The file.
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
            let (line, column) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((1, 1));
            ConfigError::Invalid {
                path: path.to_path_buf(),
                line,
                column,
                message: e
                    .to_string()
                    .split(" at line ")
                    .next()
                    .unwrap_or("")
                    .to_string(),
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
        if realm.is_empty() || realm.chars().any(|c| c == '"' || c == '\\' || c.is_control()) {
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
mod tests {
    use super::*;

    #[test]
    fn defaults_need_no_file() {
        let c = Config::parse(Path::new("d.yaml"), "{}").unwrap();
        assert_eq!(c.sip.listen, SocketAddr::from(([127, 0, 0, 1], 5060)));
        assert_eq!(c.http.listen.port(), 8080);
        assert_eq!(c.rtp.ports.first, 20000);
    }

    #[test]
    fn a_misspelt_key_is_named_with_its_line() {
        let e = Config::parse(Path::new("d.yaml"), "sip:\n  listn: 127.0.0.1:5070\n").unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("d.yaml:2:"), "{msg}");
        assert!(msg.contains("listn"), "{msg}");
    }

    #[test]
    fn bad_values_are_named() {
        let e =
            Config::parse(Path::new("d.yaml"), "limits:\n  shutdown_grace: soon\n").unwrap_err();
        assert!(e.to_string().contains("soon"), "{e}");
        let e = Config::parse(Path::new("d.yaml"), "rtp:\n  ports: 30000-20000\n").unwrap_err();
        assert!(e.to_string().contains("d.yaml:2"), "{e}");
        let e = Config::parse(
            Path::new("d.yaml"),
            "api_users:\n  - { name: x, token: t, role: boss }\n",
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("d.yaml:2") && e.to_string().contains("boss"),
            "{e}"
        );
    }

    #[test]
    fn the_acd_section_sets_the_acd() {
        let c = Config::parse(
            Path::new("d.yaml"),
            "acd:\n  default_ring_ms: 15s\n  callback_attempts: 5\n  callback_retry_ms: 120000\n  callback_trunk: local_trunks\n",
        )
        .unwrap();
        assert_eq!(c.acd.default_ring_ms, 15_000);
        assert_eq!(c.acd.callback_attempts, 5);
        assert_eq!(c.acd.callback_retry_ms, 120_000);
        assert_eq!(c.acd.callback_trunk, "local_trunks");
        // Keys not given keep their defaults.
        assert_eq!(
            c.acd.dial_timeout_ms,
            dialect_acd::AcdConfig::default().dial_timeout_ms
        );
    }

    #[test]
    fn a_wrong_acd_key_or_value_is_named_with_its_line() {
        let e = Config::parse(
            Path::new("d.yaml"),
            "sip:\n  udp: true\nacd:\n  ring_ms: 15s\n",
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("d.yaml:4:"), "{msg}");
        assert!(msg.contains("ring_ms"), "{msg}");
        let e = Config::parse(Path::new("d.yaml"), "acd:\n  callback_ring_ms: soon\n").unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("d.yaml:2:"), "{msg}");
        assert!(msg.contains("soon"), "{msg}");
    }

    #[test]
    fn roles_are_the_roles_the_language_knows() {
        let names: Vec<&str> = dialect_lang::check::ROLES.to_vec();
        for name in &names {
            let role: Role = name
                .parse()
                .expect("every role of the language is a user role");
            assert_eq!(role.as_str(), *name);
        }
        assert!(
            "system".parse::<Role>().is_err(),
            "no configured user acts as the runtime"
        );
    }

    #[test]
    fn enum_settings_are_checked_by_the_loader_with_their_line() {
        for (yaml, bad) in [
            ("engine: nativ\n", "nativ"),
            ("rtp:\n  inband_dtmf: sometimes\n", "sometimes"),
            ("logging:\n  format: xml\n", "xml"),
            (
                "trunks:\n  - { name: t, host: \"127.0.0.1:5080\", transport: tls }\n",
                "tls",
            ),
        ] {
            let e = Config::parse(Path::new("d.yaml"), yaml)
                .unwrap_err()
                .to_string();
            let line = yaml.lines().count();
            assert!(e.starts_with(&format!("d.yaml:{line}:")), "{e}");
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn a_weak_agent_password_stops_the_server_at_its_line() {
        let yaml = "sip:\n  udp: true\nagents:\n  - id: \"1001\"\n    name: A\n    password: blue-pigeon-42\n  - id: \"1002\"\n    name: B\n    password: \"1234\"\n";
        let e = Config::parse(Path::new("d.yaml"), yaml).unwrap_err().to_string();
        assert!(e.starts_with("d.yaml:9:5: agents: `1002`:"), "{e}");
        assert!(e.contains("at least 10 characters"), "{e}");
        assert!(!e.contains("1234"), "the password is not repeated: {e}");
        let ok = yaml.replace("\"1234\"", "Correct-Horse-9");
        assert!(Config::parse(Path::new("d.yaml"), &ok).is_ok());
        for weak in ["\"0123456789\"", "aaaaaaaaa1", "x1002-phone-key"] {
            let bad = yaml.replace("\"1234\"", weak);
            assert!(Config::parse(Path::new("d.yaml"), &bad).is_err(), "{weak}");
        }
    }

    #[test]
    fn sip_auth_settings_have_safe_defaults_and_are_checked() {
        let c = Config::parse(Path::new("d.yaml"), "{}").unwrap();
        let auth = c.sip.auth.to_auth("dialect");
        assert_eq!(auth.nonce_lifetime, std::time::Duration::from_secs(60));
        assert_eq!(auth.lockout.source_failures, 5);
        assert_eq!(auth.lockout.user_lockout, std::time::Duration::from_secs(30));
        let c = Config::parse(
            Path::new("d.yaml"),
            "sip:\n  auth:\n    nonce_lifetime: 30s\n    source_failures: 3\n    source_lockout: 5m\n    source_lockout_max: 2h\n",
        )
        .unwrap();
        let auth = c.sip.auth.to_auth("x");
        assert_eq!(auth.realm, "x");
        assert_eq!(auth.nonce_lifetime, std::time::Duration::from_secs(30));
        assert_eq!(auth.lockout.source_failures, 3);
        assert_eq!(auth.lockout.source_lockout_max, std::time::Duration::from_secs(7200));
        for (yaml, key, line) in [
            ("sip:\n  auth:\n    nonce_lifetime: 1d\n", "nonce_lifetime", 3),
            ("sip:\n  auth:\n    source_failures: 0\n", "source_failures", 3),
            (
                "sip:\n  auth:\n    user_lockout: 10m\n    user_lockout_max: 1m\n",
                "user_lockout_max",
                4,
            ),
            ("sip:\n  auth:\n    lockout: 1m\n", "lockout", 3),
        ] {
            let e = Config::parse(Path::new("d.yaml"), yaml).unwrap_err().to_string();
            assert!(e.starts_with(&format!("d.yaml:{line}:")), "{e}");
            assert!(e.contains(key), "{e}");
        }
        let e = Config::parse(Path::new("d.yaml"), "sip:\n  realm: 'a\"b'\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("sip.realm"), "{e}");
    }
}
