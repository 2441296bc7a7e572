//! Lookups through the real runtime against a local HTTP service: a list of
//! records read with `for each` up to its bound, and a service's 404 and empty
//! answers taken as "nothing found" under `not found -> answer` and as a failure
//! (the lookup's `else`) without it. Each call is a SIPp caller; what the flow
//! said is read from the call's trail.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::PathBuf;

use dialect_e2e::{TestServer, sipp_async, trail};

const PROJECT: &str = r#"
service billing {
  url "http://127.0.0.1:9/unused"
  get bills "/bills/{phone}" (phone: phone) -> list of { month: text, amount: money }
}

service crm {
  url "http://127.0.0.1:9/unused"
  not found -> answer
  get customer "/customers/{phone}" (phone: phone) -> { name: text, repair_at: datetime }
}

service strict {
  url "http://127.0.0.1:9/unused"
  get customer "/customers/{phone}" (phone: phone) -> { name: text }
}

flow bills on "100" {
  bills = lookup billing.bills(caller) else {
    say "billing is down"
    pause 60s
  }
  for each bill in bills (max 3) {
    say "bill", bill.month, money bill.amount
  }
  say "that is all"
  pause 60s
}

flow customer on "200" {
  c = lookup crm.customer(caller) else {
    say "crm is down"
    pause 60s
  }
  if known(c) {
    say "repair at", c.repair_at
  } else {
    say "no such customer"
  }
  pause 60s
}

flow strict_customer on "300" {
  c = lookup strict.customer(caller) else {
    say "strict failed"
    pause 60s
  }
  say "strict answered"
  pause 60s
}
"#;

/// A service that answers bills as a JSON array, a 404 for callers ending in
/// 404, an empty 200 for callers ending in 000, and a repair time otherwise.
async fn service() -> SocketAddr {
    use axum::extract::Path;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use axum::routing::get;
    let customer = |Path(phone): Path<String>| async move {
        if phone.ends_with("404") {
            StatusCode::NOT_FOUND.into_response()
        } else if phone.ends_with("000") {
            (StatusCode::OK, "").into_response()
        } else {
            axum::Json(
                serde_json::json!({ "name": "李四", "repair_at": "2026-12-07T14:30:00+08:00" }),
            )
            .into_response()
        }
    };
    let app = axum::Router::new()
        .route(
            "/billing/bills/{phone}",
            get(|| async {
                axum::Json(serde_json::json!([
                    { "month": "September", "amount": 58.5 },
                    { "month": "October", "amount": 61 },
                    { "month": "November", "amount": 12.25 },
                    { "month": "December", "amount": 99 }
                ]))
            }),
        )
        .route("/crm/customers/{phone}", get(customer))
        .route("/strict/customers/{phone}", get(customer));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    addr
}

/// The project in a folder of the test's own (`name`), as tests run side by side.
fn project(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("dialect-e2e-lookups-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("lookups.flow"), PROJECT).unwrap();
    dir
}

/// What the call from `caller` to `service` said, in order, from its trail.
async fn call(s: &TestServer, service: &'static str, caller: &'static str) -> Vec<String> {
    let run = sipp_async(
        "uac_long.xml",
        s.sip,
        1,
        1,
        vec![
            ("service", service.into()),
            ("caller", caller.into()),
            ("hold", "12000".into()),
        ],
        40,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.output);
    for _ in 0..100 {
        let contacts = s.contacts().await;
        if let Some(c) = contacts
            .iter()
            .find(|c| c.to_string().contains(caller) && c["end"].is_string())
        {
            return trail(c)
                .into_iter()
                .map(|(n, d)| format!("{n}: {d}"))
                .collect();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no contact record for {caller}: {:#?}", s.contacts().await)
}

fn said(trail: &[String]) -> Vec<String> {
    trail
        .iter()
        .filter_map(|l| l.split_once(": say ").map(|(_, s)| s.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_list_answer_a_404_and_an_empty_answer_reach_the_flow_as_declared() {
    let svc = service().await;
    let dir = project("answers");
    let s = TestServer::start(|c| {
        c.project = Some(dir.clone());
        c.services.clear();
        for name in ["billing", "crm", "strict"] {
            c.services
                .insert(name.into(), format!("http://{svc}/{name}"));
        }
    })
    .await;

    let (bills, missing, empty, strict_missing, strict_empty) = tokio::join!(
        call(&s, "100", "13800000001"),
        call(&s, "200", "13800000404"),
        call(&s, "200", "13811111000"),
        call(&s, "300", "13822222404"),
        call(&s, "300", "13833333000"),
    );

    // One lookup, three of the four bills (the bound), then on.
    assert!(
        bills.iter().any(|l| l.contains("(4 records)")),
        "{bills:#?}"
    );
    assert_eq!(
        said(&bills),
        [
            "bill September fifty-eight yuan and fifty fen",
            "bill October sixty-one yuan",
            "bill November twelve yuan and twenty-five fen",
            "that is all",
        ],
        "{bills:#?}"
    );

    // `not found -> answer`: a 404 and an empty 200 are answers with no record.
    assert_eq!(said(&missing), ["no such customer"], "{missing:#?}");
    assert!(
        missing.iter().any(|l| l.contains("nothing found")),
        "{missing:#?}"
    );
    assert_eq!(said(&empty), ["no such customer"], "{empty:#?}");

    // Without it, both are failures for the lookup's `else`.
    assert_eq!(
        said(&strict_missing),
        ["strict failed"],
        "{strict_missing:#?}"
    );
    assert!(
        strict_missing.iter().any(|l| l.contains("404")),
        "{strict_missing:#?}"
    );
    assert_eq!(said(&strict_empty), ["strict failed"], "{strict_empty:#?}");

    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_date_and_time_from_a_service_is_said_as_one() {
    let svc = service().await;
    let dir = project("datetime");
    let s = TestServer::start(|c| {
        c.project = Some(dir.clone());
        c.services.clear();
        for name in ["billing", "crm", "strict"] {
            c.services
                .insert(name.into(), format!("http://{svc}/{name}"));
        }
    })
    .await;
    let t = call(&s, "200", "13855555555").await;
    assert_eq!(
        said(&t),
        ["repair at December seventh, twenty twenty-six at two thirty PM"],
        "{t:#?}"
    );
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
