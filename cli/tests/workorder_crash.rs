//! Crash test of the workorder store: `dialect run` on a temporary data dir, a
//! client creating and moving orders over the API from many connections, SIGKILL
//! at random moments, restart. After each restart every acknowledged change must be
//! there, and after the last one the stored orders must be consistent (histories,
//! indexes and open records match the orders' states). Run on sled and on
//! PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const KILLS: usize = 5;
const WORKERS: usize = 24;

/// What the server acknowledged of an order: its version and state then.
type Acked = Arc<Mutex<HashMap<String, (u64, String)>>>;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn start(config: &std::path::Path) -> Child {
    dialect_e2e::start_dialect(env!("CARGO_BIN_EXE_dialect"), config)
}

/// The next step of a complaint: (transition, token, extra body).
fn next_step(state: &str) -> Option<(&'static str, &'static str, Value)> {
    match state {
        "new" => Some((
            "dispatch",
            "tok-agent",
            json!({"department": "network_ops"}),
        )),
        "dispatched" => Some(("accept", "tok-ops", json!({}))),
        "processing" => Some((
            "reply",
            "tok-ops",
            json!({"fields": {"resolution": "fixed"}, "comment": "done"}),
        )),
        "replied" => Some(("close", "tok-agent", json!({}))),
        _ => None,
    }
}

/// Moves orders until a request fails (the server was killed).
async fn worker(
    http: reqwest::Client,
    base: String,
    acked: Acked,
    mut todo: Vec<(String, String)>,
) {
    loop {
        let (number, state) = match todo.pop() {
            Some(x) => x,
            None => {
                let body = json!({"kind": "complaint", "fields": {
                    "phone": "13800138000", "customer": "C1", "category": "network",
                    "description": "crash test", "id_number": "110101199001011234"}});
                let Ok(r) = http
                    .post(format!("{base}/workorders"))
                    .bearer_auth("tok-agent")
                    .json(&body)
                    .send()
                    .await
                else {
                    return;
                };
                if r.status().as_u16() != 201 {
                    return;
                }
                let Ok(o) = r.json::<Value>().await else {
                    return;
                };
                let n = o["number"].as_str().unwrap().to_string();
                acked.lock().unwrap().insert(n.clone(), (1, "new".into()));
                (n, "new".into())
            }
        };
        let Some((t, token, mut body)) = next_step(&state) else {
            continue;
        };
        body["transition"] = json!(t);
        body["from"] = json!(state);
        let Ok(r) = http
            .post(format!("{base}/workorders/{number}/transitions"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
        else {
            return;
        };
        let status = r.status().as_u16();
        if status != 200 {
            assert!(
                status >= 500 || status == 503,
                "unexpected {status} for {number}"
            );
            return;
        }
        let Ok(o) = r.json::<Value>().await else {
            return;
        };
        let v = o["version"].as_u64().unwrap();
        let s = o["state"].as_str().unwrap().to_string();
        acked.lock().unwrap().insert(number.clone(), (v, s.clone()));
        todo.push((number, s));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_changes_survive_sigkill() {
    crash_scenario("sled", None).await;
}

/// The same scenario with the store on PostgreSQL (a throwaway cluster on a
/// private socket): a SIGKILL of the runtime loses no acknowledged change there
/// either, and what is stored stays consistent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_changes_survive_sigkill_on_postgres() {
    let cluster = dialect_runtime::store::test_postgres::shared().unwrap_or_else(|e| panic!("{e}"));
    let url = cluster.create_database("workorder_crash").unwrap();
    crash_scenario("postgres", Some(url)).await;
}

/// Runs the kill-and-restart rounds on sled (`postgres` None) or on the
/// PostgreSQL database at that URL.
async fn crash_scenario(tag: &str, postgres: Option<String>) {
    let root = std::env::temp_dir().join(format!("dialect-wo-crash-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let project: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../flows/hotline");
    let http_port = free_port();
    let sip_port = free_port();
    let config = root.join("dialect.yaml");
    std::fs::write(
        &config,
        format!(
            "data_dir: {data}\n{store}project: {project}\n\
             http:\n  listen: 127.0.0.1:{http_port}\n\
             sip:\n  listen: 127.0.0.1:{sip_port}\n  tcp: false\n\
             speech:\n  tts: \"off\"\n  asr: \"off\"\n\
             logging:\n  level: warn\n\
             api_users:\n\
             \x20 - {{name: agent1, token: tok-agent, role: agent}}\n\
             \x20 - {{name: ops1, token: tok-ops, role: handler, department: network_ops}}\n\
             \x20 - {{name: sup1, token: tok-sup, role: supervisor}}\n",
            data = root.join("data").display(),
            store = match &postgres {
                Some(url) => format!("store: \"{url}\"\n"),
                None => String::new(),
            },
            project = project.display(),
        ),
    )
    .unwrap();
    let base = format!("http://127.0.0.1:{http_port}/api/v1");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(WORKERS)
        .build()
        .unwrap();
    let acked: Acked = Arc::new(Mutex::new(HashMap::new()));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ u64::from(std::process::id()));
    let mut resume: Vec<(String, String)> = Vec::new();
    let started = Instant::now();
    let mut changes = 0usize;

    for round in 0..=KILLS {
        let mut child = start(&config);
        dialect_e2e::wait_ready(&http, &base, &mut child).await;

        // Every change acknowledged before the last kill is there.
        let known: Vec<(String, (u64, String))> = acked
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        resume.clear();
        for (n, (v, s)) in &known {
            let r = http
                .get(format!("{base}/workorders/{n}"))
                .bearer_auth("tok-sup")
                .send()
                .await
                .unwrap();
            assert_eq!(
                r.status().as_u16(),
                200,
                "acknowledged order {n} is missing"
            );
            let o: Value = r.json().await.unwrap();
            let version = o["version"].as_u64().unwrap();
            let state = o["state"].as_str().unwrap();
            // A change sent but not acknowledged may or may not be there.
            assert!(
                version == *v && state == s || version == v + 1,
                "order {n}: acknowledged v{v} {s}, stored v{version} {state}"
            );
            // Fix what the worker knows to what is stored.
            acked
                .lock()
                .unwrap()
                .insert(n.clone(), (version, state.to_string()));
            if state != "closed" {
                resume.push((n.clone(), state.to_string()));
            }
        }
        if round == KILLS {
            // A last kill, then the consistency check of the whole store.
            child.kill().unwrap();
            child.wait().unwrap();
            break;
        }

        let before: u64 = acked.lock().unwrap().values().map(|(v, _)| *v).sum();
        let mut tasks = Vec::new();
        for w in 0..WORKERS {
            let todo: Vec<(String, String)> =
                resume.iter().skip(w).step_by(WORKERS).cloned().collect();
            tasks.push(tokio::spawn(worker(
                http.clone(),
                base.clone(),
                acked.clone(),
                todo,
            )));
        }
        let wait = 500 + rng.next() % 2000;
        tokio::time::sleep(Duration::from_millis(wait)).await;
        // SIGKILL.
        child.kill().unwrap();
        child.wait().unwrap();
        for t in tasks {
            tokio::time::timeout(Duration::from_secs(20), t)
                .await
                .expect("workers stop once the server is gone")
                .unwrap();
        }
        let after: u64 = acked.lock().unwrap().values().map(|(v, _)| *v).sum();
        changes += (after - before) as usize;
    }

    let orders = acked.lock().unwrap().len();
    assert!(orders >= 500, "only {orders} orders were acknowledged");
    eprintln!(
        "{tag}: {orders} orders, {changes} acknowledged changes, {KILLS} kills in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Histories, indexes and open records agree with the orders.
    let store: dialect_runtime::store::SharedStore = match &postgres {
        Some(url) => {
            let target = dialect_runtime::store::PgTarget::parse(url).unwrap();
            std::sync::Arc::new(
                tokio::task::spawn_blocking(move || {
                    dialect_runtime::store::PgStore::open(&target).unwrap()
                })
                .await
                .unwrap(),
            )
        }
        None => std::sync::Arc::new(
            dialect_runtime::store::SledStore::open(&root.join("data")).unwrap(),
        ),
    };
    let report = tokio::task::spawn_blocking(move || {
        dialect_runtime::workorder::check::check_store(&*store).unwrap()
    })
    .await
    .unwrap();
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
    assert!(report.orders >= orders);
    let _ = std::fs::remove_dir_all(&root);
}
