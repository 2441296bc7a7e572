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
    let e = Config::parse(Path::new("d.yaml"), "limits:\n  shutdown_grace: soon\n").unwrap_err();
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
fn new_limits_are_checked_with_their_line() {
    for (yaml, line, key) in [
        (
            "sip:\n  limits:\n    udp_message_size: 100000\n",
            3,
            "udp_message_size",
        ),
        ("sip:\n  limits:\n    vias: 0\n", 3, "sip.limits.vias"),
        (
            "http:\n  max_connections: 10\n  max_connections_per_source: 20\n",
            3,
            "max_connections_per_source",
        ),
        ("http:\n  header_timeout: 0s\n", 2, "http.header_timeout"),
        (
            "limits:\n  calls_per_source: 0\n",
            2,
            "limits.calls_per_source",
        ),
        (
            "http:\n  allowed_origins: [\"desk.example.com/x\"]\n",
            2,
            "allowed_origins",
        ),
        (
            "limits:\n  trusted_sources: [somewhere]\n",
            2,
            "trusted_sources",
        ),
    ] {
        let e = Config::parse(Path::new("d.yaml"), yaml)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(&format!("d.yaml:{line}:")), "{e}");
        assert!(e.contains(key), "{e}");
    }
    let c = Config::parse(
        Path::new("d.yaml"),
        "sip:\n  limits:\n    tcp_idle_timeout: 2m\nhttp:\n  allowed_origins: [\"https://desk.example.com\"]\n",
    )
    .unwrap();
    assert_eq!(c.sip.limits.tcp().idle_timeout.as_secs(), 120);
    assert_eq!(c.sip.limits.message().max_datagram, 16 * 1024);
    assert_eq!(c.limits.calls_per_source, 20);
}

#[test]
fn weak_tokens_are_refused_beyond_loopback() {
    let users = "api_users:\n  - { name: admin, token: dialect-admin, role: admin }\n";
    // On loopback the old token still starts (local tests, the hotline script).
    assert!(Config::parse(Path::new("d.yaml"), users).is_ok());
    let open = format!("http:\n  listen: 0.0.0.0:8080\n{users}");
    let e = Config::parse(Path::new("d.yaml"), &open)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("d.yaml:4:"), "{e}");
    assert!(e.contains("admin") && e.contains("0.0.0.0:8080"), "{e}");
    for weak in ["short", "change-me-1", "aaaaaaaaaaaaaaaaaaaa"] {
        let yaml = format!(
            "http:\n  listen: 10.0.0.5:8080\napi_users:\n  - {{ name: ops, token: {weak}, role: admin }}\n"
        );
        assert!(Config::parse(Path::new("d.yaml"), &yaml).is_err(), "{weak}");
    }
    let strong = "http:\n  listen: 0.0.0.0:8080\napi_users:\n  - { name: ops, token: 9f2c41d07be35a1e6c80d4, role: admin }\n";
    assert!(Config::parse(Path::new("d.yaml"), strong).is_ok());
    // No api_users at all: a token is generated at start, fine anywhere.
    let none = Config::parse(Path::new("d.yaml"), "http:\n  listen: 0.0.0.0:8080\n").unwrap();
    assert!(none.api_users.is_empty());
}

#[test]
fn a_weak_agent_password_stops_the_server_at_its_line() {
    let yaml = "sip:\n  udp: true\nagents:\n  - id: \"1001\"\n    name: A\n    password: blue-pigeon-42\n  - id: \"1002\"\n    name: B\n    password: \"1234\"\n";
    let e = Config::parse(Path::new("d.yaml"), yaml)
        .unwrap_err()
        .to_string();
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
    assert_eq!(
        auth.lockout.user_lockout,
        std::time::Duration::from_secs(30)
    );
    let c = Config::parse(
        Path::new("d.yaml"),
        "sip:\n  auth:\n    nonce_lifetime: 30s\n    source_failures: 3\n    source_lockout: 5m\n    source_lockout_max: 2h\n",
    )
    .unwrap();
    let auth = c.sip.auth.to_auth("x");
    assert_eq!(auth.realm, "x");
    assert_eq!(auth.nonce_lifetime, std::time::Duration::from_secs(30));
    assert_eq!(auth.lockout.source_failures, 3);
    assert_eq!(
        auth.lockout.source_lockout_max,
        std::time::Duration::from_secs(7200)
    );
    for (yaml, key, line) in [
        (
            "sip:\n  auth:\n    nonce_lifetime: 1d\n",
            "nonce_lifetime",
            3,
        ),
        (
            "sip:\n  auth:\n    source_failures: 0\n",
            "source_failures",
            3,
        ),
        (
            "sip:\n  auth:\n    user_lockout: 10m\n    user_lockout_max: 1m\n",
            "user_lockout_max",
            4,
        ),
        ("sip:\n  auth:\n    lockout: 1m\n", "lockout", 3),
    ] {
        let e = Config::parse(Path::new("d.yaml"), yaml)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(&format!("d.yaml:{line}:")), "{e}");
        assert!(e.contains(key), "{e}");
    }
    let e = Config::parse(Path::new("d.yaml"), "sip:\n  realm: 'a\"b'\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("sip.realm"), "{e}");
}

#[test]
fn digests_and_password_hashes_are_taken_and_checked_with_their_line() {
    let token = crate::auth::random_secret(24);
    let digest = crate::auth::digest_line(&token);
    let hash = crate::login::hash_password("林-desk-2026!").unwrap();
    let yaml = format!(
        "http:\n  listen: 0.0.0.0:8080\napi_users:\n  - {{ name: ops, token: \"{digest}\", role: admin }}\n  - {{ name: lin, password: \"{hash}\", role: agent }}\n"
    );
    let c = Config::parse(Path::new("d.yaml"), &yaml).unwrap();
    let users = crate::auth::Users::new(&c.api_users);
    assert!(users.authorize(Some(&token), &[Role::Admin]).is_ok());
    assert!(
        users.authorize(Some(&digest), &[Role::Admin]).is_err(),
        "the digest is not the token"
    );
    assert_eq!(
        users.check_password("lin", "林-desk-2026!").map(|u| u.name),
        Some("lin".into())
    );
    assert!(users.check_password("lin", "林-desk-2027!").is_none());
    for (bad, why) in [
        (
            "  - { name: lin, password: \"secret-in-clear\", role: agent }\n",
            "not a password hash",
        ),
        (
            "  - { name: ops, token: \"sha256:abc\", role: admin }\n",
            "not a sha256 digest",
        ),
        (
            "  - { name: nobody, role: agent }\n",
            "neither a token nor a password",
        ),
    ] {
        let e = Config::parse(Path::new("d.yaml"), &format!("api_users:\n{bad}"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("d.yaml:2:"), "{e}");
        assert!(e.contains(why), "{e}");
    }
}

#[test]
fn a_cluster_needs_the_shared_store_a_url_and_a_secret() {
    let pg = "store: postgres:///dialect?host=/run/postgresql\n";
    let ok = format!(
        "{pg}cluster:\n  url: http://10.0.0.12:8080\n  secret: sixteen-chars-ok\n  lease: 3s\n"
    );
    let c = Config::parse(Path::new("d.yaml"), &ok).unwrap();
    let cluster = c.cluster.unwrap();
    assert_eq!(cluster.url, "http://10.0.0.12:8080");
    assert_eq!(cluster.lease.0.as_secs(), 3);
    for (yaml, key) in [
        (
            "cluster:\n  url: http://10.0.0.12:8080\n  secret: sixteen-chars-ok\n".to_string(),
            "PostgreSQL",
        ),
        (
            format!("{pg}cluster:\n  url: 10.0.0.12:8080\n  secret: sixteen-chars-ok\n"),
            "cluster.url",
        ),
        (
            format!("{pg}cluster:\n  url: http://10.0.0.12:8080\n  secret: short\n"),
            "cluster.secret",
        ),
        (
            format!(
                "{pg}cluster:\n  url: http://10.0.0.12:8080\n  secret: sixteen-chars-ok\n  lease: 100ms\n"
            ),
            "cluster.lease",
        ),
    ] {
        let e = Config::parse(Path::new("d.yaml"), &yaml)
            .unwrap_err()
            .to_string();
        assert!(e.contains(key), "{yaml}: {e}");
    }
}

#[test]
fn users_contact_addresses_are_checked_at_load() {
    let c = Config::parse(
        Path::new("d.yaml"),
        "api_users:\n  - { name: wang, token: t-wang-0123456789, role: supervisor, email: wang@example.cn, phone: \"+8613900000001\" }\n  - { name: li, token: t-li-0123456789ab, role: agent }\n",
    )
    .unwrap();
    assert_eq!(c.api_users[0].email.as_deref(), Some("wang@example.cn"));
    assert_eq!(c.api_users[0].phone.as_deref(), Some("+8613900000001"));
    assert_eq!(
        (c.api_users[1].email.as_ref(), c.api_users[1].phone.as_ref()),
        (None, None)
    );
    for (line, wanted) in [
        ("email: wang.example.cn", "has no `@`"),
        ("email: \"wang@localhost\"", "needs a domain"),
        ("email: \"wang @example.cn\"", "holds a space"),
        ("email: \"@example.cn\"", "one `@` after a name"),
        ("phone: \"call me\"", "is not a telephone number"),
    ] {
        let text = format!(
            "api_users:\n  - name: wang\n    token: t-wang-0123456789\n    role: supervisor\n    {line}\n"
        );
        let e = Config::parse(Path::new("d.yaml"), &text)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("d.yaml:5:"), "{line}: {e}");
        assert!(e.contains(wanted) && e.contains("`wang`"), "{line}: {e}");
    }
}
