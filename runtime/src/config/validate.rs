//! The checks a configuration must pass before the server starts, beyond what
//! the YAML loader already refuses: the outbound-call policy's names, limits that
//! would refuse everything, and API tokens anyone could guess. Each error names
//! the file, line and column of the value at fault.

use super::{Config, ConfigError};

impl Config {
    /// Every plan and trunk the outbound section names exists.
    pub(super) fn validate_outbound(
        &self,
        at: &dyn Fn(&str, String) -> ConfigError,
    ) -> Result<(), ConfigError> {
        let o = &self.outbound;
        let plan_exists = |name: &str| name == "national" || o.plans.contains_key(name);
        let known = || {
            let mut names: Vec<&str> = o.plans.keys().map(String::as_str).collect();
            names.push("national");
            names.join(", ")
        };
        let mut named: Vec<(&str, &str)> = vec![("default_plan", o.default_plan.as_str())];
        for (key, plan) in [
            ("flows", &o.origins.flows),
            ("callbacks", &o.origins.callbacks),
            ("agents", &o.origins.agents),
            ("dialer", &o.origins.dialer),
        ] {
            if let Some(p) = plan {
                named.push((key, p.as_str()));
            }
        }
        for t in &self.trunks {
            if let Some(p) = &t.dial_plan {
                named.push((t.name.as_str(), p.as_str()));
            }
        }
        for a in &self.agents {
            if let Some(p) = &a.dial_plan {
                named.push((a.id.as_str(), p.as_str()));
            }
        }
        for (whose, plan) in named {
            if !plan_exists(plan) {
                return Err(at(
                    plan,
                    format!(
                        "outbound: `{whose}` names the dial plan `{plan}`, which is not declared; plans: {}",
                        known()
                    ),
                ));
            }
        }
        for (name, plan) in &o.plans {
            if plan.allow.is_empty() {
                return Err(at(
                    name,
                    format!("outbound: the plan `{name}` allows nothing; give it `allow` patterns"),
                ));
            }
        }
        if let Some(t) = &o.emergency.trunk
            && !self
                .trunks
                .iter()
                .any(|c| &c.name == t || c.group.as_ref() == Some(t))
        {
            return Err(at(
                t,
                format!("outbound: emergency calls name the trunk `{t}`, which is not configured"),
            ));
        }
        Ok(())
    }

    /// Limits must let something through, and the pairs that bound each other
    /// must agree.
    pub(super) fn validate_limits(
        &self,
        at: &dyn Fn(&str, String) -> ConfigError,
    ) -> Result<(), ConfigError> {
        let sip = &self.sip.limits;
        let http = &self.http;
        let counts: [(&str, &str, u64); 12] = [
            ("headers:", "sip.limits.headers", sip.headers as u64),
            ("vias:", "sip.limits.vias", sip.vias as u64),
            ("routes:", "sip.limits.routes", sip.routes as u64),
            (
                "tcp_connections:",
                "sip.limits.tcp_connections",
                sip.tcp_connections as u64,
            ),
            (
                "tcp_connections_per_source:",
                "sip.limits.tcp_connections_per_source",
                sip.tcp_connections_per_source as u64,
            ),
            (
                "max_connections:",
                "http.max_connections",
                http.max_connections as u64,
            ),
            (
                "max_connections_per_source:",
                "http.max_connections_per_source",
                http.max_connections_per_source as u64,
            ),
            (
                "calls_per_source:",
                "limits.calls_per_source",
                self.limits.calls_per_source as u64,
            ),
            (
                "calls_per_source_per_second:",
                "limits.calls_per_source_per_second",
                u64::from(self.limits.calls_per_source_per_second),
            ),
            (
                "max_calls:",
                "limits.max_calls",
                self.limits.max_calls as u64,
            ),
            (
                "calls_per_second:",
                "limits.calls_per_second",
                u64::from(self.limits.calls_per_second),
            ),
            (
                "max_bundle_size:",
                "http.max_bundle_size",
                http.max_bundle_size,
            ),
        ];
        for (needle, key, value) in counts {
            if value == 0 {
                return Err(at(
                    needle,
                    format!("{key}: 0 would refuse everything; give at least 1"),
                ));
            }
        }
        let times = [
            (
                "tcp_message_timeout:",
                "sip.limits.tcp_message_timeout",
                sip.tcp_message_timeout,
            ),
            (
                "tcp_idle_timeout:",
                "sip.limits.tcp_idle_timeout",
                sip.tcp_idle_timeout,
            ),
            (
                "header_timeout:",
                "http.header_timeout",
                http.header_timeout,
            ),
            (
                "request_timeout:",
                "http.request_timeout",
                http.request_timeout,
            ),
        ];
        for (needle, key, value) in times {
            if value.0.is_zero() {
                return Err(at(
                    needle,
                    format!("{key}: give a time-out longer than 0s, such as 10s"),
                ));
            }
        }
        if !(1024..=65_535).contains(&sip.udp_message_size) {
            return Err(at(
                "udp_message_size:",
                format!(
                    "sip.limits.udp_message_size: {} is not between 1024 and 65535 (the most a UDP datagram holds)",
                    sip.udp_message_size
                ),
            ));
        }
        if !(1024..=16 * 1024 * 1024).contains(&sip.tcp_message_size) {
            return Err(at(
                "tcp_message_size:",
                format!(
                    "sip.limits.tcp_message_size: {} is not between 1024 and 16777216",
                    sip.tcp_message_size
                ),
            ));
        }
        if sip.tcp_connections_per_source > sip.tcp_connections {
            return Err(at(
                "tcp_connections_per_source:",
                "sip.limits.tcp_connections_per_source is more than sip.limits.tcp_connections"
                    .into(),
            ));
        }
        if http.max_connections_per_source > http.max_connections {
            return Err(at(
                "max_connections_per_source:",
                "http.max_connections_per_source is more than http.max_connections".into(),
            ));
        }
        for origin in &http.allowed_origins {
            if parse_origin(origin).is_none() {
                return Err(at(
                    origin,
                    format!(
                        "http.allowed_origins: `{origin}` is not an origin such as https://desk.example.com (scheme, host and port only)"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Users' e-mail addresses and phones receive workorder reminders and
    /// escalations: one that cannot be one would fail at the first breach,
    /// long after the start, so it is refused at load.
    pub(super) fn validate_contacts(
        &self,
        at: &dyn Fn(&str, String) -> ConfigError,
    ) -> Result<(), ConfigError> {
        for u in &self.api_users {
            if let Some(email) = &u.email
                && let Some(why) = bad_email(email)
            {
                return Err(at(
                    email.as_str(),
                    format!(
                        "api_users: the e-mail of `{}`, `{email}`, {why}; write an address such as wang@example.com",
                        u.name
                    ),
                ));
            }
            if let Some(phone) = &u.phone
                && dialect_numbers::canonical(phone, &dialect_numbers::NumberRules::default())
                    .is_err()
            {
                return Err(at(
                    phone.as_str(),
                    format!(
                        "api_users: the phone of `{}`, `{phone}`, is not a telephone number; write one such as 13800138000 or +8613800138000",
                        u.name
                    ),
                ));
            }
        }
        Ok(())
    }

    /// A token anyone could guess opens the API to whoever reaches it: refused
    /// unless the API listens on this machine only.
    pub(super) fn validate_tokens(
        &self,
        at: &dyn Fn(&str, String) -> ConfigError,
    ) -> Result<(), ConfigError> {
        for u in &self.api_users {
            if let Some(phc) = &u.password
                && let Some(why) = crate::login::bad_password_hash(phc)
            {
                return Err(at(
                    phc,
                    format!("api_users: the password of `{}` {why}", u.name),
                ));
            }
            if u.token.is_empty() && u.password.is_none() {
                return Err(at(
                    u.name.as_str(),
                    format!(
                        "api_users: `{}` has neither a token nor a password, so could never be used",
                        u.name
                    ),
                ));
            }
            if let Some(digest) = u.token.strip_prefix(crate::auth::TOKEN_DIGEST_PREFIX)
                && crate::auth::parse_digest(digest).is_none()
            {
                return Err(at(
                    u.token.as_str(),
                    format!(
                        "api_users: the token of `{}` is not a sha256 digest (64 hex digits after `sha256:`); \
                         give the line `dialect passwd --token` prints",
                        u.name
                    ),
                ));
            }
        }
        if self.http.listen.ip().is_loopback() {
            return Ok(());
        }
        for u in &self.api_users {
            if u.token.is_empty() || u.token.starts_with(crate::auth::TOKEN_DIGEST_PREFIX) {
                continue;
            }
            if let Some(why) = weak_token(&u.token) {
                let needle = if u.token.is_empty() {
                    u.name.as_str()
                } else {
                    u.token.as_str()
                };
                return Err(at(
                    needle,
                    format!(
                        "api_users: the token of `{}` {why}, and the API listens on {}, beyond this machine; \
                         give each user a long random token (e.g. `openssl rand -hex 24`)",
                        u.name, self.http.listen
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The token every earlier version accepted without configuration.
pub const OLD_DEFAULT_TOKEN: &str = "dialect-admin";

/// Shortest token taken when the API listens beyond this machine.
pub const MIN_TOKEN_LEN: usize = 16;

/// Why a token is too easy to guess for an API reachable from other machines,
/// or `None` when it is fine.
pub fn weak_token(token: &str) -> Option<&'static str> {
    let lower = token.to_ascii_lowercase();
    if token == OLD_DEFAULT_TOKEN {
        return Some("is the old built-in default `dialect-admin`");
    }
    if lower.contains("change-me") || lower.contains("changeme") || lower == "long-random-token" {
        return Some("is a placeholder from the documentation");
    }
    if token.chars().count() < MIN_TOKEN_LEN {
        return Some("is shorter than 16 characters");
    }
    if token
        .chars()
        .all(|c| c == token.chars().next().unwrap_or(' '))
    {
        return Some("repeats one character");
    }
    None
}

/// An origin written `scheme://host[:port]`, normalised to lower case with the
/// port written out; `None` for anything else (a path, a missing scheme).
pub fn parse_origin(text: &str) -> Option<String> {
    let text = text.trim().trim_end_matches('/').to_ascii_lowercase();
    let (scheme, authority) = text.split_once("://")?;
    let default_port = match scheme {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
        return None;
    }
    let has_port = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => {
            port.parse::<u16>().ok()?;
            !host.is_empty()
        }
        _ => false,
    };
    Some(if has_port {
        format!("{scheme}://{authority}")
    } else {
        format!("{scheme}://{authority}:{default_port}")
    })
}

impl Config {
    /// The notification gateways can work: one SMS gateway, a sender that is
    /// an address, SMPP fields within their lengths, a retry that retries.
    pub(super) fn validate_notify(
        &self,
        at: &dyn Fn(&str, String) -> ConfigError,
    ) -> Result<(), ConfigError> {
        let n = &self.notify;
        if let Some(email) = &n.email {
            if let Err(why) = dialect_notify::smtp::parse_mailbox(&email.from) {
                return Err(at(&email.from, format!("notify.email.from: {why}")));
            }
            if email.host.trim().is_empty() || email.port == 0 {
                return Err(at(
                    "email",
                    "notify.email: give the relay's host and port".into(),
                ));
            }
            if email.user.is_some() && email.password.is_none() {
                return Err(at("user", "notify.email: a user needs its password".into()));
            }
        }
        if let Some(sms) = &n.sms {
            match (&sms.smpp, &sms.http) {
                (Some(_), Some(_)) | (None, None) => {
                    return Err(at(
                        "sms",
                        "notify.sms: give one gateway, `smpp` or `http`".into(),
                    ));
                }
                (Some(smpp), None) => {
                    for (field, value, max) in [
                        ("system_id", &smpp.system_id, 15),
                        ("password", &smpp.password, 8),
                        ("system_type", &smpp.system_type, 12),
                        ("source_addr", &smpp.source_addr, 20),
                    ] {
                        if value.len() > max {
                            return Err(at(
                                field,
                                format!(
                                    "notify.sms.smpp.{field}: SMPP allows at most {max} bytes, this has {}",
                                    value.len()
                                ),
                            ));
                        }
                    }
                    if smpp.window == 0 || smpp.port == 0 {
                        return Err(at(
                            "smpp",
                            "notify.sms.smpp: the port and the window must be above 0".into(),
                        ));
                    }
                }
                (None, Some(http)) => {
                    if !(http.url.starts_with("http://") || http.url.starts_with("https://")) {
                        return Err(at(
                            &http.url,
                            format!(
                                "notify.sms.http.url: `{}` is not an http:// or https:// URL",
                                http.url
                            ),
                        ));
                    }
                }
            }
        }
        if n.retry.attempts == 0 {
            return Err(at(
                "attempts",
                "notify.retry.attempts: at least one attempt".into(),
            ));
        }
        if n.retry.first.0 > n.retry.max.0 || n.retry.first.0.is_zero() {
            return Err(at(
                "first",
                "notify.retry: `first` must be above 0 and at most `max`".into(),
            ));
        }
        if n.concurrency == 0 || n.poll.0.is_zero() {
            return Err(at(
                "notify",
                "notify: `concurrency` and `poll` must be above 0".into(),
            ));
        }
        Ok(())
    }
}

impl Config {
    /// A cluster needs the shared store, a URL the other runtimes can reach,
    /// a secret worth the name and a lease long enough to be renewed.
    pub(super) fn validate_cluster(
        &self,
        at: &dyn Fn(&str, String) -> ConfigError,
    ) -> Result<(), ConfigError> {
        let Some(c) = &self.cluster else {
            return Ok(());
        };
        if !matches!(self.store, super::StoreChoice::Postgres(_)) {
            return Err(at(
                "cluster",
                "cluster: the runtimes of a cluster share a PostgreSQL store; set `store: postgres://…`".into(),
            ));
        }
        match reqwest::Url::parse(&c.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            _ => {
                return Err(at(
                    &c.url,
                    format!(
                        "cluster.url: `{}` is not an http(s) URL such as http://10.0.0.12:8080",
                        c.url
                    ),
                ));
            }
        }
        if c.secret.chars().count() < 16 {
            return Err(at(
                "secret",
                "cluster.secret: at least 16 characters (the same on every runtime)".into(),
            ));
        }
        let lease = c.lease.0;
        if lease < std::time::Duration::from_secs(1) || lease > std::time::Duration::from_secs(120)
        {
            return Err(at(
                "lease",
                "cluster.lease: between 1s and 120s (5s by default)".into(),
            ));
        }
        Ok(())
    }
}

/// Why `address` cannot be an e-mail address (one `@` between a local part
/// and a domain with a dot, no spaces, at most 254 characters), or `None`.
pub(crate) fn bad_email(address: &str) -> Option<&'static str> {
    if address.len() > 254 {
        return Some("is longer than 254 characters");
    }
    if address.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("holds a space");
    }
    let Some((local, domain)) = address.split_once('@') else {
        return Some("has no `@`");
    };
    if local.is_empty() || domain.contains('@') {
        return Some("needs one `@` after a name");
    }
    if domain.starts_with('.') || domain.ends_with('.') || !domain.contains('.') {
        return Some("needs a domain such as example.com after the `@`");
    }
    if address.contains(['<', '>', ',', ';', '"']) {
        return Some("holds a character an address cannot have (`<>,;\"`)");
    }
    None
}

#[cfg(test)]
mod notify_tests {
    use std::path::Path;

    use super::super::{Config, EmailTls};

    #[test]
    fn the_notify_section_as_operators_write_it() {
        let c = Config::parse(
            Path::new("d.yaml"),
            r#"
notify:
  email: { host: 127.0.0.1, port: 2525, tls: starttls, user: ops, password: pw, from: "热线 <hotline@example.cn>" }
  sms:
    smpp: { host: smsc.example.cn, port: 2775, system_id: dialect, password: secret, source_addr: "10086", enquire_link: 30s }
  retry: { first: 30s, max: 1h, attempts: 8 }
"#,
        )
        .unwrap();
        let email = c.notify.email.unwrap();
        assert_eq!((email.port, email.tls), (2525, EmailTls::Starttls));
        let smpp = c.notify.sms.unwrap().smpp.unwrap();
        assert_eq!(smpp.system_id, "dialect");
        assert_eq!(smpp.enquire_link.0.as_secs(), 30);
        assert_eq!(smpp.window, 10);
        assert_eq!(c.notify.retry.max.0.as_secs(), 3600);
        let http = Config::parse(
            Path::new("d.yaml"),
            "notify:\n  sms: { http: { url: \"https://sms.example.cn/send\", token: abc } }\n",
        )
        .unwrap();
        assert!(http.notify.sms.unwrap().http.is_some());
        assert!(
            Config::parse(Path::new("d.yaml"), "{}")
                .unwrap()
                .notify
                .email
                .is_none()
        );
    }

    #[test]
    fn bad_notify_sections_are_named() {
        let cases = [
            (
                "notify:\n  email: { host: h, from: \"no address\" }\n",
                "notify.email.from",
            ),
            (
                "notify:\n  email: { host: h, from: a@b.cn, tls: maybe }\n",
                "maybe",
            ),
            ("notify:\n  sms: {}\n", "give one gateway"),
            (
                "notify:\n  sms:\n    smpp: { host: h, system_id: dialect, password: much_too_long }\n",
                "notify.sms.smpp.password",
            ),
            (
                "notify:\n  sms: { http: { url: ftp://x } }\n",
                "not an http",
            ),
            (
                "notify:\n  retry: { first: 2h, max: 1h }\n",
                "at most `max`",
            ),
            (
                "notify:\n  retry: { attempts: 0 }\n",
                "at least one attempt",
            ),
        ];
        for (yaml, expected) in cases {
            let e = Config::parse(Path::new("d.yaml"), yaml)
                .unwrap_err()
                .to_string();
            assert!(e.contains(expected), "{yaml}: {e}");
            assert!(e.starts_with("d.yaml:"), "{e}");
        }
    }
}
