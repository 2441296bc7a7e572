//! The policy's decisions on made-up configurations: plans, emergency numbers,
//! trunk hunting by plan, channels and rate, the guard, and the audit log.

use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::config::Config;
use crate::store::SledStore;

fn policy(yaml: &str) -> (Arc<OutboundPolicy>, SharedStore) {
    let config = Config::parse(Path::new("t.yaml"), yaml).expect("the configuration");
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "dialect-outbound-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let store: SharedStore = Arc::new(SledStore::open(&dir).expect("a store"));
    let trunks = config
        .trunks
        .iter()
        .map(|t| {
            let sip = trunk::TrunkConfig::new(
                &t.name,
                &format!("sip:{}", t.host),
                "example.net",
                "10000",
            );
            (t.clone(), sip)
        })
        .collect();
    let p = OutboundPolicy::new(&config, trunks, store.clone(), Arc::new(Stats::default()));
    (p, store)
}

const TWO_TRUNKS: &str = "trunks:\n  - { name: a, host: \"127.0.0.2:5060\", group: out, channels: 1 }\n  - { name: b, host: \"127.0.0.3:5060\", group: out, channels: 1 }\n";

fn agent(id: &str, how: AgentRequest) -> Origin {
    Origin::Agent { id: id.into(), how }
}

fn ask<'a>(origin: Origin, number: &'a str) -> Request<'a> {
    Request {
        origin,
        number,
        trunk: None,
    }
}

#[tokio::test]
async fn numbers_abroad_are_refused_however_they_are_written() {
    let (p, _) = policy(TWO_TRUNKS);
    for n in [
        "00882169999999",
        "+882 16 9999999",
        "0044 20 7946 0000",
        "＋44 20 7946 0000",
    ] {
        let r = p
            .authorize(ask(agent("7001", AgentRequest::Dial), n))
            .unwrap_err();
        assert!(
            matches!(&r.reason, Reason::Plan { refusal: PlanRefusal::Denied { pattern }, .. } if pattern == "00."),
            "{n}: {r}"
        );
    }
    let g = p
        .authorize(ask(Origin::Callback, "+86 138-0013-8000"))
        .unwrap();
    assert_eq!(g.number(), "13800138000", "dialled in canonical form");
}

#[tokio::test]
async fn emergency_numbers_are_for_people_only() {
    let (p, _) = policy(TWO_TRUNKS);
    assert!(
        p.authorize(ask(agent("7001", AgentRequest::Refer), "110"))
            .is_ok()
    );
    assert_eq!(
        p.authorize(ask(Origin::Callback, "110"))
            .unwrap_err()
            .reason,
        Reason::EmergencyByMachine
    );
    assert_eq!(
        p.authorize(ask(Origin::Campaign { name: "c".into() }, "120"))
            .unwrap_err()
            .reason,
        Reason::EmergencyByMachine
    );
    // A flow follows its plan, which has no short codes.
    assert!(matches!(
        p.authorize(ask(Origin::Flow { flow: "f".into() }, "119"))
            .unwrap_err()
            .reason,
        Reason::Plan { .. }
    ));
}

#[tokio::test]
async fn a_trunk_group_hunts_for_a_free_channel_and_frees_it_when_the_call_ends() {
    let (p, _) = policy(TWO_TRUNKS);
    let req = || Request {
        origin: Origin::Flow { flow: "f".into() },
        number: "13800138000",
        trunk: Some("out"),
    };
    let first = p.authorize(req()).unwrap();
    let second = p.authorize(req()).unwrap();
    assert_eq!(
        (first.trunk().name.as_str(), second.trunk().name.as_str()),
        ("a", "b")
    );
    assert_eq!(
        p.authorize(req()).unwrap_err().reason,
        Reason::TrunkFull {
            trunk: "a".into(),
            channels: 1
        }
    );
    drop(first);
    assert_eq!(p.authorize(req()).unwrap().trunk().name, "a");
    assert_eq!(
        p.authorize(Request {
            trunk: Some("nowhere"),
            ..req()
        })
        .unwrap_err()
        .reason,
        Reason::NoTrunk(Some("nowhere".into()))
    );
}

#[tokio::test]
async fn inbound_calls_take_the_trunks_channels_too() {
    let (p, _) = policy(TWO_TRUNKS);
    let a = p
        .inbound_trunk("127.0.0.2".parse().unwrap())
        .unwrap()
        .clone();
    assert!(
        p.inbound_trunk("127.0.0.1".parse().unwrap()).is_none(),
        "a stranger is no trunk"
    );
    let held = p.inbound_channel(&a).unwrap();
    assert!(p.inbound_channel(&a).is_none());
    let out = p
        .authorize(Request {
            origin: Origin::Callback,
            number: "13800138000",
            trunk: Some("a"),
        })
        .unwrap_err();
    assert!(matches!(out.reason, Reason::TrunkFull { .. }), "{out}");
    drop(held);
    assert_eq!(a.channels_in_use(), 0);
}

#[tokio::test]
async fn each_trunk_plan_decides_where_a_number_may_leave() {
    let yaml = "outbound:\n  plans:\n    local_only:\n      allow: [\"[2-8]XXXXXXX\"]\ntrunks:\n  - { name: city, host: \"127.0.0.2:5060\", dial_plan: local_only }\n  - { name: national, host: \"127.0.0.3:5060\" }\n";
    let (p, _) = policy(yaml);
    let local = p.authorize(ask(Origin::Callback, "65529988")).unwrap();
    assert_eq!(local.trunk().name, "city");
    let mobile = p.authorize(ask(Origin::Callback, "13800138000")).unwrap();
    assert_eq!(
        mobile.trunk().name,
        "national",
        "the city trunk's plan refuses mobiles"
    );
}

#[tokio::test]
async fn an_agent_plan_of_its_own_comes_first() {
    let yaml = "outbound:\n  plans:\n    internal:\n      allow: [\"8XXXXXXX\"]\nagents:\n  - { id: \"7001\", password: \"long enough secret\", dial_plan: internal }\ntrunks:\n  - { name: a, host: \"127.0.0.2:5060\" }\n";
    let (p, _) = policy(yaml);
    assert!(
        p.permits(&agent("7001", AgentRequest::Dial), "85529988")
            .is_ok()
    );
    let r = p
        .permits(&agent("7001", AgentRequest::Dial), "13800138000")
        .unwrap_err();
    assert!(
        matches!(&r.reason, Reason::Plan { plan, .. } if plan == "internal"),
        "{r}"
    );
    assert!(
        p.permits(&agent("7002", AgentRequest::Dial), "13800138000")
            .is_ok()
    );
}

#[tokio::test(start_paused = true)]
async fn a_trunks_call_rate_is_kept() {
    let (p, _) =
        policy("trunks:\n  - { name: a, host: \"127.0.0.2:5060\", calls_per_second: 2 }\n");
    let mut grants = Vec::new();
    for _ in 0..2 {
        grants.push(p.authorize(ask(Origin::Callback, "13800138000")).unwrap());
    }
    assert_eq!(
        p.authorize(ask(Origin::Callback, "13800138000"))
            .unwrap_err()
            .reason,
        Reason::TrunkRate {
            trunk: "a".into(),
            per_second: 2
        }
    );
    tokio::time::advance(std::time::Duration::from_millis(600)).await;
    assert!(p.authorize(ask(Origin::Callback, "13800138000")).is_ok());
}

#[tokio::test]
async fn the_guard_stops_an_agent_at_the_hourly_limit_and_every_refusal_is_audited() {
    let yaml = "outbound:\n  guard:\n    agent: { calls: 2, minutes: 60 }\ntrunks:\n  - { name: a, host: \"127.0.0.2:5060\", channels: 10 }\n";
    let (p, store) = policy(yaml);
    for _ in 0..2 {
        drop(
            p.authorize(ask(agent("7001", AgentRequest::Dial), "13800138000"))
                .unwrap(),
        );
    }
    let r = p
        .authorize(ask(agent("7001", AgentRequest::Dial), "13800138000"))
        .unwrap_err();
    assert_eq!(
        r.reason,
        Reason::Guard {
            account: "agent 7001".into(),
            refusal: GuardRefusal::Calls { limit: 2 }
        }
    );
    let _ = p.permits(&agent("7002", AgentRequest::Refer), "00882169999999");
    // The audit entries are written by tasks of their own.
    let mut entries = Vec::new();
    for _ in 0..100 {
        entries = crate::auth::audit_entries(&*store, 0, i64::MAX / 2, 100).unwrap();
        if entries
            .iter()
            .filter(|e| e.action == "outbound.refused")
            .count()
            == 2
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let refused: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "outbound.refused")
        .collect();
    assert_eq!(refused.len(), 2, "{entries:?}");
    assert!(
        refused
            .iter()
            .any(|e| e.user == "7001" && e.target == "13800138000")
    );
    assert!(
        refused
            .iter()
            .any(|e| e.user == "7002" && e.target == "00882169999999")
    );
    // Two calls of two: the alarm (at 80 %) was raised and audited too.
    assert!(
        entries.iter().any(|e| e.action == "outbound.alarm"),
        "{entries:?}"
    );
}

#[test]
fn the_configuration_names_only_plans_and_trunks_that_exist() {
    for (yaml, bad) in [
        (
            "trunks:\n  - { name: a, host: \"h:1\", dial_plan: nationwide }\n",
            "nationwide",
        ),
        ("outbound:\n  origins:\n    agents: staff\n", "staff"),
        ("outbound:\n  plans:\n    empty: {}\n", "empty"),
        ("outbound:\n  emergency:\n    trunk: ghost\n", "ghost"),
        (
            "outbound:\n  plans:\n    p:\n      allow: [\"1.3\"]\n",
            "1.3",
        ),
        ("outbound:\n  guard:\n    alarm_at: 180%\n", "share"),
    ] {
        let e = Config::parse(Path::new("t.yaml"), yaml)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("t.yaml:"), "{e}");
        assert!(e.contains(bad), "{yaml}: {e}");
    }
}
