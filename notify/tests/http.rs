//! The HTTP SMS adapter against a small gateway on loopback (ports 2800–2899).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers stop the test at the first surprise"
)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use dialect_notify::http::{HttpSms, HttpSmsConfig, HttpSmsError};
use dialect_notify::{Gateways, Outgoing, SmsGateway};

type Received = Arc<Mutex<Vec<(Option<String>, serde_json::Value)>>>;

/// A gateway that takes messages to numbers starting with 86, refuses
/// others with 400, and answers 503 to the number 503.
async fn gateway() -> (String, Received) {
    let received: Received = Arc::default();
    let app = axum::Router::new()
        .route(
            "/sms",
            axum::routing::post(
                |State(r): State<Received>,
                 headers: HeaderMap,
                 Json(v): Json<serde_json::Value>| async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|h| h.to_str().ok())
                        .map(str::to_string);
                    let to = v["to"].as_str().unwrap_or("").to_string();
                    r.lock().unwrap().push((auth, v));
                    if to == "503" {
                        (
                            StatusCode::SERVICE_UNAVAILABLE,
                            Json(serde_json::json!({"error": "busy"})),
                        )
                    } else if to.starts_with("86") {
                        (
                            StatusCode::OK,
                            Json(serde_json::json!({"message_id": "gw-1"})),
                        )
                    } else {
                        (
                            StatusCode::BAD_REQUEST,
                            Json(serde_json::json!({"error": "bad number"})),
                        )
                    }
                },
            ),
        )
        .with_state(received.clone());
    let listener = dialect_notify::smpp::peer::bind_in(2800..=2899)
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/sms"), received)
}

#[tokio::test]
async fn messages_are_posted_as_json_with_the_token() {
    let (url, received) = gateway().await;
    let sms = HttpSms::new(HttpSmsConfig {
        url,
        token: Some("s3cret".into()),
        timeout: Duration::from_secs(2),
    })
    .unwrap();
    let gateways = Gateways {
        sms: Some(SmsGateway::Http(sms.clone())),
        email: None,
    };
    let ids = gateways
        .send(&Outgoing::Sms {
            id: "outbox-7".into(),
            to: "8613800138000".into(),
            text: "您的工单已受理".into(),
        })
        .await
        .unwrap();
    assert_eq!(ids, vec!["gw-1".to_string()]);
    let got = received.lock().unwrap().clone();
    assert_eq!(got[0].0.as_deref(), Some("Bearer s3cret"));
    assert_eq!(
        got[0].1,
        serde_json::json!({"to": "8613800138000", "text": "您的工单已受理", "id": "outbox-7"})
    );

    let refused = sms.send("outbox-8", "123", "x").await.unwrap_err();
    assert!(matches!(refused, HttpSmsError::Refused { status: 400, .. }));
    assert!(refused.is_permanent());
    assert!(refused.to_string().contains("bad number"), "{refused}");
    let busy = sms.send("outbox-9", "503", "x").await.unwrap_err();
    assert!(!busy.is_permanent(), "a 503 is tried again later");
}

#[tokio::test]
async fn an_unreachable_gateway_is_a_transient_error() {
    // A port no server listens on (taken from the system's own range, so no
    // other test's gateway can be there).
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap();
    drop(free);
    let sms = HttpSms::new(HttpSmsConfig {
        url: format!("http://{addr}/sms"),
        token: None,
        timeout: Duration::from_secs(1),
    })
    .unwrap();
    let e = sms.send("1", "8613800138000", "x").await.unwrap_err();
    assert!(matches!(e, HttpSmsError::Unreachable(_)), "{e}");
    assert!(!e.is_permanent());
}

#[tokio::test]
async fn a_channel_without_a_gateway_says_so() {
    let e = Gateways::default()
        .send(&Outgoing::Sms {
            id: "1".into(),
            to: "1".into(),
            text: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.message, "no sms gateway configured");
    assert!(!e.permanent);
}
