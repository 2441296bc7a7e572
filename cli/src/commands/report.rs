//! `dialect report`: the statistics per flow of a running server over a
//! period, as a table per flow of its steps (menus above all), the step that
//! loses callers first; and the period and fetching that `dialect graph
//! --stats` shares.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use dialect_lang::check::Project;
use dialect_runtime::flowstats::{self, FlowReport, FlowStats, NodeStats};

/// A time given on the command line, as Unix milliseconds: Unix ms, RFC 3339
/// (`2026-12-07T08:00:00+08:00`), or a local date or date and time
/// (`2026-12-07`, `2026-12-07 08:00`, `2026-12-07T08:00`).
pub(crate) fn parse_when(text: &str) -> Result<i64> {
    let t = text.trim();
    if let Ok(ms) = t.parse::<i64>() {
        return Ok(ms);
    }
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(t) {
        return Ok(d.timestamp_millis());
    }
    let local = |naive: chrono::NaiveDateTime| {
        naive
            .and_local_timezone(chrono::Local)
            .earliest()
            .map(|d| d.timestamp_millis())
    };
    for format in ["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(n) = chrono::NaiveDateTime::parse_from_str(t, format)
            && let Some(ms) = local(n)
        {
            return Ok(ms);
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
        && let Some(ms) = d.and_hms_opt(0, 0, 0).and_then(local)
    {
        return Ok(ms);
    }
    bail!(
        "`{text}` is not a time: write a date (2026-12-07), a date and time (2026-12-07 08:00), RFC 3339 or Unix milliseconds"
    )
}

/// `FROM..TO` (either side may be left out: from the beginning, until now).
pub(crate) fn parse_range(text: &str) -> Result<(Option<i64>, Option<i64>)> {
    let Some((from, to)) = text.split_once("..") else {
        bail!("`{text}` is not a period: write FROM..TO, such as 2026-12-01..2026-12-08");
    };
    let side = |s: &str| {
        if s.trim().is_empty() {
            Ok(None)
        } else {
            parse_when(s).map(Some)
        }
    };
    Ok((side(from)?, side(to)?))
}

/// The API URL of `path` on `server` (a URL or `host:port`).
pub(crate) fn api_url(server: &str, path: &str) -> String {
    let base = server.trim_end_matches('/');
    if base.starts_with("http://") || base.starts_with("https://") {
        format!("{base}{path}")
    } else {
        format!("http://{base}{path}")
    }
}

/// Reads the statistics of `flow` (or every flow) for the period from
/// `server`'s `GET /api/v1/flow-stats`.
pub(crate) fn fetch(
    server: &str,
    token: Option<String>,
    flow: Option<&str>,
    from: Option<i64>,
    to: Option<i64>,
) -> Result<(FlowReport, serde_json::Value)> {
    let token = match token {
        Some(t) => t,
        None => super::run::local_admin_token()?,
    };
    let mut query: Vec<(&str, String)> = Vec::new();
    if let Some(f) = flow {
        query.push(("flow", f.to_string()));
    }
    if let Some(f) = from {
        query.push(("from", f.to_string()));
    }
    if let Some(t) = to {
        query.push(("to", t.to_string()));
    }
    let url = api_url(server, "/api/v1/flow-stats");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (status, body) = rt.block_on(async {
        let resp = reqwest::Client::new()
            .get(&url)
            .query(&query)
            .bearer_auth(&token)
            .timeout(std::time::Duration::from_secs(60))
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        anyhow::Ok((status, body))
    })?;
    let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    if !status.is_success() {
        let why = json["message"].as_str().unwrap_or(body.as_str());
        bail!("{url} answered {status}: {why}");
    }
    let report: FlowReport = serde_json::from_value(json.clone())
        .with_context(|| format!("{url} did not answer flow statistics"))?;
    Ok((report, json))
}

/// The arguments of `dialect report`.
pub(crate) struct ReportArgs {
    pub(crate) project: std::path::PathBuf,
    pub(crate) server: String,
    pub(crate) token: Option<String>,
    pub(crate) from: Option<String>,
    pub(crate) to: Option<String>,
    pub(crate) flow: Option<String>,
    pub(crate) json: bool,
}

/// `dialect report PROJECT --server URL [--token T] --from … --to … [--flow NAME] [--json]`.
pub(crate) fn run(a: ReportArgs) -> Result<ExitCode> {
    let project = dialect_lang::load_project(std::slice::from_ref(&a.project))?;
    if let Some(f) = &a.flow {
        check_flow(&project, &a.project, f)?;
    }
    let from = a.from.as_deref().map(parse_when).transpose()?;
    let to = a.to.as_deref().map(parse_when).transpose()?;
    let (report, json) = fetch(&a.server, a.token, a.flow.as_deref(), from, to)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print!("{}", render(&report, &project));
    }
    Ok(ExitCode::SUCCESS)
}

/// Fails, with a suggestion, when the project has no flow called `flow`.
pub(crate) fn check_flow(project: &Project, folder: &Path, flow: &str) -> Result<()> {
    let names: Vec<&str> = project
        .modules
        .iter()
        .flat_map(|m| &m.items)
        .filter_map(|i| match i {
            dialect_lang::ast::Item::Flow(f) => Some(f.name.name.as_str()),
            _ => None,
        })
        .collect();
    if names.contains(&flow) {
        return Ok(());
    }
    let hint = dialect_lang::diagnostic::did_you_mean(flow, names.iter().copied())
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default();
    bail!(
        "there is no flow called `{flow}` in {}{hint}",
        folder.display()
    )
}

/// A step's place as `file:line:col` split into the file and (line, col).
pub(crate) fn step_place(id: &str) -> Option<(&str, u32, u32)> {
    let mut parts = id.rsplitn(3, ':');
    let col = parts.next()?.parse().ok()?;
    let line = parts.next()?.parse().ok()?;
    Some((parts.next()?, line, col))
}

fn percent(share: Option<f64>) -> String {
    share.map_or("-".into(), |s| format!("{:.1}%", s * 100.0))
}

fn seconds(ms: Option<f64>) -> String {
    ms.map_or("-".into(), |ms| format!("{:.1} s", ms / 1000.0))
}

/// Where a step is, for people: `main.flow:4` and the statement's first words.
fn step_label(n: &NodeStats, project: &Project) -> String {
    let Some((file, line, _)) = step_place(&n.id) else {
        return n.name.clone();
    };
    let text = project
        .sources
        .files()
        .iter()
        .find(|s| s.path.ends_with(file))
        .map(|s| s.line_text(line as usize).trim().to_string())
        .unwrap_or_default();
    let mut text: String = text.chars().take(28).collect();
    if text.is_empty() {
        text.clone_from(&n.name);
    }
    format!("{} ({file}:{line})", text)
}

/// The table of every flow in `report`.
pub(crate) fn render(report: &FlowReport, project: &Project) -> String {
    let mut out = String::new();
    let when = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| {
                t.with_timezone(&chrono::Local)
                    .format("%Y-%m-%d %H:%M")
                    .to_string()
            })
            .unwrap_or_else(|| "the end".into())
    };
    let _ = writeln!(
        out,
        "Flow statistics from {} to {}",
        if report.from_ms <= 0 {
            "the beginning".to_string()
        } else {
            when(report.from_ms)
        },
        if report.to_ms >= i64::MAX - flowstats::HOUR_MS {
            "now".to_string()
        } else {
            when(report.to_ms)
        }
    );
    if report.flows.is_empty() {
        out.push_str("no calls in this period\n");
    }
    for f in &report.flows {
        out.push('\n');
        flow_table(f, project, &mut out);
    }
    out
}

fn flow_table(f: &FlowStats, project: &Project, out: &mut String) {
    let share = |n: u64| percent((f.calls > 0).then(|| n as f64 / f.calls as f64));
    let _ = writeln!(
        out,
        "flow {}: {} calls; self-service {} ({}), to agents {} ({}), hung up in the IVR {} ({}), transferred out {}, to another flow {}, failed {}; mean time {}",
        f.flow,
        f.calls,
        f.self_service,
        share(f.self_service),
        f.to_agents,
        share(f.to_agents),
        f.hung_up,
        share(f.hung_up),
        f.transferred_out,
        f.to_flow,
        f.failed,
        seconds((f.calls > 0).then(|| f.time_ms as f64 / f.calls as f64)),
    );
    let rows: Vec<[String; 9]> = flowstats::by_losses(&f.nodes)
        .into_iter()
        .map(|n| {
            [
                step_label(n, project),
                n.kind.clone(),
                n.calls.to_string(),
                percent(n.self_service_share()),
                n.to_agents.to_string(),
                format!("{} ({})", n.hangups, percent(n.hangup_share())),
                percent(n.no_input_share()),
                percent(n.no_match_share()),
                seconds(n.mean_time_ms()),
            ]
        })
        .collect();
    let head = [
        "step",
        "kind",
        "calls",
        "self-service",
        "to agents",
        "hung up",
        "no input",
        "no match",
        "mean time",
    ];
    let width = |c: usize| {
        rows.iter()
            .map(|r| dialect_lang::source::str_width(&r[c]))
            .chain([head[c].len()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..head.len()).map(width).collect();
    let line = |cells: &[&str], out: &mut String| {
        for (c, cell) in cells.iter().enumerate() {
            let pad = widths[c].saturating_sub(dialect_lang::source::str_width(cell));
            if c > 0 {
                out.push_str("  ");
            }
            if c < 2 {
                out.push_str(cell);
                if c + 1 < cells.len() {
                    out.push_str(&" ".repeat(pad));
                }
            } else {
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
            }
        }
        out.push('\n');
    };
    line(&head, out);
    for r in &rows {
        let cells: Vec<&str> = r.iter().map(String::as_str).collect();
        line(&cells, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_periods_are_read_in_every_documented_form() {
        assert_eq!(parse_when("1765000000000").unwrap(), 1_765_000_000_000);
        assert_eq!(
            parse_when("2026-12-07T08:00:00+08:00").unwrap(),
            parse_when("2026-12-07T00:00:00Z").unwrap()
        );
        let day = parse_when("2026-12-07").unwrap();
        assert_eq!(parse_when("2026-12-07 08:00").unwrap() - day, 8 * 3_600_000);
        assert_eq!(
            parse_when("2026-12-07T08:30").unwrap() - day,
            8 * 3_600_000 + 1_800_000
        );
        assert!(parse_when("yesterday").is_err());
        assert_eq!(parse_range("1000..2000").unwrap(), (Some(1000), Some(2000)));
        assert_eq!(parse_range("..2000").unwrap(), (None, Some(2000)));
        assert_eq!(parse_range("1000..").unwrap(), (Some(1000), None));
        assert!(parse_range("1000").is_err());
        assert!(parse_range("1000..soon").is_err());
    }

    #[test]
    fn urls_and_step_places() {
        assert_eq!(
            api_url("127.0.0.1:8080", "/api/v1/flow-stats"),
            "http://127.0.0.1:8080/api/v1/flow-stats"
        );
        assert_eq!(
            api_url("https://ivr.example/", "/x"),
            "https://ivr.example/x"
        );
        assert_eq!(step_place("main.flow:12:5"), Some(("main.flow", 12, 5)));
        assert_eq!(
            step_place("sub/dir/a:b.flow:1:2"),
            Some(("sub/dir/a:b.flow", 1, 2))
        );
        assert_eq!(step_place("end"), None);
    }
}
