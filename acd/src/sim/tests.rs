//! The simulator checked against queueing theory: one queue, Poisson arrivals,
//! exponential talk times (and patience), N agents, over long runs.

use std::sync::atomic::{AtomicU64, Ordering};

use dialect_compiler::{Engine, Program};

use super::erlang::{erlang_a, erlang_c_figures};
use super::*;

const SOURCE: &str = r#"
skill general levels 1..5

queue q "Q" {
  skills general >= 1
  strategy longest_idle
  priority 0
  service level 80% within 20s
}
"#;

fn program() -> Program {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "dialect-sim-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("q.flow"), SOURCE).unwrap();
    let (_, ir) = dialect_compiler::compile_paths(std::slice::from_ref(&dir)).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    Program::new(ir, Engine::Native).unwrap()
}

fn traffic(
    per_hour: f64,
    handle_s: u32,
    agents: u32,
    patience_s: Option<u32>,
    days: u32,
) -> Traffic {
    let patience = patience_s
        .map(|p| format!("    patience: {{exponential: {p}s}}\n"))
        .unwrap_or_default();
    Traffic::parse(&format!(
        "days: {days}\nseed: 7\nwarmup: 2h\nqueues:\n  q:\n    calls_per_hour: {per_hour}\n    handle_time: {{exponential: {handle_s}s}}\n{patience}agents:\n  - name: a\n    count: {agents}\n    skills: {{general: 1}}\n"
    ))
    .unwrap()
}

fn rel(got: f64, want: f64) -> f64 {
    (got - want).abs() / want
}

#[test]
fn matches_erlang_c_at_several_loads() {
    let p = program();
    // (calls per hour, mean talk s, agents): loads of 70 %, 80 % and 85 %.
    for (per_hour, handle, agents) in [(84.0, 180, 6), (240.0, 120, 10), (204.0, 300, 20)] {
        let r = run(
            &p,
            &traffic(per_hour, handle, agents, None, 250),
            AcdConfig::default(),
            None,
        )
        .unwrap();
        let lambda = per_hour / 3600.0;
        let mu = 1.0 / f64::from(handle);
        let theory = erlang_c_figures(agents, lambda, mu, 20.0);
        let q = &r.total;
        assert!(q.answered > 100_000, "a long run: {}", q.answered);
        assert_eq!(q.abandoned, 0);
        let asa = q.asa_ms / 1000.0;
        assert!(
            rel(q.p_wait, theory.p_wait) < 0.03,
            "P(wait) {} vs Erlang C {} ({per_hour}/h, {handle} s, {agents} agents)",
            q.p_wait,
            theory.p_wait
        );
        assert!(
            rel(asa, theory.asa) < 0.03,
            "ASA {asa} s vs Erlang C {} s ({per_hour}/h, {handle} s, {agents} agents)",
            theory.asa
        );
    }
}

#[test]
fn matches_erlang_a_with_exponential_patience() {
    let p = program();
    // Overloaded (105 %) and underloaded (85 %), mean patience 2 min.
    for (per_hour, handle, agents, patience) in [(210.0, 180, 10, 120), (170.0, 180, 10, 120)] {
        let r = run(
            &p,
            &traffic(per_hour, handle, agents, Some(patience), 60),
            AcdConfig::default(),
            None,
        )
        .unwrap();
        let lambda = per_hour / 3600.0;
        let theory = erlang_a(
            agents,
            lambda,
            1.0 / f64::from(handle),
            1.0 / f64::from(patience),
        );
        let q = &r.total;
        let offered = (q.answered + q.abandoned) as f64;
        let p_abandon = q.abandoned as f64 / offered;
        assert!(
            rel(q.p_wait, theory.p_wait) < 0.05,
            "P(wait) {} vs Erlang A {} ({per_hour}/h)",
            q.p_wait,
            theory.p_wait
        );
        assert!(
            rel(p_abandon, theory.p_abandon) < 0.05,
            "P(abandon) {p_abandon} vs Erlang A {} ({per_hour}/h)",
            theory.p_abandon
        );
        assert!(
            rel(q.asa_ms / 1000.0, theory.asa_served) < 0.05,
            "ASA {} s vs Erlang A {} s ({per_hour}/h)",
            q.asa_ms / 1000.0,
            theory.asa_served
        );
    }
}

#[test]
fn our_wait_estimate_beats_asterisk() {
    let p = program();
    let r = run(
        &p,
        &traffic(210.0, 180, 10, Some(120), 20),
        AcdConfig::default(),
        None,
    )
    .unwrap();
    let q = &r.total;
    assert!(q.ewt_acd.samples > 1000, "{:?}", q.ewt_acd);
    assert!(
        q.ewt_acd.mae_ms < q.ewt_asterisk.mae_ms,
        "ACD {:?} vs Asterisk {:?}",
        q.ewt_acd,
        q.ewt_asterisk
    );
    let table = table(&r);
    assert!(table.contains("q"), "{table}");
}
