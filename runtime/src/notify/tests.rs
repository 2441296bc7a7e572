//! The outbox worker against real peers on loopback: aiosmtpd (ports
//! 2500–2599), the SMPP test SMSC (2700–2799), an HTTP gateway (2800–2899);
//! entries written by the flows' own writer (`crate::call::outbox`).

use std::sync::Arc;
use std::time::Duration;

use dialect_compiler::ir::NotifyChannel;
use dialect_notify::smpp::peer::{PeerConfig, SmscPeer};
use dialect_notify::smtp_sink::MailSink;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::store::SledStore;

struct Fixture {
    store: SharedStore,
    dir: std::path::PathBuf,
    shutdown: CancellationToken,
    worker: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.shutdown.cancel();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn store() -> (SharedStore, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "dialect-notify-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let store: SharedStore = Arc::new(SledStore::open(&dir).unwrap());
    (store, dir)
}

/// The `notify` section from YAML, with quick polls and retries.
fn config(yaml: &str) -> NotifyConfig {
    let text = format!(
        "notify:\n  poll: 20ms\n  retry: {{ first: 100ms, max: 400ms, attempts: 3 }}\n{yaml}"
    );
    crate::config::Config::parse(std::path::Path::new("test.yaml"), &text)
        .unwrap()
        .notify
}

fn start(config: &NotifyConfig) -> Fixture {
    let (store, dir) = store();
    let shutdown = CancellationToken::new();
    let worker = Some(spawn(store.clone(), config, shutdown.clone()));
    Fixture {
        store,
        dir,
        shutdown,
        worker,
    }
}

impl Fixture {
    async fn queue(
        &self,
        contact: u64,
        channel: NotifyChannel,
        to: &str,
        subject: Option<&str>,
        body: &str,
    ) -> u64 {
        crate::call::outbox(&self.store, contact, channel, to, subject, body, &[]).await;
        let all = self
            .store
            .range(OUTBOX, &[], &[0xFF; 9], usize::MAX, false)
            .unwrap();
        let (k, _) = all.last().unwrap();
        u64::from_be_bytes(<[u8; 8]>::try_from(k.as_slice()).unwrap())
    }

    /// Waits until entry `id` reaches `status`; returns it as it is then.
    async fn wait(&self, id: u64, status: Status, within: Duration) -> OutboxEntry {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let e = get(&*self.store, id).unwrap().unwrap();
            if e.status == status || tokio::time::Instant::now() >= deadline {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(w) = self.worker.take() {
            let _ = w.await;
        }
    }
}

fn smpp_yaml(peer: &SmscPeer, password: &str) -> String {
    format!(
        "  sms:\n    smpp: {{ host: 127.0.0.1, port: {}, system_id: dialect, password: {password}, source_addr: \"10086\", response_timeout: 1s }}\n",
        peer.addr().port()
    )
}

#[tokio::test]
async fn an_email_reaches_the_mail_server_and_is_marked_sent() {
    let sink = MailSink::start(2500..=2599).expect("aiosmtpd");
    let f = start(&config(&format!(
        "  email: {{ host: 127.0.0.1, port: {}, from: \"热线 <hotline@example.cn>\" }}\n",
        sink.port()
    )));
    let id = f
        .queue(
            41,
            NotifyChannel::Email,
            "ops@example.cn",
            Some("工单 42 已超时"),
            "请尽快处理。",
        )
        .await;
    let e = f.wait(id, Status::Sent, Duration::from_secs(10)).await;
    assert_eq!(e.status, Status::Sent, "{e:?}");
    assert_eq!(e.attempts, 1);
    assert_eq!(e.contact, 41);
    assert!(e.sent_ms.is_some());
    let mails = sink.wait_mails(1, Duration::from_secs(5)).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].subject, "工单 42 已超时");
    assert_eq!(mails[0].from, "热线 <hotline@example.cn>");
    assert_eq!(e.message_ids, vec![mails[0].message_id.clone()]);
    assert_eq!(
        mails[0].body.as_deref().map(str::trim_end),
        Some("请尽快处理。")
    );
}

#[tokio::test]
async fn an_sms_is_delivered_by_its_receipt() {
    let smsc = SmscPeer::start(PeerConfig::new("dialect", "secret"), 2700..=2799)
        .await
        .unwrap();
    let f = start(&config(&smpp_yaml(&smsc, "secret")));
    let text: String = "您的报修已受理，维修人员将在两小时内联系您。"
        .chars()
        .cycle()
        .take(100)
        .collect();
    let id = f
        .queue(9, NotifyChannel::Sms, "8613800138000", None, &text)
        .await;
    let e = f.wait(id, Status::Delivered, Duration::from_secs(10)).await;
    assert_eq!(e.status, Status::Delivered, "{e:?}");
    assert_eq!(e.message_ids.len(), 2, "two UCS-2 parts");
    assert_eq!(e.receipts.len(), 2);
    assert!(e.receipts.values().all(|s| s == "DELIVRD"));
    assert!(e.done_ms.is_some());
    let log = smsc.log();
    assert_eq!(log.messages.len(), 1);
    assert_eq!(log.messages[0].text, text);
    assert_eq!(log.messages[0].from, "10086");
    assert_eq!(log.messages[0].message_ids, e.message_ids);
}

#[tokio::test]
async fn an_undeliverable_receipt_is_visible() {
    let mut peer = PeerConfig::new("dialect", "secret");
    peer.receipt_state = dialect_notify::smpp::pdu::MessageState::Undeliverable;
    let smsc = SmscPeer::start(peer, 2700..=2799).await.unwrap();
    let f = start(&config(&smpp_yaml(&smsc, "secret")));
    let id = f
        .queue(
            9,
            NotifyChannel::Sms,
            "8613800138000",
            None,
            "Order 42 closed",
        )
        .await;
    let e = f
        .wait(id, Status::Undeliverable, Duration::from_secs(10))
        .await;
    assert_eq!(e.status, Status::Undeliverable, "{e:?}");
    let why = e.last_error.unwrap_or_default();
    assert!(
        why.contains("UNDELIV") && why.contains("error 001"),
        "{why}"
    );
}

#[tokio::test]
async fn a_link_dropped_mid_send_is_retried_and_the_sms_not_lost() {
    let mut peer = PeerConfig::new("dialect", "secret");
    peer.drop_on_submit = Some(1);
    let smsc = SmscPeer::start(peer, 2700..=2799).await.unwrap();
    // Retries slower than the client's first reconnect (1 s), as in service.
    let mut cfg = config(&smpp_yaml(&smsc, "secret"));
    cfg.retry.first = crate::config::Duration(Duration::from_millis(600));
    cfg.retry.max = crate::config::Duration(Duration::from_secs(2));
    cfg.retry.attempts = 5;
    let f = start(&cfg);
    let id = f
        .queue(3, NotifyChannel::Sms, "8613800138000", None, "retry me")
        .await;
    let e = f.wait(id, Status::Delivered, Duration::from_secs(10)).await;
    assert_eq!(e.status, Status::Delivered, "{e:?}");
    assert!(
        e.attempts >= 2,
        "a second attempt after the lost link: {e:?}"
    );
    let log = smsc.log();
    assert_eq!(log.dropped, 1);
    assert!(log.connections >= 2, "the client reconnected");
    assert!(
        log.messages.iter().filter(|m| m.text == "retry me").count() >= 1,
        "the message arrived at least once"
    );
}

#[tokio::test]
async fn without_a_gateway_an_sms_stays_queued_and_says_why() {
    let f = start(&config(""));
    let id = f
        .queue(5, NotifyChannel::Sms, "8613800138000", None, "hello")
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let e = loop {
        let e = get(&*f.store, id).unwrap().unwrap();
        if e.last_error.is_some() || tokio::time::Instant::now() >= deadline {
            break e;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(e.status, Status::Queued);
    assert_eq!(e.last_error.as_deref(), Some("no sms gateway configured"));
    assert_eq!(e.attempts, 0, "waiting for a gateway is not an attempt");
    let listed = query(&*f.store, Some(5), Some(Status::Queued), 10, 100).unwrap();
    assert_eq!(listed.len(), 1);
}

#[tokio::test]
async fn attempts_run_out_into_failed_with_the_last_error() {
    // An SMSC that refuses the password: every attempt fails, none succeeds.
    let smsc = SmscPeer::start(PeerConfig::new("dialect", "right"), 2700..=2799)
        .await
        .unwrap();
    let f = start(&config(&smpp_yaml(&smsc, "wrong")));
    let id = f
        .queue(5, NotifyChannel::Sms, "8613800138000", None, "hello")
        .await;
    let e = f.wait(id, Status::Failed, Duration::from_secs(15)).await;
    assert_eq!(e.status, Status::Failed, "{e:?}");
    assert_eq!(e.attempts, 3);
    let why = e.last_error.unwrap_or_default();
    assert!(
        why.contains("not bound") || why.contains("invalid password"),
        "{why}"
    );
    assert!(smsc.log().messages.is_empty());
}

#[tokio::test]
async fn an_entry_left_sending_by_a_crash_is_sent_again_after_a_restart() {
    let smsc = SmscPeer::start(PeerConfig::new("dialect", "secret"), 2700..=2799)
        .await
        .unwrap();
    let cfg = config(&smpp_yaml(&smsc, "secret"));
    let (store, dir) = store();
    // What a crash after the `sending` commit leaves behind.
    crate::call::outbox(
        &store,
        1,
        NotifyChannel::Sms,
        "8613800138000",
        None,
        "once more",
        &[],
    )
    .await;
    let id = 1;
    let mut e = get(&*store, id).unwrap().unwrap();
    e.status = Status::Sending;
    e.attempts = 1;
    let mut b = Batch::new();
    b.put_json(OUTBOX, key(id), &e);
    store.commit(b).unwrap();
    let shutdown = CancellationToken::new();
    let f = Fixture {
        worker: Some(spawn(store.clone(), &cfg, shutdown.clone())),
        store,
        dir,
        shutdown,
    };
    let e = f.wait(id, Status::Delivered, Duration::from_secs(10)).await;
    assert_eq!(e.status, Status::Delivered, "{e:?}");
    assert_eq!(e.attempts, 2);
    assert_eq!(smsc.log().messages.len(), 1);
}

#[tokio::test]
async fn an_http_gateway_takes_sms_and_the_worker_stops_cleanly() {
    use axum::Json;
    let got: Arc<std::sync::Mutex<Vec<serde_json::Value>>> = Arc::default();
    let seen = got.clone();
    let app = axum::Router::new().route(
        "/sms",
        axum::routing::post(move |Json(v): Json<serde_json::Value>| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(v);
                Json(serde_json::json!({ "message_id": "gw-77" }))
            }
        }),
    );
    let listener = dialect_notify::smpp::peer::bind_in(2800..=2899)
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut f = start(&config(&format!(
        "  sms: {{ http: {{ url: \"http://{addr}/sms\", token: t0k }} }}\n"
    )));
    let id = f
        .queue(2, NotifyChannel::Sms, "8613800138000", None, "您好")
        .await;
    let e = f.wait(id, Status::Sent, Duration::from_secs(10)).await;
    assert_eq!(e.status, Status::Sent, "{e:?}");
    assert_eq!(e.message_ids, vec!["gw-77".to_string()]);
    assert_eq!(
        got.lock().unwrap()[0],
        serde_json::json!({ "to": "8613800138000", "text": "您好", "id": format!("outbox-{id}") })
    );
    f.stop().await;
}

#[test]
fn back_off_doubles_up_to_the_maximum() {
    let s = Settings {
        retry_first: Duration::from_secs(30),
        retry_max: Duration::from_secs(3600),
        attempts: 8,
        poll: Duration::from_secs(1),
        concurrency: 1,
    };
    let waits: Vec<u64> = (1..=9).map(|a| s.backoff(a).as_secs()).collect();
    assert_eq!(waits, vec![30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
    assert_eq!(s.backoff(u32::MAX).as_secs(), 3600);
}

#[test]
fn entries_keep_fields_they_do_not_know() {
    let raw = serde_json::json!({
        "id": 4, "contact": 2, "channel": "email", "to": "a@b.cn", "subject": null,
        "body": "x", "queued_ms": 5, "workorder": 42
    });
    let e: OutboxEntry = serde_json::from_value(raw).unwrap();
    assert_eq!(e.status, Status::Queued);
    assert_eq!(e.next_try_ms, 0);
    let back = serde_json::to_value(&e).unwrap();
    assert_eq!(back["workorder"], 42);
    assert_eq!(back["status"], "queued");
    assert_eq!("failed".parse::<Status>(), Ok(Status::Failed));
    assert!("lost".parse::<Status>().is_err());
}
