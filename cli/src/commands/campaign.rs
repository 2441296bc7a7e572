//! `dialect campaign import PROJECT CAMPAIGN [FILE]`: a campaign's list file
//! read as the server reads it — typed by the campaign's fields, numbers made
//! canonical, filtered by the compiled filters — with a progress bar. With
//! `--server`, the file goes to the running server, which stores the targets
//! and answers with the same report; without, nothing is stored and the report
//! says what an import would do (a check before a list goes live).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use dialect_dialer::import::{ImportReport, Progress};

/// What `dialect campaign import` was asked.
pub(crate) struct ImportArgs {
    pub project: PathBuf,
    pub campaign: String,
    /// The file; default the campaign's `list … from` path in the project.
    pub file: Option<PathBuf>,
    /// The server's HTTP address, to import into it.
    pub server: Option<String>,
    pub token: Option<String>,
    /// Print the report as JSON.
    pub json: bool,
}

/// The content type the server is told, from the file's extension.
fn content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("xlsx") => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        Some("xls") => "application/vnd.ms-excel",
        Some("ods") => "application/vnd.oasis.opendocument.spreadsheet",
        _ => "text/csv",
    }
}

pub(crate) fn import(args: ImportArgs) -> Result<ExitCode> {
    let Some(ir) = super::compile::check_and_lower(&args.project)? else {
        return Ok(ExitCode::from(1));
    };
    let Some(c) = ir
        .campaigns
        .iter()
        .find(|c| c.name == args.campaign)
        .cloned()
    else {
        let known: Vec<&str> = ir.campaigns.iter().map(|c| c.name.as_str()).collect();
        bail!(
            "there is no campaign {} (the project has {})",
            args.campaign,
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        );
    };
    let file = args
        .file
        .clone()
        .unwrap_or_else(|| args.project.join(&c.source));
    let report = match &args.server {
        Some(server) => match upload(server, args.token.clone(), &c.name, &file)? {
            Ok(r) => r,
            Err(message) => {
                eprintln!("error: {}: {message}", file.display());
                return Ok(ExitCode::from(1));
            }
        },
        None => {
            let program =
                dialect_compiler::Program::new(ir.clone(), dialect_compiler::Engine::Native)?;
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            let filter = dialect_runtime::dialer::import::RowFilter::new(
                &program,
                &c,
                chrono::Utc::now().timestamp_millis(),
            );
            let mut sink = dialect_runtime::dialer::import::DryRun::new(filter, |p: Progress| {
                let of = p.rows_total.map(|t| format!(" of {t}")).unwrap_or_default();
                bar.set_message(format!("{} rows{of} read", p.rows));
                bar.tick();
            });
            let importer = dialect_runtime::dialer::import::importer(
                &c,
                dialect_numbers::NumberRules::default(),
            )?;
            let opened = std::fs::File::open(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let result = importer.import(
                std::io::BufReader::new(opened),
                None,
                Some(&file),
                &mut sink,
            );
            bar.finish_and_clear();
            match result {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: {}: {e}", file.display());
                    return Ok(ExitCode::from(1));
                }
            }
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report, &file, args.server.is_some());
    }
    Ok(ExitCode::SUCCESS)
}

/// Sends the file to the server; `Ok(Err(message))` when the server refuses it.
fn upload(
    server: &str,
    token: Option<String>,
    campaign: &str,
    file: &Path,
) -> Result<Result<ImportReport, String>> {
    let token = match token {
        Some(t) => t,
        None => super::run::local_admin_token()?,
    };
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let base = server.trim_end_matches('/');
    let base = if base.starts_with("http://") || base.starts_with("https://") {
        base.to_string()
    } else {
        format!("http://{base}")
    };
    let url = format!("{base}/api/v1/campaigns/{campaign}/lists");
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message(format!("sending {} bytes to {url}", bytes.len()));
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (status, body) = rt.block_on(async {
        let resp = reqwest::Client::new()
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", content_type(file))
            .body(bytes)
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        let status = resp.status();
        anyhow::Ok((status, resp.text().await.unwrap_or_default()))
    })?;
    bar.finish_and_clear();
    if !status.is_success() {
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        return Ok(Err(format!(
            "the server refused the list ({status}): {}",
            v["message"].as_str().unwrap_or(&body)
        )));
    }
    Ok(Ok(serde_json::from_str(&body).with_context(|| {
        format!("the server's answer is not an import report: {body}")
    })?))
}

fn print_report(r: &ImportReport, file: &Path, stored: bool) {
    println!(
        "{}: {} rows; {} targets{}",
        file.display(),
        r.rows,
        r.targets,
        if stored {
            " stored"
        } else {
            " (checked only: nothing stored; --server imports)"
        }
    );
    if r.duplicates > 0 {
        println!(
            "  {} duplicate numbers (the last row of each kept)",
            r.duplicates
        );
    }
    for (filter, n) in &r.filtered {
        println!("  {n} left out by `filter {filter}`");
    }
    if r.rejected_total > 0 {
        println!("  {} rows rejected:", r.rejected_total);
        for x in r.rejected.iter().take(20) {
            println!("    row {}: {}", x.row, x.reason);
        }
        if r.rejected_total > 20 {
            println!("    … (--json lists the first {})", r.rejected.len());
        }
    }
}
