//! SMPP throughput: PDUs encoded and decoded per second, and SMS submitted
//! per second through the client to the loopback SMSC with a window of 1 and
//! of 10 — answered at once, and answered 5 ms later as an SMSC across a
//! network would. Run with `cargo bench -p dialect-notify --bench smpp`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use dialect_notify::smpp::client::{SmppClient, SmppConfig};
use dialect_notify::smpp::pdu::{self, Body, Pdu, ShortMessage};
use dialect_notify::smpp::peer::{PeerConfig, SmscPeer};
use dialect_notify::smpp::text;

fn submit_pdu() -> Pdu {
    let encoded = text::encode("您的报修工单已受理，维修人员将尽快联系您。", 1)
        .unwrap_or_else(|e| panic!("{e}"));
    Pdu::request(
        7,
        Body::SubmitSm(ShortMessage {
            source_addr: "10086".into(),
            dest_addr_ton: 1,
            dest_addr_npi: 1,
            destination_addr: "8613800138000".into(),
            registered_delivery: 1,
            data_coding: encoded.data_coding,
            short_message: encoded.parts[0].clone(),
            ..ShortMessage::default()
        }),
    )
}

fn codec() {
    let pdu = submit_pdu();
    let n = 2_000_000u32;
    let mut buf = Vec::with_capacity(256);
    let start = Instant::now();
    for _ in 0..n {
        buf.clear();
        black_box(&pdu)
            .encode_into(&mut buf)
            .unwrap_or_else(|e| panic!("{e}"));
        black_box(&buf);
    }
    let encode = f64::from(n) / start.elapsed().as_secs_f64();
    let bytes = pdu.encode().unwrap_or_else(|e| panic!("{e}"));
    let start = Instant::now();
    for _ in 0..n {
        black_box(pdu::decode(black_box(&bytes)).unwrap_or_else(|e| panic!("{e}")));
    }
    let decode = f64::from(n) / start.elapsed().as_secs_f64();
    println!(
        "submit_sm of {} bytes: encode {:.2} M PDU/s, decode {:.2} M PDU/s",
        bytes.len(),
        encode / 1e6,
        decode / 1e6
    );
}

/// SMS per second through one client with `window`, `messages` in all from
/// 64 concurrent senders.
async fn submits(window: usize, delay: Option<Duration>, messages: usize) -> f64 {
    let mut peer = PeerConfig::new("bench", "secret");
    peer.answer_delay = delay;
    let smsc = SmscPeer::start(peer, 2700..=2799)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut config = SmppConfig::new("127.0.0.1", smsc.addr().port(), "bench", "secret");
    config.window = window;
    config.source_addr = "10086".into();
    let (client, mut receipts) = SmppClient::start(config);
    // Receipts are read as the runtime's worker reads them.
    tokio::spawn(async move { while receipts.recv().await.is_some() {} });
    client
        .wait_bound(Duration::from_secs(5))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let senders = 64;
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for s in 0..senders {
        let client = client.clone();
        tasks.spawn(async move {
            for i in (s..messages).step_by(senders) {
                client
                    .submit("8613800138000", &format!("工单 {i} 已受理"))
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap_or_else(|e| panic!("{e}"));
    }
    let rate = messages as f64 / start.elapsed().as_secs_f64();
    client.close().await;
    assert_eq!(smsc.log().messages.len(), messages);
    rate
}

fn main() {
    codec();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(async {
        for (label, delay, messages) in [
            ("answered at once", None, 20_000),
            ("answered after 5 ms", Some(Duration::from_millis(5)), 2_000),
        ] {
            let one = submits(1, delay, messages).await;
            let ten = submits(10, delay, messages).await;
            println!(
                "SMS submitted, {label}: window 1 {one:.0}/s, window 10 {ten:.0}/s, ratio {:.2}",
                ten / one
            );
        }
    });
}
