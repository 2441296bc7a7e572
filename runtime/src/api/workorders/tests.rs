//! The workorder API over real HTTP (axum on 127.0.0.1:0, reqwest): roles,
//! masking, validation errors, conflicts, queries, counts, interaction events,
//! customer history and the audit log.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use serde_json::{Value, json};

use crate::time::PausableClock;
use crate::workorder::WorkorderHandle;
use super::tests::{hotline, store};
use crate::api::AppState;
use crate::auth::Users;
use crate::config::ApiUser;

struct Api {
    base: String,
    http: reqwest::Client,
    state: AppState,
}

fn api_user(name: &str, role: &str, dept: Option<&str>) -> ApiUser {
    ApiUser {
        name: name.into(),
        token: format!("tok-{name}"),
        role: role.into(),
        department: dept.map(String::from),
    }
}

async fn serve() -> Api {
    let store = store("api");
    let program = hotline();
    let (workorders, _) = WorkorderHandle::start(store.clone(), program.clone(), PausableClock::system())
        .await
        .unwrap();
    let users = vec![
        api_user("agent1", "agent", None),
        api_user("sup1", "supervisor", None),
        api_user("ops1", "handler", Some("network_ops")),
        api_user("bill1", "handler", Some("billing_center")),
        api_user("ana1", "analyst", None),
        api_user("qi1", "quality_inspector", None),
        api_user("root", "admin", None),
    ];
    let (acd, _dials) = crate::acd::AcdHandle::spawn(
        dialect_acd::AcdConfig::default(),
        crate::acd::ProgramSource::Slot(program.clone()),
        &[],
        store.clone(),
        None,
        tokio_util::sync::CancellationToken::new(),
    );
    let state = AppState {
        store,
        users: Arc::new(Users::new(&users)),
        program,
        ready: Arc::new(AtomicBool::new(true)),
        stats: Arc::new(crate::stats::Stats::default()),
        workorders,
        acd,
        call_events: Default::default(),
    };
    let app =
        crate::api::router(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Api {
        base: format!("http://{addr}/api/v1"),
        http: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap(),
        state,
    }
}

impl Api {
    async fn call(
        &self,
        method: &str,
        path: &str,
        who: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut r = match method {
            "GET" => self.http.get(&url),
            "POST" => self.http.post(&url),
            "PATCH" => self.http.patch(&url),
            _ => unreachable!(),
        };
        if let Some(w) = who {
            r = r.bearer_auth(format!("tok-{w}"));
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
    async fn get(&self, path: &str, who: &str) -> (u16, Value) {
        self.call("GET", path, Some(who), None).await
    }
    async fn post(&self, path: &str, who: &str, body: Value) -> (u16, Value) {
        self.call("POST", path, Some(who), Some(body)).await
    }
}

fn complaint_body() -> Value {
    json!({
        "kind": "complaint",
        "fields": {
            "phone": "13800138000",
            "customer": "C001",
            "category": "billing",
            "description": "charged twice",
            "id_number": "110101199001011234"
        }
    })
}

#[tokio::test]
async fn roles_masking_errors_and_conflicts_over_http() {
    let api = serve().await;
    // Authentication and roles.
    let (st, _) = api
        .call("POST", "/workorders", None, Some(complaint_body()))
        .await;
    assert_eq!(st, 401);
    let (st, b) = api.post("/workorders", "ana1", complaint_body()).await;
    assert_eq!(st, 403, "{b}");

    // Create: the agent sees the ID number masked, a supervisor sees it whole.
    let (st, o) = api.post("/workorders", "agent1", complaint_body()).await;
    assert_eq!(st, 201, "{o}");
    assert_eq!(o["fields"]["id_number"], "110***********1234");
    assert_eq!(o["state"], "new");
    let n = o["number"].as_str().unwrap().to_string();
    let (_, o) = api.get(&format!("/workorders/{n}"), "sup1").await;
    assert_eq!(o["fields"]["id_number"], "110101199001011234");
    let (_, h) = api.get(&format!("/workorders/{n}/history"), "agent1").await;
    assert_eq!(h[0]["fields"]["id_number"], "110***********1234");
    // Handlers see nothing of orders not with their department.
    let (st, _) = api.get(&format!("/workorders/{n}"), "ops1").await;
    assert_eq!(st, 403);

    // Validation errors name the field; nothing is stored.
    let mut bad = complaint_body();
    bad["fields"]["colour"] = json!("red");
    let (st, e) = api.post("/workorders", "agent1", bad).await;
    assert_eq!((st, e["field"].as_str()), (400, Some("colour")), "{e}");
    let mut bad = complaint_body();
    bad["priority"] = json!(1);
    let (st, e) = api.post("/workorders", "agent1", bad).await;
    assert_eq!((st, e["field"].as_str()), (400, Some("priority")), "{e}");
    let mut bad = complaint_body();
    bad["fields"]["satisfied"] = json!("yes");
    let (st, e) = api.post("/workorders", "agent1", bad).await;
    assert_eq!((st, e["field"].as_str()), (400, Some("satisfied")), "{e}");
    let (st, _) = api.get("/workorders/20990101000001", "agent1").await;
    assert_eq!(st, 404);

    // Transitions: role checks, 409 for a stale one with the current state.
    let t = format!("/workorders/{n}/transitions");
    let (st, e) = api
        .post(&t, "agent1", json!({"transition": "dispatch"}))
        .await;
    assert_eq!((st, e["field"].as_str()), (400, Some("department")), "{e}");
    let (st, o) = api
        .post(
            &t,
            "agent1",
            json!({"transition": "dispatch", "department": "network_ops", "from": "new"}),
        )
        .await;
    assert_eq!(st, 200, "{o}");
    let (st, e) = api
        .post(
            &t,
            "agent1",
            json!({"transition": "dispatch", "department": "network_ops", "from": "new"}),
        )
        .await;
    assert_eq!((st, e["state"].as_str()), (409, Some("dispatched")), "{e}");
    let (st, _) = api.post(&t, "bill1", json!({"transition": "accept"})).await;
    assert_eq!(st, 403);
    let (st, o) = api.post(&t, "ops1", json!({"transition": "accept"})).await;
    assert_eq!((st, o["handler"].as_str()), (200, Some("ops1")), "{o}");
    let (st, e) = api.post(&t, "ops1", json!({"transition": "reply"})).await;
    assert_eq!(st, 422, "{e}");
    let (st, o) = api.get(&format!("/workorders/{n}"), "ops1").await;
    assert_eq!((st, o["state"].as_str()), (200, Some("processing")));
    let (st, _) = api
        .post(
            &format!("/workorders/{n}/comments"),
            "ops1",
            json!({"text": "on site at 3pm"}),
        )
        .await;
    assert_eq!(st, 201);

    // Queries and counts.
    let (_, p) = api
        .get(
            "/workorders?state=processing&department=network_ops",
            "sup1",
        )
        .await;
    assert_eq!(p["items"].as_array().unwrap().len(), 1, "{p}");
    let (_, p) = api.get("/workorders?state=new", "sup1").await;
    assert_eq!(p["items"].as_array().unwrap().len(), 0, "{p}");
    let (_, p) = api.get("/workorders?customer=C001", "agent1").await;
    assert_eq!(p["items"].as_array().unwrap().len(), 1, "{p}");
    let (st, e) = api.get("/workorders?colour=red", "agent1").await;
    assert_eq!((st, e["field"].as_str()), (400, Some("colour")), "{e}");
    let (_, c) = api.get("/workorders/counts", "sup1").await;
    assert_eq!(c["total_open"], 1, "{c}");
    assert_eq!(c["open"][0]["department"], "network_ops");
    let (st, _) = api.get("/workorders/counts", "agent1").await;
    assert_eq!(st, 403);

    // The history matches the order, and every change is in the audit log.
    let (_, h) = api.get(&format!("/workorders/{n}/history"), "sup1").await;
    let h = h.as_array().unwrap();
    assert_eq!(h.len(), 4);
    assert_eq!(h.last().unwrap()["action"], "comment");
    let (st, _) = api.get("/audit", "sup1").await;
    assert_eq!(st, 403);
    let (_, a) = api.get("/audit?limit=1000", "root").await;
    let mine = a
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"] == n.as_str())
        .count();
    assert_eq!(mine, 4, "{a}");
    // The IVR's progress inquiry (no token: flows cannot send one).
    let (st, sm) = api
        .call("GET", &format!("/workorders/{n}/summary"), None, None)
        .await;
    assert_eq!(st, 200, "{sm}");
    assert_eq!(
        (sm["state"].as_str(), sm["state_label"].as_str()),
        (Some("processing"), Some("处理中"))
    );
    assert_eq!(sm["updated"].as_str().unwrap().len(), 10);
    assert!(sm.get("fields").is_none());
    let (st, _) = api.call("GET", "/workorders/x1/summary", None, None).await;
    assert_eq!(st, 400);
    let (st, doc) = api.get("/openapi.json", "agent1").await;
    assert_eq!(st, 200);
    assert!(doc["paths"]["/api/v1/workorders/{number}/transitions"].is_object());
    api.state.workorders.stop().await;
}

#[tokio::test]
async fn events_raise_orders_and_customer_history_collects_them() {
    let api = serve().await;
    let (st, ev) = api
        .post(
            "/interactions",
            "agent1",
            json!({"event_type": "complaint", "customer_id": "C002", "channel": "agent",
                   "description": "slow line and wrong bill"}),
        )
        .await;
    assert_eq!(st, 201, "{ev}");
    let id = ev["id"].as_u64().unwrap();
    let (st, e) = api
        .post(
            "/interactions",
            "agent1",
            json!({"event_type": "complaint", "customer_id": "C002", "channel": "pigeon"}),
        )
        .await;
    assert_eq!((st, e["field"].as_str()), (400, Some("channel")), "{e}");

    // One event raises two orders (W4); the customer comes from the event.
    let (st, a) = api
        .post(
            &format!("/interactions/{id}/workorders"),
            "agent1",
            json!({"kind": "fault_repair", "fields": {"phone": "13800138000", "fault_type": "slow_internet"}}),
        )
        .await;
    assert_eq!(st, 201, "{a}");
    assert_eq!(a["customer_id"], "C002");
    let (st, b) = api
        .post(
            &format!("/interactions/{id}/workorders"),
            "agent1",
            json!({"kind": "complaint", "fields": {"phone": "13800138000", "category": "billing",
                   "description": "wrong bill"}}),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let (st, _) = api
        .post(
            "/interactions/999999/workorders",
            "agent1",
            json!({"kind": "complaint", "fields": {}}),
        )
        .await;
    assert_eq!(st, 404);
    let (_, e) = api.get(&format!("/interactions/{id}"), "agent1").await;
    assert_eq!(e["workorders"].as_array().unwrap().len(), 2, "{e}");
    let (a, b) = (a["number"].as_str().unwrap(), b["number"].as_str().unwrap());
    let (st, l) = api
        .post(
            &format!("/workorders/{b}/links"),
            "agent1",
            json!({"kind": "related", "to": a}),
        )
        .await;
    assert_eq!(st, 201, "{l}");
    assert_eq!(l["links"][0]["number"], a);

    // A call of the same customer.
    let store = api.state.store.clone();
    let contact = crate::contacts::ContactRecord {
        id: crate::contacts::new_id(&*store).unwrap(),
        channel: "voice".into(),
        direction: "inbound".into(),
        caller: "13800138000".into(),
        customer_id: "C002".into(),
        started_ms: crate::time::now_ms() - 60_000,
        ..Default::default()
    };
    crate::contacts::save(&store, &contact).await.unwrap();

    let (st, h) = api.get("/customers/C002/history", "agent1").await;
    assert_eq!(st, 200, "{h}");
    assert_eq!(h["contacts"].as_array().unwrap().len(), 1, "{h}");
    assert_eq!(h["interactions"].as_array().unwrap().len(), 1, "{h}");
    assert_eq!(h["workorders"].as_array().unwrap().len(), 2, "{h}");
    let (_, h) = api
        .get(
            "/customers/C002/history?from=2000-01-01T00:00:00Z&to=2001-01-01T00:00:00Z",
            "agent1",
        )
        .await;
    assert_eq!(h["contacts"].as_array().unwrap().len(), 0, "{h}");
    assert_eq!(h["workorders"].as_array().unwrap().len(), 0, "{h}");
    let (_, c) = api.get("/contacts?customer=C002", "qi1").await;
    assert_eq!(c.as_array().unwrap().len(), 1, "{c}");
    let (_, c) = api.get("/interactions?customer=C002", "ana1").await;
    assert_eq!(c.as_array().unwrap().len(), 1, "{c}");
    // Handlers may not read contact history (D4).
    let (st, _) = api.get("/customers/C002/history", "ops1").await;
    assert_eq!(st, 403);
    api.state.workorders.stop().await;
}
