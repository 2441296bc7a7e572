//! The Q13 statistics as a spreadsheet: `GET /api/v1/stats.csv`, the same
//! report as `GET /api/v1/stats` (see [`super::cti`]) by one grouping, for
//! the reports page's download and for anyone who keeps figures in Excel.
//!
//! | Route | Who | What |
//! |---|---|---|
//! | `GET /api/v1/stats.csv?by=queue\|agent\|skill\|trunk&from=&to=&threshold=` | supervisor, quality_inspector, analyst | `text/csv`: a header row, one row per group, a `total` row |
//! | `GET /api/v1/flow-stats?flow=&from=&to=` | the same | JSON: per flow (or the one named) its calls by outcome, its steps with their rates, and its step-to-step edges (see [`crate::flowstats`]) |
//! | `GET /api/v1/flow-stats.csv?flow=&from=&to=` | the same | `text/csv`: one row per step of each flow, the step that loses callers first |
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
use serde::{Deserialize, Serialize};

use super::cti::{REPORT_ROLES, StatsQuery, report};
use super::{ApiError, AppState, bearer, period};
use crate::flowstats::{self, FlowReport, FlowStats, NodeStats};

/// The routes of this module.
pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/v1/stats.csv", get(stats_csv))
        .route("/api/v1/flow-stats", get(flow_stats))
        .route("/api/v1/flow-stats.csv", get(flow_stats_csv))
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

/// Query of `GET /api/v1/flow-stats` and its CSV.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FlowStatsQuery {
    flow: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// The longest flow name asked for (flow names are identifiers).
const MAX_FLOW_NAME: usize = 200;

async fn flow_report(s: &AppState, q: &FlowStatsQuery) -> Result<FlowReport, ApiError> {
    let flow = match q.flow.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(f) if f.len() > MAX_FLOW_NAME || f.contains('\0') => {
            return Err(ApiError::invalid(format!(
                "`flow` is a flow's name of at most {MAX_FLOW_NAME} bytes"
            )));
        }
        Some(f) => Some(f.to_string()),
    };
    let (from, to) = period(q.from.as_deref(), q.to.as_deref())?;
    if from >= to {
        return Err(ApiError::invalid("`from` must come before `to`"));
    }
    let store = s.store.clone();
    let r =
        tokio::task::spawn_blocking(move || flowstats::report(&*store, flow.as_deref(), from, to))
            .await
            .map_err(ApiError::internal)??;
    Ok(r)
}

/// A step as the API shows it: its figures and the rates read from them
/// (shares from 0 to 1, `null` when nothing was counted).
#[derive(Debug, Serialize)]
struct NodeView<'a> {
    #[serde(flatten)]
    node: &'a NodeStats,
    self_service_share: Option<f64>,
    hangup_share: Option<f64>,
    no_input_share: Option<f64>,
    no_match_share: Option<f64>,
    mean_time_ms: Option<f64>,
}

/// A flow as the API shows it.
#[derive(Debug, Serialize)]
struct FlowView<'a> {
    flow: &'a str,
    calls: u64,
    self_service: u64,
    self_service_share: Option<f64>,
    to_agents: u64,
    transferred_out: u64,
    to_flow: u64,
    hung_up: u64,
    failed: u64,
    time_ms: u64,
    mean_time_ms: Option<f64>,
    /// Steps in the order that puts the one losing callers first.
    nodes: Vec<NodeView<'a>>,
    edges: &'a [flowstats::EdgeStats],
}

fn flow_view(f: &FlowStats) -> FlowView<'_> {
    let share = |part: u64| (f.calls > 0).then(|| part as f64 / f.calls as f64);
    FlowView {
        flow: &f.flow,
        calls: f.calls,
        self_service: f.self_service,
        self_service_share: share(f.self_service),
        to_agents: f.to_agents,
        transferred_out: f.transferred_out,
        to_flow: f.to_flow,
        hung_up: f.hung_up,
        failed: f.failed,
        time_ms: f.time_ms,
        mean_time_ms: (f.calls > 0).then(|| f.time_ms as f64 / f.calls as f64),
        nodes: flowstats::by_losses(&f.nodes)
            .into_iter()
            .map(|n| NodeView {
                node: n,
                self_service_share: n.self_service_share(),
                hangup_share: n.hangup_share(),
                no_input_share: n.no_input_share(),
                no_match_share: n.no_match_share(),
                mean_time_ms: n.mean_time_ms(),
            })
            .collect(),
        edges: &f.edges,
    }
}

async fn flow_stats(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<FlowStatsQuery>,
) -> Result<Response, ApiError> {
    s.users.authorize(bearer(&headers), REPORT_ROLES)?;
    let r = flow_report(&s, &q).await?;
    let flows: Vec<FlowView<'_>> = r.flows.iter().map(flow_view).collect();
    Ok(axum::Json(serde_json::json!({
        "from_ms": r.from_ms,
        "to_ms": r.to_ms,
        "flows": flows,
    }))
    .into_response())
}

/// How one column writes a step's figure.
type StepFigure = fn(&NodeStats) -> String;

/// The columns of the flow statistics' CSV after the flow's name.
const STEP_COLUMNS: &[(&str, StepFigure)] = &[
    ("step", |n| n.id.clone()),
    ("name", |n| n.name.clone()),
    ("kind", |n| n.kind.clone()),
    ("calls", |n| n.calls.to_string()),
    ("visits", |n| n.visits.to_string()),
    ("self_service_percent", |n| {
        n.self_service_share().map(percent).unwrap_or_default()
    }),
    ("to_agents", |n| n.to_agents.to_string()),
    ("hangups", |n| n.hangups.to_string()),
    ("hangup_percent", |n| {
        n.hangup_share().map(percent).unwrap_or_default()
    }),
    ("no_input_dtmf", |n| n.no_input_dtmf.to_string()),
    ("no_input_speech", |n| n.no_input_speech.to_string()),
    ("no_input_percent", |n| {
        n.no_input_share().map(percent).unwrap_or_default()
    }),
    ("no_match_dtmf", |n| n.no_match_dtmf.to_string()),
    ("no_match_speech", |n| n.no_match_speech.to_string()),
    ("no_match_percent", |n| {
        n.no_match_share().map(percent).unwrap_or_default()
    }),
    ("mean_time_s", |n| {
        n.mean_time_ms().map(seconds).unwrap_or_default()
    }),
];

/// The flow statistics as a CSV file (BOM, CRLF, quoted fields, names never
/// formulas, as [`render_csv`]): one row per step, each flow's steps in the
/// order that puts the one losing callers first.
pub fn render_flow_csv(report: &FlowReport) -> String {
    let mut out = String::from("\u{feff}flow");
    for (heading, _) in STEP_COLUMNS {
        out.push(',');
        out.push_str(heading);
    }
    out.push_str("\r\n");
    for f in &report.flows {
        for n in flowstats::by_losses(&f.nodes) {
            field(&f.flow, &mut out);
            for (_, value) in STEP_COLUMNS {
                out.push(',');
                field(&value(n), &mut out);
            }
            out.push_str("\r\n");
        }
    }
    out
}

async fn flow_stats_csv(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<FlowStatsQuery>,
) -> Result<Response, ApiError> {
    s.users.authorize(bearer(&headers), REPORT_ROLES)?;
    let r = flow_report(&s, &q).await?;
    csv_response(
        render_flow_csv(&r),
        &format!(
            "flow-stats-{}-{}.csv",
            file_time(r.from_ms),
            file_time(r.to_ms)
        ),
    )
}

/// A time as it appears in a file name.
fn file_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y%m%d-%H%M").to_string())
        .unwrap_or_else(|| "end".to_string())
}

/// A CSV body with its type, no caching, and its file name.
fn csv_response(body: String, file: &str) -> Result<Response, ApiError> {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
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

    fn flow_hour(flow: &str, hangups_in_menu: u64) -> FlowStats {
        let menu = NodeStats {
            id: "main.flow:4:5".into(),
            name: "main_menu".into(),
            kind: "menu".into(),
            calls: 4,
            visits: 5,
            time_ms: 20_000,
            self_service: 1,
            to_agents: 2,
            hangups: hangups_in_menu,
            no_input_dtmf: 1,
            no_match_speech: 1,
            ..NodeStats::default()
        };
        let welcome = NodeStats {
            id: "main.flow:3:5".into(),
            name: "say".into(),
            kind: "prompt".into(),
            calls: 4,
            visits: 4,
            time_ms: 8_000,
            ..NodeStats::default()
        };
        FlowStats {
            flow: flow.into(),
            calls: 4,
            self_service: 1,
            to_agents: 2,
            hung_up: hangups_in_menu,
            nodes: vec![welcome, menu],
            ..FlowStats::default()
        }
    }

    #[test]
    fn the_flow_csv_puts_the_step_that_loses_callers_first() {
        let r = FlowReport {
            from_ms: 0,
            to_ms: 3_600_000,
            flows: vec![flow_hour("main", 1), flow_hour("=cmd", 0)],
        };
        let csv = render_flow_csv(&r);
        let lines: Vec<&str> = csv['\u{feff}'.len_utf8()..].split("\r\n").collect();
        let header: Vec<&str> = lines[0].split(',').collect();
        assert_eq!(&header[..5], ["flow", "step", "name", "kind", "calls"]);
        let col = |h: &str| header.iter().position(|x| *x == h).unwrap();
        let menu: Vec<&str> = lines[1].split(',').collect();
        assert_eq!(menu[col("name")], "main_menu", "{csv}");
        assert_eq!(menu[col("hangup_percent")], "25.0");
        assert_eq!(menu[col("self_service_percent")], "25.0");
        assert_eq!(menu[col("no_input_percent")], "20.0");
        assert_eq!(menu[col("no_match_speech")], "1");
        assert_eq!(menu[col("mean_time_s")], "4.0");
        assert_eq!(menu[col("step")], "main.flow:4:5");
        let welcome: Vec<&str> = lines[2].split(',').collect();
        assert_eq!(welcome[col("name")], "say");
        assert_eq!(welcome[col("no_input_percent")], "0.0");
        assert!(lines[3].starts_with("\"'=cmd\","), "{}", lines[3]);
        assert_eq!(lines.len(), 6, "two rows per flow, a header and the end");
    }

    #[test]
    fn the_flow_json_has_rates_and_no_division_by_zero() {
        let f = flow_hour("main", 2);
        let v = serde_json::to_value(flow_view(&f)).unwrap();
        assert_eq!(v["nodes"][0]["name"], "main_menu");
        assert_eq!(v["nodes"][0]["hangup_share"], 0.5);
        assert_eq!(v["nodes"][0]["mean_time_ms"], 4_000.0);
        assert_eq!(v["self_service_share"], 0.25);
        let empty = serde_json::to_value(flow_view(&FlowStats::default())).unwrap();
        assert!(empty["self_service_share"].is_null());
        assert!(empty["mean_time_ms"].is_null());
    }

    mod route {
        //! The routes over real HTTP on loopback: who may read, the period,
        //! a flow alone, bad input.

        use std::sync::Arc;

        use crate::api::test_user;
        use crate::flowstats::{FlowStatsSink, FlowTally, HOUR_MS, Outcome, StepKind};

        fn call(t0: i64, hang_up_in_menu: bool) -> crate::flowstats::FlowStats {
            let mut t = FlowTally::start("main", t0);
            t.enter("main.flow:3:5", "say", StepKind::Prompt, t0);
            t.enter("main.flow:4:5", "main_menu", StepKind::Menu, t0 + 1_000);
            if hang_up_in_menu {
                return t.finish(Outcome::HungUp, t0 + 3_000);
            }
            t.enter(
                "main.flow:6:9",
                "transfer queue",
                StepKind::Transfer,
                t0 + 5_000,
            );
            t.handed(Outcome::ToAgents);
            t.finish(Outcome::HungUp, t0 + 9_000)
        }

        #[tokio::test]
        async fn flow_stats_by_period_for_report_readers_only() {
            let dir = std::env::temp_dir().join(format!(
                "dialect-flowstats-api-{}-{}",
                std::process::id(),
                rand::random::<u32>()
            ));
            let store: crate::store::SharedStore =
                Arc::new(crate::store::SledStore::open(&dir).expect("a store"));
            let base = 480_000 * HOUR_MS;
            let sink = FlowStatsSink::spawn(store.clone(), String::new());
            sink.record(base, call(base, true));
            sink.record(base + 10, call(base + 10, false));
            sink.record(base + 2 * HOUR_MS, call(base + 2 * HOUR_MS, true));
            for _ in 0..200 {
                let r = crate::flowstats::report(&*store, None, 0, i64::MAX).expect("a report");
                if r.flows.first().is_some_and(|f| f.calls == 3) {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            let addr = crate::api::serve_hotline(
                store,
                &[
                    test_user("ana", "analyst"),
                    test_user("sup", "supervisor"),
                    test_user("ops", "handler"),
                ],
            )
            .await;
            let get = |path: &str, token: Option<&str>| {
                let mut r = reqwest::Client::new().get(format!("http://{addr}{path}"));
                if let Some(t) = token {
                    r = r.bearer_auth(t);
                }
                r.send()
            };
            let ana = Some("t-ana-0123456789abcdef");
            let from = base;
            let to = base + HOUR_MS;
            let r = get(
                &format!("/api/v1/flow-stats?flow=main&from={from}&to={to}"),
                ana,
            )
            .await
            .expect("an answer");
            assert_eq!(r.status(), 200);
            let v: serde_json::Value = r.json().await.expect("json");
            let main = &v["flows"][0];
            assert_eq!(main["flow"], "main");
            assert_eq!(main["calls"], 2, "the third call is in another hour: {v}");
            assert_eq!(main["to_agents"], 1);
            assert_eq!(main["hung_up"], 1);
            assert_eq!(
                main["nodes"][0]["name"], "main_menu",
                "the menu lost a caller"
            );
            assert_eq!(main["nodes"][0]["hangups"], 1);
            assert_eq!(main["nodes"][0]["to_agents"], 1);
            let edges = main["edges"].as_array().expect("edges");
            assert!(
                edges
                    .iter()
                    .any(|e| e["from"] == "start" && e["to"] == "main.flow:3:5" && e["count"] == 2)
            );

            let all = get("/api/v1/flow-stats", Some("t-sup-0123456789abcdef"))
                .await
                .expect("an answer");
            assert_eq!(all.status(), 200);
            let v: serde_json::Value = all.json().await.expect("json");
            assert_eq!(v["flows"][0]["calls"], 3);

            let csv = get(&format!("/api/v1/flow-stats.csv?from={from}&to={to}"), ana)
                .await
                .expect("an answer");
            assert_eq!(csv.status(), 200);
            assert!(
                csv.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/csv")
            );
            let body = csv.text().await.expect("text");
            assert!(
                body.contains("\r\nmain,main.flow:4:5,main_menu,menu,2,"),
                "{body}"
            );

            for (path, token, status) in [
                ("/api/v1/flow-stats", None, 401),
                ("/api/v1/flow-stats", Some("t-ops-0123456789abcdef"), 403),
                ("/api/v1/flow-stats?from=yesterday", ana, 400),
                ("/api/v1/flow-stats?from=5&to=1", ana, 400),
                ("/api/v1/flow-stats?nonsense=1", ana, 400),
            ] {
                let r = get(path, token).await.expect("an answer");
                assert_eq!(r.status(), status, "{path}");
            }
            let long = "x".repeat(300);
            let r = get(&format!("/api/v1/flow-stats?flow={long}"), ana)
                .await
                .expect("an answer");
            assert_eq!(r.status(), 400);
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
