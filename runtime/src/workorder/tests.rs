//! Engine tests over the reference lifecycles of `flows/hotline` (`complaint`,
//! `fault_repair`) on a real sled store: transitions, roles, guards, validation,
//! conflicts, time limits in business hours, reminders, escalations and re-arming
//! after a restart.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::json;

use super::check::check_store;
use super::model::Workorder;
use super::{CreateRequest, Query, TransitionRequest, WorkorderHandle};
use super::{WoError, lifecycle};
use crate::auth::User;
use crate::deploy::ProgramSlot;
use crate::store::{SharedStore, SledStore};
use crate::time::PausableClock;

/// The compiled hotline project (compiled once per test process).
pub(crate) fn hotline_bundle() -> &'static [u8] {
    static B: OnceLock<Vec<u8>> = OnceLock::new();
    B.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../flows/hotline");
        crate::deploy::compile_project(&dir).expect("the hotline project compiles")
    })
}

pub(crate) fn hotline() -> Arc<ProgramSlot> {
    Arc::new(
        ProgramSlot::new(
            hotline_bundle(),
            dialect_compiler::Engine::Native,
            BTreeMap::new(),
        )
        .expect("the hotline bundle loads"),
    )
}

pub(crate) fn temp_dir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "dialect-wo-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

pub(crate) fn store(tag: &str) -> SharedStore {
    Arc::new(SledStore::open(&temp_dir(tag)).expect("sled opens"))
}

pub(crate) fn user(name: &str, role: &str, dept: Option<&str>) -> User {
    User {
        name: name.into(),
        role: role.parse().expect("a role"),
        department: dept.map(String::from),
    }
}

/// 2026-11-20 (a Friday) 16:00 in Shanghai.
const FRIDAY_4PM: i64 = 1_795_161_600_000;

fn ms(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_millis()
}

async fn engine(store: &SharedStore, at: i64) -> WorkorderHandle {
    WorkorderHandle::start(store.clone(), hotline(), PausableClock::starting_at(at))
        .await
        .unwrap()
        .0
}

fn fields(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    v.as_object().unwrap().clone()
}

fn complaint() -> CreateRequest {
    CreateRequest {
        kind: "complaint".into(),
        fields: fields(json!({
            "phone": "13800138000",
            "customer": "C001",
            "category": "billing",
            "description": "charged twice",
            "id_number": "110101199001011234",
        })),
        ..CreateRequest::default()
    }
}

fn step(name: &str) -> TransitionRequest {
    TransitionRequest {
        transition: name.into(),
        ..TransitionRequest::default()
    }
}

fn invalid_field(r: Result<Workorder, WoError>) -> String {
    match r {
        Err(WoError::Invalid { field, .. }) => field,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn the_reference_start_is_friday_afternoon() {
    assert_eq!(FRIDAY_4PM, ms("2026-11-20T16:00:00+08:00"));
}

#[tokio::test]
async fn complaint_runs_its_whole_lifecycle() {
    let s = store("life");
    let wo = engine(&s, FRIDAY_4PM).await;
    let agent = user("a1", "agent", None);
    let sup = user("s1", "supervisor", None);
    let ops = user("h1", "handler", Some("network_ops"));
    let billing = user("h2", "handler", Some("billing_center"));

    let o = wo.create(complaint(), &agent).await.unwrap();
    assert_eq!(o.state, "new");
    assert_eq!(o.version, 1);
    assert_eq!(o.customer_id, "C001");
    assert!(o.number.starts_with("20261120"), "{}", o.number);
    // `new`: 30 minutes of wall time.
    assert_eq!(o.deadline_ms, Some(o.created_ms + 30 * 60_000));
    let n = o.number.clone();

    // `dispatched` is worked by a department's handlers: the department is needed.
    let f = invalid_field(wo.transition(&n, step("dispatch"), &agent).await);
    assert_eq!(f, "department");
    // Handlers may not dispatch: an order with no department is, to them, one
    // that does not exist.
    let r = wo.transition(&n, step("dispatch"), &ops).await;
    assert!(matches!(r, Err(WoError::NotFound(_))), "{r:?}");

    let mut d = step("dispatch");
    d.department = Some("network_ops".into());
    let o = wo.transition(&n, d, &agent).await.unwrap();
    assert_eq!(o.state, "dispatched");
    assert_eq!(o.department.as_deref(), Some("network_ops"));
    assert_eq!(o.dispatcher.as_deref(), Some("a1"));

    // A handler of another department may not accept it, nor learn it exists.
    let r = wo.transition(&n, step("accept"), &billing).await;
    assert!(matches!(r, Err(WoError::NotFound(_))), "{r:?}");
    let o = wo.transition(&n, step("accept"), &ops).await.unwrap();
    assert_eq!(o.state, "processing");
    assert_eq!(o.handler.as_deref(), Some("h1"));

    // The guard `resolution != ""` holds only once the resolution is given.
    let r = wo.transition(&n, step("reply"), &ops).await;
    assert!(matches!(r, Err(WoError::Rule(_))), "{r:?}");
    let mut reply = step("reply");
    reply.fields = fields(json!({ "resolution": "refunded the second charge" }));
    reply.comment = Some("您的重复扣费已退回".into());
    let o = wo.transition(&n, reply, &ops).await.unwrap();
    assert_eq!(o.state, "replied");
    assert_eq!(o.feedback.as_deref(), Some("您的重复扣费已退回"));

    let o = wo.transition(&n, step("close"), &agent).await.unwrap();
    assert_eq!(o.state, "closed");
    assert!(o.closed_ms.is_some());
    assert_eq!(o.deadline_ms, None);
    assert!(o.timers.is_empty());
    assert_eq!(wo.counts().await.unwrap().total_open, 0);

    // Only supervisors reopen.
    let r = wo.transition(&n, step("reopen"), &agent).await;
    assert!(matches!(r, Err(WoError::Forbidden(_))), "{r:?}");
    let o = wo.transition(&n, step("reopen"), &sup).await.unwrap();
    assert_eq!(o.state, "processing");
    assert_eq!(o.closed_ms, None);
    assert_eq!(wo.counts().await.unwrap().total_open, 1);

    let h = wo.history(&n).await.unwrap();
    let path: Vec<(Option<&str>, Option<&str>)> = h
        .iter()
        .map(|e| (e.from.as_deref(), e.to.as_deref()))
        .collect();
    assert_eq!(
        path,
        vec![
            (None, Some("new")),
            (Some("new"), Some("dispatched")),
            (Some("dispatched"), Some("processing")),
            (Some("processing"), Some("replied")),
            (Some("replied"), Some("closed")),
            (Some("closed"), Some("processing")),
        ]
    );
    assert_eq!(h.len() as u32, o.version);
    assert_eq!(
        h[3].fields.get("resolution"),
        Some(&json!("refunded the second charge"))
    );
    assert_eq!(h[2].user, "h1");
    let report = check_store(&*s).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!((report.orders, report.open), (1, 1));
    // Every change is in the audit log.
    let audit = crate::auth::audit_entries(&*s, 0, i64::MAX, 100).unwrap();
    assert_eq!(
        audit.iter().filter(|a| a.target == n).count(),
        h.len(),
        "{audit:?}"
    );
    wo.stop().await;
}

#[tokio::test]
async fn fault_repair_forwards_and_returns_between_departments() {
    let s = store("fwd");
    let wo = engine(&s, FRIDAY_4PM).await;
    let agent = user("a1", "agent", None);
    let ops = user("h1", "handler", Some("network_ops"));
    let care = user("h3", "handler", Some("customer_care"));
    let req = CreateRequest {
        kind: "fault_repair".into(),
        fields: fields(json!({
            "phone": "020-12345678",
            "fault_type": "no_dial_tone",
            "card_number": "6222020200112233",
        })),
        department: Some("network_ops".into()),
        ..CreateRequest::default()
    };
    let o = wo.create(req, &agent).await.unwrap();
    let n = o.number.clone();
    let mut d = step("dispatch");
    d.department = Some("network_ops".into());
    wo.transition(&n, d, &agent).await.unwrap();
    wo.transition(&n, step("accept"), &ops).await.unwrap();

    // Forward needs the department to send it to, and a different one.
    assert_eq!(
        invalid_field(wo.transition(&n, step("forward"), &ops).await),
        "department"
    );
    let mut f = step("forward");
    f.department = Some("network_ops".into());
    assert_eq!(
        invalid_field(wo.transition(&n, f, &ops).await),
        "department"
    );
    let mut f = step("forward");
    f.department = Some("customer_care".into());
    f.comment = Some("customer line is a care case".into());
    let o = wo.transition(&n, f, &ops).await.unwrap();
    assert_eq!(o.state, "dispatched");
    assert_eq!(o.department.as_deref(), Some("customer_care"));
    assert_eq!(o.handler, None);
    // The former department can no longer act on it.
    let r = wo.transition(&n, step("accept"), &ops).await;
    assert!(matches!(r, Err(WoError::NotFound(_))), "{r:?}");

    // Return (退单): back to `new` with the department it had there.
    let o = wo.transition(&n, step("send_back"), &care).await.unwrap();
    assert_eq!(o.state, "new");
    assert_eq!(o.department.as_deref(), Some("network_ops"));

    // Repaired needs a cause (guard), then confirm closes it.
    let mut d = step("dispatch");
    d.department = Some("network_ops".into());
    wo.transition(&n, d, &agent).await.unwrap();
    wo.transition(&n, step("accept"), &ops).await.unwrap();
    let r = wo.transition(&n, step("repaired"), &ops).await;
    assert!(matches!(r, Err(WoError::Rule(_))), "{r:?}");
    let mut rep = step("repaired");
    rep.fields = fields(json!({ "cause": "cable cut" }));
    wo.transition(&n, rep, &ops).await.unwrap();
    // `not_fixed` is a return that needs a reason.
    assert_eq!(
        invalid_field(wo.transition(&n, step("not_fixed"), &agent).await),
        "comment"
    );
    let mut nf = step("not_fixed");
    nf.comment = Some("still no dial tone".into());
    let o = wo.transition(&n, nf, &agent).await.unwrap();
    assert_eq!(o.state, "repairing");
    assert_eq!(
        o.handler.as_deref(),
        Some("h1"),
        "a return restores the handler"
    );
    let report = check_store(&*s).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    wo.stop().await;
}

#[tokio::test]
async fn bad_input_names_the_field_and_stores_nothing() {
    let s = store("bad");
    let wo = engine(&s, FRIDAY_4PM).await;
    let agent = user("a1", "agent", None);
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (json!({"colour": "red"}), "colour"),
        (json!({"satisfied": "yes"}), "satisfied"),
        (json!({"category": "weather"}), "category"),
        (json!({"phone": "call me"}), "phone"),
        (json!({"description": 42}), "description"),
    ];
    for (extra, field) in cases {
        let mut req = complaint();
        for (k, v) in extra.as_object().unwrap() {
            req.fields.insert(k.clone(), v.clone());
        }
        assert_eq!(invalid_field(wo.create(req, &agent).await), field);
    }
    let mut req = complaint();
    req.fields.remove("description");
    assert_eq!(invalid_field(wo.create(req, &agent).await), "description");
    let mut req = complaint();
    req.kind = "parking_ticket".into();
    assert_eq!(invalid_field(wo.create(req, &agent).await), "kind");
    let mut req = complaint();
    req.department = Some("marketing".into());
    assert_eq!(invalid_field(wo.create(req, &agent).await), "department");
    assert_eq!(s.count(super::model::ORDERS).unwrap(), 0);

    let o = wo.create(complaint(), &agent).await.unwrap();
    let n = o.number.clone();
    assert_eq!(
        invalid_field(wo.transition(&n, step("teleport"), &agent).await),
        "transition"
    );
    // `close` exists but not from `new`.
    match wo.transition(&n, step("close"), &agent).await {
        Err(WoError::Conflict { state, message }) => {
            assert_eq!(state, "new");
            assert!(message.contains("dispatch"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let mut d = step("dispatch");
    d.department = Some("network_ops".into());
    d.fields = fields(json!({"satisfied": "very"}));
    assert_eq!(
        invalid_field(wo.transition(&n, d, &agent).await),
        "satisfied"
    );
    let mut d = step("dispatch");
    d.department = Some("network_ops".into());
    d.fields = fields(json!({"description": ""}));
    assert_eq!(
        invalid_field(wo.transition(&n, d, &agent).await),
        "description"
    );
    assert!(matches!(
        wo.get("20990101000001").await,
        Err(WoError::NotFound(_))
    ));
    let after = wo.get(&n).await.unwrap();
    assert_eq!((after.version, after.state.as_str()), (1, "new"));
    assert_eq!(wo.history(&n).await.unwrap().len(), 1);
    wo.stop().await;
}

#[tokio::test]
async fn concurrent_transitions_are_serialized_and_stale_ones_conflict() {
    let s = store("race");
    let wo = engine(&s, FRIDAY_4PM).await;
    let agent = user("a1", "agent", None);
    let n = wo.create(complaint(), &agent).await.unwrap().number;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let wo = wo.clone();
        let n = n.clone();
        let u = user(&format!("a{i}"), "agent", None);
        tasks.push(tokio::spawn(async move {
            let mut d = step("dispatch");
            d.department = Some("network_ops".into());
            d.from = Some("new".into());
            wo.transition(&n, d, &u).await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(WoError::Conflict { state, .. }) => assert_eq!(state, "dispatched"),
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(ok, 1);
    let o = wo.get(&n).await.unwrap();
    assert_eq!(o.version, 2);
    // A caller that still believes the order is new gets the current state.
    let mut stale = step("accept");
    stale.from = Some("new".into());
    let r = wo
        .transition(&n, stale, &user("h1", "handler", Some("network_ops")))
        .await;
    assert!(
        matches!(&r, Err(WoError::Conflict { state, .. }) if state == "dispatched"),
        "{r:?}"
    );
    assert_eq!(
        crate::api::workorders::status_of(&r.unwrap_err()),
        axum::http::StatusCode::CONFLICT
    );
    wo.stop().await;
}

#[tokio::test]
async fn limits_in_business_hours_skip_nights_and_weekends() {
    let s = store("cal");
    let wo = engine(&s, FRIDAY_4PM).await;
    let agent = user("a1", "agent", None);
    let n = wo.create(complaint(), &agent).await.unwrap().number;
    let mut d = step("dispatch");
    d.department = Some("network_ops".into());
    let o = wo.transition(&n, d, &agent).await.unwrap();
    // 4 business hours from Friday 16:00: 1.5 h on Friday (until 17:30), 2.5 h
    // from Monday 08:30.
    // (The engine's clock runs: allow for the milliseconds the test took.)
    let near = |got: i64, want: &str| (0..1000).contains(&(got - ms(want)));
    assert!(
        near(o.deadline_ms.unwrap(), "2026-11-23T11:00:00+08:00"),
        "{o:?}"
    );
    let remind = o.timers.iter().find(|t| t.action == "remind").unwrap();
    assert!(near(remind.due_ms, "2026-11-23T10:00:00+08:00"), "{o:?}");
    assert_eq!(remind.to, vec!["handler".to_string()]);
    let esc = o.timers.iter().find(|t| t.action == "escalate").unwrap();
    assert_eq!(esc.due_ms, o.deadline_ms.unwrap());
    assert_eq!(esc.to, vec!["supervisor", "service_quality"]);

    // The National Day holiday (Oct 1-7) does not count: 2.5 h on Sep 30 from
    // 15:00, the other 1.5 h on Oct 8 from 08:30.
    let slot = hotline();
    let deployed = slot.current();
    let ir = lifecycle::lifecycle(&deployed.program, "complaint").unwrap();
    let cal = deployed
        .program
        .shared()
        .calendars
        .get(ir.calendar.unwrap() as usize);
    let st = lifecycle::state(ir, "dispatched").unwrap();
    let (deadline, timers) = lifecycle::state_timers(st, ms("2026-09-30T15:00:00+08:00"), cal);
    assert_eq!(deadline, Some(ms("2026-10-08T10:00:00+08:00")));
    assert_eq!(timers[0].due_ms, ms("2026-10-08T09:00:00+08:00"));
    // Wall-time limits ignore the calendar.
    let st = lifecycle::state(ir, "replied").unwrap();
    let (deadline, _) = lifecycle::state_timers(st, FRIDAY_4PM, cal);
    assert_eq!(deadline, Some(FRIDAY_4PM + 86_400_000));
    wo.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_state_past_its_limit_escalates_once() {
    let s = store("esc");
    let wo = engine(&s, FRIDAY_4PM).await;
    let agent = user("a1", "agent", None);
    let n = wo.create(complaint(), &agent).await.unwrap().number;
    let sup = vec!["supervisor".to_string()];
    tokio::time::sleep(Duration::from_secs(29 * 60)).await;
    assert!(
        wo.notifications(sup.clone(), 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    tokio::time::sleep(Duration::from_secs(2 * 60)).await;
    let list = wo.notifications(sup.clone(), 0, 10).await.unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].action, "escalate");
    assert_eq!(list[0].number, n);
    assert_eq!(list[0].due_ms, FRIDAY_4PM + 30 * 60_000);
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(wo.notifications(sup, 0, 10).await.unwrap().len(), 1);
    let o = wo.get(&n).await.unwrap();
    assert!(o.timers.iter().all(|t| t.fired));
    let h = wo.history(&n).await.unwrap();
    assert_eq!(h.iter().filter(|e| e.action == "escalate").count(), 1);
    assert_eq!(h.len() as u32, o.version);
    // Overdue queries and counts see it.
    let c = wo.counts().await.unwrap();
    assert_eq!(c.total_overdue, 1);
    let page = wo
        .query(Query {
            overdue: true,
            ..Query::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    wo.stop().await;
}

#[tokio::test(start_paused = true)]
async fn reminders_go_to_the_department_and_the_handler() {
    let s = store("remind");
    let wo = engine(&s, ms("2026-11-23T09:00:00+08:00")).await;
    let agent = user("a1", "agent", None);
    let ops = user("h1", "handler", Some("network_ops"));
    let req = CreateRequest {
        kind: "fault_repair".into(),
        fields: fields(json!({"phone": "13800138000", "fault_type": "no_signal"})),
        ..CreateRequest::default()
    };
    let n = wo.create(req, &agent).await.unwrap().number;
    let mut d = step("dispatch");
    d.department = Some("network_ops".into());
    wo.transition(&n, d, &agent).await.unwrap();
    wo.transition(&n, step("accept"), &ops).await.unwrap();
    // `repairing`: 1 d wall, reminder at 50 %.
    tokio::time::sleep(Duration::from_secs(12 * 3600 + 60)).await;
    let mine = wo.notifications(vec!["h1".into()], 0, 10).await.unwrap();
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0].action, "remind");
    let dept = wo
        .notifications(vec!["network_ops".into()], 0, 10)
        .await
        .unwrap();
    let actions: Vec<&str> = dept.iter().map(|x| x.action.as_str()).collect();
    // The dispatch told the department's handlers; the reminder followed.
    assert_eq!(
        actions.iter().filter(|a| **a == "remind").count(),
        1,
        "{dept:?}"
    );
    assert_eq!(
        actions.iter().filter(|a| **a == "assign").count(),
        1,
        "{dept:?}"
    );
    wo.stop().await;
}

#[tokio::test]
async fn a_restart_rearms_timers_and_fires_overdue_ones_exactly_once() {
    let s = store("restart");
    let agent = user("a1", "agent", None);
    let wo = engine(&s, FRIDAY_4PM).await;
    let mut numbers = Vec::new();
    for _ in 0..3 {
        numbers.push(wo.create(complaint(), &agent).await.unwrap().number);
    }
    // One more that is closed before the restart: nothing to re-arm.
    let n = wo.create(complaint(), &agent).await.unwrap().number;
    let mut d = step("dispatch");
    d.department = Some("network_ops".into());
    wo.transition(&n, d, &agent).await.unwrap();
    wo.stop().await;

    // Down for two hours: the 30-minute limits of `new` passed meanwhile.
    let (wo, report) = WorkorderHandle::start(
        s.clone(),
        hotline(),
        PausableClock::starting_at(FRIDAY_4PM + 2 * 3_600_000),
    )
    .await
    .unwrap();
    assert_eq!(report.open_orders, 4);
    assert_eq!(report.timers, 4);
    assert_eq!(report.due_now, 3);
    let sup = vec!["supervisor".to_string()];
    let mut fired = Vec::new();
    for _ in 0..200 {
        fired = wo.notifications(sup.clone(), 0, 100).await.unwrap();
        if fired.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(fired.len(), 3, "{fired:?}");
    for f in &fired {
        assert!(numbers.contains(&f.number));
        let limit = FRIDAY_4PM + 30 * 60_000;
        assert!((limit..limit + 10_000).contains(&f.due_ms), "{f:?}");
        assert!(f.at_ms >= FRIDAY_4PM + 2 * 3_600_000);
    }
    wo.stop().await;

    // A second restart finds them fired: nothing fires again.
    let (wo, report) = WorkorderHandle::start(
        s.clone(),
        hotline(),
        PausableClock::starting_at(FRIDAY_4PM + 3 * 3_600_000),
    )
    .await
    .unwrap();
    assert_eq!(report.due_now, 0);
    assert_eq!(
        report.timers, 1,
        "only the dispatched order has timers left"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(wo.notifications(sup, 0, 100).await.unwrap().len(), 3);
    for n in &numbers {
        let h = wo.history(n).await.unwrap();
        assert_eq!(h.iter().filter(|e| e.action == "escalate").count(), 1);
    }
    let report = check_store(&*s).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    wo.stop().await;
}

#[tokio::test]
async fn links_and_orders_raised_by_flows() {
    let s = store("link");
    let wo = engine(&s, FRIDAY_4PM).await;
    let agent = user("a1", "agent", None);
    let a = wo.create(complaint(), &agent).await.unwrap().number;
    // What a flow's `create workorder fault_repair { ... }` does.
    use dialect_compiler::value::Value;
    let b = wo
        .create_from_flow(
            "fault_repair",
            vec![
                ("phone".into(), Value::Text("13800138000".into())),
                ("customer".into(), Value::Text("C001".into())),
                ("fault_type".into(), Value::Text("slow_internet".into())),
                ("description".into(), Value::Text("IVR 故障申告".into())),
            ],
            Some(77),
        )
        .await
        .unwrap();
    assert!(b.chars().all(|c| c.is_ascii_digit()), "{b}");
    let ob = wo.get(&b).await.unwrap();
    assert_eq!((ob.created_by.as_str(), ob.contact_id), ("ivr", Some(77)));
    // Call tasks reach the engine through `CallEnv.workorders`.
    let sink: Arc<dyn crate::workorder::WorkorderSink> = Arc::new(wo.clone());
    let from_call = sink
        .create(
            "complaint",
            &[
                ("phone".into(), Value::Text("13800138000".into())),
                ("category".into(), Value::Text("callback".into())),
                ("description".into(), Value::Text("排队超时留言".into())),
                ("recording".into(), Value::Text("rec/1.wav".into())),
            ],
            78,
        )
        .await
        .unwrap();
    let oc = wo.get(&from_call).await.unwrap();
    assert_eq!((oc.state.as_str(), oc.contact_id), ("new", Some(78)));
    assert_eq!(oc.fields["recording"], json!("rec/1.wav"));
    let r = wo
        .create_from_flow(
            "fault_repair",
            vec![("phone".into(), Value::Text("1".into()))],
            None,
        )
        .await;
    assert!(r.unwrap_err().contains("phone"));

    let (la, lb) = wo.link(&a, "related", &b, &agent).await.unwrap();
    assert_eq!(la.links[0].number, b);
    assert_eq!(lb.links[0].direction, "from");
    assert!(matches!(
        wo.link(&a, "related", &b, &agent).await,
        Err(WoError::Conflict { .. })
    ));
    assert!(matches!(
        wo.link(&a, "cousin", &b, &agent).await,
        Err(WoError::Invalid { .. })
    ));
    let page = wo
        .query(Query {
            customer: Some("C001".into()),
            ..Query::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    let report = check_store(&*s).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    wo.stop().await;
}

#[tokio::test]
async fn changes_of_one_group_see_each_other_and_are_stored_whole() {
    use crate::workorder::{TaskRequest, TaskUpdate};
    let s = store("group");
    let wo = engine(&s, FRIDAY_4PM).await;
    let agent = user("a1", "agent", None);
    let ops = user("h1", "handler", Some("network_ops"));
    let n = wo.create(complaint(), &agent).await.unwrap().number;
    let task = |c: &str| TaskRequest {
        campaign: c.into(),
        task_type: "callback".into(),
        customer_id: "C001".into(),
        ..TaskRequest::default()
    };
    let first = wo.create_task(task("t0"), &agent).await.unwrap().id;
    let mut d = step("dispatch");
    d.department = Some("network_ops".into());
    let mut r = step("reply");
    r.fields.insert("resolution".into(), json!("refunded"));
    let done = TaskUpdate {
        status: Some("done".into()),
        ..TaskUpdate::default()
    };
    // `join!` sends every message before the engine task runs again (the test
    // runtime has one thread), so they are handled as one group: each step must
    // see the one before it although none is in the store yet, the comment must
    // find the order closed a message earlier, and the task update must find the
    // task created in the same group.
    let (d, a, r, c, note, t, up) = tokio::join!(
        wo.transition(&n, d, &agent),
        wo.transition(&n, step("accept"), &ops),
        wo.transition(&n, r, &ops),
        wo.transition(&n, step("close"), &agent),
        wo.comment(&n, "called back, customer satisfied", &agent),
        wo.create_task(task("t1"), &agent),
        wo.update_task(first + 1, done, &agent),
    );
    let versions: Vec<_> = [d, a, r, c, note]
        .into_iter()
        .map(|o| o.unwrap().version)
        .collect();
    assert_eq!(versions, [2, 3, 4, 5, 6]);
    assert_eq!(t.unwrap().id, first + 1);
    assert_eq!(up.unwrap().status, "done");
    // After a restart the store holds the whole group.
    wo.stop().await;
    let wo = engine(&s, FRIDAY_4PM).await;
    let o = wo.get(&n).await.unwrap();
    assert_eq!((o.version, o.state.as_str()), (6, "closed"));
    let h = wo.history(&n).await.unwrap();
    assert_eq!(
        h.iter().map(|e| e.version).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
    assert_eq!(wo.get_task(first + 1).await.unwrap().status, "done");
    let report = check_store(&*s).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!((report.orders, report.open), (1, 0));
    let audit = crate::auth::audit_entries(&*s, 0, i64::MAX, 100).unwrap();
    assert_eq!(
        audit.iter().filter(|a| a.target == n).count(),
        6,
        "{audit:?}"
    );
    wo.stop().await;
}

/// The outbox entries the triggers queued, oldest first.
fn outbox(s: &SharedStore) -> Vec<serde_json::Value> {
    s.range(crate::notify::OUTBOX, &[], &[0xFF; 9], 100, false)
        .unwrap()
        .into_iter()
        .map(|(_, v)| serde_json::from_slice(&v).unwrap())
        .collect()
}

#[tokio::test]
async fn a_repaired_fault_is_confirmed_by_the_customer_through_the_ivr() {
    use dialect_compiler::value::Value;
    let s = store("loop");
    let wo = engine(&s, FRIDAY_4PM).await;
    let mut members = std::collections::BTreeMap::new();
    members.insert("dispatcher".to_string(), vec!["wang".to_string()]);
    wo.set_role_members(&members).await;
    let wang = user("wang", "analyst", None);
    let other = user("zhao", "analyst", None);
    let ops = user("h1", "handler", Some("network_ops"));
    let o = wo
        .create(
            CreateRequest {
                kind: "fault_repair".into(),
                fields: fields(json!({"phone": "13800000001", "fault_type": "no_dial_tone"})),
                department: Some("network_ops".into()),
                ..CreateRequest::default()
            },
            &user("a1", "agent", None),
        )
        .await
        .unwrap();
    let n = o.number.clone();
    // `on enter new -> assign dispatcher`: the dispatchers are told.
    let told = wo
        .notifications(vec!["dispatcher".into()], 0, 10)
        .await
        .unwrap();
    assert_eq!(told.len(), 1);
    assert_eq!(
        (told[0].action.as_str(), told[0].number.as_str()),
        ("assign", n.as_str())
    );

    // `dispatch` is for agents, supervisors and the project's dispatchers.
    let mut d = step("dispatch");
    d.department = Some("network_ops".into());
    let r = wo.transition(&n, d.clone(), &other).await;
    assert!(matches!(r, Err(WoError::Forbidden(_))), "{r:?}");
    wo.transition(&n, d, &wang).await.unwrap();
    wo.transition(&n, step("accept"), &ops).await.unwrap();
    assert!(outbox(&s).is_empty(), "nothing leaves before the repair");

    let mut rep = step("repaired");
    rep.fields = fields(json!({ "cause": "cable cut" }));
    let o = wo.transition(&n, rep, &ops).await.unwrap();
    assert_eq!(o.state, "repaired");
    // Written with the step: the SMS in the outbox, the order a target of
    // the confirmation campaign (once, though both the trigger and the
    // campaign's `in state repaired` name it).
    let sms = outbox(&s);
    assert_eq!(sms.len(), 1, "{sms:?}");
    assert_eq!(sms[0]["channel"], "sms");
    assert_eq!(sms[0]["to"], "13800000001");
    assert_eq!(
        sms[0]["body"],
        format!("您的故障工单{n}已修复，我们将致电确认。")
    );
    let targets = crate::dialer::store::targets(&*s, "repair_confirmation").unwrap();
    assert_eq!(targets.len(), 1, "{targets:?}");
    assert_eq!(targets[0].phone, "13800000001");
    assert_eq!(targets[0].fields[0], Value::Text(n.clone()));
    let hist = wo.history(&n).await.unwrap();
    let last = hist.last().unwrap().comment.clone().unwrap_or_default();
    assert!(last.contains("notify sms to 13800000001"), "{last}");
    assert!(last.contains("campaign repair_confirmation"), "{last}");

    // What the flow confirm_repair does when the customer presses 2, then 1.
    let sink: Arc<dyn crate::workorder::WorkorderSink> = Arc::new(wo.clone());
    let rec = sink.lookup("fault_repair", &n).await.unwrap();
    assert!(rec.contains(&("state".into(), Value::Text("repaired".into()))));
    assert!(rec.contains(&("cause".into(), Value::Text("cable cut".into()))));
    assert!(
        sink.lookup("complaint", &n).await.is_err(),
        "another type is no such order"
    );
    // A return needs the reason.
    let e = sink.transition_to(&n, "repairing", None).await.unwrap_err();
    assert!(e.contains("reason"), "{e}");
    sink.transition_to(&n, "repairing", Some("客户反馈仍未修复".into()))
        .await
        .unwrap();
    let o = wo.get(&n).await.unwrap();
    assert_eq!(
        (o.state.as_str(), o.handler.as_deref()),
        ("repairing", Some("h1"))
    );
    let e = sink.transition_to(&n, "closed", None).await.unwrap_err();
    assert!(
        e.contains("no step leads from `repairing` to `closed`"),
        "{e}"
    );

    // Repaired again: the same number is a pending target again, with fresh attempts.
    let mut rep = step("repaired");
    rep.fields = fields(json!({ "cause": "card replaced" }));
    wo.transition(&n, rep, &ops).await.unwrap();
    let targets = crate::dialer::store::targets(&*s, "repair_confirmation").unwrap();
    assert_eq!(targets.len(), 1);
    assert_eq!(
        targets[0].state,
        dialect_dialer::target::TargetState::Pending
    );
    assert_eq!(outbox(&s).len(), 2);
    sink.transition_to(&n, "closed", Some("客户电话确认已修复".into()))
        .await
        .unwrap();
    let o = wo.get(&n).await.unwrap();
    assert_eq!(o.state, "closed");
    let last = wo.history(&n).await.unwrap().pop().unwrap();
    assert_eq!(
        (last.user.as_str(), last.transition.as_deref()),
        ("ivr", Some("confirm"))
    );
    let report = check_store(&*s).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    wo.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_limit_spanning_states_counts_from_the_first_state_and_ends_at_the_target() {
    let s = store("span");
    let wo = engine(&s, FRIDAY_4PM).await;
    let agent = user("a1", "agent", None);
    let ops = user("h1", "handler", Some("network_ops"));
    let n = wo
        .create(
            CreateRequest {
                kind: "fault_repair".into(),
                fields: fields(json!({"phone": "13800000001", "fault_type": "no_signal"})),
                ..CreateRequest::default()
            },
            &agent,
        )
        .await
        .unwrap()
        .number;
    let mut d = step("dispatch");
    d.department = Some("network_ops".into());
    wo.transition(&n, d, &agent).await.unwrap();
    wo.transition(&n, step("accept"), &ops).await.unwrap();
    // `repaired within 24h from dispatched { escalate -> dispatcher }`: the
    // limit goes on across `repairing` (and a forward back to `dispatched`
    // would not restart it... until the order is dispatched again).
    let escalations = |list: Vec<super::Notification>| {
        list.into_iter()
            .filter(|x| x.action == "escalate")
            .collect::<Vec<_>>()
    };
    tokio::time::sleep(Duration::from_secs(23 * 3600)).await;
    let told = escalations(
        wo.notifications(vec!["dispatcher".into()], 0, 10)
            .await
            .unwrap(),
    );
    assert!(told.is_empty(), "{told:?}");
    tokio::time::sleep(Duration::from_secs(2 * 3600)).await;
    let told = escalations(
        wo.notifications(vec!["dispatcher".into()], 0, 10)
            .await
            .unwrap(),
    );
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].due_ms, FRIDAY_4PM + 24 * 3_600_000);
    // Reaching the target ends the limit: no span timer is left.
    let mut rep = step("repaired");
    rep.fields = fields(json!({ "cause": "antenna" }));
    let o = wo.transition(&n, rep, &ops).await.unwrap();
    assert!(
        o.timers
            .iter()
            .all(|t| !t.to.contains(&"dispatcher".to_string())),
        "{:?}",
        o.timers
    );
    tokio::time::sleep(Duration::from_secs(3 * 24 * 3600)).await;
    let told = escalations(
        wo.notifications(vec!["dispatcher".into()], 0, 10)
            .await
            .unwrap(),
    );
    assert_eq!(told.len(), 1, "{told:?}");
    wo.stop().await;
}
