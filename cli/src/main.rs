//! `dialect`: the command analysts and operators use — check, format and draw
//! flows, compile bundles, run and deploy the telephony runtime.
//!
//! # Layout
//! - `main.rs`: the command line (clap) and exit codes.
//! - `commands/check.rs`: `dialect check`.

mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Dialect: declarative IVR and contact-center flows, checked and compiled.
#[derive(Parser, Debug)]
#[command(name = "dialect", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// How diagnostics are printed.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OutputFormat {
    /// For people: the source line with the problem underlined.
    Text,
    /// For editors and CI: one JSON document.
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check flows, queues, campaigns and workorders for errors.
    ///
    /// Reports every problem with file:line:col, the text underlined and a
    /// suggestion. Exit code 0: no errors; 1: problems found; 2: files could not be read.
    #[command(
        after_help = "Examples:\n  dialect check flows/hotline\n  dialect check flows/hotline/main.flow --format json"
    )]
    Check {
        /// Files or project folders (default: the current folder).
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
        /// Treat warnings as errors (exit code 1 when there is any warning).
        #[arg(long)]
        deny_warnings: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check {
            paths,
            format,
            deny_warnings,
        } => commands::check::run(&paths, format, deny_warnings),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
