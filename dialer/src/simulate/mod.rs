//! The campaign simulator: `dialect simulate PROJECT --campaign NAME --traffic
//! FILE`. It runs the campaign's real rules, pacer and abandon ledger on
//! virtual time against synthetic called parties described by a traffic file,
//! once per pacing mode (progressive, predictive and the ADAPT baseline), and
//! reports them side by side, so that an operator sees before going live what
//! each mode gives and whether it keeps the abandon cap.
//!
//! # Layout
//! - [`traffic`]: the traffic file.
//! - `engine`: one run of one mode (discrete events).
//! - [`report`]: the figures and the table.

mod engine;
pub mod report;
pub mod traffic;

use std::collections::BTreeMap;

use dialect_compiler::calendar::Calendar;
use dialect_compiler::ir::CampaignIr;

use crate::pacing::{PacingConfig, PacingMode};
use crate::rules::Rules;
use crate::window::ZoneTable;
pub use report::{ModeResult, SimReport, table};
pub use traffic::{Traffic, TrafficError};

/// The modes compared, in the order reports show them.
pub const MODES: [PacingMode; 3] = [
    PacingMode::Progressive,
    PacingMode::Predictive,
    PacingMode::Adapt,
];

/// Simulates one mode of a campaign.
pub fn run_mode(
    campaign: &CampaignIr,
    calendar: Option<Calendar>,
    traffic: &Traffic,
    mode: PacingMode,
) -> Result<ModeResult, TrafficError> {
    let start = traffic.start_ms()?;
    let rules = Rules::new(campaign, calendar, None, None, ZoneTable::default());
    let mut pacing = PacingConfig::for_campaign(campaign, mode);
    pacing.abandon.amd_false_positive_rate = traffic.amd_false_positive;
    let channels = traffic
        .channels
        .or(campaign.max_channels)
        .unwrap_or(u32::MAX);
    let ring_ms = campaign.ring_ms.max(15_000);
    Ok(engine::run_mode(
        &rules, pacing, traffic, ring_ms, channels, start,
    ))
}

/// Simulates the campaign in every mode of [`MODES`].
pub fn run(
    campaign: &CampaignIr,
    calendar: Option<Calendar>,
    traffic: &Traffic,
) -> Result<SimReport, TrafficError> {
    let mut modes = BTreeMap::new();
    for mode in MODES {
        let r = run_mode(campaign, calendar.clone(), traffic, mode)?;
        modes.insert(mode.name().to_string(), r);
    }
    Ok(SimReport {
        campaign: campaign.name.clone(),
        seed: traffic.seed,
        hours: traffic.length_ms() as f64 / 3_600_000.0,
        agents: traffic.shifts.iter().map(|s| s.agents).sum(),
        window_ms: traffic.window.0.max(60_000),
        abandon_cap: campaign.abandon_max.min(0.03),
        modes,
    })
}
