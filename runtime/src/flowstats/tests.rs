use std::sync::Arc;

use super::*;
use crate::store::SledStore;

fn store() -> (SharedStore, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "dialect-flowstats-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let store: SharedStore = Arc::new(SledStore::open(&dir).unwrap());
    (store, dir)
}

const WELCOME: &str = "main.flow:3:5";
const MENU: &str = "main.flow:4:5";
const QUEUE: &str = "main.flow:6:14";
const BYE: &str = "main.flow:9:5";

/// A caller who hears the welcome, lets the menu time out once, presses a
/// key that is no choice, then picks the queue.
fn to_queue(t0: i64) -> FlowStats {
    let mut t = FlowTally::start("main", t0);
    t.enter(WELCOME, "say", StepKind::Prompt, t0);
    t.enter(MENU, "main_menu", StepKind::Menu, t0 + 2_000);
    t.no_input(false);
    t.enter(MENU, "main_menu", StepKind::Menu, t0 + 7_000);
    t.no_match(false);
    t.enter(MENU, "main_menu", StepKind::Menu, t0 + 9_000);
    t.enter(QUEUE, "transfer queue", StepKind::Transfer, t0 + 12_000);
    t.handed(Outcome::ToAgents);
    // Hanging up while queued is the queue's abandonment, not the IVR's.
    t.finish(Outcome::HungUp, t0 + 60_000)
}

/// A caller who hangs up in the middle of the menu, having said something the
/// recognizer did not take.
fn hangs_up_in_menu(t0: i64) -> FlowStats {
    let mut t = FlowTally::start("main", t0);
    t.enter(WELCOME, "say", StepKind::Prompt, t0);
    t.enter(MENU, "main_menu", StepKind::Menu, t0 + 2_000);
    t.no_match(true);
    t.enter(MENU, "main_menu", StepKind::Menu, t0 + 4_000);
    t.finish(Outcome::HungUp, t0 + 5_000)
}

/// A caller served by the IVR: the flow says goodbye and hangs up.
fn self_served(t0: i64) -> FlowStats {
    let mut t = FlowTally::start("main", t0);
    t.enter(WELCOME, "say", StepKind::Prompt, t0);
    t.enter(MENU, "main_menu", StepKind::Menu, t0 + 2_000);
    t.no_input(true);
    t.enter(MENU, "main_menu", StepKind::Menu, t0 + 3_000);
    t.enter(BYE, "say", StepKind::Prompt, t0 + 4_000);
    t.enter("main.flow:10:5", "hangup", StepKind::Hangup, t0 + 6_000);
    t.finish(Outcome::SelfService, t0 + 6_000)
}

fn node<'a>(s: &'a FlowStats, id: &str) -> &'a NodeStats {
    s.nodes.iter().find(|n| n.id == id).unwrap()
}

fn edge(s: &FlowStats, from: &str, to: &str) -> u64 {
    s.edges
        .iter()
        .find(|e| e.from == from && e.to == to)
        .map_or(0, |e| e.count)
}

#[test]
fn a_call_counts_visits_time_edges_and_how_it_ended() {
    let s = to_queue(1_000);
    assert_eq!(
        (s.calls, s.to_agents, s.hung_up, s.self_service),
        (1, 1, 0, 0)
    );
    assert_eq!(s.time_ms, 60_000);
    let menu = node(&s, MENU);
    assert_eq!((menu.calls, menu.visits), (1, 3));
    assert_eq!(menu.time_ms, 10_000, "2 s to 12 s");
    assert_eq!((menu.no_input_dtmf, menu.no_match_dtmf), (1, 1));
    assert_eq!(menu.to_agents, 1, "the queue was chosen in this menu");
    assert_eq!(menu.hangups, 0);
    let queue = node(&s, QUEUE);
    assert_eq!(
        (queue.to_agents, queue.hangups, queue.time_ms),
        (1, 0, 48_000)
    );
    assert_eq!(queue.kind, "transfer");
    assert_eq!(edge(&s, START, WELCOME), 1);
    assert_eq!(edge(&s, WELCOME, MENU), 1);
    assert_eq!(edge(&s, MENU, MENU), 2, "asked again twice");
    assert_eq!(edge(&s, MENU, QUEUE), 1);
}

#[test]
fn a_hang_up_counts_at_the_step_the_caller_was_at() {
    let s = hangs_up_in_menu(0);
    assert_eq!((s.hung_up, s.self_service, s.to_agents), (1, 0, 0));
    assert_eq!(node(&s, MENU).hangups, 1);
    assert_eq!(node(&s, WELCOME).hangups, 0);
    assert_eq!(node(&s, MENU).no_match_speech, 1);
    assert_eq!(node(&s, MENU).self_service, 0);

    let served = self_served(0);
    assert_eq!((served.self_service, served.hung_up), (1, 0));
    assert!(
        served
            .nodes
            .iter()
            .all(|n| n.self_service == 1 && n.hangups == 0)
    );
    assert_eq!(node(&served, MENU).no_input_speech, 1);
}

#[test]
fn a_transfer_to_another_flow_ends_this_flow_as_to_flow() {
    let mut t = FlowTally::start("main", 0);
    t.enter(MENU, "main_menu", StepKind::Menu, 0);
    t.enter("main.flow:7:14", "transfer flow", StepKind::Transfer, 1_000);
    let s = t.finish(Outcome::ToFlow, 1_000);
    assert_eq!((s.to_flow, s.to_agents, s.hung_up), (1, 0, 0));
    assert_eq!(node(&s, MENU).to_agents, 0);
}

#[test]
fn hours_add_up_and_a_looping_call_stays_bounded() {
    let mut hour = FlowStats::default();
    for i in 0..3 {
        hour.add(&to_queue(i));
        hour.add(&hangs_up_in_menu(i));
        hour.add(&self_served(i));
    }
    assert_eq!(hour.flow, "main");
    assert_eq!(
        (hour.calls, hour.to_agents, hour.hung_up, hour.self_service),
        (9, 3, 3, 3)
    );
    let menu = node(&hour, MENU);
    assert_eq!((menu.calls, menu.hangups, menu.to_agents), (9, 3, 3));
    assert_eq!(menu.self_service, 3);
    assert_eq!(menu.no_input(), 6);
    assert_eq!(edge(&hour, WELCOME, MENU), 9);
    assert!(hour.nodes.windows(2).all(|w| w[0].id < w[1].id));

    let mut t = FlowTally::start("loop", 0);
    for i in 0..10_000 {
        t.enter(&format!("f:{i}:1"), "say", StepKind::Prompt, i);
    }
    let s = t.finish(Outcome::Failed, 10_000);
    assert_eq!(s.nodes.len(), MAX_CALL_NODES);
    assert!(s.edges.len() <= MAX_CALL_EDGES);
    assert_eq!(s.failed, 1);
}

#[test]
fn keys_order_by_flow_then_hour() {
    let a = key("main", 7 * HOUR_MS, "");
    let b = key("main", 8 * HOUR_MS, "http://10.0.0.2:8080");
    let c = key("main2", 0, "");
    assert!(a < b && b < c);
    assert_eq!(parse_key(&b), Some(("main", 8 * HOUR_MS)));
    assert_eq!(parse_key(b"no zero"), None);
    assert_eq!(hour_of(HOUR_MS * 5 + 1), HOUR_MS * 5);
}

#[tokio::test]
async fn the_writer_sums_calls_by_hour_and_a_report_sums_a_period() {
    let (store, dir) = store();
    let sink = FlowStatsSink::spawn(store.clone(), String::new());
    let base = 1_000 * HOUR_MS;
    sink.record(base + 10, to_queue(base + 10));
    sink.record(base + 20, hangs_up_in_menu(base + 20));
    sink.record(base + HOUR_MS + 5, self_served(base + HOUR_MS + 5));
    sink.record(base + 2 * HOUR_MS, hangs_up_in_menu(base + 2 * HOUR_MS));
    let mut other = self_served(base);
    other.flow = "other".into();
    sink.record(base, other);
    // The writer is behind a channel: wait until all five calls are stored.
    let mut r = FlowReport::default();
    for _ in 0..200 {
        r = report(&*store, None, 0, i64::MAX).unwrap();
        if r.flows.iter().map(|f| f.calls).sum::<u64>() == 5 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(r.flows.len(), 2, "{r:?}");
    assert_eq!(r.flows[0].flow, "main");
    assert_eq!(r.flows[0].calls, 4);
    assert_eq!(r.flows[1].flow, "other");

    // The first two hours of `main` only.
    let two = report(&*store, Some("main"), base + 5, base + HOUR_MS + 1).unwrap();
    assert_eq!((two.from_ms, two.to_ms), (base, base + 2 * HOUR_MS));
    assert_eq!(two.flows.len(), 1);
    let main = &two.flows[0];
    assert_eq!(
        (main.calls, main.to_agents, main.hung_up, main.self_service),
        (3, 1, 1, 1)
    );
    assert_eq!(node(main, MENU).hangups, 1);

    // The period's end is exclusive: the third hour alone.
    let third = report(
        &*store,
        Some("main"),
        base + 2 * HOUR_MS,
        base + 3 * HOUR_MS,
    )
    .unwrap();
    assert_eq!(third.flows[0].calls, 1);
    assert_eq!(third.flows[0].hung_up, 1);
    let none = report(&*store, Some("nosuch"), 0, i64::MAX).unwrap();
    assert!(none.flows.is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_restarted_writer_adds_to_what_it_wrote_before() {
    let (store, dir) = store();
    let base = 5 * HOUR_MS;
    let mut cache = HashMap::new();
    merge_and_write(&*store, "a", &mut cache, vec![(base, to_queue(base))]).unwrap();
    // Another runtime writes its own entry of the same hour.
    let mut theirs = HashMap::new();
    merge_and_write(&*store, "b", &mut theirs, vec![(base, self_served(base))]).unwrap();
    // Runtime `a` restarts with nothing in memory.
    let mut fresh = HashMap::new();
    merge_and_write(
        &*store,
        "a",
        &mut fresh,
        vec![(base, hangs_up_in_menu(base))],
    )
    .unwrap();
    let r = report(&*store, Some("main"), base, base + HOUR_MS).unwrap();
    let main = &r.flows[0];
    assert_eq!(
        (main.calls, main.to_agents, main.self_service, main.hung_up),
        (3, 1, 1, 1)
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_step_that_loses_callers_comes_first() {
    let mut hour = FlowStats::default();
    hour.add(&to_queue(0));
    hour.add(&hangs_up_in_menu(0));
    hour.add(&hangs_up_in_menu(0));
    hour.add(&self_served(0));
    let order: Vec<&str> = by_losses(&hour.nodes)
        .iter()
        .map(|n| n.id.as_str())
        .collect();
    assert_eq!(order[0], MENU, "{order:?}");
    let menu = node(&hour, MENU);
    assert_eq!(menu.hangup_share(), Some(0.5));
    assert_eq!(menu.self_service_share(), Some(0.25));
    // 3 + 2 + 2 + 2 visits; one no-input and one no-match (keys), two spoken
    // no-matches, one no-input with speech.
    assert_eq!(menu.visits, 9);
    assert_eq!(menu.no_match_share(), Some(3.0 / 9.0));
    assert_eq!(menu.no_input_share(), Some(2.0 / 9.0));
    assert!(NodeStats::default().mean_time_ms().is_none());
}

/// Writes `flow`'s figures of `hours` (hour numbers since the epoch) as
/// `runtime` wrote them.
fn write_hours(store: &dyn Store, flow: &str, runtime: &str, hours: impl Iterator<Item = i64>) {
    let mut b = Batch::new();
    for h in hours {
        let mut stats = to_queue(h * HOUR_MS);
        stats.flow = flow.to_string();
        b.put_json(TREE, key(flow, h * HOUR_MS, runtime), &stats);
    }
    store.apply(b).unwrap();
}

fn stored_hours(store: &dyn Store) -> Vec<(String, i64)> {
    store
        .scan_prefix(TREE, b"")
        .unwrap()
        .iter()
        .filter_map(|(k, _)| parse_key(k).map(|(f, h)| (f.to_string(), h / HOUR_MS)))
        .collect()
}

#[test]
fn the_sweep_deletes_hours_before_the_retention_of_every_flow_and_runtime() {
    let (store, dir) = store();
    // `main` on two runtimes, hours 100 to 109; `a` (a prefix of no other
    // name but sorting before `main`) with 2,500 old hours, more than one
    // batch; `mainline`, whose name starts with `main`.
    write_hours(&*store, "main", "", 3_000..3_010);
    write_hours(&*store, "main", "http://b:8080", 3_000..3_010);
    write_hours(&*store, "a", "", 1..2_501);
    write_hours(&*store, "mainline", "", 3_003..3_006);
    // A key of no flow (no separator) is stepped over and left alone.
    let mut b = Batch::new();
    b.put(TREE, b"stray".to_vec(), b"{}".to_vec());
    store.apply(b).unwrap();

    // Everything before hour 3,005 goes, whatever the minute of the cut-off.
    let deleted = sweep(&*store, 3_005 * HOUR_MS + 1_234).unwrap();
    assert_eq!(deleted, 5 + 5 + 2_500 + 2);
    let left = stored_hours(&*store);
    let hours_of = |flow: &str| -> Vec<i64> {
        left.iter()
            .filter(|(f, _)| f == flow)
            .map(|(_, h)| *h)
            .collect()
    };
    assert_eq!(
        hours_of("main"),
        vec![
            3_005, 3_005, 3_006, 3_006, 3_007, 3_007, 3_008, 3_008, 3_009, 3_009
        ]
    );
    assert_eq!(hours_of("mainline"), vec![3_005]);
    assert!(hours_of("a").is_empty());
    assert!(store.get(TREE, b"stray").unwrap().is_some());
    // What is left still adds up: both runtimes' hours 3,005 to 3,009.
    let r = report(&*store, Some("main"), 0, i64::MAX).unwrap();
    assert_eq!(r.flows[0].calls, 10);
    // A second sweep finds nothing more.
    assert_eq!(sweep(&*store, 3_005 * HOUR_MS).unwrap(), 0);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_hourly_sweep_runs_at_once_and_stops_with_its_token() {
    let (store, dir) = store();
    let now_hour = hour_of(crate::time::now_ms()) / HOUR_MS;
    write_hours(&*store, "main", "", now_hour - 30..now_hour + 1);
    let stop = tokio_util::sync::CancellationToken::new();
    spawn_sweep(
        store.clone(),
        None,
        Some(std::time::Duration::from_secs(24 * 3_600)),
        stop.clone(),
    );
    let mut left = Vec::new();
    for _ in 0..500 {
        left = stored_hours(&*store);
        if left.len() <= 25 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // The hours of the last day (and the current one) are kept.
    let oldest = left.iter().map(|(_, h)| *h).min().unwrap();
    assert_eq!(oldest, now_hour - 24, "{left:?}");
    assert_eq!(left.len(), 25);
    stop.cancel();
    // Without a retention, nothing is swept.
    write_hours(&*store, "main", "", now_hour - 40..now_hour - 35);
    spawn_sweep(
        store.clone(),
        None,
        None,
        tokio_util::sync::CancellationToken::new(),
    );
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(stored_hours(&*store).len(), 30);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_stalled_writer_counts_the_calls_it_drops() {
    let (sink, _held) = FlowStatsSink::stalled(2);
    for i in 0..5 {
        sink.record(i, to_queue(i));
    }
    assert_eq!(sink.dropped(), 3);
    assert_eq!(FlowStatsSink::disabled().dropped(), 0);
}
