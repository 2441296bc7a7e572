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
        }
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
}
