//! The live call progress route over real HTTP and WebSocket on loopback:
//! who may listen, the filter by Call-ID, and the bounds on listeners and input.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_util::sync::CancellationToken;

use crate::api::AppState;
use crate::call::{CallEvent, CallEventKind, CallEvents};
use crate::config::ApiUser;

fn user(name: &str, role: &str) -> ApiUser {
    ApiUser {
        name: name.into(),
        token: format!("t-{name}"),
        password: None,
        role: role.parse().expect("a role"),
        department: None,
        email: None,
        phone: None,
    }
}

struct Api {
    addr: std::net::SocketAddr,
    events: CallEvents,
    shutdown: CancellationToken,
}

/// The API on loopback with room for `listeners` listeners.
async fn serve(name: &str, listeners: usize) -> Api {
    let dir = std::env::temp_dir().join(format!("dialect-calls-api-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store: crate::store::SharedStore =
        Arc::new(crate::store::SledStore::open(&dir.join("db")).expect("a store"));
    let project = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../flows/hotline");
    let bundle = crate::deploy::compile_project(&project).expect("the hotline compiles");
    let slot = Arc::new(
        crate::deploy::ProgramSlot::new(&bundle, dialect_compiler::Engine::Native, BTreeMap::new())
            .expect("a program"),
    );
    let shutdown = CancellationToken::new();
    let (acd, _dials) = crate::acd::AcdHandle::spawn(
        dialect_acd::AcdConfig::default(),
        crate::acd::ProgramSource::Slot(slot.clone()),
        &[],
        store.clone(),
        None,
        shutdown.clone(),
    );
    let events = CallEvents::new(listeners);
    let state = AppState {
        access: Arc::new(crate::api::access::Access::new(
            &[],
            b"summary key".to_vec(),
            std::env::temp_dir(),
            1 << 20,
        )),
        call_events: events.clone(),
        ..crate::api::test_state(
            store.clone(),
            slot.clone(),
            &[user("ana", "analyst"), user("ops", "handler")],
            acd,
        )
        .await
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let addr = listener.local_addr().expect("an address");
    let app = crate::api::router(state);
    let s = shutdown.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move { s.cancelled().await })
            .await;
    });
    Api {
        addr,
        events,
        shutdown,
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl Api {
    /// The status of a plain GET, with `token` as `Authorization: Bearer`.
    async fn status(&self, query: &str, token: Option<&str>) -> u16 {
        let mut r =
            reqwest::Client::new().get(format!("http://{}/api/v1/calls/events{query}", self.addr));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.expect("an answer").status().as_u16()
    }

    /// A WebSocket subscription (with `token` as `Authorization: Bearer`), or
    /// the HTTP status that refused it.
    async fn listen(&self, query: &str, token: Option<&str>) -> Result<Ws, u16> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
        let url = format!("ws://{}/api/v1/calls/events{query}", self.addr);
        let mut request = url.into_client_request().expect("a request");
        if let Some(t) = token {
            request.headers_mut().insert(
                "authorization",
                format!("Bearer {t}").parse().expect("a header"),
            );
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((ws, _)) => Ok(ws),
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
            Err(e) => panic!("{e}"),
        }
    }

    /// A one-time ticket for `token`'s user.
    async fn ticket(&self, token: &str) -> String {
        let v: serde_json::Value = reqwest::Client::new()
            .post(format!("http://{}/api/v1/ws-tickets", self.addr))
            .bearer_auth(token)
            .send()
            .await
            .expect("an answer")
            .json()
            .await
            .expect("JSON");
        v["ticket"].as_str().expect("a ticket").to_string()
    }
}

async fn next_json(ws: &mut Ws) -> serde_json::Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a message in time")
            .expect("the socket is open")
            .expect("a message");
        if let WsMessage::Text(t) = m {
            return serde_json::from_str(t.as_str()).expect("JSON");
        }
    }
}

fn event(call_id: &str, kind: CallEventKind, detail: &str) -> CallEvent {
    CallEvent {
        call_id: call_id.into(),
        contact: 7,
        at_ms: 1,
        kind,
        node: "language_choice".into(),
        detail: detail.into(),
    }
}

#[tokio::test]
async fn listening_needs_a_history_reader() {
    let api = serve("auth", 4).await;
    assert_eq!(api.status("", None).await, 401);
    assert_eq!(api.status("", Some("nobody")).await, 401);
    assert_eq!(api.status("", Some("t-ops")).await, 403);
    assert_eq!(api.listen("", None).await.err(), Some(401));
    assert_eq!(api.listen("", Some("t-ops")).await.err(), Some(403));
    // Tokens are not taken in URLs, even a good one.
    assert_eq!(api.listen("?token=t-ana", None).await.err(), Some(401));
    // The right token on a plain GET: not a WebSocket upgrade, so not 200.
    let plain = api.status("", Some("t-ana")).await;
    assert!((400..500).contains(&plain), "{plain}");
    assert!(api.listen("", Some("t-ana")).await.is_ok());
    // A ticket opens one WebSocket; a handler's ticket opens none.
    let ticket = api.ticket("t-ana").await;
    assert!(api.listen(&format!("?ticket={ticket}"), None).await.is_ok());
    assert_eq!(
        api.listen(&format!("?ticket={ticket}"), None).await.err(),
        Some(401)
    );
    let ticket = api.ticket("t-ops").await;
    assert_eq!(
        api.listen(&format!("?ticket={ticket}"), None).await.err(),
        Some(403)
    );
    api.shutdown.cancel();
}

#[tokio::test]
async fn a_listener_hears_its_call_only_in_order() {
    let api = serve("filter", 4).await;
    let mut ws = api
        .listen("?call_id=abc%40host", Some("t-ana"))
        .await
        .expect("subscribed");
    let hello = next_json(&mut ws).await;
    assert_eq!(hello["event"], "subscribed");
    assert_eq!(hello["call_id"], "abc@host");
    api.events
        .send(event("other@host", CallEventKind::Prompt, "play other.wav"));
    api.events
        .send(event("abc@host", CallEventKind::Prompt, "play welcome.wav"));
    api.events
        .send(event("abc@host", CallEventKind::Ended, "hangup by flow"));
    let first = next_json(&mut ws).await;
    assert_eq!(first["kind"], "prompt");
    assert_eq!(first["detail"], "play welcome.wav");
    assert_eq!(first["call_id"], "abc@host");
    assert_eq!(first["contact"], 7);
    let second = next_json(&mut ws).await;
    assert_eq!(second["kind"], "ended");
    assert_eq!(second["detail"], "hangup by flow");
    api.shutdown.cancel();
}

#[tokio::test]
async fn listeners_are_bounded_and_inputs_too() {
    let api = serve("bounds", 1).await;
    let long = "x".repeat(super::MAX_CALL_ID + 1);
    assert_eq!(
        api.listen(&format!("?call_id={long}"), Some("t-ana"))
            .await
            .err(),
        Some(400)
    );
    let mut first = api.listen("", Some("t-ana")).await.expect("the one place");
    assert_eq!(next_json(&mut first).await["event"], "subscribed");
    assert_eq!(api.listen("", Some("t-ana")).await.err(), Some(503));

    // A client message over the limit ends the subscription and frees the place.
    let big = "y".repeat(super::MAX_CLIENT_MESSAGE * 4);
    let _ = first.send(WsMessage::text(big)).await;
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(_)) = first.next().await {}
    })
    .await;
    assert!(closed.is_ok(), "the server closes the subscription");
    let mut again = None;
    for _ in 0..50 {
        if let Ok(ws) = api.listen("", Some("t-ana")).await {
            again = Some(ws);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(again.is_some(), "the place came back");
    api.shutdown.cancel();
}
