//! Unit tests of the ACD core on explicit time: strategies, priorities from the
//! compiled queue rules, overflow, maximum wait, no-answer, wrap-up, callbacks and
//! opening hours.

use std::sync::atomic::{AtomicU64, Ordering};

use dialect_compiler::ir::DestIr;
use dialect_compiler::value::Value;
use dialect_compiler::{Engine, Program};

use super::*;
use crate::{AcdToCall, AgentStatus, DialKind, Effect, MoveReason, OfferResult, QueuedCall};

const SOURCE: &str = r#"
calldata {
  level: number = 0
}

skill general, billing, senior levels 1..5

calendar office "Office" {
  timezone "UTC"
  hours daily 08:00-09:00
}

queue first "First" {
  skills general >= 1
  strategy first_idle
  priority 0
}

queue longest "Longest" {
  skills general >= 1
  strategy longest_idle
  priority 0
}

queue fewest "Fewest" {
  skills general >= 1
  strategy fewest_calls
  priority 0
}

queue talk "Talk" {
  skills general >= 1
  strategy least_talk_time
  priority 0
}

queue high "High" {
  skills billing >= 1
  strategy highest_skill
  priority 0
}

queue low "Low" {
  skills billing >= 1
  strategy lowest_skill
  priority 0
}

queue rr "RoundRobin" {
  skills general >= 1
  strategy round_robin
  priority 0
}

queue all "RingAll" {
  skills general >= 1
  strategy ring_all
  priority 0
}

queue prio "Priority" {
  skills general >= 1
  strategy longest_idle
  priority data.level * 10 + minutes(waited)
}

queue up "Up" {
  skills billing >= 1
  strategy longest_idle
  priority 0
  overflow up to senior when waited > 1m
}

queue down "Down" {
  skills billing >= 1
  strategy longest_idle
  priority 0
  overflow down to senior when waiting > 1
}

queue senior "Senior" {
  skills senior >= 1
  strategy longest_idle
  priority 0
}

queue maxwait "MaxWait" {
  skills general >= 1
  strategy longest_idle
  priority 0
  max wait 1m -> flow voicemail
}

queue missed "Missed" {
  skills general >= 1
  strategy longest_idle
  priority 0
  no answer 10s -> requeue first
  agent policy (max missed 2, reject delay 10s, busy delay 5s, unregistered delay 30s)
}

queue wrap "Wrap" {
  skills general >= 1
  strategy longest_idle
  priority 0
  wrap up 20s
}

queue cb "Callback" {
  skills general >= 1
  strategy longest_idle
  priority 0
  key 9 -> callback
  key 8 -> flow voicemail
}

queue later "CallbackLater" {
  skills general >= 1
  strategy longest_idle
  priority 0
  key 1 -> callback when waited > 2m
}

queue offered "CallbackOffered" {
  skills general >= 1
  strategy longest_idle
  priority 0
  key 1 -> callback offer "press1_callback.wav" every 30s when waited > 2m
}

queue announced "Announced" {
  skills general >= 1
  strategy longest_idle
  priority 0
  announce wait every 30s when estimated_wait > 10s
}

queue night "Night" {
  skills general >= 1
  strategy longest_idle
  priority 0
  hours office closed -> flow voicemail
}

flow voicemail "Voicemail" {
  hangup
}
"#;

/// 2026-03-02 12:00 UTC: outside the `office` hours.
const NOON: i64 = 1_772_452_800_000;

fn program() -> Program {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "dialect-acd-core-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("acd.flow"), SOURCE).unwrap();
    std::fs::create_dir_all(dir.join("prompts")).unwrap();
    std::fs::write(dir.join("prompts/press1_callback.wav"), b"").unwrap();
    // The prompts `announce wait` plays.
    for minutes in 1..=30 {
        std::fs::write(dir.join(format!("prompts/queue_wait_{minutes}m.wav")), b"").unwrap();
    }
    std::fs::write(dir.join("prompts/queue_wait_more.wav"), b"").unwrap();
    let (_, ir) = dialect_compiler::compile_paths(std::slice::from_ref(&dir)).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    Program::new(ir, Engine::Native).unwrap()
}

struct T {
    core: AcdCore,
    now: i64,
    out: Vec<Effect>,
}

fn agent(id: &str, skills: &[(&str, u32)]) -> AgentDef {
    AgentDef {
        id: id.into(),
        name: id.into(),
        skills: skills.iter().map(|(s, l)| (s.to_string(), *l)).collect(),
        auto_answer: false,
    }
}

impl T {
    fn new(agents: Vec<AgentDef>) -> T {
        T {
            core: AcdCore::new(AcdConfig::default(), program(), agents, NOON),
            now: NOON,
            out: Vec::new(),
        }
    }

    fn at(&mut self, ms: i64) {
        assert!(NOON + ms >= self.now, "time goes forward");
        self.now = NOON + ms;
        self.core.handle(self.now, Input::Tick, &mut self.out);
    }

    fn cmd(&mut self, agent: &str, cmd: AgentCommand) {
        self.core
            .command(self.now, agent, cmd, agent, &mut self.out)
            .unwrap();
    }

    /// The agent places an outbound call to `number`; the dial order's call.
    fn dial(&mut self, agent: &str, number: &str) -> CallId {
        self.cmd(
            agent,
            AgentCommand::Dial {
                number: number.into(),
                trunk: String::new(),
            },
        );
        self.out
            .iter()
            .find_map(|e| match e {
                Effect::Dial(d) => Some(d.call),
                _ => None,
            })
            .expect("a dial order")
    }

    fn ready(&mut self, agent: &str) {
        if self.core.agent_status(agent) == Some(AgentStatus::SignedOut) {
            self.cmd(agent, AgentCommand::SignIn);
        }
        self.cmd(agent, AgentCommand::Ready);
    }

    fn call(&mut self, id: CallId, queue: &str, level: f64) {
        let mut qc = QueuedCall::new(id, queue, "13800000000", self.now);
        qc.data = vec![("level".into(), Value::Number(level))];
        qc.callback_number = "13800000000".into();
        self.core
            .handle(self.now, Input::Enqueue(qc), &mut self.out);
    }

    fn input(&mut self, i: Input) {
        self.core.handle(self.now, i, &mut self.out);
    }

    /// The offers made since the last look: (call, agent).
    fn offers(&mut self) -> Vec<(CallId, String)> {
        let mut v = Vec::new();
        for e in self.out.drain(..) {
            if let Effect::ToCall(c, AcdToCall::Offer { agent, .. }) = e {
                v.push((c, agent.to_string()));
            }
        }
        v
    }

    /// Every message to calls since the last look.
    fn messages(&mut self) -> Vec<(CallId, AcdToCall)> {
        let mut v = Vec::new();
        for e in self.out.drain(..) {
            if let Effect::ToCall(c, m) = e {
                v.push((c, m));
            }
        }
        v
    }

    /// Offer answered; then the call ends after `talk_ms`.
    fn talk(&mut self, call: CallId, agent: &str, talk_ms: i64) {
        self.input(Input::OfferResult {
            call,
            agent: agent.into(),
            result: OfferResult::Answered,
        });
        self.now += talk_ms;
        self.out.clear();
        self.input(Input::CallEnded {
            call,
            talk_ms: Some(talk_ms),
        });
    }
}

fn general(id: &str) -> AgentDef {
    agent(id, &[("general", 1)])
}

#[test]
fn first_idle_takes_the_first_agent_in_order() {
    let mut t = T::new(vec![general("a1"), general("a2")]);
    t.ready("a2");
    t.at(1000);
    t.ready("a1");
    t.out.clear();
    t.call(1, "first", 0.0);
    assert_eq!(t.offers(), vec![(1, "a1".to_string())]);
}

#[test]
fn longest_idle_takes_the_agent_free_the_longest() {
    let mut t = T::new(vec![general("a1"), general("a2")]);
    t.ready("a2");
    t.at(1000);
    t.ready("a1");
    t.out.clear();
    t.call(1, "longest", 0.0);
    assert_eq!(t.offers(), vec![(1, "a2".to_string())]);
}

#[test]
fn fewest_calls_and_least_talk_time() {
    let mut t = T::new(vec![general("a1"), general("a2")]);
    t.ready("a1");
    t.out.clear();
    // a1 handles two short calls, then a2 one long call.
    t.call(1, "longest", 0.0);
    assert_eq!(t.offers(), vec![(1, "a1".to_string())]);
    t.talk(1, "a1", 5_000);
    t.call(2, "longest", 0.0);
    assert_eq!(t.offers(), vec![(2, "a1".to_string())]);
    t.talk(2, "a1", 5_000);
    t.ready("a2");
    t.out.clear();
    t.cmd("a1", AgentCommand::NotReady { reason: "x".into() });
    t.call(3, "longest", 0.0);
    assert_eq!(t.offers(), vec![(3, "a2".to_string())]);
    t.talk(3, "a2", 60_000);
    t.ready("a1");
    t.ready("a2");
    t.out.clear();
    // a2 has fewer calls; a1 less talk time.
    t.call(4, "fewest", 0.0);
    assert_eq!(t.offers(), vec![(4, "a2".to_string())]);
    t.input(Input::CallerGone { call: 4 });
    t.out.clear();
    t.call(5, "talk", 0.0);
    assert_eq!(t.offers(), vec![(5, "a1".to_string())]);
}

#[test]
fn highest_and_lowest_skill_level() {
    let mut t = T::new(vec![
        agent("a1", &[("billing", 2)]),
        agent("a2", &[("billing", 5)]),
        agent("a3", &[("general", 5)]),
    ]);
    t.ready("a1");
    t.ready("a2");
    t.ready("a3");
    t.out.clear();
    t.call(1, "high", 0.0);
    assert_eq!(t.offers(), vec![(1, "a2".to_string())]);
    t.call(2, "low", 0.0);
    assert_eq!(t.offers(), vec![(2, "a1".to_string())]);
}

#[test]
fn round_robin_rotates() {
    let mut t = T::new(vec![general("a1"), general("a2"), general("a3")]);
    for a in ["a1", "a2", "a3"] {
        t.ready(a);
    }
    t.out.clear();
    let mut got = Vec::new();
    for c in 1..=6 {
        t.call(c, "rr", 0.0);
        let o = t.offers();
        assert_eq!(o.len(), 1);
        got.push(o[0].1.clone());
        t.talk(c, &o[0].1, 1000);
        t.ready(&o[0].1);
        t.out.clear();
    }
    assert_eq!(got[0..3], got[3..6], "the same turn comes round: {got:?}");
    let mut first: Vec<_> = got[0..3].to_vec();
    first.sort();
    assert_eq!(first, vec!["a1", "a2", "a3"]);
}

#[test]
fn ring_all_rings_everyone_and_cancels_the_others() {
    let mut t = T::new(vec![
        general("a1"),
        general("a2"),
        agent("b", &[("billing", 3)]),
    ]);
    for a in ["a1", "a2", "b"] {
        t.ready(a);
    }
    t.out.clear();
    t.call(1, "all", 0.0);
    let mut o = t.offers();
    o.sort();
    assert_eq!(o, vec![(1, "a1".to_string()), (1, "a2".to_string())]);
    t.input(Input::OfferResult {
        call: 1,
        agent: "a2".into(),
        result: OfferResult::Answered,
    });
    let msgs = t.messages();
    assert!(msgs.contains(&(1, AcdToCall::CancelOffer { agent: "a1".into() })));
    assert!(msgs.contains(&(1, AcdToCall::Bridge { agent: "a2".into() })));
    assert_eq!(t.core.agent_status("a1"), Some(AgentStatus::Ready));
    assert_eq!(t.core.agent_status("a2"), Some(AgentStatus::Talking));
}

#[test]
fn priority_expression_orders_waiting_calls() {
    let mut t = T::new(vec![general("a1")]);
    // Level 0 at 0 s, level 2 at 1 s, level 0 at 2 s.
    t.call(1, "prio", 0.0);
    t.at(1_000);
    t.call(2, "prio", 2.0);
    t.at(2_000);
    t.call(3, "prio", 0.0);
    t.out.clear();
    t.ready("a1");
    assert_eq!(t.offers(), vec![(2, "a1".to_string())], "level 2 first");
    t.talk(2, "a1", 1_000);
    assert_eq!(
        t.offers(),
        vec![(1, "a1".to_string())],
        "then the older call"
    );

    // Time waited counts: after 25 min a level-0 call is ahead of a new level-2 one.
    let mut t = T::new(vec![general("a1")]);
    t.call(1, "prio", 0.0);
    t.at(25 * 60_000);
    t.call(2, "prio", 2.0);
    t.out.clear();
    t.ready("a1");
    assert_eq!(t.offers(), vec![(1, "a1".to_string())]);
}

#[test]
fn overflow_up_only_into_a_free_senior_agent() {
    let mut t = T::new(vec![agent("s1", &[("senior", 2)])]);
    t.call(1, "up", 0.0);
    t.at(90_000);
    assert!(
        t.messages()
            .iter()
            .all(|(_, m)| !matches!(m, AcdToCall::Move { .. } | AcdToCall::Offer { .. })),
        "no free senior agent: the call stays"
    );
    assert_eq!(t.core.queue_view_named("up", t.now).unwrap().waiting, 1);
    t.ready("s1");
    t.at(100_000);
    assert_eq!(t.offers(), vec![(1, "s1".to_string())]);
    assert_eq!(t.core.queue_view_named("up", t.now).unwrap().waiting, 0);
}

#[test]
fn overflow_down_arrives_ahead_of_calls_waiting_there() {
    let mut t = T::new(vec![agent("s1", &[("senior", 2)])]);
    t.call(10, "senior", 0.0);
    t.at(1_000);
    t.call(1, "down", 0.0);
    t.at(2_000);
    t.call(2, "down", 0.0);
    t.at(3_000);
    t.out.clear();
    // Two waiting in `down` (> 1): the call moved down goes before call 10.
    assert_eq!(t.core.queue_view_named("senior", t.now).unwrap().waiting, 2);
    t.ready("s1");
    let o = t.offers();
    assert_eq!(o.len(), 1);
    assert_ne!(o[0].0, 10, "the overflowed call is first: {o:?}");
}

#[test]
fn max_wait_sends_the_call_to_its_destination() {
    let mut t = T::new(vec![general("a1")]);
    t.call(1, "maxwait", 0.0);
    t.at(59_000);
    assert!(
        !t.messages()
            .iter()
            .any(|(_, m)| matches!(m, AcdToCall::Move { .. }))
    );
    let wake = t.core.next_wake().unwrap();
    assert!(wake <= NOON + 60_000, "wakes up for the maximum wait");
    t.at(60_000);
    let msgs = t.messages();
    assert!(
        msgs.contains(&(
            1,
            AcdToCall::Move {
                dest: DestIr::Flow("voicemail".into()),
                reason: MoveReason::MaxWait
            }
        )),
        "{msgs:?}"
    );
}

#[test]
fn no_answer_reoffers_first_and_makes_the_agent_not_ready() {
    let mut t = T::new(vec![general("a1"), general("a2")]);
    t.ready("a1");
    t.at(1_000);
    t.out.clear();
    t.call(1, "missed", 0.0);
    assert_eq!(t.offers(), vec![(1, "a1".to_string())]);
    t.at(2_000);
    t.call(2, "missed", 0.0);
    t.at(5_000);
    t.call(3, "missed", 0.0);
    assert!(t.offers().is_empty());
    // Ten seconds of ringing: withdrawn; a1 stays ready (one miss of two) and gets
    // the next call, not the same one again.
    t.at(11_000);
    let msgs = t.messages();
    assert!(msgs.contains(&(1, AcdToCall::CancelOffer { agent: "a1".into() })));
    let offers: Vec<_> = msgs
        .iter()
        .filter_map(|(c, m)| match m {
            AcdToCall::Offer { agent, .. } => Some((*c, agent.to_string())),
            _ => None,
        })
        .collect();
    assert_eq!(offers, vec![(2, "a1".to_string())]);
    // Call 1 went back first: a2 gets it before call 3.
    t.ready("a2");
    assert_eq!(t.offers(), vec![(1, "a2".to_string())]);
    // A second miss: a1 is made not ready.
    t.at(21_000);
    assert_eq!(t.core.agent_status("a1"), Some(AgentStatus::NotReady));
}

#[test]
fn wrap_up_holds_the_agent_back() {
    let mut t = T::new(vec![general("a1")]);
    t.ready("a1");
    t.out.clear();
    t.call(1, "wrap", 0.0);
    assert_eq!(t.offers(), vec![(1, "a1".to_string())]);
    t.talk(1, "a1", 30_000);
    assert_eq!(t.core.agent_status("a1"), Some(AgentStatus::WrapUp));
    let end = t.now - NOON;
    t.call(2, "wrap", 0.0);
    assert!(t.offers().is_empty());
    t.at(end + 19_000);
    assert!(t.offers().is_empty());
    t.at(end + 20_000);
    assert_eq!(t.offers(), vec![(2, "a1".to_string())]);
}

#[test]
fn a_key_with_a_condition_works_only_while_it_holds() {
    let mut t = T::new(vec![general("a1")]);
    t.call(1, "later", 0.0);
    t.at(60_000);
    t.out.clear();
    t.input(Input::CallerKey { call: 1, key: '1' });
    let msgs = t.messages();
    assert!(
        !msgs
            .iter()
            .any(|(_, m)| matches!(m, AcdToCall::CallbackAccepted { .. })),
        "after 1 min the key does nothing: {msgs:?}"
    );
    t.at(2 * 60_000 + 1_000);
    t.out.clear();
    t.input(Input::CallerKey { call: 1, key: '1' });
    let msgs = t.messages();
    assert!(
        msgs.iter()
            .any(|(c, m)| *c == 1 && matches!(m, AcdToCall::CallbackAccepted { .. })),
        "after 2 min it offers the callback: {msgs:?}"
    );
}

#[test]
fn a_keys_offer_is_played_only_while_the_key_works() {
    let mut t = T::new(vec![general("a1")]);
    t.call(1, "offered", 0.0);
    let mut offered_at = Vec::new();
    for s in (5..=300).step_by(5) {
        t.at(s * 1000);
        for (c, m) in t.messages() {
            if let AcdToCall::Announce(crate::Announcement::Prompt { file }) = m {
                assert_eq!((c, file.as_str()), (1, "press1_callback.wav"));
                offered_at.push(s);
            }
        }
    }
    assert!(
        !offered_at.is_empty() && offered_at.iter().all(|s| *s > 120),
        "the call-back is offered only after two minutes: {offered_at:?}"
    );
    assert!(
        offered_at.windows(2).all(|w| w[1] - w[0] >= 30),
        "every 30 s at most: {offered_at:?}"
    );
    // And the key it offers works then.
    t.input(Input::CallerKey { call: 1, key: '1' });
    assert!(
        t.messages()
            .iter()
            .any(|(c, m)| *c == 1 && matches!(m, AcdToCall::CallbackAccepted { .. }))
    );
}

#[test]
fn a_transfer_priority_is_added_to_the_queues() {
    // Two level-0 calls and a level-1 one: the later level-0 call came with
    // `(priority 15)`, which beats level 1 (10) in `prio`.
    let mut t = T::new(vec![general("a1")]);
    t.call(1, "prio", 1.0);
    t.at(1_000);
    let mut qc = QueuedCall::new(2, "prio", "13800000000", t.now);
    qc.data = vec![("level".into(), Value::Number(0.0))];
    qc.priority = 15.0;
    t.input(Input::Enqueue(qc));
    t.at(2_000);
    t.call(3, "prio", 0.0);
    t.out.clear();
    t.ready("a1");
    assert_eq!(t.offers(), vec![(2, "a1".to_string())]);
    // In a queue without a priority rule, it alone orders the calls.
    let mut t = T::new(vec![general("a1")]);
    t.call(1, "longest", 0.0);
    let mut qc = QueuedCall::new(2, "longest", "13800000000", t.now);
    qc.priority = 1.0;
    t.input(Input::Enqueue(qc));
    t.out.clear();
    t.ready("a1");
    assert_eq!(t.offers(), vec![(2, "a1".to_string())]);
}

#[test]
fn callback_keeps_the_place() {
    let mut t = T::new(vec![general("a1")]);
    t.call(1, "cb", 0.0);
    t.at(1_000);
    t.call(2, "cb", 0.0);
    t.at(2_000);
    t.input(Input::CallerKey { call: 1, key: '9' });
    let msgs = t.messages();
    assert!(
        msgs.iter()
            .any(|(c, m)| *c == 1 && matches!(m, AcdToCall::CallbackAccepted { position: 1 })),
        "{msgs:?}"
    );
    t.call(3, "cb", 0.0);
    t.out.clear();
    t.ready("a1");
    let mut dials = Vec::new();
    let mut offers = Vec::new();
    for e in t.out.drain(..) {
        match e {
            Effect::Dial(d) => dials.push(d),
            Effect::ToCall(c, AcdToCall::Offer { .. }) => offers.push(c),
            _ => {}
        }
    }
    assert!(offers.is_empty(), "call 2 does not overtake: {offers:?}");
    assert_eq!(dials.len(), 1);
    assert_eq!(dials[0].call, 1);
    assert_eq!(dials[0].kind, DialKind::Callback);
    assert_eq!(&*dials[0].agent, "a1");
    assert_eq!(dials[0].number, "13800000000");

    // The other key goes to its flow.
    t.input(Input::CallerKey { call: 2, key: '8' });
    let msgs = t.messages();
    assert!(msgs.contains(&(
        2,
        AcdToCall::Move {
            dest: DestIr::Flow("voicemail".into()),
            reason: MoveReason::CancelKey
        }
    )));
}

#[test]
fn a_caller_without_a_trusted_number_is_not_called_back_and_keeps_the_place() {
    let mut t = T::new(vec![general("a1")]);
    // Only the From header names the caller: nothing to call back.
    let qc = QueuedCall::new(1, "cb", "00882169999999", t.now);
    t.input(Input::Enqueue(qc));
    t.call(2, "cb", 0.0);
    t.at(1_000);
    t.input(Input::CallerKey { call: 1, key: '9' });
    let msgs = t.messages();
    assert!(msgs.contains(&(1, AcdToCall::CallbackRefused)), "{msgs:?}");
    assert!(
        !msgs
            .iter()
            .any(|(_, m)| matches!(m, AcdToCall::CallbackAccepted { .. })),
        "{msgs:?}"
    );
    t.out.clear();
    t.ready("a1");
    let mut dialled = false;
    let mut offered = Vec::new();
    for e in t.out.drain(..) {
        match e {
            Effect::Dial(_) => dialled = true,
            Effect::ToCall(c, AcdToCall::Offer { .. }) => offered.push(c),
            _ => {}
        }
    }
    assert!(!dialled, "no number is dialled");
    assert_eq!(
        offered,
        vec![1],
        "the caller kept the first place and is offered"
    );
}

#[test]
fn closed_queue_sends_calls_to_night_service() {
    let mut t = T::new(vec![general("a1")]);
    t.ready("a1");
    t.out.clear();
    t.call(1, "night", 0.0);
    let msgs = t.messages();
    assert_eq!(
        msgs,
        vec![(
            1,
            AcdToCall::Move {
                dest: DestIr::Flow("voicemail".into()),
                reason: MoveReason::Closed
            }
        )]
    );
    // Open at 08:30 the next day.
    t.at(20 * 3_600_000 + 30 * 60_000);
    t.call(2, "night", 0.0);
    assert_eq!(t.offers(), vec![(2, "a1".to_string())]);
}

#[test]
fn the_dial_timeout_gives_the_placed_call_up_and_a_late_answer_is_refused() {
    let mut t = T::new(vec![general("a1")]);
    t.cmd("a1", AgentCommand::SignIn);
    t.out.clear();
    let call = t.dial("a1", "13800138000");
    assert_eq!(t.core.agent_status("a1"), Some(AgentStatus::Ringing));
    t.out.clear();

    // Nothing before the limit; at the limit the ACD gives the call up: the call
    // task is told to stop dialling, and the agent is back where they were.
    t.at(AcdConfig::default().dial_timeout_ms - 1);
    assert!(!t.out.contains(&Effect::DialGivenUp(call)));
    t.at(AcdConfig::default().dial_timeout_ms);
    assert!(t.out.contains(&Effect::DialGivenUp(call)), "{:?}", t.out);
    assert_eq!(t.core.agent_status("a1"), Some(AgentStatus::NotReady));

    // The call task reports its cancelled dial: nothing more happens.
    t.out.clear();
    t.input(Input::DialFailed {
        call,
        reason: "the ACD gave up waiting".into(),
    });
    assert!(
        t.out.iter().all(|e| matches!(e, Effect::Event(_))),
        "{:?}",
        t.out
    );

    // Had the number answered just then, the call task is told to hang up
    // instead of waiting for a bridge that never comes.
    t.input(Input::DialAnswered { call });
    assert!(
        t.messages()
            .iter()
            .any(|(c, m)| *c == call && matches!(m, AcdToCall::Unavailable { .. })),
    );
    assert_eq!(t.core.agent_status("a1"), Some(AgentStatus::NotReady));
}

#[test]
fn a_placed_call_that_fails_by_itself_is_given_up_once() {
    let mut t = T::new(vec![general("a1")]);
    t.ready("a1");
    let call = t.dial("a1", "13800138000");
    t.out.clear();
    t.input(Input::DialFailed {
        call,
        reason: "rejected 486".into(),
    });
    let given_up = t
        .out
        .iter()
        .filter(|e| **e == Effect::DialGivenUp(call))
        .count();
    assert_eq!(given_up, 1);
    assert_eq!(t.core.agent_status("a1"), Some(AgentStatus::Ready));
    // The timer that was set for it finds nothing to give up any more.
    t.out.clear();
    t.at(AcdConfig::default().dial_timeout_ms + 1);
    assert!(!t.out.contains(&Effect::DialGivenUp(call)));
}

#[test]
fn an_agent_held_for_a_preview_gets_no_queue_call_until_released() {
    let mut t = T::new(vec![general("a1")]);
    t.ready("a1");
    t.out.clear();
    t.core
        .reserve("a1", "preview retention", t.now, &mut t.out)
        .unwrap();
    assert_eq!(t.core.agent_status("a1"), Some(AgentStatus::Ringing));
    t.call(1, "first", 0.0);
    assert_eq!(t.offers(), vec![], "a held agent is offered nothing");
    // A second hold only renames it; a busy agent cannot be held.
    t.core
        .reserve("a1", "preview retention: dialling", t.now, &mut t.out)
        .unwrap();
    t.core.release_reservation("a1", t.now, &mut t.out);
    assert_eq!(t.offers(), vec![(1, "a1".to_string())]);
    assert!(t.core.reserve("a1", "preview", t.now, &mut t.out).is_err());
}

#[test]
fn a_direct_call_ends_the_hold_by_ringing_the_held_agent() {
    let mut t = T::new(vec![general("a1")]);
    t.ready("a1");
    t.core
        .reserve("a1", "preview offer", t.now, &mut t.out)
        .unwrap();
    t.out.clear();
    let qc = QueuedCall::new(7, "", "13800000000", t.now);
    t.input(Input::Direct {
        call: qc,
        agent: "a1".into(),
    });
    assert_eq!(t.offers(), vec![(7, "a1".to_string())]);
    // Releasing afterwards (the dialer's call ended) leaves the call alone.
    t.core.release_reservation("a1", t.now, &mut t.out);
    assert_eq!(t.core.agent_status("a1"), Some(AgentStatus::Ringing));
    assert!(t.core.agents[t.core.agent_ix["a1"]].call.is_some());
}

#[test]
fn an_agent_who_asks_for_a_break_during_a_preview_gets_it_at_the_release() {
    let mut t = T::new(vec![general("a1")]);
    t.ready("a1");
    t.core
        .reserve("a1", "preview offer", t.now, &mut t.out)
        .unwrap();
    t.cmd(
        "a1",
        AgentCommand::NotReady {
            reason: "lunch".into(),
        },
    );
    t.core.release_reservation("a1", t.now, &mut t.out);
    assert_eq!(t.core.agent_status("a1"), Some(AgentStatus::NotReady));
    t.out.clear();
    t.call(1, "first", 0.0);
    assert_eq!(t.offers(), vec![]);
}

#[test]
fn send_dtmf_goes_to_the_agents_connected_call_with_the_keys_checked() {
    let mut t = T::new(vec![general("a1"), general("a2")]);
    t.ready("a1");
    t.ready("a2");
    // No call yet: nothing to send the keys on.
    let none = t.core.command(
        t.now,
        "a1",
        AgentCommand::SendDtmf { digits: "1".into() },
        "a1",
        &mut t.out,
    );
    assert_eq!(none.unwrap_err(), CtiError::NoCall("a1".into()));
    t.out.clear();
    t.call(1, "first", 0.0);
    assert_eq!(t.offers(), vec![(1, "a1".to_string())]);
    // Ringing is not talking: the keys wait for the answer.
    let ringing = t.core.command(
        t.now,
        "a1",
        AgentCommand::SendDtmf { digits: "1".into() },
        "a1",
        &mut t.out,
    );
    assert_eq!(ringing.unwrap_err(), CtiError::NoCall("a1".into()));
    t.input(Input::OfferResult {
        call: 1,
        agent: "a1".into(),
        result: OfferResult::Answered,
    });
    t.out.clear();
    let reply = t
        .core
        .command(
            t.now,
            "a1",
            AgentCommand::SendDtmf {
                digits: "12#b*".into(),
            },
            "a1",
            &mut t.out,
        )
        .unwrap();
    assert_eq!(reply.call, Some(1));
    assert_eq!(
        t.messages(),
        vec![(
            1,
            AcdToCall::SendDigits {
                digits: "12#B*".into(),
                agent: "a1".into(),
            }
        )]
    );
    // Another agent has no call to send on.
    let other = t.core.command(
        t.now,
        "a2",
        AgentCommand::SendDtmf { digits: "1".into() },
        "a2",
        &mut t.out,
    );
    assert_eq!(other.unwrap_err(), CtiError::NoCall("a2".into()));
    // Keys that are not keys, none at all, or too many: refused, nothing sent.
    let too_many = "1".repeat(MAX_DTMF_DIGITS + 1);
    for bad in ["", "12x", "1 2", "E", too_many.as_str()] {
        let r = t.core.command(
            t.now,
            "a1",
            AgentCommand::SendDtmf { digits: bad.into() },
            "a1",
            &mut t.out,
        );
        assert!(matches!(r, Err(CtiError::Invalid(_))), "{bad:?}: {r:?}");
    }
    assert!(t.messages().is_empty());
    // Exactly the limit is fine.
    let limit = "0123456789*#ABCD".repeat(2);
    assert_eq!(limit.len(), MAX_DTMF_DIGITS);
    t.cmd(
        "a1",
        AgentCommand::SendDtmf {
            digits: limit.clone(),
        },
    );
    assert_eq!(
        t.messages(),
        vec![(
            1,
            AcdToCall::SendDigits {
                digits: limit,
                agent: "a1".into(),
            }
        )]
    );
}

#[test]
fn send_dtmf_is_read_from_json_as_the_api_sends_it() {
    let cmd: AgentCommand = serde_yaml::from_str("{op: send_dtmf, digits: '12#'}").unwrap();
    assert_eq!(
        cmd,
        AgentCommand::SendDtmf {
            digits: "12#".into()
        }
    );
    assert_eq!(cmd.name(), "send_dtmf");
    assert!(!cmd.is_supervisor());
}

#[test]
fn the_announced_wait_is_the_estimate_learned_from_answered_calls() {
    let mut t = T::new(vec![general("a1")]);
    t.ready("a1");
    t.call(1, "announced", 0.0);
    assert_eq!(t.offers(), vec![(1, "a1".to_string())]);
    t.input(Input::OfferResult {
        call: 1,
        agent: "a1".into(),
        result: OfferResult::Answered,
    });
    for id in 2..=4 {
        t.call(id, "announced", 0.0);
    }
    // Nothing learned and nobody left yet: the queue-length estimate.
    let before = t.core.estimate(4, t.now).unwrap();
    assert_eq!(before.position, 3);
    let queue_length = before.queue_length_ms.unwrap();
    assert!(
        (before.acd_ms.unwrap() - queue_length).abs() < 1.0,
        "{before:?}"
    );
    // Callers at this place were answered after half of what the predictors
    // said (callers ahead of them left): the estimate learns it.
    let q = t.core.queue_ix["announced"];
    let slot = t.core.call_ix[&4];
    let (position, predictions) = t.core.predictions_slot(slot, t.now).unwrap();
    for _ in 0..200 {
        t.core.queues[q]
            .est
            .blend
            .learn(position, &predictions, queue_length / 2.0);
    }
    let after = t.core.estimate(4, t.now).unwrap();
    let learned = after.acd_ms.unwrap();
    assert!(
        (learned - queue_length / 2.0).abs() < queue_length * 0.05,
        "{learned} vs {queue_length}"
    );
    assert_eq!(after.queue_length_ms, before.queue_length_ms);
    // It is what the caller hears (Q6).
    t.out.clear();
    t.at(30_000);
    let told = t
        .messages()
        .into_iter()
        .find_map(|(call, m)| match m {
            AcdToCall::Announce(crate::Announcement::Wait { estimated_ms }) if call == 4 => {
                Some(estimated_ms)
            }
            _ => None,
        })
        .expect("call 4 hears its wait");
    let now = t.core.estimate(4, t.now).unwrap().acd_ms.unwrap();
    assert_eq!(told, now.round() as i64);
    assert!((told as f64 - queue_length / 2.0).abs() < queue_length * 0.05);
}

/// A call as the runtime holding it hands it to a new instance of the ACD:
/// it entered `queue` at `entered` (milliseconds after noon).
fn handed_over(id: CallId, queue: &str, entered: i64) -> QueuedCall {
    QueuedCall::new(id, queue, "13800000000", NOON + entered)
}

#[test]
fn resumed_calls_keep_their_place_by_the_time_they_entered() {
    let mut t = T::new(vec![general("a1")]);
    t.at(60_000);
    // A new call arrives at the new instance before the older ones are handed over.
    t.call(30, "longest", 0.0);
    t.input(Input::Resume(handed_over(20, "longest", 20_000)));
    t.input(Input::Resume(handed_over(10, "longest", 10_000)));
    t.out.clear();
    let mut order = Vec::new();
    for _ in 0..3 {
        t.ready("a1");
        let offers = t.offers();
        assert_eq!(offers.len(), 1, "{offers:?}");
        order.push(offers[0].0);
        t.talk(offers[0].0, "a1", 1_000);
    }
    assert_eq!(order, vec![10, 20, 30], "oldest first, the new call last");
}

#[test]
fn a_resumed_call_waits_no_longer_than_its_queue_allows_from_when_it_entered() {
    let mut t = T::new(vec![general("a1")]);
    t.at(50_000);
    // Entered "maxwait" (max wait 1m) 50 s ago under the old instance.
    t.input(Input::Resume(handed_over(1, "maxwait", 0)));
    t.out.clear();
    t.at(59_000);
    assert!(
        !t.messages()
            .iter()
            .any(|(_, m)| matches!(m, AcdToCall::Move { .. })),
        "not yet"
    );
    t.at(60_500);
    let moved = t.messages().into_iter().any(|(c, m)| {
        c == 1
            && matches!(
                m,
                AcdToCall::Move {
                    reason: MoveReason::MaxWait,
                    ..
                }
            )
    });
    assert!(moved, "moved on a minute after it first entered");
}

#[test]
fn an_adopted_call_keeps_its_agent_busy_until_it_ends() {
    let mut t = T::new(vec![general("a1"), general("a2")]);
    t.ready("a1");
    t.ready("a2");
    t.input(Input::Adopt {
        call: handed_over(7, "longest", 0),
        agent: "a1".into(),
    });
    assert_eq!(t.core.agent_status("a1"), Some(AgentStatus::Talking));
    t.out.clear();
    // The next call goes to the other agent: a1 is not offered a second call.
    t.call(8, "longest", 0.0);
    assert_eq!(t.offers(), vec![(8, "a2".to_string())]);
    // Adopting again (a runtime's repeated report) changes nothing.
    t.input(Input::Adopt {
        call: handed_over(7, "longest", 0),
        agent: "a1".into(),
    });
    assert!(t.offers().is_empty());
    t.input(Input::CallEnded {
        call: 7,
        talk_ms: Some(30_000),
    });
    assert_eq!(t.core.agent_status("a1"), Some(AgentStatus::Ready));
    let records: Vec<_> = t
        .out
        .iter()
        .filter_map(|e| match e {
            Effect::Event(AcdEvent::Record(r)) => Some(r.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].agent.as_deref(), Some("a1"));
    assert_eq!(records[0].talk_ms, 30_000);
}

#[test]
fn a_forgotten_call_frees_the_agent_it_was_offered_and_leaves_no_record() {
    let mut t = T::new(vec![general("a1")]);
    t.ready("a1");
    t.out.clear();
    t.call(1, "longest", 0.0);
    t.call(2, "longest", 0.0);
    assert_eq!(t.offers(), vec![(1, "a1".to_string())]);
    // The runtime holding call 1 is out of reach.
    t.input(Input::Forget { call: 1 });
    assert!(
        !t.out
            .iter()
            .any(|e| matches!(e, Effect::Event(AcdEvent::Record(_)))),
        "no record for a call that may come back"
    );
    assert_eq!(
        t.offers(),
        vec![(2, "a1".to_string())],
        "a1 takes the next call"
    );
    // It comes back: it waits again, at its place.
    t.input(Input::Resume(handed_over(1, "longest", 0)));
    t.talk(2, "a1", 1_000);
    assert_eq!(
        t.offers(),
        vec![(1, "a1".to_string())],
        "offered when a1 is free"
    );
}
