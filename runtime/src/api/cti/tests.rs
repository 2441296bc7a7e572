//! The CTI and real-time API over real HTTP on loopback, with the ACD actor
//! running the reference project's queues.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::acd::{AcdHandle, ProgramSource};
use crate::api::AppState;
use crate::config::{AgentConfig, ApiUser};
use dialect_acd::{AcdConfig, AcdToCall, QueuedCall};

fn user(name: &str, role: &str) -> ApiUser {
    ApiUser {
        name: name.into(),
        token: format!("t-{name}"),
        password: None,
        role: role.parse().expect("a role"),
        department: None,
        email: None,
        phone: None,
    }
}

/// The password of `lin`, who signs in at a browser and has no token.
const DESK_PASSWORD: &str = "林-desk-2026!";

struct Api {
    addr: std::net::SocketAddr,
    base: String,
    http: reqwest::Client,
    acd: AcdHandle,
    store: crate::store::SharedStore,
    shutdown: CancellationToken,
}

impl Api {
    async fn start() -> Api {
        static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let run = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("dialect-acd-api-{}-{run}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store: crate::store::SharedStore =
            Arc::new(crate::store::SledStore::open(&dir.join("db")).unwrap());
        let project = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../flows/hotline");
        let bundle = crate::deploy::compile_project(&project).unwrap();
        let slot = Arc::new(
            crate::deploy::ProgramSlot::new(
                &bundle,
                dialect_compiler::Engine::Native,
                BTreeMap::new(),
            )
            .unwrap(),
        );
        let shutdown = CancellationToken::new();
        let agents = vec![AgentConfig {
            id: "2001".into(),
            name: "VIP".into(),
            password: "secret".into(),
            skills: [("vip".to_string(), 5)].into_iter().collect(),
            auto_answer: false,
            dial_plan: None,
        }];
        let (acd, _dials) = AcdHandle::spawn(
            AcdConfig::default(),
            ProgramSource::Slot(slot.clone()),
            &agents,
            store.clone(),
            None,
            shutdown.clone(),
        );
        let state = AppState {
            store: store.clone(),
            users: Arc::new(crate::auth::Users::new(&[
                user("2001", "agent"),
                user("1002", "agent"),
                user("boss", "supervisor"),
                user("root", "admin"),
                ApiUser {
                    name: "lin".into(),
                    token: String::new(),
                    password: Some(crate::login::hash_password(DESK_PASSWORD).unwrap()),
                    role: crate::config::Role::Agent,
                    department: None,
                    email: None,
                    phone: None,
                },
            ])),
            program: slot.clone(),
            ready: Arc::new(std::sync::atomic::AtomicBool::new(true)),
            stats: Arc::new(crate::stats::Stats::default()),
            outbound: crate::outbound::OutboundPolicy::new(
                &crate::config::Config::default(),
                Vec::new(),
                store.clone(),
                Arc::new(crate::stats::Stats::default()),
            ),
            workorders: crate::workorder::WorkorderHandle::start(
                store.clone(),
                slot.clone(),
                crate::time::PausableClock::system(),
            )
            .await
            .unwrap()
            .0,
            acd: acd.clone(),
            call_events: Default::default(),
            access: Arc::new(crate::api::access::Access::new(
                &["https://desk.example.com".to_string()],
                b"summary key".to_vec(),
                std::env::temp_dir(),
                1 << 20,
            )),
            dialer: crate::dialer::DialerHandle::idle(
                store.clone(),
                slot.clone(),
                Arc::new(crate::config::Config::default()),
            ),
            event_feed: Default::default(),
            cluster: None,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = crate::api::router(state.clone());
        tokio::spawn(crate::api::serve::serve(
            listener,
            app,
            crate::api::serve::HttpLimits::default(),
            state.stats.clone(),
            shutdown.clone(),
        ));
        Api {
            addr,
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            acd,
            store,
            shutdown,
        }
    }

    async fn post(
        &self,
        who: &str,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(format!("t-{who}"))
            .json(&body)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or_default())
    }

    async fn get(&self, who: &str, path: &str) -> (u16, serde_json::Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(format!("t-{who}"))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or_default())
    }

    async fn agent_state(&self, id: &str) -> String {
        let (st, v) = self.get("boss", "/api/v1/agents").await;
        assert_eq!(st, 200, "{v}");
        v.as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == id)
            .map(|a| a["state"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    }
}

#[tokio::test]
async fn agents_sign_in_get_calls_and_supervisors_are_checked() {
    let api = Api::start().await;
    // A call waits in `vip` (no opening hours) while nobody is ready.
    let (tx, mut rx) = mpsc::channel(16);
    api.acd
        .enqueue(
            QueuedCall::new(7, "vip", "13900000000", crate::time::now_ms()),
            tx,
        )
        .await
        .unwrap();
    let (st, queues) = api.get("2001", "/api/v1/queues").await;
    assert_eq!(st, 200);
    let vip = queues
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "vip")
        .unwrap();
    assert_eq!(vip["waiting"], 1, "{vip}");

    // Another agent may not change 2001; an agent may not use supervisor actions.
    let (st, _) = api
        .post("1002", "/api/v1/agents/2001/sign_in", serde_json::json!({}))
        .await;
    assert_eq!(st, 403);
    let (st, _) = api
        .post(
            "2001",
            "/api/v1/agents/2001/force_ready",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(st, 403);

    let (st, v) = api
        .post("2001", "/api/v1/agents/2001/sign_in", serde_json::json!({}))
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = api
        .post(
            "2001",
            "/api/v1/agents/2001/not_ready",
            serde_json::json!({"reason": "lunch"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(api.agent_state("2001").await, "not_ready");

    // The supervisor forces the agent ready: the waiting call is offered.
    let (st, v) = api
        .post(
            "boss",
            "/api/v1/agents/2001/force_ready",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let offered = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(m) = rx.recv().await {
            if let AcdToCall::Offer { agent, .. } = m {
                return agent.to_string();
            }
        }
        String::new()
    })
    .await
    .unwrap();
    assert_eq!(offered, "2001");
    assert_eq!(api.agent_state("2001").await, "ringing");

    // Statistics are for supervisors and analysts, not agents.
    let (st, _) = api.get("2001", "/api/v1/stats").await;
    assert_eq!(st, 403);
    let (st, v) = api.get("boss", "/api/v1/stats").await;
    assert_eq!(st, 200, "{v}");
    api.shutdown.cancel();
}

#[tokio::test]
async fn keys_from_the_desk_reach_the_agents_call_and_only_the_agent_may_send_them() {
    let api = Api::start().await;
    let (tx, mut rx) = mpsc::channel(16);
    api.acd
        .enqueue(
            QueuedCall::new(9, "vip", "13900000000", crate::time::now_ms()),
            tx,
        )
        .await
        .unwrap();
    for op in ["sign_in", "ready"] {
        let (st, v) = api
            .post(
                "2001",
                &format!("/api/v1/agents/2001/{op}"),
                serde_json::json!({}),
            )
            .await;
        assert_eq!(st, 200, "{op}: {v}");
    }
    // Ringing is not yet a call to send keys on.
    let (st, v) = api
        .post(
            "2001",
            "/api/v1/agents/2001/send_dtmf",
            serde_json::json!({"digits": "1"}),
        )
        .await;
    assert_eq!(st, 409, "{v}");
    api.acd
        .offer_result(9, "2001", dialect_acd::OfferResult::Answered)
        .await
        .unwrap();
    let (st, v) = api
        .post(
            "2001",
            "/api/v1/agents/2001/send-dtmf",
            serde_json::json!({"digits": "12#"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["call"], 9, "{v}");
    let sent = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(m) = rx.recv().await {
            if let AcdToCall::SendDigits { digits, agent } = m {
                return (digits, agent.to_string());
            }
        }
        Default::default()
    })
    .await
    .unwrap();
    assert_eq!(sent, ("12#".to_string(), "2001".to_string()));
    // Not keys, too many, or none: 400, and nothing reaches the call.
    for bad in [
        serde_json::json!({"digits": "12x"}),
        serde_json::json!({"digits": "1".repeat(33)}),
        serde_json::json!({"digits": ""}),
        serde_json::json!({}),
    ] {
        let (st, v) = api
            .post("2001", "/api/v1/agents/2001/send_dtmf", bad.clone())
            .await;
        assert_eq!(st, 400, "{bad}: {v}");
    }
    // Neither another agent nor a supervisor speaks for the agent; an admin may.
    let keys = serde_json::json!({"digits": "5"});
    let (st, _) = api
        .post("1002", "/api/v1/agents/2001/send_dtmf", keys.clone())
        .await;
    assert_eq!(st, 403);
    let (st, _) = api
        .post("boss", "/api/v1/agents/2001/send_dtmf", keys.clone())
        .await;
    assert_eq!(st, 403);
    let (st, v) = api
        .post("root", "/api/v1/agents/2001/send_dtmf", keys)
        .await;
    assert_eq!(st, 200, "{v}");
    let audited = api.audited("agent.send_dtmf").await;
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert_eq!(audited[0].user, "root");
    while let Ok(m) = rx.try_recv() {
        assert!(
            !matches!(&m, AcdToCall::SendDigits { digits, .. } if digits != "5"),
            "only checked keys reach the call: {m:?}"
        );
    }
    api.shutdown.cancel();
}

/// Opens a WebSocket to `path` with extra headers; the HTTP status of a refusal.
async fn ws_open(
    api: &Api,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    u16,
> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{}{path}", api.addr)
        .into_client_request()
        .unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(
            tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    match tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(req),
    )
    .await
    .expect("the upgrade is answered in time")
    {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("{e}"),
    }
}

/// The first text frame: the desktop's `hello`.
async fn hello(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> serde_json::Value {
    use futures::StreamExt;
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let tokio_tungstenite::tungstenite::Message::Text(t) = m {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}

#[tokio::test]
async fn websockets_open_with_one_time_tickets_not_tokens_in_urls() {
    let api = Api::start().await;
    // A token in the URL is refused: URLs end up in logs and browser history.
    let r = ws_open(&api, "/api/v1/cti/ws?agent=2001&token=t-2001", &[]).await;
    assert_eq!(r.err(), Some(401));
    // A ticket, asked for with the token in the header, opens one WebSocket...
    let (st, t) = api
        .post("2001", "/api/v1/ws-tickets", serde_json::json!({}))
        .await;
    assert_eq!(st, 201, "{t}");
    let ticket = t["ticket"].as_str().unwrap().to_string();
    assert!(t["expires_in_ms"].as_u64().unwrap() <= 60_000);
    let path = format!("/api/v1/cti/ws?agent=2001&ticket={ticket}");
    let mut ws = ws_open(&api, &path, &[]).await.unwrap();
    assert_eq!(hello(&mut ws).await["agent"]["id"], "2001");
    // ...once.
    assert_eq!(ws_open(&api, &path, &[]).await.err(), Some(401));
    assert_eq!(
        ws_open(&api, "/api/v1/cti/ws?agent=2001&ticket=guessed", &[])
            .await
            .err(),
        Some(401)
    );
    // A ticket is its user's: agent 1002 cannot follow 2001 with its own.
    let (_, t) = api
        .post("1002", "/api/v1/ws-tickets", serde_json::json!({}))
        .await;
    let other = format!(
        "/api/v1/cti/ws?agent=2001&ticket={}",
        t["ticket"].as_str().unwrap()
    );
    assert_eq!(ws_open(&api, &other, &[]).await.err(), Some(403));
    // No anonymous tickets.
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/ws-tickets", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // Clients that can set headers keep using the token there.
    let mut ws = ws_open(
        &api,
        "/api/v1/cti/ws?agent=2001",
        &[("authorization", "Bearer t-2001")],
    )
    .await
    .unwrap();
    assert_eq!(hello(&mut ws).await["event"], "hello");
    api.shutdown.cancel();
}

#[tokio::test]
async fn websockets_refuse_pages_of_other_origins() {
    let api = Api::start().await;
    let own = format!("http://{}", api.addr);
    for (origin, allowed) in [
        ("https://evil.example", false),
        (own.as_str(), true),
        ("https://desk.example.com", true),
    ] {
        let (_, t) = api
            .post("2001", "/api/v1/ws-tickets", serde_json::json!({}))
            .await;
        let path = format!(
            "/api/v1/cti/ws?agent=2001&ticket={}",
            t["ticket"].as_str().unwrap()
        );
        let r = ws_open(&api, &path, &[("origin", origin)]).await;
        assert_eq!(r.is_ok(), allowed, "{origin}: {:?}", r.err());
        if !allowed {
            assert_eq!(r.err(), Some(403));
        }
    }
    // The all-events stream too, even with a valid token in the header.
    let r = ws_open(
        &api,
        "/api/v1/acd/events",
        &[
            ("authorization", "Bearer t-boss"),
            ("origin", "https://evil.example"),
        ],
    )
    .await;
    assert_eq!(r.err(), Some(403));
    api.shutdown.cancel();
}

#[tokio::test]
async fn a_weak_phone_password_is_refused_and_a_good_one_is_stored_as_ha1_only() {
    use dialect_sip::auth::Ha1;
    use dialect_sip::registrar::CredentialLookup;
    let api = Api::start().await;
    for weak in ["1234", "0123456789", "aaaaaaaaa1", "pw3001-3001"] {
        let (st, v) = api
            .post(
                "boss",
                "/api/v1/agents",
                serde_json::json!({"id": "3001", "name": "New", "password": weak}),
            )
            .await;
        assert_eq!(st, 400, "{weak}: {v}");
        let message = v.to_string();
        assert!(message.contains("password"), "names the field: {message}");
        assert!(!message.contains(weak), "does not repeat it: {message}");
    }
    let (st, _) = api.get("boss", "/api/v1/agents/3001").await;
    assert_eq!(st, 404, "nothing was added");

    let password = "Blue-pigeon-42";
    let (st, v) = api
        .post(
            "boss",
            "/api/v1/agents",
            serde_json::json!({"id": "3001", "name": "New", "password": password}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let ha1 = Ha1::from_password("3001", "dialect", password);
    assert_eq!(api.acd.credentials().ha1("3001"), Some(ha1.clone()));
    // What the store holds: the hash and its realm, never the password.
    let stored = api
        .store
        .scan_prefix(crate::acd::AGENTS_TREE, b"3001")
        .unwrap();
    assert_eq!(stored.len(), 1);
    let text = String::from_utf8_lossy(&stored[0].1).to_string();
    assert!(!text.contains(password), "{text}");
    assert!(!text.contains("\"password\""), "{text}");
    assert!(text.contains(ha1.as_str()), "{text}");
    assert!(text.contains("\"realm\":\"dialect\""), "{text}");
    // The audit log does not hold it either.
    let audit = api.store.scan_prefix("audit", b"").unwrap_or_default();
    assert!(
        audit
            .iter()
            .all(|(_, v)| !String::from_utf8_lossy(v).contains(password))
    );
    api.shutdown.cancel();
}

impl Api {
    /// `POST /api/v1/login`: the status, the session cookie and the answer.
    async fn login(&self, user: &str, password: &str) -> (u16, Option<String>, serde_json::Value) {
        let r = self
            .http
            .post(format!("{}/api/v1/login", self.base))
            .json(&serde_json::json!({ "user": user, "password": password }))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let cookie = r
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        (status, cookie, r.json().await.unwrap_or_default())
    }

    /// A request with a page's cookie (and anti-forgery token, if given).
    async fn as_page(
        &self,
        method: reqwest::Method,
        path: &str,
        cookie: &str,
        csrf: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("cookie", cookie);
        if let Some(c) = csrf {
            req = req.header("x-csrf-token", c);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or_default())
    }

    async fn audited(&self, action: &str) -> Vec<crate::auth::AuditEntry> {
        crate::auth::audit_entries(&*self.store, 0, i64::MAX / 2, 1000)
            .unwrap()
            .into_iter()
            .filter(|e| e.action == action)
            .collect()
    }
}

#[tokio::test]
async fn a_person_signs_in_with_a_password_and_the_page_acts_with_its_session() {
    let api = Api::start().await;
    let (status, cookie, _) = api.login("lin", "wrong password").await;
    assert_eq!((status, cookie), (401, None));
    let failed = api.audited("login failed").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].user, "lin");
    let (status, cookie, answer) = api.login("lin", DESK_PASSWORD).await;
    assert_eq!(status, 200, "{answer}");
    let set = cookie.unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_string();
    let csrf = answer["csrf"].as_str().unwrap().to_string();
    assert_eq!(answer["role"], "agent");
    // Reading needs the cookie only; the page gets its token back.
    let (status, me) = api
        .as_page(reqwest::Method::GET, "/api/v1/me", &cookie, None)
        .await;
    assert_eq!((status, me["user"].as_str()), (200, Some("lin")), "{me}");
    assert_eq!(me["csrf"], csrf.as_str());
    // A change without the token is what another site's page would send.
    let (status, _) = api
        .as_page(reqwest::Method::POST, "/api/v1/logout", &cookie, None)
        .await;
    assert_eq!(status, 403);
    let (status, _) = api
        .as_page(
            reqwest::Method::POST,
            "/api/v1/logout",
            &cookie,
            Some("forged"),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = api
        .as_page(
            reqwest::Method::POST,
            "/api/v1/logout",
            &cookie,
            Some(&csrf),
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = api
        .as_page(reqwest::Method::GET, "/api/v1/me", &cookie, None)
        .await;
    assert_eq!(status, 401, "signed out");
    assert_eq!(api.audited("login").await.len(), 1);
    assert_eq!(api.audited("logout").await.len(), 1);
    // A role's limits hold for a session as for a token.
    let (_, cookie, _) = api.login("lin", DESK_PASSWORD).await;
    let cookie = cookie.unwrap().split(';').next().unwrap().to_string();
    let (status, _) = api
        .as_page(reqwest::Method::GET, "/api/v1/audit", &cookie, None)
        .await;
    assert_eq!(status, 403);
    api.shutdown.cancel();
}

#[tokio::test]
async fn guessing_a_password_locks_the_name_out_even_for_the_right_one() {
    let api = Api::start().await;
    for _ in 0..crate::login::MAX_FAILURES {
        assert_eq!(api.login("lin", "guess").await.0, 401);
    }
    let (status, cookie, answer) = api.login("lin", DESK_PASSWORD).await;
    assert_eq!((status, cookie), (429, None), "{answer}");
    assert_eq!(api.audited("login locked out").await.len(), 1);
    // An unknown name is refused like a wrong password.
    assert_eq!(
        api.login("nobody", DESK_PASSWORD).await.0,
        429,
        "same address"
    );
    api.shutdown.cancel();
}

#[tokio::test]
async fn recordings_are_found_by_agent_and_result_and_heard_by_whom_the_role_allows() {
    let api = Api::start().await;
    let wav = std::env::temp_dir().join(format!("dialect-rec-{}.wav", std::process::id()));
    std::fs::write(&wav, b"RIFF....WAVEfmt recorded call").unwrap();
    let answered = crate::contacts::ContactRecord {
        id: 41,
        caller: "13800000001".into(),
        called: "10000".into(),
        started_ms: 1_000,
        queue: Some("general".into()),
        agent: Some("2001".into()),
        recordings: vec![wav.display().to_string()],
        ..Default::default()
    };
    let abandoned = crate::contacts::ContactRecord {
        id: 42,
        caller: "13800000002".into(),
        started_ms: 2_000,
        queue: Some("general".into()),
        recordings: vec![wav.display().to_string()],
        ..Default::default()
    };
    crate::contacts::save(&api.store, &answered).await.unwrap();
    crate::contacts::save(&api.store, &abandoned).await.unwrap();
    let (status, all) = api.get("boss", "/api/v1/recordings").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all.as_array().unwrap().len(), 2, "{all}");
    let (_, by_agent) = api.get("boss", "/api/v1/recordings?agent=2001").await;
    assert_eq!(by_agent[0]["contact"], 41, "{by_agent}");
    let (_, lost) = api.get("boss", "/api/v1/recordings?result=abandoned").await;
    assert_eq!(lost.as_array().unwrap().len(), 1, "{lost}");
    assert_eq!(lost[0]["contact"], 42);
    // An agent finds and hears their own calls only.
    let (_, own) = api.get("2001", "/api/v1/recordings").await;
    assert_eq!(own.as_array().unwrap().len(), 1, "{own}");
    let (_, others) = api.get("1002", "/api/v1/recordings").await;
    assert_eq!(others.as_array().unwrap().len(), 0, "{others}");
    let fetch = |who: &str| {
        api.http
            .get(format!("{}/api/v1/recordings/41/0", api.base))
            .bearer_auth(format!("t-{who}"))
            .send()
    };
    let r = fetch("2001").await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "audio/wav");
    assert_eq!(
        &r.bytes().await.unwrap()[..],
        b"RIFF....WAVEfmt recorded call"
    );
    assert_eq!(fetch("1002").await.unwrap().status().as_u16(), 404);
    let played = api.audited("recording played").await;
    assert_eq!(played.len(), 1, "{played:?}");
    assert_eq!(played[0].user, "2001");
    // The browser's <audio> asks for ranges to seek: one range, 206; a range
    // past the end, 416. Each fetch is audited.
    let part = api
        .http
        .get(format!("{}/api/v1/recordings/41/0", api.base))
        .bearer_auth("t-boss")
        .header("range", "bytes=4-11")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status().as_u16(), 206);
    assert_eq!(part.headers()["content-range"], "bytes 4-11/29");
    assert_eq!(part.headers()["accept-ranges"], "bytes");
    assert_eq!(&part.bytes().await.unwrap()[..], b"....WAVE");
    let past = api
        .http
        .get(format!("{}/api/v1/recordings/41/0", api.base))
        .bearer_auth("t-boss")
        .header("range", "bytes=29-")
        .send()
        .await
        .unwrap();
    assert_eq!(past.status().as_u16(), 416);
    assert_eq!(past.headers()["content-range"], "bytes */29");
    let played = api.audited("recording played").await;
    assert_eq!(played.len(), 2, "{played:?}");
    assert!(
        played.iter().any(|e| e.detail["range"] == "4-11"),
        "{played:?}"
    );
    let _ = std::fs::remove_file(&wav);
    api.shutdown.cancel();
}

mod ops;
