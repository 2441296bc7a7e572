//! The workorder API over real HTTP (the server's listener on 127.0.0.1:0,
//! reqwest): roles, masking, validation errors, conflicts, queries, counts,
//! interaction events, customer history and the audit log; who may see which
//! orders and tasks; the summary's token or signed link; deploys checked before
//! their body is read; the listener's caps and time-outs.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use serde_json::{Value, json};

use crate::api::AppState;
use crate::api::serve::HttpLimits;
use crate::auth::Users;
use crate::config::ApiUser;
use crate::time::PausableClock;
use crate::workorder::WorkorderHandle;
use crate::workorder::tests::{hotline, store};

struct Api {
    addr: std::net::SocketAddr,
    base: String,
    http: reqwest::Client,
    state: AppState,
    upload_dir: std::path::PathBuf,
    shutdown: tokio_util::sync::CancellationToken,
}

fn api_user(name: &str, role: &str, dept: Option<&str>) -> ApiUser {
    ApiUser {
        name: name.into(),
        token: format!("tok-{name}"),
        password: None,
        role: role.parse().expect("a role"),
        department: dept.map(String::from),
        email: None,
        phone: None,
    }
}

/// The test servers' bundle limit: the hotline's bundle and 1 MiB more.
fn max_bundle() -> u64 {
    crate::workorder::tests::hotline_bundle().len() as u64 + (1 << 20)
}

async fn serve() -> Api {
    serve_with(HttpLimits::default()).await
}

async fn serve_with(limits: HttpLimits) -> Api {
    static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let run = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let store = store(&format!("api{run}"));
    let program = hotline();
    let (workorders, _) =
        WorkorderHandle::start(store.clone(), program.clone(), PausableClock::system())
            .await
            .unwrap();
    let users = vec![
        api_user("agent1", "agent", None),
        api_user("agent2", "agent", None),
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
    let upload_dir =
        std::env::temp_dir().join(format!("dialect-api-uploads-{}-{run}", std::process::id()));
    let _ = std::fs::remove_dir_all(&upload_dir);
    let state = AppState {
        store: store.clone(),
        users: Arc::new(Users::new(&users)),
        program: program.clone(),
        ready: Arc::new(AtomicBool::new(true)),
        stats: Arc::new(crate::stats::Stats::default()),
        workorders,
        acd,
        call_events: Default::default(),
        outbound: crate::outbound::OutboundPolicy::new(
            &crate::config::Config::default(),
            Vec::new(),
            store.clone(),
            Arc::new(crate::stats::Stats::default()),
        ),
        access: Arc::new(crate::api::access::Access::new(
            &[],
            b"summary key".to_vec(),
            upload_dir.clone(),
            max_bundle(),
        )),
        dialer: crate::dialer::DialerHandle::idle(
            store.clone(),
            program.clone(),
            Arc::new(crate::config::Config::default()),
        ),
        event_feed: Default::default(),
        cluster: None,
    };
    let app = crate::api::router(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    tokio::spawn(crate::api::serve::serve(
        listener,
        app,
        limits,
        state.stats.clone(),
        shutdown.clone(),
    ));
    Api {
        addr,
        upload_dir,
        shutdown,
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
    // Handlers see nothing of orders not with their department: such an order
    // is answered exactly like one that does not exist.
    let (st, e) = api.get(&format!("/workorders/{n}"), "ops1").await;
    assert_eq!(st, 404);
    assert_eq!(e["message"], format!("there is no workorder {n}"), "{e}");

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
    assert_eq!(st, 404);
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
    // The IVR's progress inquiry (the runtime's lookups carry a token).
    let (st, sm) = api.get(&format!("/workorders/{n}/summary"), "agent1").await;
    assert_eq!(st, 200, "{sm}");
    assert_eq!(
        (sm["state"].as_str(), sm["state_label"].as_str()),
        (Some("processing"), Some("处理中"))
    );
    assert_eq!(sm["updated"].as_str().unwrap().len(), 10);
    assert!(sm.get("fields").is_none());
    let (st, _) = api.get("/workorders/x1/summary", "agent1").await;
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

/// Creates a complaint and dispatches it to `department`; its number.
async fn dispatched_complaint(api: &Api, department: &str) -> String {
    let (st, o) = api.post("/workorders", "agent1", complaint_body()).await;
    assert_eq!(st, 201, "{o}");
    let n = o["number"].as_str().unwrap().to_string();
    let (st, o) = api
        .post(
            &format!("/workorders/{n}/transitions"),
            "agent1",
            json!({"transition": "dispatch", "department": department}),
        )
        .await;
    assert_eq!(st, 200, "{o}");
    n
}

#[tokio::test]
async fn a_handler_cannot_link_into_another_department_nor_learn_its_numbers() {
    let api = serve().await;
    let mine = dispatched_complaint(&api, "network_ops").await;
    let theirs = dispatched_complaint(&api, "billing_center").await;
    // Linking to an order that does not exist...
    let missing = "20990101000001";
    let (st, none) = api
        .post(
            &format!("/workorders/{mine}/links"),
            "ops1",
            json!({"kind": "related", "to": missing}),
        )
        .await;
    assert_eq!(st, 400, "{none}");
    // ...and to another department's order read the same, number for number.
    let (st, other) = api
        .post(
            &format!("/workorders/{mine}/links"),
            "ops1",
            json!({"kind": "related", "to": theirs}),
        )
        .await;
    assert_eq!(st, 400, "the link was refused: {other}");
    assert_eq!(
        other["message"].as_str().unwrap().replace(&theirs, "N"),
        none["message"].as_str().unwrap().replace(missing, "N"),
    );
    assert_eq!(other["field"], none["field"]);
    let (_, o) = api.get(&format!("/workorders/{theirs}"), "sup1").await;
    assert!(o["links"].as_array().unwrap().is_empty(), "{o}");
    // Nor from their order into one's own, nor reading, commenting or stepping it.
    let (st, e) = api
        .post(
            &format!("/workorders/{theirs}/links"),
            "ops1",
            json!({"kind": "related", "to": mine}),
        )
        .await;
    assert_eq!(
        (st, e["message"].as_str()),
        (
            404,
            Some(format!("there is no workorder {theirs}").as_str())
        )
    );
    for (method, path, body) in [
        ("GET", format!("/workorders/{theirs}"), None),
        ("GET", format!("/workorders/{theirs}/history"), None),
        ("GET", format!("/workorders/{theirs}/summary"), None),
        (
            "POST",
            format!("/workorders/{theirs}/comments"),
            Some(json!({"text": "x"})),
        ),
        (
            "POST",
            format!("/workorders/{theirs}/transitions"),
            Some(json!({"transition": "accept", "from": "new"})),
        ),
    ] {
        let (st, e) = api.call(method, &path, Some("ops1"), body).await;
        assert_eq!(st, 404, "{method} {path}: {e}");
        assert_eq!(
            e["message"],
            format!("there is no workorder {theirs}"),
            "{path}"
        );
    }
    // Within the department, linking works.
    let also_mine = dispatched_complaint(&api, "network_ops").await;
    let (st, l) = api
        .post(
            &format!("/workorders/{mine}/links"),
            "ops1",
            json!({"kind": "related", "to": also_mine}),
        )
        .await;
    assert_eq!(st, 201, "{l}");
    api.state.workorders.stop().await;
}

#[tokio::test]
async fn agents_read_only_their_own_outbound_tasks() {
    let api = serve().await;
    let mut ids = Vec::new();
    for handler in ["agent1", "agent2"] {
        let (st, t) = api
            .post(
                "/tasks",
                "sup1",
                json!({"campaign": "renewals", "task_type": "call", "customer_id": "C9", "handler": handler}),
            )
            .await;
        assert_eq!(st, 201, "{t}");
        ids.push(t["id"].as_u64().unwrap());
    }
    let (st, list) = api.get("/tasks?campaign=renewals", "agent1").await;
    assert_eq!(st, 200);
    let handlers: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["handler"].as_str().unwrap())
        .collect();
    assert_eq!(handlers, ["agent1"], "{list}");
    let (_, list) = api
        .get("/tasks?campaign=renewals&handler=agent2", "agent1")
        .await;
    assert_eq!(list.as_array().unwrap().len(), 0, "{list}");
    let (st, _) = api.get(&format!("/tasks/{}", ids[0]), "agent1").await;
    assert_eq!(st, 200);
    // Another agent's task reads like one that does not exist.
    let (st, e) = api.get(&format!("/tasks/{}", ids[1]), "agent1").await;
    assert_eq!(
        (st, e["message"].as_str()),
        (404, Some(format!("there is no task {}", ids[1]).as_str()))
    );
    let (st, _) = api
        .call(
            "PATCH",
            &format!("/tasks/{}", ids[1]),
            Some("agent1"),
            Some(json!({"status": "done"})),
        )
        .await;
    assert_eq!(st, 404);
    // Supervisors and analysts see every task.
    let (_, list) = api.get("/tasks?campaign=renewals", "sup1").await;
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    api.state.workorders.stop().await;
}

#[tokio::test]
async fn the_summary_needs_a_token_or_a_signed_link() {
    let api = serve().await;
    let (_, o) = api.post("/workorders", "agent1", complaint_body()).await;
    let n = o["number"].as_str().unwrap().to_string();
    // Sequential numbers are no secret: without a token, no summary.
    let (st, e) = api
        .call("GET", &format!("/workorders/{n}/summary"), None, None)
        .await;
    assert_eq!(st, 401, "{e}");
    // The signed link handed out with the order opens it...
    let link = o["summary_link"].as_str().unwrap().to_string();
    assert!(
        link.starts_with(&format!("/api/v1/workorders/{n}/summary?sig=")),
        "{link}"
    );
    let url = format!("http://{}{link}", api.addr);
    let r = reqwest::get(&url).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let sm: Value = r.json().await.unwrap();
    assert_eq!(sm["state"], "new");
    // ...and only that order; a wrong signature is a missing order.
    let (_, other) = api.post("/workorders", "agent1", complaint_body()).await;
    let m = other["number"].as_str().unwrap();
    let sig = link.rsplit('=').next().unwrap();
    for path in [
        format!("/workorders/{m}/summary?sig={sig}"),
        format!("/workorders/{n}/summary?sig=00112233445566778899aabbccddeeff"),
        format!("/workorders/20990101000001/summary?sig={sig}"),
    ] {
        let (st, e) = api.call("GET", &path, None, None).await;
        assert_eq!(st, 404, "{path}: {e}");
    }
    api.state.workorders.stop().await;
}

/// Sends a request head (and `body`) on a raw connection; the status line that
/// comes back within `wait`, if any.
async fn raw_status(
    addr: std::net::SocketAddr,
    head: &str,
    body: &[u8],
    wait: std::time::Duration,
) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    let _ = s.write_all(body).await;
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(wait, s.read(&mut buf))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&buf[..n]).to_string();
    text.lines().next().map(str::to_string)
}

#[tokio::test]
async fn deploy_checks_the_token_before_reading_the_body() {
    let api = serve().await;
    let wait = std::time::Duration::from_secs(3);
    // Anonymous and unknown-token uploads of 500 MB are refused at the headers:
    // the answer comes while the body has hardly started.
    let chunk = vec![0u8; 64 * 1024];
    for auth in ["", "Authorization: Bearer nobody\r\n"] {
        let head = format!(
            "POST /api/v1/deploy HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 500000000\r\n\r\n"
        );
        let status = raw_status(api.addr, &head, &chunk, wait).await;
        assert_eq!(
            status.as_deref(),
            Some("HTTP/1.1 401 Unauthorized"),
            "{auth}"
        );
    }
    // A known user of a role that may not deploy: 403, also before the body.
    let head = "POST /api/v1/deploy HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-agent1\r\nContent-Length: 500000000\r\n\r\n";
    let status = raw_status(api.addr, head, &chunk, wait).await;
    assert_eq!(status.as_deref(), Some("HTTP/1.1 403 Forbidden"));
    // An analyst announcing more than the limit: 413 at once.
    let head = "POST /api/v1/deploy HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-ana1\r\nContent-Length: 500000000\r\n\r\n";
    let status = raw_status(api.addr, head, &chunk, wait).await;
    assert_eq!(status.as_deref(), Some("HTTP/1.1 413 Payload Too Large"));
    // Chunked (no length announced) past the limit: refused once the limit is in,
    // and the partial upload is gone.
    let version = api.state.program.version();
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(api.addr).await.unwrap();
        let head = "POST /api/v1/deploy HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-ana1\r\nTransfer-Encoding: chunked\r\n\r\n";
        s.write_all(head.as_bytes()).await.unwrap();
        let (mut rd, mut wr) = s.into_split();
        let writer = tokio::spawn(async move {
            let chunk = [b"10000\r\n".as_slice(), &[7u8; 0x10000], b"\r\n"].concat();
            for _ in 0..max_bundle() / 0x10000 + 20 {
                if wr.write_all(&chunk).await.is_err() {
                    return;
                }
            }
            let _ = wr.write_all(b"0\r\n\r\n").await;
        });
        let mut buf = vec![0u8; 1024];
        // The connection may be reset before the answer is read; if it is read, it is 413.
        if let Ok(Ok(n)) = tokio::time::timeout(wait, rd.read(&mut buf)).await
            && n > 0
        {
            let text = String::from_utf8_lossy(&buf[..n]);
            assert!(text.starts_with("HTTP/1.1 413"), "{text}");
        }
        writer.abort();
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let left: Vec<_> = std::fs::read_dir(&api.upload_dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(api.state.program.version(), version, "nothing was deployed");
    // A real bundle goes through the disk and is deployed.
    let r = api
        .http
        .post(format!("{}/deploy", api.base))
        .bearer_auth("tok-ana1")
        .body(crate::workorder::tests::hotline_bundle().to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        200,
        "{}",
        r.text().await.unwrap_or_default()
    );
    api.state.workorders.stop().await;
}

/// Opens a TCP connection from a chosen loopback address.
async fn connect_from(
    from: &str,
    to: std::net::SocketAddr,
) -> std::io::Result<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(format!("{from}:0").parse().unwrap())?;
    socket.connect(to).await
}

/// True when the server closed the connection (EOF or reset) within `wait`.
async fn closed_within(s: &mut tokio::net::TcpStream, wait: std::time::Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 512];
    loop {
        match tokio::time::timeout(wait, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn idle_and_trickling_http_connections_are_closed_and_capped() {
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;
    let api = serve_with(HttpLimits {
        max_connections: 40,
        max_per_source: 10,
        header_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(10),
    })
    .await;
    // 200 idle connections from one address: 10 are kept, the rest closed at once.
    let mut idle = Vec::new();
    for _ in 0..200 {
        if let Ok(s) = connect_from("127.0.0.2", api.addr).await {
            idle.push(s);
        }
    }
    let mut kept = 0;
    for s in &mut idle {
        if !closed_within(s, Duration::from_millis(100)).await {
            kept += 1;
        }
    }
    assert!(kept <= 10, "{kept} idle connections kept from one address");
    // One byte every 300 ms never makes a request: closed after the header time-out.
    let mut trickle = connect_from("127.0.0.3", api.addr).await.unwrap();
    let started = std::time::Instant::now();
    let trickler = tokio::spawn(async move {
        for b in b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n".iter() {
            if trickle.write_all(&[*b]).await.is_err() {
                break;
            }
            if closed_within(&mut trickle, Duration::from_millis(300)).await {
                break;
            }
        }
        started.elapsed()
    });
    // Meanwhile the health check answers.
    let r = reqwest::Client::new()
        .get(format!("{}/health", api.base))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let took = trickler.await.unwrap();
    assert!(took < Duration::from_secs(3), "the trickle lasted {took:?}");
    // The idle ones that were kept are closed after the header time-out.
    for s in &mut idle {
        assert!(
            closed_within(s, Duration::from_secs(3)).await,
            "an idle connection stayed"
        );
    }
    let refused = api
        .state
        .stats
        .http_connections_refused
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(refused >= 190, "{refused}");
    api.shutdown.cancel();
    api.state.workorders.stop().await;
}

/// A new fault order of network_ops; its number.
async fn new_fault_order(api: &Api) -> String {
    let (st, o) = api
        .post(
            "/workorders",
            "agent1",
            json!({"kind": "fault_repair", "department": "network_ops",
                   "fields": {"phone": "13800138000", "fault_type": "no_signal"}}),
        )
        .await;
    assert_eq!(st, 201, "{o}");
    o["number"].as_str().unwrap().to_string()
}

/// Takes a fault order from `new` to `repaired`.
async fn repair(api: &Api, n: &str) {
    let t = format!("/workorders/{n}/transitions");
    for (who, body) in [
        (
            "agent1",
            json!({"transition": "dispatch", "department": "network_ops"}),
        ),
        ("ops1", json!({"transition": "accept"})),
        (
            "ops1",
            json!({"transition": "repaired", "fields": {"cause": "antenna"}}),
        ),
    ] {
        let (st, o) = api.post(&t, who, body).await;
        assert_eq!(st, 200, "{o}");
    }
}

#[tokio::test]
async fn a_return_that_needs_a_reason_is_refused_without_one() {
    let api = serve().await;
    let n = new_fault_order(&api).await;
    let t = format!("/workorders/{n}/transitions");
    repair(&api, &n).await;
    // `not_fixed: repaired -> repairing by agent, ivr return (reason required)`.
    for body in [
        json!({"transition": "not_fixed"}),
        json!({"transition": "not_fixed", "comment": "  "}),
    ] {
        let (st, e) = api.post(&t, "agent1", body).await;
        assert_eq!((st, e["field"].as_str()), (400, Some("comment")), "{e}");
    }
    let (st, o) = api
        .post(
            &t,
            "agent1",
            json!({"transition": "not_fixed", "comment": "still no signal"}),
        )
        .await;
    assert_eq!((st, o["state"].as_str()), (200, Some("repairing")), "{o}");
    api.shutdown.cancel();
}

#[tokio::test]
async fn an_orders_view_shows_the_messages_queued_for_it() {
    let api = serve().await;
    let n = new_fault_order(&api).await;
    let (_, o) = api.get(&format!("/workorders/{n}"), "agent1").await;
    assert_eq!(o["deliveries"], json!([]), "nothing queued yet: {o}");
    repair(&api, &n).await;
    // `on enter repaired -> notify sms to phone ...`: queued with the step.
    let (_, o) = api.get(&format!("/workorders/{n}"), "sup1").await;
    let d = o["deliveries"].as_array().cloned().unwrap_or_default();
    assert_eq!(d.len(), 1, "{o}");
    assert_eq!(d[0]["channel"], "sms");
    assert_eq!(d[0]["to"], "13800138000");
    assert_eq!(d[0]["status"], "queued");
    assert!(d[0]["id"].as_u64().is_some(), "{o}");
    assert!(
        d[0].get("body").is_none(),
        "the text stays in the outbox: {o}"
    );
    // An agent sees where it went masked, as the order's sensitive fields.
    let (_, o) = api.get(&format!("/workorders/{n}"), "agent1").await;
    assert_ne!(o["deliveries"][0]["to"], "13800138000", "{o}");
    // Lists stay lean.
    let (_, page) = api.get("/workorders?kind=fault_repair", "sup1").await;
    assert_eq!(page["items"][0]["number"], n.as_str(), "{page}");
    assert!(page["items"][0].get("deliveries").is_none(), "{page}");
}
