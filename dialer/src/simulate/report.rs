//! What a simulation reports: per pacing mode, the figures an operator compares
//! — talk-minutes per agent-hour, contacts per hour, the abandon rate overall
//! and the highest over any window, and how much of their time agents waited.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

/// One mode's results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModeResult {
    /// Minutes agents talked per hour logged in: the productivity figure.
    pub talk_minutes_per_agent_hour: f64,
    /// People connected to agents per hour of the run, for the whole team.
    pub contacts_per_hour: f64,
    /// Abandoned over live answered for the whole run, including people the
    /// detector hung up on.
    pub abandon_rate: f64,
    /// The highest abandon rate over any window of the traffic file's `window`
    /// length (sampled every minute once a whole window has passed).
    pub max_window_abandon_rate: f64,
    /// The share of logged-in time agents sat ready with no call.
    pub agent_idle_share: f64,
    /// Mean dial level (calls in progress per logged-in agent).
    pub mean_dial_level: f64,
    /// Lines dialled.
    pub dials: u64,
    /// People who answered.
    pub live_answers: u64,
    /// People connected to an agent.
    pub connected: u64,
    /// People abandoned (dropped, or taken for machines).
    pub abandoned: u64,
    /// Targets dialled at least once.
    pub targets_used: u64,
}

/// A simulation's report: the modes side by side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimReport {
    /// The campaign simulated.
    pub campaign: String,
    /// The seed used.
    pub seed: u64,
    /// Hours simulated.
    pub hours: f64,
    /// Agents over all shifts.
    pub agents: u32,
    /// The window of `max_window_abandon_rate`, ms.
    pub window_ms: i64,
    /// The campaign's abandon cap.
    pub abandon_cap: f64,
    /// Results per mode: `progressive`, `predictive`, `adapt`.
    pub modes: BTreeMap<String, ModeResult>,
}

/// The report as a table, modes as columns.
pub fn table(r: &SimReport) -> String {
    let order = ["progressive", "predictive", "adapt"];
    let cols: Vec<(&str, &ModeResult)> = order
        .iter()
        .filter_map(|m| r.modes.get(*m).map(|x| (*m, x)))
        .collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "campaign {}: {} agents, {:.1} h, seed {}, abandon cap {:.1} %, window {} min",
        r.campaign,
        r.agents,
        r.hours,
        r.seed,
        r.abandon_cap * 100.0,
        r.window_ms / 60_000
    );
    let _ = write!(out, "{:<34}", "");
    for (name, _) in &cols {
        let _ = write!(out, "{name:>13}");
    }
    out.push('\n');
    type Row = (&'static str, fn(&ModeResult) -> String);
    let rows: [Row; 9] = [
        ("talk minutes per agent-hour", |m| {
            format!("{:.1}", m.talk_minutes_per_agent_hour)
        }),
        ("contacts per hour", |m| {
            format!("{:.0}", m.contacts_per_hour)
        }),
        ("abandon rate", |m| {
            format!("{:.2} %", m.abandon_rate * 100.0)
        }),
        ("highest abandon rate in a window", |m| {
            format!("{:.2} %", m.max_window_abandon_rate * 100.0)
        }),
        ("agent idle share", |m| {
            format!("{:.1} %", m.agent_idle_share * 100.0)
        }),
        ("mean dial level", |m| format!("{:.2}", m.mean_dial_level)),
        ("lines dialled", |m| m.dials.to_string()),
        ("people answered", |m| m.live_answers.to_string()),
        ("people abandoned", |m| m.abandoned.to_string()),
    ];
    for (label, f) in rows {
        let _ = write!(out, "{label:<34}");
        for (_, m) in &cols {
            let _ = write!(out, "{:>13}", f(m));
        }
        out.push('\n');
    }
    out
}
