//! `dialect call` against the real runtime: the end-to-end harness starts the
//! hotline on loopback, the `dialect` binary calls 10000, the test reads what
//! it prints and types keys when the prompts it waits for are announced.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

/// Reads lines until one contains `needle`; every line read is added to `seen`.
async fn until(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    needle: &str,
    seen: &mut Vec<String>,
) {
    let found = tokio::time::timeout(Duration::from_secs(40), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let hit = line.contains(needle);
            seen.push(line);
            if hit {
                return true;
            }
        }
        false
    })
    .await;
    assert!(
        matches!(found, Ok(true)),
        "no line with {needle:?} in:\n{}",
        seen.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walks_the_hotline_from_the_terminal() {
    let server = dialect_e2e::TestServer::start(|_| {}).await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_dialect"))
        .args(["call", "10000"])
        .args(["--server", &server.sip.to_string()])
        .args(["--api", &format!("http://{}", server.http)])
        .args(["--token", &server.token])
        .args(["--from", "13912345678"])
        .args(["--rtp-ports", "32500-32599"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();

    // The language menu is announced as it starts playing: choose Chinese.
    until(&mut lines, "♪ language_choice: play welcome.wav", &mut seen).await;
    stdin.write_all(b"1\n").await.unwrap();
    until(&mut lines, "pressed 1", &mut seen).await;
    // The main menu: # hangs up.
    until(&mut lines, "play main_menu.wav", &mut seen).await;
    stdin.write_all(b"#\n").await.unwrap();
    until(&mut lines, "call ended: hangup by flow", &mut seen).await;
    until(&mut lines, "end: hangup by flow", &mut seen).await;
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("dialect call ends with the call")
        .unwrap();
    assert!(status.success());
    while let Ok(Some(l)) = lines.next_line().await {
        seen.push(l);
    }
    let out = seen.join("\n");

    // The live steps came in the order they happened, before the trail.
    let lookup = out.find("crm.customer").expect(&out);
    let choice = out.find("· language_choice: choice 1 (1)").expect(&out);
    let trail = out.find("IVR trail of contact").expect(&out);
    assert!(lookup < choice && choice < trail, "{out}");
    // The trail printed at the end is the contact record's.
    let contacts = server.contacts().await;
    assert_eq!(contacts.len(), 1);
    let c = &contacts[0];
    assert_eq!(c["caller"], "13912345678");
    assert_eq!(c["digits"], "1#");
    for (node, detail) in dialect_e2e::trail(c) {
        assert!(
            out.contains(&format!("{node}: {detail}")),
            "{node}: {detail} missing from:\n{out}"
        );
    }
    assert!(out.contains("keys: 1#"), "{out}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_nobody_answers_is_refused() {
    // Without a default number, a number no flow answers gets 404.
    let server = dialect_e2e::TestServer::start(|c| c.default_number = None).await;
    let out = Command::new(env!("CARGO_BIN_EXE_dialect"))
        .args(["call", "99999"])
        .args(["--server", &server.sip.to_string()])
        .args(["--api", &format!("http://{}", server.http)])
        .args(["--token", &server.token])
        .args(["--rtp-ports", "32600-32699"])
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("the server refused the call: 404"), "{text}");
    server.stop().await;
}
