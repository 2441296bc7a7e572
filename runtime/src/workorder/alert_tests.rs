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
fn everything(s: &SharedStore) -> Vec<crate::notify::OutboxEntry> {
    crate::notify::query(&**s, None, None, 1000, 1000)
        .expect("the outbox reads")
        .into_iter()
        .rev()
        .collect()
}

/// Whether an outbox entry tells of an assignment (派单) rather than of a
/// timer.
fn is_assignment(e: &crate::notify::OutboxEntry) -> bool {
    e.body.starts_with("派单")
}

/// The reminders' and escalations' outbox entries, oldest first.
fn outbox(s: &SharedStore) -> Vec<crate::notify::OutboxEntry> {
    everything(s)
        .into_iter()
        .filter(|e| !is_assignment(e))
        .collect()
}

/// A fault order for 13800000001 (no signal), created by `by`.
async fn fault_order(wo: &WorkorderHandle, by: &crate::auth::User) -> super::Workorder {
    wo.create(
        CreateRequest {
            kind: "fault_repair".into(),
            fields: json!({"phone": "13800000001", "fault_type": "no_signal"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            ..CreateRequest::default()
        },
        by,
    )
    .await
    .expect("an order")
}

#[tokio::test(start_paused = true)]
async fn an_escalation_is_mailed_and_texted_to_the_people_of_its_roles_once() {
    let s = store("alert");
    let wo = engine(&s, FRIDAY_4PM).await;
    let agent = user("a1", "agent", None);
    let o = fault_order(&wo, &agent).await;
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
    assert_eq!(of_order.iter().filter(|e| !is_assignment(e)).count(), 3);
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

#[tokio::test(start_paused = true)]
async fn an_assigned_order_is_mailed_and_texted_to_its_new_handler_in_the_same_step() {
    let s = store("assign");
    let wo = engine(&s, FRIDAY_4PM).await;
    let agent = user("a1", "agent", None);
    let o = fault_order(&wo, &agent).await;
    let n = o.number.clone();

    // `on enter new -> assign dispatcher`: zhao (the dispatcher with an
    // address) gets the mail; li has none, ghost is no API user.
    let sent = everything(&s);
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(
        (sent[0].channel.as_str(), sent[0].to.as_str()),
        ("email", "zhao@example.com")
    );
    assert_eq!(
        sent[0].subject.as_deref(),
        Some(format!("派单 assignment: workorder {n} (fault_repair) in 待派单 (new)").as_str())
    );
    assert!(
        sent[0]
            .body
            .contains("assigned to: dispatcher\nassigned by: on enter new\n"),
        "{}",
        sent[0].body
    );
    assert_eq!(sent[0].extra.get("workorder"), Some(&json!(n)));
    let rows = wo
        .notifications(vec!["dispatcher".into()], 0, 10)
        .await
        .expect("notifications");
    let row = rows
        .iter()
        .find(|r| r.action == "assign")
        .expect("the dispatchers' notice");
    assert_eq!(
        row.deliveries
            .iter()
            .find(|d| d.user == "zhao")
            .and_then(|d| d.outbox),
        Some(sent[0].id)
    );
    let created = wo.history(&n).await.expect("history")[0]
        .comment
        .clone()
        .unwrap_or_default();
    assert!(created.starts_with("assigned to dispatcher; "), "{created}");
    assert!(
        created.contains(&format!("email to zhao (outbox {})", sent[0].id)),
        "{created}"
    );
    assert!(
        created.contains("no e-mail address for user li"),
        "{created}"
    );

    // wang dispatches it to h1 by name: h1 is told by mail; wang is not
    // told of his own act.
    let wang = user("wang", "supervisor", None);
    let mut d = step("dispatch");
    d.department = Some("network_ops".into());
    d.handler = Some("h1".into());
    wo.transition(&n, d, &wang).await.expect("dispatched");
    let sent = everything(&s);
    assert_eq!(sent.len(), 2, "{sent:#?}");
    let to_h1 = &sent[1];
    assert_eq!(
        (to_h1.channel.as_str(), to_h1.to.as_str()),
        ("email", "h1@example.com")
    );
    assert!(
        to_h1.body.contains("assigned to: h1\nassigned by: wang\n"),
        "{}",
        to_h1.body
    );
    assert!(
        to_h1.body.contains("state: 已派修 (dispatched)"),
        "{}",
        to_h1.body
    );
    let notices = wo
        .notifications(vec!["h1".into()], 0, 10)
        .await
        .expect("notifications");
    assert!(
        notices
            .iter()
            .any(|x| x.action == "assign" && x.number == n),
        "{notices:#?}"
    );
    let line = wo
        .history(&n)
        .await
        .expect("history")
        .pop()
        .and_then(|e| e.comment)
        .unwrap_or_default();
    assert!(
        line.contains("assigned to h1; email to h1 (outbox"),
        "{line}"
    );

    // h1 takes it: their own act, nobody is told.
    let h1 = user("h1", "handler", Some("network_ops"));
    wo.transition(&n, step("accept"), &h1)
        .await
        .expect("accepted");
    assert_eq!(everything(&s).len(), 2);

    // Forwarded to another department without a name: that department's
    // handlers are told; billing_center has none, which is written down.
    let mut f = step("forward");
    f.department = Some("billing_center".into());
    let o = wo.transition(&n, f, &h1).await.expect("forwarded");
    assert_eq!(o.handler, None);
    let line = wo
        .history(&n)
        .await
        .expect("history")
        .pop()
        .and_then(|e| e.comment)
        .unwrap_or_default();
    assert!(line.contains("assigned to billing_center"), "{line}");
    assert!(
        line.contains("no API user handles for `billing_center`"),
        "{line}"
    );
    assert_eq!(everything(&s).len(), 2, "nobody to mail");
    let report = super::check::check_store(&*s).expect("a check");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    wo.stop().await;
}
