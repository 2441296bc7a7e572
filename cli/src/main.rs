//! `dialect`: the command analysts and operators use — check, format and draw
//! flows, compile bundles, run and deploy the telephony runtime.
//!
//! # Layout
//! - `main.rs`: the command line (clap) and exit codes.
//! - `commands/check.rs`: `dialect check`.
//! - `commands/fmt.rs`: `dialect fmt`.
//! - `commands/graph.rs`: `dialect graph`.

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
    /// Rewrite .flow files in the one canonical layout.
    ///
    /// Formatting never changes what a flow does, and formatting twice changes
    /// nothing. Comments are kept.
    #[command(
        after_help = "Examples:\n  dialect fmt flows/hotline\n  dialect fmt --check flows/hotline   # in CI: exit 1 if a file is not formatted"
    )]
    Fmt {
        /// Files or folders (default: the current folder).
        paths: Vec<PathBuf>,
        /// Only report files that are not formatted; change nothing.
        #[arg(long)]
        check: bool,
    },
    /// Draw a flow as a diagram: prompts, menus, decisions, transfers.
    #[command(
        after_help = "Examples:\n  dialect graph flows/hotline hotline -o hotline.svg\n  dialect graph flows/hotline fee_inquiry --format mermaid"
    )]
    Graph {
        /// The project folder.
        project: PathBuf,
        /// The flow to draw.
        flow: String,
        /// svg (no external program needed), dot (Graphviz) or mermaid.
        #[arg(long, default_value = "svg")]
        format: dialect_lang::graph::GraphFormat,
        /// Write to this file instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
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
        Command::Fmt { paths, check } => commands::fmt::run(&paths, check),
        Command::Graph {
            project,
            flow,
            format,
            output,
        } => commands::graph::run(&project, &flow, format, output.as_ref()),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
