//! The Q13 statistics as a spreadsheet: `GET /api/v1/stats.csv`, the same
//! report as `GET /api/v1/stats` (see [`super::cti`]) by one grouping, for
//! the reports page's download and for anyone who keeps figures in Excel.
//!
//! | Route | Who | What |
//! |---|---|---|
//! | `GET /api/v1/stats.csv?by=queue\|agent\|skill\|trunk&from=&to=&threshold=` | supervisor, quality_inspector, analyst | `text/csv`: a header row, one row per group, a `total` row |
//!
//! The file is UTF-8 with a byte-order mark, which is how Excel knows to read
//! Chinese queue and agent names as UTF-8 rather than the system code page;
//! lines end in CRLF and fields are quoted as RFC 4180 says. A name that
//! starts like a formula (`=`, `+`, `-`, `@`) gets a leading `'`, so that a
//! spreadsheet shows it as text instead of running it.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use dialect_acd::stats::{GroupStats, Report};
use serde::Deserialize;

use super::cti::{REPORT_ROLES, StatsQuery, report};
use super::{ApiError, AppState, bearer};

/// The routes of this module.
pub fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/api/v1/stats.csv", get(stats_csv))
}

/// Which of the report's groupings a CSV file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// One row per queue.
    Queue,
    /// One row per agent.
    Agent,
    /// One row per skill group.
    Skill,
    /// One row per trunk group.
    Trunk,
}

impl Grouping {
    /// The name of the first column, and of the grouping in the file name.
    pub fn name(self) -> &'static str {
        match self {
            Grouping::Queue => "queue",
            Grouping::Agent => "agent",
            Grouping::Skill => "skill",
            Grouping::Trunk => "trunk",
        }
    }

    fn rows(self, r: &Report) -> &[GroupStats] {
        match self {
            Grouping::Queue => &r.queues,
            Grouping::Agent => &r.agents,
            Grouping::Skill => &r.skills,
            Grouping::Trunk => &r.trunks,
        }
    }
}

/// Query of `GET /api/v1/stats.csv`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CsvQuery {
    by: Option<String>,
    from: Option<String>,
    to: Option<String>,
    threshold: Option<String>,
}

/// How one column writes a group's figure.
type Figure = fn(&GroupStats) -> String;

/// The columns after the group's name: the heading, and the figure as text.
/// Shares are percentages and times seconds, both with one decimal, as a
/// person reading the sheet expects them.
const COLUMNS: &[(&str, Figure)] = &[
    ("offered", |g| g.offered.to_string()),
    ("answered", |g| g.answered.to_string()),
    ("abandoned", |g| g.abandoned.to_string()),
    ("abandoned_within_threshold", |g| {
        g.abandoned_within.to_string()
    }),
    ("moved", |g| g.moved.to_string()),
    ("answered_within_threshold", |g| {
        g.answered_within.to_string()
    }),
    ("service_level_percent", |g| percent(g.service_level)),
    ("abandon_rate_percent", |g| percent(g.abandon_rate)),
    ("average_speed_of_answer_s", |g| seconds(g.asa_ms)),
    ("handled", |g| g.handled.to_string()),
    ("average_handle_time_s", |g| seconds(g.aht_ms)),
    ("talk_s", |g| seconds(g.talk_ms as f64)),
    ("hold_s", |g| seconds(g.hold_ms as f64)),
    ("wrap_up_s", |g| seconds(g.wrap_ms as f64)),
    ("occupancy_percent", |g| {
        g.occupancy.map(percent).unwrap_or_default()
    }),
    ("ready_idle_s", |g| seconds(g.idle_ms as f64)),
    ("busy_s", |g| seconds(g.busy_ms as f64)),
    ("not_ready_s", |g| seconds(g.not_ready_ms as f64)),
];

fn percent(share: f64) -> String {
    format!("{:.1}", share * 100.0)
}

fn seconds(ms: f64) -> String {
    format!("{:.1}", ms / 1000.0)
}

/// One field as RFC 4180 wants it, made safe from formula injection.
fn field(text: &str, out: &mut String) {
    let formula = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quoted = formula || text.contains([',', '"', '\n', '\r']);
    if quoted {
        out.push('"');
    }
    if formula {
        out.push('\'');
    }
    for c in text.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    if quoted {
        out.push('"');
    }
}

fn row(name: &str, g: &GroupStats, out: &mut String) {
    field(name, out);
    for (_, value) in COLUMNS {
        out.push(',');
        out.push_str(&value(g));
    }
    out.push_str("\r\n");
}

/// The report's `by` grouping as a CSV file: BOM, header, one row per group
/// in the report's order, then `total` (every queue together).
pub fn render_csv(report: &Report, by: Grouping) -> String {
    let mut out = String::from("\u{feff}");
    out.push_str(by.name());
    for (heading, _) in COLUMNS {
        out.push(',');
        out.push_str(heading);
    }
    out.push_str("\r\n");
    for g in by.rows(report) {
        row(&g.name, g, &mut out);
    }
    row("total", &report.total, &mut out);
    out
}

async fn stats_csv(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<CsvQuery>,
) -> Result<Response, ApiError> {
    s.users.authorize(bearer(&headers), REPORT_ROLES)?;
    let by = match q.by.as_deref().unwrap_or("queue") {
        "queue" => Grouping::Queue,
        "agent" => Grouping::Agent,
        "skill" => Grouping::Skill,
        "trunk" => Grouping::Trunk,
        other => {
            return Err(ApiError::invalid(format!(
                "`by` is queue, agent, skill or trunk, not `{other}`"
            )));
        }
    };
    let r = report(
        &s,
        &StatsQuery {
            from: q.from,
            to: q.to,
            threshold: q.threshold,
        },
    )
    .await?;
    let day = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| t.format("%Y%m%d-%H%M").to_string())
            .unwrap_or_default()
    };
    let file = format!(
        "attachment; filename=\"stats-{}-{}-{}.csv\"",
        by.name(),
        day(r.from_ms),
        day(r.to_ms)
    );
    let mut resp = render_csv(&r, by).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if let Ok(v) = HeaderValue::from_str(&file) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str, offered: u64, answered: u64) -> GroupStats {
        GroupStats {
            name: name.into(),
            offered,
            answered,
            abandoned: offered - answered,
            answered_within: answered,
            service_level: answered as f64 / offered as f64,
            abandon_rate: (offered - answered) as f64 / offered as f64,
            asa_ms: 12_340.0,
            handled: answered,
            aht_ms: 95_000.0,
            talk_ms: 80_000,
            occupancy: Some(0.625),
            ..GroupStats::default()
        }
    }

    fn report() -> Report {
        Report {
            from_ms: 0,
            to_ms: 86_400_000,
            threshold_ms: None,
            total: group("", 10, 8),
            queues: vec![group("售后服务", 6, 5), group("billing, east", 4, 3)],
            agents: vec![group("=HYPERLINK(\"x\")", 1, 1)],
            skills: vec![],
            trunks: vec![group("carrier", 10, 8)],
        }
    }

    #[test]
    fn a_csv_has_a_bom_a_header_a_row_per_group_and_a_total() {
        let csv = render_csv(&report(), Grouping::Queue);
        assert!(csv.starts_with('\u{feff}'), "Excel needs the BOM");
        let lines: Vec<&str> = csv['\u{feff}'.len_utf8()..].split("\r\n").collect();
        assert_eq!(lines.len(), 5, "{lines:?}");
        assert_eq!(lines[4], "", "the file ends with a line end");
        let header: Vec<&str> = lines[0].split(',').collect();
        assert_eq!(header.len(), COLUMNS.len() + 1);
        assert_eq!(&header[..4], ["queue", "offered", "answered", "abandoned"]);
        let sl = header
            .iter()
            .position(|h| *h == "service_level_percent")
            .unwrap();
        let asa = header
            .iter()
            .position(|h| *h == "average_speed_of_answer_s")
            .unwrap();
        let occ = header
            .iter()
            .position(|h| *h == "occupancy_percent")
            .unwrap();
        let first: Vec<&str> = lines[1].split(',').collect();
        assert_eq!(first[0], "售后服务", "Chinese names as they are");
        assert_eq!(&first[1..4], ["6", "5", "1"]);
        assert_eq!(first[sl], "83.3");
        assert_eq!(first[asa], "12.3");
        assert_eq!(first[occ], "62.5");
        assert!(
            lines[2].starts_with("\"billing, east\",4,3,1,"),
            "a comma is quoted: {}",
            lines[2]
        );
        assert!(lines[3].starts_with("total,10,8,2,"), "{}", lines[3]);
    }

    #[test]
    fn each_grouping_has_its_own_rows_and_names_are_never_formulas() {
        let r = report();
        let agents = render_csv(&r, Grouping::Agent);
        assert!(
            agents.contains("\r\n\"'=HYPERLINK(\"\"x\"\")\",1,1,0,"),
            "{agents}"
        );
        assert!(agents['\u{feff}'.len_utf8()..].starts_with("agent,"));
        let skills = render_csv(&r, Grouping::Skill);
        assert_eq!(skills.matches("\r\n").count(), 2, "header and total only");
        let trunks = render_csv(&r, Grouping::Trunk);
        assert!(trunks.contains("\r\ncarrier,10,8,2,"), "{trunks}");
        // No occupancy (nobody worked): an empty cell, not 0.
        let mut idle = report();
        idle.queues[0].occupancy = None;
        let csv = render_csv(&idle, Grouping::Queue);
        let row = csv.split("\r\n").nth(1).unwrap();
        let occ = 1 + COLUMNS
            .iter()
            .position(|(h, _)| *h == "occupancy_percent")
            .unwrap();
        assert_eq!(row.split(',').nth(occ), Some(""), "{row}");
    }
}
