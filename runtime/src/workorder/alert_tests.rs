//! Reminders and escalations that leave: over the hotline's `fault_repair`
//! lifecycle, each fired timer queues an e-mail and an SMS for the people
//! behind the roles it names, in the batch that marks it fired, and says on
//! its notification row who could not be reached.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use super::tests::{hotline, store, user};
use super::{CreateRequest, TransitionRequest, WorkorderHandle};
use crate::config::{ApiUser, Role};
use crate::store::SharedStore;
use crate::time::PausableClock;
use crate::workorder::people::Directory;

/// 2026-11-20 (a Friday) 16:00 in Shanghai.
const FRIDAY_4PM: i64 = 1_795_161_600_000;

fn person(
    name: &str,
    role: Role,
    dept: Option<&str>,
    email: Option<&str>,
    phone: Option<&str>,
) -> ApiUser {
    ApiUser {
        name: name.into(),
        token: format!("t-{name}-0123456789abcdef"),
        password: None,
        role,
        department: dept.map(String::from),
        email: email.map(String::from),
        phone: phone.map(String::from),
    }
}

/// wang supervises (e-mail and phone); the dispatchers are zhao (e-mail),
/// li (no address) and ghost (no API user); h1 handles for network_ops.
fn people() -> Directory {
    let users = [
        person(
            "wang",
            Role::Supervisor,
            None,
            Some("wang@example.com"),
            Some("13900000001"),
        ),
        person("zhao", Role::Agent, None, Some("zhao@example.com"), None),
        person("li", Role::Agent, None, None, None),
        person(
            "h1",
            Role::Handler,
            Some("network_ops"),
            Some("h1@example.com"),
            None,
        ),
    ];
    let roles: BTreeMap<String, Vec<String>> = [(
        "dispatcher".to_string(),
        vec!["zhao".into(), "li".into(), "ghost".into()],
    )]
    .into_iter()
    .collect();
    Directory::new(&users, &roles)
}

async fn engine(s: &SharedStore, at: i64) -> WorkorderHandle {
    WorkorderHandle::start_with_people(
        s.clone(),
        hotline(),
        PausableClock::starting_at(at),
        people(),
    )
    .await
    .expect("the engine starts")
    .0
}

fn step(name: &str) -> TransitionRequest {
    TransitionRequest {
        transition: name.into(),
        ..TransitionRequest::default()
    }
}

/// Every outbox entry, oldest first.
fn outbox(s: &SharedStore) -> Vec<crate::notify::OutboxEntry> {
    crate::notify::query(&**s, None, None, 1000, 1000)
        .expect("the outbox reads")
        .into_iter()
        .rev()
        .collect()
}

#[tokio::test(start_paused = true)]
async fn an_escalation_is_mailed_and_texted_to_the_people_of_its_roles_once() {
    let s = store("alert");
    let wo = engine(&s, FRIDAY_4PM).await;
    let agent = user("a1", "agent", None);
    let o = wo
        .create(
            CreateRequest {
                kind: "fault_repair".into(),
                fields: json!({"phone": "13800000001", "fault_type": "no_signal"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                ..CreateRequest::default()
            },
            &agent,
        )
        .await
        .expect("an order");
    let n = o.number.clone();
    // `state new limit 1h wall { escalate -> supervisor, dispatcher }`.
    tokio::time::sleep(Duration::from_secs(59 * 60)).await;
    assert!(outbox(&s).is_empty(), "nothing before the limit");
    tokio::time::sleep(Duration::from_secs(2 * 60)).await;
    let sent = outbox(&s);
    let to: Vec<(&str, &str)> = sent
        .iter()
        .map(|e| (e.channel.as_str(), e.to.as_str()))
        .collect();
    assert_eq!(
        to,
        [
            ("email", "wang@example.com"),
            ("sms", "13900000001"),
            ("email", "zhao@example.com")
        ],
        "{sent:#?}"
    );
    let mail = &sent[0];
    let subject = mail.subject.clone().unwrap_or_default();
    assert_eq!(
        subject,
        format!("督办 escalation: workorder {n} (fault_repair) in 待派单 (new)")
    );
    assert!(
        mail.body
            .contains("limit: 1h in new, due 2026-11-20 17:00:00 CST"),
        "{}",
        mail.body
    );
    assert_eq!(mail.extra.get("workorder"), Some(&json!(n)));
    assert!(
        sent[1].body.starts_with(&format!("督办：工单{n}")),
        "{}",
        sent[1].body
    );

    // Who could not be reached is on the dispatchers' row.
    let rows = wo
        .notifications(vec!["dispatcher".into()], 0, 10)
        .await
        .expect("notifications");
    let row = rows
        .iter()
        .find(|r| r.action == "escalate")
        .expect("the dispatchers are told");
    let problems: Vec<&str> = row
        .deliveries
        .iter()
        .filter_map(|d| d.problem.as_deref())
        .collect();
    assert!(
        problems.contains(&"no e-mail address for user li"),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("`ghost`")),
        "{problems:?}"
    );
    let zhao = row
        .deliveries
        .iter()
        .find(|d| d.user == "zhao")
        .expect("zhao is reached");
    assert_eq!(zhao.outbox, Some(sent[2].id));
    let history = wo.history(&n).await.expect("history");
    let line = history
        .iter()
        .rev()
        .find(|e| e.action == "escalate")
        .and_then(|e| e.comment.clone())
        .unwrap_or_default();
    assert!(line.contains("email to wang (outbox"), "{line}");
    assert!(line.contains("no e-mail address for user li"), "{line}");

    // The order's deliveries; a restart sends nothing twice.
    let of_order = crate::notify::of_workorder(&*s, &n, 100).expect("reads");
    assert_eq!(of_order.len(), 3);
    wo.stop().await;
    let wo = engine(&s, FRIDAY_4PM + 2 * 3_600_000).await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(outbox(&s).len(), 3);

    // A limit spanning states: `repaired within 1d from dispatched
    // { escalate -> dispatcher }`, and the handler's reminder at 50 % of
    // `repairing`'s day.
    let mut d = step("dispatch");
    d.department = Some("network_ops".into());
    wo.transition(&n, d, &agent).await.expect("dispatched");
    let ops = user("h1", "handler", Some("network_ops"));
    wo.transition(&n, step("accept"), &ops)
        .await
        .expect("accepted");
    tokio::time::sleep(Duration::from_secs(12 * 3600 + 60)).await;
    let reminder = outbox(&s)
        .into_iter()
        .nth(3)
        .expect("the handler's reminder");
    assert_eq!(reminder.to, "h1@example.com");
    assert!(
        reminder
            .subject
            .as_deref()
            .is_some_and(|x| x.starts_with("催办 reminder")),
        "{reminder:?}"
    );
    tokio::time::sleep(Duration::from_secs(12 * 3600)).await;
    let span = outbox(&s)
        .into_iter()
        .find(|e| e.body.contains("within 24h from dispatched"))
        .expect("the spanning limit's escalation");
    assert_eq!(span.to, "zhao@example.com");
    assert!(
        span.body
            .contains("limit: repaired within 24h from dispatched, due "),
        "{}",
        span.body
    );
    let report = super::check::check_store(&*s).expect("a check");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    wo.stop().await;
}
