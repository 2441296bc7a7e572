//! The watched import folder (`dialer.import_dir`): list files dropped into
//! `IMPORT_DIR/CAMPAIGN/` are imported into that campaign, the way carriers'
//! systems hand over a night's lists without anyone calling an API.
//!
//! The folder is looked at every `dialer.import_every`. A file is taken once it
//! has not changed for [`SETTLE`] (a copy still being written is left alone).
//! After the import it moves to `done/` with its report beside it
//! (`NAME.report.json`); a file refused whole moves to `failed/` with the
//! reason (`NAME.error.txt`), so nothing is imported twice and nothing is lost
//! silently. Folders named after no deployed campaign are left alone, and said
//! so once in the log.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::DialerHandle;

/// How long a file must be unchanged before it is imported.
pub const SETTLE: Duration = Duration::from_secs(2);

/// The list files the importer reads.
const EXTENSIONS: [&str; 5] = ["csv", "txt", "xlsx", "xls", "ods"];

/// Looks at the folder until `shutdown`.
pub async fn watch(
    dialer: DialerHandle,
    dir: PathBuf,
    every: Duration,
    rules: dialect_numbers::NumberRules,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let mut warned: HashSet<String> = HashSet::new();
    let mut interval = tokio::time::interval(every.max(Duration::from_millis(100)));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = interval.tick() => {}
        }
        // In a cluster the runtime that dials imports: one import per file.
        if !dialer.leads() {
            continue;
        }
        let d = dialer.clone();
        let dir = dir.clone();
        let rules = rules.clone();
        let mut w = std::mem::take(&mut warned);
        let done = tokio::task::spawn_blocking(move || {
            let n = pass(&d, &dir, &rules, &mut w);
            (n, w)
        })
        .await;
        match done {
            Ok((n, w)) => {
                warned = w;
                if n > 0 {
                    dialer.wake();
                }
            }
            Err(e) => tracing::error!("the import folder pass failed: {e}"),
        }
    }
}

/// One look at the folder; returns how many files were imported.
pub fn pass(
    dialer: &DialerHandle,
    dir: &Path,
    rules: &dialect_numbers::NumberRules,
    warned: &mut HashSet<String>,
) -> usize {
    let deployed = dialer.inner.program.current();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut imported = 0;
    for folder in entries.flatten() {
        let path = folder.path();
        if !path.is_dir() {
            continue;
        }
        let name = folder.file_name().to_string_lossy().to_string();
        let Some(c) = deployed
            .program
            .ir()
            .campaigns
            .iter()
            .find(|c| c.name == name)
        else {
            if warned.insert(name.clone()) {
                tracing::warn!(folder = %path.display(), "no campaign is called `{name}`: the files in this folder are not imported");
            }
            continue;
        };
        let Ok(files) = std::fs::read_dir(&path) else {
            continue;
        };
        let mut files: Vec<PathBuf> = files
            .flatten()
            .map(|f| f.path())
            .filter(|p| p.is_file() && ready(p))
            .collect();
        files.sort();
        for file in files {
            import_one(dialer, &deployed, c, rules, &path, &file);
            imported += 1;
        }
    }
    imported
}

/// A list file that has settled.
fn ready(p: &Path) -> bool {
    let listed = p
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
    let settled = std::fs::metadata(p)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .is_some_and(|age| age >= SETTLE);
    listed && settled
}

fn import_one(
    dialer: &DialerHandle,
    deployed: &crate::deploy::Deployed,
    c: &dialect_compiler::ir::CampaignIr,
    rules: &dialect_numbers::NumberRules,
    folder: &Path,
    file: &Path,
) {
    let Some(name) = file.file_name().map(|n| n.to_string_lossy().to_string()) else {
        return;
    };
    let result = std::fs::File::open(file)
        .map_err(|e| format!("cannot read the file: {e}"))
        .and_then(|f| {
            super::import::import(
                dialer.store(),
                deployed,
                c,
                rules.clone(),
                std::io::BufReader::new(f),
                None,
                Some(file),
            )
            .map_err(|e| e.to_string())
        });
    let (to, beside, text) = match &result {
        Ok(report) => {
            tracing::info!(campaign = %c.name, file = %name, rows = report.rows, targets = report.targets, "list imported from the import folder");
            (
                folder.join("done"),
                format!("{name}.report.json"),
                serde_json::to_string_pretty(report).unwrap_or_default(),
            )
        }
        Err(why) => {
            tracing::warn!(campaign = %c.name, file = %name, "list refused: {why}");
            (
                folder.join("failed"),
                format!("{name}.error.txt"),
                format!("{why}\n"),
            )
        }
    };
    let moved = std::fs::create_dir_all(&to)
        .and_then(|()| std::fs::write(to.join(&beside), text))
        .and_then(|()| std::fs::rename(file, to.join(&name)));
    if let Err(e) = moved {
        // Left in place it would be imported again at the next look: say so
        // loudly, and take it out of the list files by its name.
        tracing::error!(file = %file.display(), "cannot move an imported list out of the import folder: {e}");
        let _ = std::fs::rename(file, file.with_extension("imported"));
    }
}
