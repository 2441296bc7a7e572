//! `dialect simulate`: the contact-center simulator on a project's queues.
//!
//! Either a traffic file (YAML, see `dialect_acd::sim::Traffic`) or, for one
//! queue, the traffic on the command line (`--queue billing --calls-per-hour 120
//! --handle-time 3m --agents 8`). Prints service level, ASA, abandon rate,
//! occupancy and the error (median and mean absolute) of the wait estimate the
//! ACD announces next to its earlier queue-length estimate and Asterisk's
//! (holdtime average + 30 s − waited), as a table or JSON. Traffic files for the
//! hotline are in `flows/hotline/traffic/`.
//!
//! With `--campaign NAME`, an outbound campaign instead: the dialer's
//! simulator (`dialect_dialer::simulate`) runs the campaign's rules and
//! pacer in the progressive, predictive and ADAPT modes against the called
//! parties of a campaign traffic file, and prints them side by side.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use dialect_acd::AcdConfig;
use dialect_acd::sim::{self, Traffic};
use dialect_compiler::{Engine, Program};

/// Traffic for one queue given on the command line.
#[derive(Debug, Clone, Default)]
pub(crate) struct QuickTraffic {
    /// The queue the traffic arrives at (used only without a traffic file).
    pub queue: Option<String>,
    /// Poisson arrivals per hour.
    pub calls_per_hour: Option<f64>,
    /// Mean talk time (exponential), e.g. `3m`.
    pub handle_time: Option<String>,
    /// Mean patience (exponential); none: callers never give up.
    pub patience: Option<String>,
    /// Agents with the queue's skills at level 5.
    pub agents: Option<u32>,
    /// Days to simulate; overrides the traffic file's.
    pub days: Option<u32>,
    /// Seed of the random numbers; overrides the traffic file's.
    pub seed: Option<u64>,
}

/// `dialect simulate PROJECT (--traffic FILE | --queue Q ...) [--json]`.
pub(crate) fn run(
    project: &Path,
    traffic: Option<&PathBuf>,
    quick: QuickTraffic,
    json: bool,
) -> Result<ExitCode> {
    let Some(ir) = super::compile::check_and_lower(project)? else {
        return Ok(ExitCode::from(1));
    };
    let program = Program::new(ir, Engine::Native).context("cannot compile the project")?;
    let mut t = match traffic {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Traffic::parse(&text).with_context(|| format!("in {}", path.display()))?
        }
        None => quick_traffic(&program, &quick)?,
    };
    if let Some(d) = quick.days {
        t.days = d;
    }
    if let Some(s) = quick.seed {
        t.seed = s;
    }
    let bar = indicatif::ProgressBar::new(1000);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {percent:>3}% {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut on_progress = |p: sim::Progress| {
        if p.total_ms > 0 {
            bar.set_position((p.done_ms.max(0) as u64 * 1000) / p.total_ms as u64);
        }
        bar.set_message(format!("{} calls", p.calls));
    };
    let report = sim::run(&program, &t, AcdConfig::default(), Some(&mut on_progress))?;
    bar.finish_and_clear();
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", sim::table(&report));
    }
    Ok(ExitCode::SUCCESS)
}

/// `dialect simulate PROJECT --campaign NAME --traffic FILE [--seed N] [--json]`.
pub(crate) fn run_campaign(
    project: &Path,
    campaign: &str,
    traffic: Option<&PathBuf>,
    seed: Option<u64>,
    json: bool,
) -> Result<ExitCode> {
    let Some(path) = traffic else {
        bail!("--campaign needs --traffic FILE (see flows/hotline/campaign-traffic.yaml)");
    };
    let Some(ir) = super::compile::check_and_lower(project)? else {
        return Ok(ExitCode::from(1));
    };
    let Some(def) = ir.campaigns.iter().find(|c| c.name == campaign) else {
        let known: Vec<&str> = ir.campaigns.iter().map(|c| c.name.as_str()).collect();
        bail!(
            "there is no campaign {campaign} (the project has {})",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        );
    };
    let calendar = def
        .calendar
        .and_then(|i| ir.calendars.get(i as usize))
        .map(dialect_compiler::calendar::Calendar::new);
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut t = dialect_dialer::simulate::Traffic::parse(&text)
        .with_context(|| format!("in {}", path.display()))?;
    if let Some(s) = seed {
        t.seed = s;
    }
    let report = dialect_dialer::simulate::run(def, calendar, &t)
        .with_context(|| format!("in {}", path.display()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", dialect_dialer::simulate::table(&report));
    }
    Ok(ExitCode::SUCCESS)
}

/// Builds a traffic file for one queue from the command line.
fn quick_traffic(program: &Program, q: &QuickTraffic) -> Result<Traffic> {
    let Some(queue) = &q.queue else {
        bail!("give --traffic FILE, or --queue with --calls-per-hour, --handle-time and --agents");
    };
    let Some(def) = program.ir().queues.iter().find(|x| x.name == *queue) else {
        let known: Vec<&str> = program
            .ir()
            .queues
            .iter()
            .map(|x| x.name.as_str())
            .collect();
        bail!(
            "there is no queue {queue} (the project has {})",
            known.join(", ")
        );
    };
    let (Some(rate), Some(handle), Some(agents)) = (q.calls_per_hour, &q.handle_time, q.agents)
    else {
        bail!("--queue needs --calls-per-hour, --handle-time and --agents");
    };
    let skills: Vec<String> = def.skills.iter().map(|(s, _)| format!("{s}: 5")).collect();
    let patience = q
        .patience
        .as_ref()
        .map(|p| format!("    patience: {{exponential: {p}}}\n"))
        .unwrap_or_default();
    let yaml = format!(
        "queues:\n  {queue}:\n    calls_per_hour: {rate}\n    handle_time: {{exponential: {handle}}}\n{patience}agents:\n  - name: {queue}\n    count: {agents}\n    skills: {{{}}}\n",
        skills.join(", ")
    );
    Ok(Traffic::parse(&yaml)?)
}
