//! `dialect report` and `dialect graph --stats` against a server that answers
//! `GET /api/v1/flow-stats` with figures of the hotline's main flow: the
//! request they send (path, period, flow, token), the table printed, and the
//! diagram coloured by the calls.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The step at the start of the line of `main.flow` that holds `needle`, as
/// the server names it.
fn step(needle: &str) -> String {
    let text = std::fs::read_to_string(repo().join("flows/hotline/main.flow")).unwrap();
    let (i, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(needle))
        .unwrap();
    let col = line.len() - line.trim_start().len() + 1;
    format!("main.flow:{}:{col}", i + 1)
}

/// The hotline's figures: 10 calls; 4 hang up in the language menu, 6 go on
/// to the main menu, 1 hangs up there, 5 go to the queue.
fn figures() -> serde_json::Value {
    let language = step("menu language_choice");
    let main = step("menu main ");
    let queue = step("0 -> transfer queue general");
    let node = |id: &str, name: &str, kind: &str, calls: u64, hangups: u64, to_agents: u64| {
        serde_json::json!({
            "id": id, "name": name, "kind": kind, "calls": calls, "visits": calls,
            "time_ms": calls * 4_000, "self_service": 0, "to_agents": to_agents,
            "hangups": hangups, "no_input_dtmf": 1, "no_match_dtmf": 0,
            "no_input_speech": 0, "no_match_speech": 0,
        })
    };
    serde_json::json!({
        "from_ms": 1_765_065_600_000i64, "to_ms": 1_765_152_000_000i64,
        "flows": [{
            "flow": "hotline", "calls": 10, "self_service": 0, "to_agents": 5,
            "transferred_out": 0, "to_flow": 0, "hung_up": 5, "failed": 0, "time_ms": 300_000,
            "nodes": [
                node(&language, "language_choice", "menu", 10, 4, 0),
                node(&main, "main", "menu", 6, 1, 5),
                node(&queue, "transfer queue general", "transfer", 5, 0, 5),
            ],
            "edges": [
                { "from": language, "to": main, "count": 6 },
                { "from": main, "to": queue, "count": 5 },
            ],
        }],
    })
}

/// Serves one request with `body`; sends the request line and headers back.
fn server(body: String) -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push_str(&line);
        }
        let _ = reader.get_mut().set_nonblocking(true);
        let mut rest = Vec::new();
        let _ = reader.read_to_end(&mut rest);
        write!(
            stream,
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        tx.send(head).unwrap();
    });
    (addr, rx)
}

fn dialect(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dialect"))
        .args(args)
        .env_remove("DIALECT_TOKEN")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn report_prints_the_menu_that_loses_callers_first() {
    let (addr, request) = server(figures().to_string());
    let project = repo().join("flows/hotline");
    let (ok, out, err) = dialect(&[
        "report",
        project.to_str().unwrap(),
        "--server",
        &addr,
        "--token",
        "t-analyst",
        "--from",
        "1796601600000",
        "--to",
        "2026-12-08T00:00:00Z",
        "--flow",
        "hotline",
    ]);
    assert!(ok, "{err}");
    let head = request.recv().unwrap();
    let first = head.lines().next().unwrap();
    assert!(first.starts_with("GET /api/v1/flow-stats?"), "{first}");
    assert!(first.contains("flow=hotline"), "{first}");
    assert!(first.contains("from=1796601600000"), "{first}");
    assert!(first.contains("to=1796688000000"), "{first}");
    assert!(
        head.to_lowercase()
            .contains("authorization: bearer t-analyst"),
        "{head}"
    );
    assert!(
        out.contains("flow hotline: 10 calls; self-service 0 (0.0%), to agents 5 (50.0%), hung up in the IVR 5 (50.0%)"),
        "{out}"
    );
    let rows: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("step"))
        .skip(1)
        .collect();
    assert_eq!(rows.len(), 3, "{out}");
    assert!(rows[0].starts_with("menu language_choice"), "{out}");
    assert!(rows[0].contains("4 (40.0%)"), "{out}");
    assert!(rows[1].starts_with("menu main"), "{out}");
    assert!(rows[1].contains("1 (16.7%)"), "{out}");
    assert!(rows[0].contains("(main.flow:35)"), "{out}");
}

#[test]
fn report_refuses_a_flow_the_project_does_not_have() {
    let project = repo().join("flows/hotline");
    let (ok, _, err) = dialect(&[
        "report",
        project.to_str().unwrap(),
        "--server",
        "127.0.0.1:9",
        "--token",
        "t",
        "--flow",
        "hotlin",
    ]);
    assert!(!ok);
    assert!(err.contains("did you mean `hotline`?"), "{err}");
    let (ok, _, err) = dialect(&[
        "report",
        project.to_str().unwrap(),
        "--server",
        "127.0.0.1:9",
        "--token",
        "t",
        "--from",
        "last tuesday",
    ]);
    assert!(!ok);
    assert!(err.contains("is not a time"), "{err}");
}

/// `dialect graph` of the hotline's main flow as Mermaid, with the figures
/// from `addr` since 2026-12-07.
fn hotline_mermaid_with_stats(project: &Path, addr: &str) -> (bool, String, String) {
    dialect(&[
        "graph",
        project.to_str().unwrap(),
        "hotline",
        "--format",
        "mermaid",
        "--stats",
        "2026-12-07T00:00:00Z..",
        "--server",
        addr,
        "--token",
        "t-analyst",
    ])
}

#[test]
fn graph_with_stats_colours_the_diagram_by_calls() {
    let (addr, request) = server(figures().to_string());
    let project = repo().join("flows/hotline");
    let (ok, out, err) = hotline_mermaid_with_stats(&project, &addr);
    assert!(ok, "{err}");
    let head = request.recv().unwrap();
    let first = head.lines().next().unwrap();
    assert!(first.contains("flow=hotline"), "{first}");
    assert!(first.contains("from=1796601600000"), "{first}");
    assert!(!first.contains("to="), "an open end: {first}");
    assert!(out.contains("▸ 10 calls · ✕ 4 hung up (40%)"), "{out}");
    assert!(out.contains("▸ 6 calls · ✕ 1 hung up (17%)"), "{out}");
    assert!(out.contains("classDef hung_up"), "{out}");
    assert!(
        out.contains("stroke-width:7.0px"),
        "the busiest edge: {out}"
    );
    assert!(out.contains("classDef unreached"), "{out}");
}

#[test]
fn graph_with_stats_draws_the_sub_flows_with_the_calls_through_them() {
    let main = step("menu main ");
    // `fee_inquiry`'s account collect, in fee.flow: 5 calls from the main
    // menu, 1 hangs up there.
    let text = std::fs::read_to_string(repo().join("flows/hotline/fee.flow")).unwrap();
    let (i, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains("account = collect"))
        .unwrap();
    let account = format!(
        "fee.flow:{}:{}",
        i + 1,
        line.len() - line.trim_start().len() + 1
    );
    let mut f = figures();
    let flow = &mut f["flows"][0];
    flow["nodes"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "id": account, "name": "collect account", "kind": "collect", "calls": 5, "visits": 5,
            "time_ms": 20_000, "self_service": 0, "to_agents": 0, "hangups": 1,
            "no_input_dtmf": 0, "no_match_dtmf": 0, "no_input_speech": 0, "no_match_speech": 0,
        }));
    flow["edges"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({ "from": main, "to": account, "count": 5 }));
    let (addr, _request) = server(f.to_string());
    let project = repo().join("flows/hotline");
    let (ok, out, err) = hotline_mermaid_with_stats(&project, &addr);
    assert!(ok, "{err}");
    assert!(
        out.contains("subgraph s0 [\"sub-flow fee_inquiry · ▸ 5 calls from here\"]"),
        "{out}"
    );
    assert!(out.contains("▸ 5 calls · ✕ 1 hung up (20%)"), "{out}");
    // The call counts the calls that went into it; flows called from other
    // choices are drawn too, with none.
    assert!(out.contains("call fee_inquiry()<br/>▸ 5 calls"), "{out}");
    assert!(
        out.contains("[\"sub-flow password_service · ▸ 0 calls from here\"]"),
        "{out}"
    );
    // `verify_password`, which `fee_inquiry` calls, inside it.
    assert!(
        out.contains("subgraph s0_s0 [\"sub-flow verify_password"),
        "{out}"
    );
}
