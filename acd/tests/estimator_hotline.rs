//! The ACD's wait estimate against Asterisk's on the hotline project's own
//! queues and rules, over the traffic files in `flows/hotline/traffic/`: the
//! median absolute error of the estimate the ACD announces must be at most half
//! of Asterisk's on each file (issue 19). Short runs of each file (one day
//! instead of three); `ESTIMATOR_DAYS=N` runs longer and `ESTIMATOR_PRINT=1`
//! prints each report.

use std::path::{Path, PathBuf};

use dialect_acd::AcdConfig;
use dialect_acd::sim::{self, SimReport, Traffic};
use dialect_compiler::{Engine, Program};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the acd crate sits in the workspace")
        .to_path_buf()
}

fn hotline() -> Program {
    let dir = repo().join("flows/hotline");
    let (_, ir) = dialect_compiler::compile_paths(std::slice::from_ref(&dir))
        .expect("the hotline project compiles");
    Program::new(ir, Engine::Native).expect("the hotline project is compiled to native code")
}

fn run_file(program: &Program, name: &str) -> SimReport {
    let path = repo().join("flows/hotline/traffic").join(name);
    let text = std::fs::read_to_string(&path).expect("the traffic file is readable");
    let mut traffic = Traffic::parse(&text).expect("the traffic file is valid");
    traffic.days = std::env::var("ESTIMATOR_DAYS")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(1);
    let report = sim::run(program, &traffic, AcdConfig::default(), None).expect("it runs");
    if std::env::var_os("ESTIMATOR_PRINT").is_some() {
        println!("== {name}\n{}", sim::table(&report));
        sim::dbg_dump();
    }
    report
}

/// Checks the ratio on every queue of the report with enough scored calls.
fn assert_half_of_asterisk(name: &str, report: &SimReport) {
    let mut checked = 0;
    for q in report.queues.iter().chain(std::iter::once(&report.total)) {
        if q.ewt_acd.samples < 200 {
            continue;
        }
        checked += 1;
        let ratio = q.ewt_acd.median_abs_ms / q.ewt_asterisk.median_abs_ms;
        assert!(
            ratio <= 0.5,
            "{name}, queue {}: median absolute error {:.1} s against Asterisk's {:.1} s (ratio {ratio:.2}); MAE {:.1} s against {:.1} s",
            q.name,
            q.ewt_acd.median_abs_ms / 1000.0,
            q.ewt_asterisk.median_abs_ms / 1000.0,
            q.ewt_acd.mae_ms / 1000.0,
            q.ewt_asterisk.mae_ms / 1000.0,
        );
    }
    assert!(checked >= 1, "{name}: too few answered calls waited to score");
}

#[test]
fn overflow() {
    let report = run_file(&hotline(), "overflow.yaml");
    assert_half_of_asterisk("overflow.yaml", &report);
}

#[test]
fn patience_exponential() {
    let report = run_file(&hotline(), "patience-exponential.yaml");
    assert_half_of_asterisk("patience-exponential.yaml", &report);
}

#[test]
fn patience_lognormal() {
    let report = run_file(&hotline(), "patience-lognormal.yaml");
    assert_half_of_asterisk("patience-lognormal.yaml", &report);
}

#[test]
fn arrivals_through_the_day() {
    let report = run_file(&hotline(), "arrivals-through-day.yaml");
    assert_half_of_asterisk("arrivals-through-day.yaml", &report);
}

#[test]
fn several_skills() {
    let report = run_file(&hotline(), "several-skills.yaml");
    assert_half_of_asterisk("several-skills.yaml", &report);
}
