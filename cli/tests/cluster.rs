//! The cluster of `scripts/cluster.sh` on loopback: PostgreSQL, Kamailio in
//! front and three runtimes on 127.0.0.11–13. SIPp callers reach Kamailio;
//! the test checks that calls are spread over the runtimes, that a runtime
//! killed with SIGKILL gets no more calls while the survivors take them all,
//! that a runtime that stops answering (SIGSTOP) is skipped — a caller whose
//! INVITE went to it is moved to another — and that both rejoin once they
//! answer again. A second test kills the runtime running the workorder engine
//! and checks that another takes it over: changes sent to any runtime reach
//! it, and each order's escalation fires once, whichever runtime fires it.
//! A third runs the ACD on one runtime for an agent whose phone registered
//! with a second and callers on the others, and kills it with callers
//! waiting: a survivor takes over with the callers in their order and the
//! agent in their state. A fourth kills the dialer's runtime while a
//! campaign call rings: a survivor dials the other target, and no attempt is
//! placed twice. A fifth stops a runtime with a caller waiting (SIGSTOP: its
//! connections stay open, as behind a cut network): the ACD stops offering
//! the caller, and has them back when the runtime answers again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use dialect_e2e::{sipp, test_sip_port};

const NODES: u32 = 3;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The two tests use the same addresses: one cluster at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The cluster, stopped (and its folder removed) when the test ends.
struct Cluster {
    dir: PathBuf,
    front: std::net::SocketAddr,
    project: PathBuf,
    lease: &'static str,
    /// YAML added to every runtime's configuration.
    extra: String,
    _one: std::sync::MutexGuard<'static, ()>,
}

impl Cluster {
    fn script(&self, arg: &str) -> std::process::Output {
        Command::new(repo().join("scripts/cluster.sh"))
            .arg(arg)
            .env("DIALECT_CLUSTER_DIR", &self.dir)
            .env("DIALECT_FRONT", self.front.to_string())
            .env("DIALECT_NODES", NODES.to_string())
            .env("DIALECT_BIN", env!("CARGO_BIN_EXE_dialect"))
            .env("DIALECT_PROJECT", &self.project)
            .env("DIALECT_LEASE", self.lease)
            .env("DIALECT_EXTRA_CONFIG", &self.extra)
            .output()
            .expect("scripts/cluster.sh runs")
    }

    fn start() -> Cluster {
        Cluster::start_with(repo().join("flows/hotline"), "5s")
    }

    fn start_with(project: PathBuf, lease: &'static str) -> Cluster {
        Cluster::start_configured(project, lease, String::new())
    }

    fn start_configured(project: PathBuf, lease: &'static str, extra: String) -> Cluster {
        let one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        let dir = std::env::temp_dir().join(format!("dialect-cluster-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let front = std::net::SocketAddr::from(([127, 0, 0, 1], test_sip_port()));
        let cluster = Cluster {
            dir,
            front,
            project,
            lease,
            extra,
            _one: one,
        };
        let out = cluster.script("start");
        assert!(
            out.status.success(),
            "scripts/cluster.sh failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        cluster
    }

    fn pid(&self, node: u32) -> i32 {
        std::fs::read_to_string(self.dir.join(format!("node{node}/dialect.pid")))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    fn signal(&self, node: u32, signal: &str) {
        // The shell's own kill: no procps needed.
        let status = Command::new("sh")
            .args(["-c", &format!("kill {signal} {}", self.pid(node))])
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal} node {node}");
    }

    /// Starts node `node` again from its configuration, as the script did.
    fn restart(&self, node: u32) {
        let node_dir = self.dir.join(format!("node{node}"));
        let log = std::fs::File::create(node_dir.join("dialect.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_dialect"))
            .args(["run", "--config"])
            .arg(node_dir.join("dialect.yaml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        std::fs::write(node_dir.join("dialect.pid"), child.id().to_string()).unwrap();
        std::mem::forget(child);
    }

    /// Calls each node has taken so far (`None`: the node does not answer).
    fn calls(&self) -> Vec<Option<u64>> {
        (1..=NODES)
            .map(|n| {
                let out = Command::new("curl")
                    .args(["-sf", "-m", "2"])
                    .arg(format!("http://127.0.0.1{n}:8080/metrics"))
                    .output()
                    .ok()?;
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .find_map(|l| l.strip_prefix("dialect_calls_total "))
                    .and_then(|v| v.trim().parse().ok())
            })
            .collect()
    }

    /// A request to node `node`'s API as the cluster's admin: (status, body).
    fn api(
        &self,
        node: u32,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let token = std::fs::read_to_string(self.dir.join("admin-token")).unwrap();
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-m", "20", "-X", method, "-w", "\n%{http_code}"])
            .args(["-H", &format!("Authorization: Bearer {}", token.trim())])
            .arg(format!("http://127.0.0.1{node}:8080{path}"));
        if let Some(b) = body {
            cmd.args(["-H", "Content-Type: application/json", "-d", b]);
        }
        let out = String::from_utf8(cmd.output().unwrap().stdout).unwrap();
        let (body, status) = out.rsplit_once('\n').unwrap_or(("", "0"));
        (
            status.trim().parse().unwrap_or(0),
            serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
        )
    }

    /// The node running `service` now, waiting for one (at most 30 s), among
    /// the nodes not in `dead`.
    fn running(&self, service: &str, dead: &[u32]) -> u32 {
        for _ in 0..150 {
            for node in (1..=NODES).filter(|n| !dead.contains(n)) {
                let (status, health) = self.api(node, "GET", "/api/v1/health", None);
                let runs = health["cluster"]["runs"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                if status == 200 && runs.iter().any(|s| s == service) {
                    return node;
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("no runtime runs {service}");
    }

    /// Waits (at most 60 s) until node `node` answers its health check.
    fn wait_up(&self, node: u32) {
        for _ in 0..300 {
            let ok = Command::new("curl")
                .args(["-sf", "-m", "1"])
                .arg(format!("http://127.0.0.1{node}:8080/api/v1/health"))
                .output()
                .is_ok_and(|o| o.status.success());
            if ok {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("node {node} did not come back");
    }

    /// `n` IVR calls through Kamailio, 10 a second; every one must succeed.
    fn call(&self, n: u32, what: &str) {
        let run = sipp(
            "cluster_ivr.xml",
            self.front,
            n,
            10,
            &[("pcap", "/usr/share/sip-tester/dtmf_2833_1.pcap")],
            90,
        );
        assert_eq!(run.code, 0, "{what}: {}", run.output);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // A stopped node would hold up the script's stop.
        for node in 1..=NODES {
            if let Ok(pid) =
                std::fs::read_to_string(self.dir.join(format!("node{node}/dialect.pid")))
            {
                let _ = Command::new("sh")
                    .args(["-c", &format!("kill -CONT {} 2>/dev/null", pid.trim())])
                    .status();
            }
        }
        let _ = self.script("stop");
        // DIALECT_KEEP_CLUSTER=1 keeps the runtimes' logs for a look.
        if std::env::var_os("DIALECT_KEEP_CLUSTER").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn gained(before: &[Option<u64>], after: &[Option<u64>]) -> Vec<u64> {
    before
        .iter()
        .zip(after)
        .map(|(b, a)| a.unwrap_or(0).saturating_sub(b.unwrap_or(0)))
        .collect()
}

#[test]
fn calls_spread_over_the_runtimes_and_move_off_a_dead_or_stalled_one() {
    let cluster = Cluster::start();

    let before = cluster.calls();
    cluster.call(30, "three nodes");
    let spread = gained(&before, &cluster.calls());
    assert_eq!(spread.iter().sum::<u64>(), 30, "{spread:?}");
    assert!(
        spread.iter().all(|&n| n >= 5),
        "every runtime takes a share: {spread:?}"
    );

    // Node 3 dies: within the probing interval it gets no more calls, and no
    // caller notices.
    cluster.signal(3, "-KILL");
    std::thread::sleep(Duration::from_secs(3));
    let before = cluster.calls();
    assert_eq!(before[2], None, "node 3 is dead");
    cluster.call(30, "node 3 dead");
    let survivors = gained(&before, &cluster.calls());
    assert_eq!(survivors[0] + survivors[1], 30, "{survivors:?}");
    assert!(survivors[0] > 0 && survivors[1] > 0, "{survivors:?}");

    // Node 2 stalls (stops answering without closing anything): the INVITEs
    // sent to it before its probe fails time out and go to node 1.
    cluster.signal(2, "-STOP");
    cluster.call(20, "node 2 stalled");
    cluster.signal(2, "-CONT");

    // Both come back and take calls again.
    cluster.restart(3);
    cluster.wait_up(3);
    std::thread::sleep(Duration::from_secs(3));
    let before = cluster.calls();
    cluster.call(30, "all back");
    let back = gained(&before, &cluster.calls());
    assert_eq!(back.iter().sum::<u64>(), 30, "{back:?}");
    assert!(back.iter().all(|&n| n > 0), "every node rejoined: {back:?}");
}

/// A project whose orders escalate 3 s after they are created.
const ESCALATING: &str = r#"
flow main "入口" on "10000" {
  say "你好"
  hangup
}

workorder ticket "工单" {
  field phone: phone required
  state new "新建" initial limit 3s wall {
    escalate -> supervisor
  }
  state closed "已关闭" final
  transition close: new -> closed by agent, supervisor
}
"#;

/// Escalations in an order's history.
fn escalations(cluster: &Cluster, node: u32, number: &str) -> usize {
    let (status, history) = cluster.api(
        node,
        "GET",
        &format!("/api/v1/workorders/{number}/history"),
        None,
    );
    assert_eq!(status, 200, "{history}");
    history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "escalate")
        .count()
}

#[test]
fn the_workorder_engine_moves_to_a_survivor_and_each_timer_fires_once() {
    let project =
        std::env::temp_dir().join(format!("dialect-cluster-project-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&project);
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("main.flow"), ESCALATING).unwrap();
    let cluster = Cluster::start_with(project.clone(), "2s");

    let leader = cluster.running("workorders", &[]);
    let others: Vec<u32> = (1..=NODES).filter(|&n| n != leader).collect();
    let create = |node: u32| {
        let (status, o) = cluster.api(
            node,
            "POST",
            "/api/v1/workorders",
            Some(r#"{"kind": "ticket", "fields": {"phone": "13800000001"}}"#),
        );
        assert_eq!(status, 201, "create on node {node}: {o}");
        o["number"].as_str().unwrap().to_string()
    };

    // An order created through another runtime escalates once, fired by the
    // engine's runtime.
    let first = create(others[0]);
    let second = create(others[1]);
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(escalations(&cluster, others[0], &first), 1);
    assert_eq!(escalations(&cluster, others[1], &second), 1);
    let (status, counts) = cluster.api(others[0], "GET", "/api/v1/workorders/counts", None);
    assert_eq!(
        status, 200,
        "counts from the engine's memory, asked through another runtime: {counts}"
    );
    assert_eq!(counts["total_open"], 2, "{counts}");

    // The engine's runtime dies right after an order is created: the order's
    // timer falls due while no runtime runs the engine, and fires once on the
    // runtime that takes it over; the orders it already escalated do not
    // escalate again.
    let third = create(others[0]);
    cluster.signal(leader, "-KILL");
    let successor = cluster.running("workorders", &[leader]);
    assert_ne!(successor, leader);
    std::thread::sleep(Duration::from_secs(5));
    for number in [&first, &second, &third] {
        assert_eq!(
            escalations(&cluster, others[0], number),
            1,
            "order {number}"
        );
    }

    // Changes through either survivor reach the new engine.
    for node in &others {
        let (status, o) = cluster.api(
            *node,
            "POST",
            &format!("/api/v1/workorders/{third}/transitions"),
            Some(r#"{"transition": "close"}"#),
        );
        if status == 200 {
            assert_eq!(o["state"], "closed", "{o}");
        } else {
            assert_eq!(status, 409, "closed already by the other survivor: {o}");
        }
    }

    // A runtime without the cluster's section is refused the cluster's
    // database: it would run a second engine beside the cluster's.
    let node1 = std::fs::read_to_string(cluster.dir.join("node1/dialect.yaml")).unwrap();
    let store = node1
        .lines()
        .find(|l| l.trim_start().starts_with("store:"))
        .unwrap();
    let alone = cluster.dir.join("alone.yaml");
    std::fs::write(
        &alone,
        format!(
            "sip: {{ listen: \"127.0.0.19:5060\", tcp: false }}\nhttp: {{ listen: \"127.0.0.19:8080\" }}\ndata_dir: \"{}\"\nproject: \"{}\"\n{}\n",
            cluster.dir.join("alone").display(),
            project.display(),
            store.trim()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dialect"))
        .args(["run", "--config"])
        .arg(&alone)
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("used by a cluster"), "{said}");

    // A deploy to one runtime reaches the others within a moment.
    let numbers = |node: u32| {
        let (_, p) = cluster.api(node, "GET", "/api/v1/program", None);
        p["numbers"].as_array().cloned().unwrap_or_default()
    };
    let second = cluster.dir.join("second-project");
    std::fs::create_dir_all(&second).unwrap();
    std::fs::write(
        second.join("main.flow"),
        format!(
            "{ESCALATING}\nflow second \"第二\" on \"10001\" {{\n  say \"你好\"\n  hangup\n}}\n"
        ),
    )
    .unwrap();
    let bundle = cluster.dir.join("second.dlb");
    let compiled = Command::new(env!("CARGO_BIN_EXE_dialect"))
        .arg("compile")
        .arg(&second)
        .arg("-o")
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(compiled.status.success(), "{compiled:?}");
    let token = std::fs::read_to_string(cluster.dir.join("admin-token")).unwrap();
    let deployed = Command::new("curl")
        .args([
            "-sf",
            "-m",
            "30",
            "-H",
            &format!("Authorization: Bearer {}", token.trim()),
        ])
        .args([
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
        ])
        .arg(format!("@{}", bundle.display()))
        .arg(format!("http://127.0.0.1{}:8080/api/v1/deploy", others[0]))
        .output()
        .unwrap();
    assert!(deployed.status.success(), "{deployed:?}");
    for node in &others {
        let mut reached = false;
        for _ in 0..50 {
            if numbers(*node).iter().any(|n| n == "10001") {
                reached = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            reached,
            "the deploy reached node {node}: {:?}",
            numbers(*node)
        );
    }

    // The dead runtime comes back as one that forwards, running the
    // cluster's program rather than its project folder's.
    cluster.restart(leader);
    cluster.wait_up(leader);
    assert!(
        numbers(leader).iter().any(|n| n == "10001"),
        "{:?}",
        numbers(leader)
    );
    let (status, counts) = cluster.api(leader, "GET", "/api/v1/workorders/counts", None);
    assert_eq!(status, 200, "{counts}");
    assert_eq!(counts["total_open"], 2, "{counts}");
    assert_eq!(
        cluster.running("workorders", &[]),
        successor,
        "the engine stays where it is"
    );
    drop(cluster);
    let _ = std::fs::remove_dir_all(&project);
}

/// A project of one queue: 5000 waits in `support` for an agent with the
/// skill `general`.
const ONE_QUEUE: &str = r#"
skill general levels 1..5

queue support "Support" {
  skills general >= 1
  strategy longest_idle
  priority 0
  no answer 15s -> requeue first
}

flow entry "Entry" on "5000" {
  transfer queue support
}
"#;

const PHONE_PASSWORD: &str = "Phone-pass-42";

fn sip_of(node: u32) -> std::net::SocketAddr {
    format!("127.0.0.1{node}:5060").parse().unwrap()
}

/// Agent `agent`'s state on node `node` (asked of the ACD wherever it runs).
fn agent_state(cluster: &Cluster, node: u32, agent: &str) -> serde_json::Value {
    cluster
        .api(node, "GET", &format!("/api/v1/agents/{agent}"), None)
        .1
}

/// Waits (at most 30 s) until `agent` is in `state` as node `node` sees it.
fn wait_agent(cluster: &Cluster, node: u32, agent: &str, state: &str) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    for _ in 0..150 {
        last = agent_state(cluster, node, agent);
        if last["state"] == state {
            return last;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("agent {agent} is not {state} on node {node}: {last}");
}

/// The callers waiting in `support`, in queue order, as node `node` sees it.
fn waiting(cluster: &Cluster, node: u32) -> Vec<String> {
    let (_, queue) = cluster.api(node, "GET", "/api/v1/queues/support", None);
    queue["calls"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|c| c["caller"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Waits (at most 30 s) until `want` are waiting, in that order.
fn wait_waiting(cluster: &Cluster, node: u32, want: &[&str]) {
    let mut last = Vec::new();
    for _ in 0..150 {
        last = waiting(cluster, node);
        if last == want {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("waiting on node {node}: {last:?}, not {want:?}");
}

/// A caller from `caller` dialling 5000 on node `node`, on the line for
/// `hold_ms` after the runtime answers.
fn queued_caller(
    node: u32,
    caller: &'static str,
    hold_ms: u32,
) -> std::thread::JoinHandle<dialect_e2e::SippRun> {
    // One second of mu-law silence, played in a loop as the caller's voice.
    let voice =
        std::env::temp_dir().join(format!("dialect-cluster-voice-{}.ulaw", std::process::id()));
    std::fs::write(&voice, [0xffu8; 8000]).unwrap();
    std::thread::spawn(move || {
        sipp(
            "uac_talk.xml",
            sip_of(node),
            1,
            1,
            &[
                ("service", "5000"),
                ("caller", caller),
                ("tones", &voice.display().to_string()),
                ("hold", &hold_ms.to_string()),
            ],
            90,
        )
    })
}

/// The last contact record of node `node` from `caller`.
fn contact_of(cluster: &Cluster, node: u32, caller: &str) -> serde_json::Value {
    for _ in 0..50 {
        let (_, contacts) = cluster.api(node, "GET", "/api/v1/contacts", None);
        let found = contacts
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .find(|c| c["caller"] == caller && c["ended_ms"].is_number());
        if let Some(c) = found {
            return c;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("no finished contact from {caller} on node {node}");
}

/// Agent 7001 (skill general 3) added over node `api_node`'s API, their
/// phone registered with node `phone_node` (which learns the password from
/// the store) and answering `calls` calls as SIPp `uas_agent.xml`.
fn agent_7001(
    cluster: &Cluster,
    api_node: u32,
    phone_node: u32,
    calls: u32,
) -> std::process::Child {
    let (status, body) = cluster.api(
        api_node,
        "POST",
        "/api/v1/agents",
        Some(&format!(
            r#"{{"id":"7001","password":"{PHONE_PASSWORD}","skills":{{"general":3}}}}"#
        )),
    );
    assert_eq!(status, 200, "{body}");
    std::thread::sleep(Duration::from_secs(1));
    let port = dialect_e2e::register_port(sip_of(phone_node), "7001", PHONE_PASSWORD);
    Command::new("sipp")
        .arg("-sf")
        .arg(dialect_e2e::scenario("uas_agent.xml"))
        .args(["-i", "127.0.0.1", "-mi", "127.0.0.1"])
        .args(["-p", &port.to_string()])
        .args(["-mp", &dialect_e2e::sipp_media_port().to_string()])
        .args([
            "-m",
            &calls.to_string(),
            "-timeout",
            "120s",
            "-timeout_error",
            "-nostdin",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn one_acd_serves_every_runtime_and_a_survivor_takes_it_over_with_callers_in_place() {
    let project = std::env::temp_dir().join(format!("dialect-cluster-acd-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&project);
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("acd.flow"), ONE_QUEUE).unwrap();
    let cluster = Cluster::start_with(project.clone(), "2s");
    let first = cluster.running("acd", &[]);
    let others: Vec<u32> = (1..=NODES).filter(|n| *n != first).collect();
    let (phone_node, call_node) = (others[0], others[1]);

    // The agent is added on a runtime that does not run the ACD; their phone
    // registers with another (which learns the password from the store).
    let mut phone = agent_7001(&cluster, call_node, phone_node, 2);
    for op in ["sign_in", "ready"] {
        let (status, body) = cluster.api(
            phone_node,
            "POST",
            &format!("/api/v1/agents/7001/{op}"),
            Some("{}"),
        );
        assert_eq!(status, 200, "{op}: {body}");
    }
    let seen = wait_agent(&cluster, call_node, "7001", "ready");
    assert_eq!(seen["registered"], true, "{seen}");

    // A call on a third runtime reaches the agent's phone.
    let caller = queued_caller(call_node, "13900000000", 3_000)
        .join()
        .unwrap();
    assert_eq!(caller.code, 0, "{}", caller.output);
    let c = contact_of(&cluster, call_node, "13900000000");
    assert_eq!(c["agent"], "7001", "{c}");
    assert_eq!(c["queue"], "support", "{c}");

    // Two callers wait on two runtimes while the agent is not ready.
    wait_agent(&cluster, call_node, "7001", "ready");
    let (status, body) = cluster.api(
        call_node,
        "POST",
        "/api/v1/agents/7001/not_ready",
        Some(r#"{"reason":"meeting"}"#),
    );
    assert_eq!(status, 200, "{body}");
    let early = queued_caller(call_node, "13900000001", 25_000);
    wait_waiting(&cluster, phone_node, &["13900000001"]);
    let late = queued_caller(phone_node, "13900000002", 25_000);
    wait_waiting(&cluster, phone_node, &["13900000001", "13900000002"]);

    // The ACD's runtime dies: a survivor takes the ACD over, the callers keep
    // their order, and the agent is back as they were, not ready.
    cluster.signal(first, "-KILL");
    let second = cluster.running("acd", &[first]);
    assert_ne!(second, first);
    let seen = wait_agent(&cluster, call_node, "7001", "not_ready");
    assert!(
        seen["reason"].as_str().unwrap().starts_with("meeting"),
        "{seen}"
    );
    wait_waiting(&cluster, call_node, &["13900000001", "13900000002"]);

    // Ready again: the earlier caller is offered and answered first.
    let (status, body) = cluster.api(phone_node, "POST", "/api/v1/agents/7001/ready", Some("{}"));
    assert_eq!(status, 200, "{body}");
    wait_waiting(&cluster, phone_node, &["13900000002"]);
    let early = early.join().unwrap();
    assert_eq!(early.code, 0, "{}", early.output);
    let c = contact_of(&cluster, call_node, "13900000001");
    assert_eq!(c["agent"], "7001", "{c}");
    let late = late.join().unwrap();
    assert_eq!(late.code, 0, "{}", late.output);
    let _ = phone.kill();
    let _ = phone.wait();
    drop(cluster);
    let _ = std::fs::remove_dir_all(&project);
}

#[test]
fn the_dialer_moves_to_a_survivor_and_no_attempt_is_placed_twice() {
    // Every call rings until it is cancelled; one line per runtime.
    let carrier = dialect_e2e::FakeCarrier::start("127.0.0.5", dialect_e2e::CarrierAnswer::Ring);
    let project = dialect_e2e::campaign_project("retry no answer every 1h max 2");
    let cluster = Cluster::start_configured(
        project.clone(),
        "2s",
        format!(
            "dialer: {{ max_channels: 1, tick: 100ms }}\n\
             trunks: [{{ name: carrier, host: \"{}\", caller_id: \"10000\" }}]",
            carrier.addr
        ),
    );
    let dialler = cluster.running("dialer", &[]);
    let other = (1..=NODES).find(|n| *n != dialler).unwrap();
    let token = std::fs::read_to_string(cluster.dir.join("admin-token")).unwrap();
    let imported = Command::new("curl")
        .args(["-sf", "-m", "30", "-H"])
        .arg(format!("Authorization: Bearer {}", token.trim()))
        .args(["-H", "Content-Type: text/csv", "--data-binary"])
        .arg("手机号码,客户姓名,欠费金额\n13800000041,甲,50\n13800000042,乙,60\n")
        .arg(format!(
            "http://127.0.0.1{other}:8080/api/v1/campaigns/reminder/lists"
        ))
        .output()
        .unwrap();
    assert!(imported.status.success(), "{imported:?}");
    let (status, body) = cluster.api(other, "POST", "/api/v1/campaigns/reminder/start", None);
    assert_eq!(status, 200, "{body}");
    let dialled = |n: usize| {
        for _ in 0..150 {
            if carrier.dialled().len() >= n {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        carrier.dialled()
    };
    assert_eq!(dialled(1), vec!["13800000041"]);

    // The dialer's runtime dies while the first call rings; a survivor takes
    // the dialer over, releases the dead runtime's claim uncounted, and dials
    // the other target once.
    cluster.signal(dialler, "-KILL");
    let successor = cluster.running("dialer", &[dialler]);
    assert_ne!(successor, dialler);
    assert_eq!(dialled(2), vec!["13800000041", "13800000042"]);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        carrier.dialled(),
        vec!["13800000041", "13800000042"],
        "no attempt placed twice"
    );
    let (status, t) = cluster.api(
        successor,
        "GET",
        "/api/v1/campaigns/reminder/targets/1",
        None,
    );
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["state"], "pending", "{t}");
    assert_eq!(t["attempts"], 0, "the interrupted call is not counted: {t}");
    assert!(
        t["why_not"].to_string().contains("retry_at"),
        "due again later: {t}"
    );
    drop(cluster);
    let _ = std::fs::remove_dir_all(&project);
}

#[test]
fn a_runtime_cut_off_from_the_acd_gets_its_waiting_caller_back_when_it_returns() {
    let project =
        std::env::temp_dir().join(format!("dialect-cluster-stall-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&project);
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("acd.flow"), ONE_QUEUE).unwrap();
    let cluster = Cluster::start_with(project.clone(), "2s");
    let acd = cluster.running("acd", &[]);
    let others: Vec<u32> = (1..=NODES).filter(|n| *n != acd).collect();
    let (phone_node, cut_off) = (others[0], others[1]);
    let mut phone = agent_7001(&cluster, acd, phone_node, 1);
    for (op, body) in [("sign_in", "{}"), ("not_ready", r#"{"reason":"break"}"#)] {
        let (status, answer) = cluster.api(
            acd,
            "POST",
            &format!("/api/v1/agents/7001/{op}"),
            Some(body),
        );
        assert_eq!(status, 200, "{op}: {answer}");
    }
    let caller = queued_caller(cut_off, "13900000005", 30_000);
    wait_waiting(&cluster, acd, &["13900000005"]);

    // The caller's runtime stops answering (its connection stays open, as
    // behind a cut network): the ACD stops offering its caller.
    cluster.signal(cut_off, "-STOP");
    wait_waiting(&cluster, acd, &[]);
    cluster.signal(cut_off, "-CONT");
    // Back: the caller waits again, and is answered once the agent is ready.
    wait_waiting(&cluster, acd, &["13900000005"]);
    let (status, body) = cluster.api(acd, "POST", "/api/v1/agents/7001/ready", Some("{}"));
    assert_eq!(status, 200, "{body}");
    wait_agent(&cluster, acd, "7001", "talking");
    let caller = caller.join().unwrap();
    assert_eq!(caller.code, 0, "{}", caller.output);
    let c = contact_of(&cluster, cut_off, "13900000005");
    assert_eq!(c["agent"], "7001", "{c}");
    let _ = phone.kill();
    let _ = phone.wait();
    drop(cluster);
    let _ = std::fs::remove_dir_all(&project);
}
