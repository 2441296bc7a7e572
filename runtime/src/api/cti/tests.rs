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
        role: role.parse().expect("a role"),
        department: None,
    }
}

struct Api {
    base: String,
    http: reqwest::Client,
    acd: AcdHandle,
    shutdown: CancellationToken,
}

impl Api {
    async fn start() -> Api {
        let dir = std::env::temp_dir().join(format!("dialect-acd-api-{}", std::process::id()));
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
            ])),
            program: slot.clone(),
            ready: Arc::new(std::sync::atomic::AtomicBool::new(true)),
            stats: Arc::new(crate::stats::Stats::default()),
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
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = crate::api::router(state);
        let s = shutdown.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { s.cancelled().await })
                .await;
        });
        Api {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            acd,
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
