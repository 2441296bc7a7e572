//! `dialect`: the command analysts and operators use — check, format and draw
//! flows, compile bundles, run and deploy the telephony runtime.
//!
//! # Layout
//! - `main.rs`: the command line (clap) and exit codes.
//! - `commands/check.rs`: `dialect check`.
//! - `commands/fmt.rs`: `dialect fmt`.
//! - `commands/graph.rs`: `dialect graph`, with `--stats` the calls of a
//!   period on the diagram.
//! - `commands/report.rs`: `dialect report`, the statistics per flow of a
//!   running server.
//! - `commands/lsp.rs`: `dialect lsp`, the language server for editors.
//! - `commands/compile.rs`: `dialect compile`, `dialect inspect`.
//! - `commands/flowtest.rs`: `dialect run-flow`, `dialect test`.
//! - `commands/simulate.rs`: `dialect simulate`, the contact-center simulator
//!   on a project's queues.
//! - `commands/run.rs`: `dialect run`, `dialect deploy`, `dialect dtmf detect`.
//! - `commands/amd.rs`: `dialect amd detect`, the answering-machine detector
//!   on a recording.
//! - `commands/call.rs`: `dialect call`, a terminal caller that walks a flow
//!   on a running server.

mod commands;

/// mimalloc instead of the system allocator: the store (sled) and the HTTP stack
/// allocate and free small blocks from many threads, where glibc's malloc cost a
/// fifth of the CPU of durable workorder changes (docs/benchmarks.md, Workorders).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
enum DtmfCommand {
    /// Print the DTMF digits in a WAV file, with their start times.
    #[command(after_help = "Examples:\n  dialect dtmf detect call.wav")]
    Detect {
        /// The WAV file (any rate, depth and channel count).
        file: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum AmdCommand {
    /// Say whether a recording of an answered call is a person, a machine,
    /// a fax or unsure, and when the detector decided.
    #[command(
        after_help = "Prints one line: person, machine, fax or unsure, then the decision time in seconds.\n\nExamples:\n  dialect amd detect answer.wav\n  dialect amd detect answer.wav --config amd.yaml"
    )]
    Detect {
        /// The WAV file (any rate, depth and channel count; resampled to
        /// 8 kHz and mixed to mono).
        file: PathBuf,
        /// Detector settings in YAML (the fields of a campaign's amd block);
        /// default: the built-in defaults.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum CampaignCommand {
    /// Read a campaign's list file as the server does (typed by the campaign's
    /// fields, numbers made canonical, filtered), and with --server import it.
    #[command(
        after_help = "Prints the import report: rows, targets, duplicates, rows each filter left out, rejected rows with their row numbers.\n\nExamples:\n  dialect campaign import flows/hotline payment_reminder\n  dialect campaign import flows/hotline retention expiring-december.xlsx --server 127.0.0.1:8080"
    )]
    Import {
        /// The project folder.
        project: PathBuf,
        /// The campaign.
        campaign: String,
        /// The list file (CSV in any common delimiter and encoding, xlsx, xls
        /// or ods); default: the campaign's `list … from` file.
        file: Option<PathBuf>,
        /// Import into this running server (a URL or host:port); without it
        /// nothing is stored.
        #[arg(long)]
        server: Option<String>,
        /// An API token of a supervisor or admin (default: the data folder's admin-token).
        #[arg(long, env = "DIALECT_TOKEN")]
        token: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
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
        /// Output format: text for people, json for editors and CI.
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
        /// First replace full-width punctuation and near-miss units (`10min`)
        /// with what the checker asks for.
        #[arg(long, conflicts_with = "check")]
        fix: bool,
    },
    /// Draw a flow as a diagram: prompts, menus, decisions, transfers.
    #[command(
        after_help = "Examples:\n  dialect graph flows/hotline hotline -o hotline.svg\n  dialect graph flows/hotline fee_inquiry --format mermaid"
    )]
    Graph {
        /// The project folder the flow belongs to.
        project: PathBuf,
        /// Name of the flow to draw.
        flow: String,
        /// svg (no external program needed), dot (Graphviz) or mermaid.
        #[arg(long, default_value = "svg")]
        format: dialect_lang::graph::GraphFormat,
        /// Write to this file instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Colour the diagram by the calls of this period (FROM..TO: dates,
        /// dates and times, RFC 3339 or Unix ms; a side left out is open), as
        /// counted by the server at --server.
        #[arg(long, value_name = "FROM..TO", requires = "server")]
        stats: Option<String>,
        /// The running server whose statistics --stats reads (a URL or host:port).
        #[arg(long)]
        server: Option<String>,
        /// An API token of a supervisor, analyst or quality inspector (default:
        /// the data folder's admin-token).
        #[arg(long, env = "DIALECT_TOKEN")]
        token: Option<String>,
    },
    /// Print the statistics per flow of a running server over a period: per
    /// step (menus above all) calls, self-service, transfers to agents,
    /// hang-ups, no-input and no-match, mean time; the step that loses callers
    /// first.
    #[command(
        after_help = "Examples:\n  dialect report flows/hotline --server 127.0.0.1:8080 --from 2026-12-01 --to 2026-12-08\n  dialect report flows/hotline --server 127.0.0.1:8080 --flow hotline --from \"2026-12-07 08:00\" --json"
    )]
    Report {
        /// The project folder the flows belong to (steps are shown by their text).
        project: PathBuf,
        /// The server's HTTP address: a URL, or `host:port`.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        server: String,
        /// An API token of a supervisor, analyst or quality inspector (default:
        /// the data folder's admin-token).
        #[arg(long, env = "DIALECT_TOKEN")]
        token: Option<String>,
        /// Start of the period: a date, a date and time, RFC 3339 or Unix ms
        /// (default: the beginning).
        #[arg(long)]
        from: Option<String>,
        /// End of the period, exclusive (default: now).
        #[arg(long)]
        to: Option<String>,
        /// This flow only.
        #[arg(long)]
        flow: Option<String>,
        /// Print the server's JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Serve editors: the language server (LSP) on standard input and output.
    ///
    /// Diagnostics as you type, go to definition, references, hover,
    /// completion, rename, formatting and quick fixes. Editors start it
    /// themselves; see "Editing flows" in docs/language.md.
    #[command(
        after_help = "Examples:\n  dialect lsp   # started by the editor, speaks LSP on stdin/stdout"
    )]
    Lsp,
    /// Check and compile a project into a bundle (.dlb) for `dialect deploy`.
    #[command(after_help = "Examples:\n  dialect compile flows/hotline -o hotline.dlb")]
    Compile {
        /// The project folder (default: the current folder).
        #[arg(default_value = ".")]
        project: PathBuf,
        /// The bundle to write (default: PROJECT-NAME.dlb).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Show what a bundle holds: format, checksum, flows, declarations, prompts.
    #[command(
        after_help = "Examples:\n  dialect inspect hotline.dlb\n  dialect inspect hotline.dlb --ir   # with the IR of every flow"
    )]
    Inspect {
        /// The bundle file (.dlb), from `dialect compile`.
        bundle: PathBuf,
        /// Print the IR of every flow and predicate too.
        #[arg(long)]
        ir: bool,
    },
    /// Drive a flow through a scripted call without telephony, printing every command.
    #[command(
        after_help = "Examples:\n  dialect run-flow hotline.dlb hotline --script flows/hotline/tests/main.test.yaml\n  dialect run-flow flows/hotline fee_inquiry --script call.yaml --engine interp"
    )]
    RunFlow {
        /// A bundle (.dlb) or a project folder.
        source: PathBuf,
        /// Name of the flow to run.
        flow: String,
        /// The script: YAML with `caller`, `steps` (see docs/language.md, "Testing flows").
        #[arg(long)]
        script: PathBuf,
        /// native (default) or interp.
        #[arg(long, default_value = "native")]
        engine: dialect_compiler::Engine,
    },
    /// Run the telephony server: SIP, RTP, flows, API.
    ///
    /// Without --config it runs on embedded defaults: SIP on 127.0.0.1:5060 (UDP
    /// and TCP), HTTP API on 127.0.0.1:8080, data in ./data, RTP ports 20000-29999,
    /// the project ./flows/hotline compiled at start. SIGTERM shuts down gracefully.
    #[command(
        after_help = "Examples:\n  dialect run\n  dialect run --config dialect.yaml\n  curl http://127.0.0.1:8080/api/v1/health"
    )]
    Run {
        /// The configuration file (YAML; see docs/operations.md).
        #[arg(long)]
        config: Option<PathBuf>,
        /// native or interp (overrides the configuration).
        #[arg(long)]
        engine: Option<dialect_compiler::Engine>,
    },
    /// Ship a bundle to a running server; it swaps it in without dropping calls.
    #[command(
        after_help = "Examples:\n  dialect deploy hotline.dlb --to http://127.0.0.1:8080 --token \"$(cat data/admin-token)\"\n\nWithout --token or DIALECT_TOKEN, the admin token a server started without api_users keeps in its data folder ($DIALECT_DATA_DIR, else ./data) is used."
    )]
    Deploy {
        /// The bundle (from `dialect compile`).
        bundle: PathBuf,
        /// The server's HTTP address: a URL, or `host:port` (`--server` is the same).
        #[arg(
            long,
            visible_alias = "server",
            default_value = "http://127.0.0.1:8080"
        )]
        to: String,
        /// An API token of an admin or analyst (default: the data folder's admin-token).
        #[arg(long, env = "DIALECT_TOKEN")]
        token: Option<String>,
    },
    /// Call a running server from the terminal: hear the flow as text, press keys.
    ///
    /// Places a SIP call to NUMBER, shows each prompt the caller would hear and
    /// each step of the IVR as it happens, sends the keys typed (a line at a
    /// time, as RFC 4733 events; `q` hangs up) and prints the IVR trail at the end.
    #[command(
        after_help = "Examples:\n  dialect run &   # the hotline on SIP 127.0.0.1:5060, API 127.0.0.1:8080\n  dialect call 10000\n  printf '1\\n#\\n' | dialect call 10000 --from 13912345678"
    )]
    Call {
        /// The number to dial (a flow's `on` number, such as 10000).
        number: String,
        /// The server's SIP address (UDP).
        #[arg(long, default_value = "127.0.0.1:5060")]
        server: String,
        /// The server's HTTP API, for live progress and the contact record.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        api: String,
        /// An API token that may read contacts (default: the data folder's
        /// admin-token, as for `dialect deploy`).
        #[arg(long, env = "DIALECT_TOKEN")]
        token: Option<String>,
        /// The calling number the flow sees (`caller`).
        #[arg(long, default_value = "13800138000")]
        from: String,
        /// The RTP ports this side may use, FIRST-LAST.
        #[arg(long, default_value = "40000-40999", value_parser = parse_port_range)]
        rtp_ports: (u16, u16),
    },
    /// In-band DTMF tools.
    Dtmf {
        #[command(subcommand)]
        command: DtmfCommand,
    },
    /// Outbound campaigns: import a list.
    Campaign {
        #[command(subcommand)]
        command: CampaignCommand,
    },
    /// Print what `api_users` holds instead of a secret: a password's Argon2id
    /// hash (the password read from standard input), or with `--token` a new
    /// token and its digest.
    #[command(
        after_help = "Examples:\n  dialect passwd            # then type the password\n  dialect passwd --token"
    )]
    Passwd {
        /// Make a new API token and print it with its digest.
        #[arg(long)]
        token: bool,
    },
    /// Answering-machine and fax detection tools.
    Amd {
        #[command(subcommand)]
        command: AmdCommand,
    },
    /// Run the project's flow tests (tests/*.test.yaml).
    #[command(
        after_help = "Examples:\n  dialect test flows/hotline\n  dialect test flows/hotline -v"
    )]
    Test {
        /// The project folder (default: the current folder).
        #[arg(default_value = ".")]
        project: PathBuf,
        /// native (default) or interp.
        #[arg(long, default_value = "native")]
        engine: dialect_compiler::Engine,
        /// Print the transcript of passing tests too.
        #[arg(short, long)]
        verbose: bool,
    },
    /// Simulate the contact center: the real ACD on the project's queues, on virtual time.
    ///
    /// Prints service level, ASA, abandon rate and occupancy per queue and agent,
    /// and the error of the ACD's wait estimate next to Asterisk's. With
    /// `--campaign`, simulates an outbound campaign's pacing modes side by side.
    #[command(
        after_help = "Examples:\n  dialect simulate flows/hotline --traffic traffic.yaml\n  dialect simulate flows/hotline --queue billing --calls-per-hour 120 --handle-time 3m --agents 8 --patience 2m --json\n  dialect simulate flows/hotline --campaign retention --traffic flows/hotline/campaign-traffic.yaml --seed 3"
    )]
    Simulate {
        /// The project folder (default: the current folder).
        #[arg(default_value = ".")]
        project: PathBuf,
        /// The traffic file (YAML: arrivals per queue, handle time, patience, agents).
        #[arg(long)]
        traffic: Option<PathBuf>,
        /// One queue's traffic on the command line instead: the queue.
        #[arg(long)]
        queue: Option<String>,
        /// Poisson arrivals per hour.
        #[arg(long)]
        calls_per_hour: Option<f64>,
        /// Mean talk time, exponential (`3m`).
        #[arg(long)]
        handle_time: Option<String>,
        /// Mean patience, exponential (`2m`); none: callers never give up.
        #[arg(long)]
        patience: Option<String>,
        /// Agents with the queue's skills.
        #[arg(long)]
        agents: Option<u32>,
        /// Days to simulate (overrides the traffic file).
        #[arg(long)]
        days: Option<u32>,
        /// Random seed (overrides the traffic file).
        #[arg(long)]
        seed: Option<u64>,
        /// Simulate this outbound campaign instead of the queues: its pacing
        /// (progressive, predictive, ADAPT) against the called parties of the
        /// traffic file (answer shares, answer delays, talk, wrap-up, shifts).
        #[arg(long, requires = "traffic")]
        campaign: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// `FIRST-LAST`, two ports with the first not above the last.
fn parse_port_range(s: &str) -> Result<(u16, u16), String> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| format!("`{s}` is not FIRST-LAST"))?;
    let a: u16 = a
        .trim()
        .parse()
        .map_err(|_| format!("`{a}` is not a port"))?;
    let b: u16 = b
        .trim()
        .parse()
        .map_err(|_| format!("`{b}` is not a port"))?;
    if a == 0 || a > b || b - a < 2 {
        return Err(format!(
            "{a}-{b} must hold at least two ports, lowest first"
        ));
    }
    Ok((a, b))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check {
            paths,
            format,
            deny_warnings,
        } => commands::check::run(&paths, format, deny_warnings),
        Command::Fmt { paths, check, fix } => commands::fmt::run(&paths, check, fix),
        Command::Graph {
            project,
            flow,
            format,
            output,
            stats,
            server,
            token,
        } => commands::graph::run(
            &project,
            &flow,
            format,
            output.as_ref(),
            stats.map(|period| commands::graph::StatsSource {
                period,
                server: server.unwrap_or_default(),
                token,
            }),
        ),
        Command::Report {
            project,
            server,
            token,
            from,
            to,
            flow,
            json,
        } => commands::report::run(commands::report::ReportArgs {
            project,
            server,
            token,
            from,
            to,
            flow,
            json,
        }),
        Command::Lsp => commands::lsp::run(),
        Command::Compile { project, output } => commands::compile::run(&project, output.as_ref()),
        Command::Inspect { bundle, ir } => commands::compile::inspect(&bundle, ir),
        Command::RunFlow {
            source,
            flow,
            script,
            engine,
        } => commands::flowtest::run_flow(&source, &flow, &script, engine),
        Command::Test {
            project,
            engine,
            verbose,
        } => commands::flowtest::test(&project, engine, verbose),
        Command::Simulate {
            project,
            traffic,
            seed,
            campaign: Some(campaign),
            json,
            ..
        } => commands::simulate::run_campaign(&project, &campaign, traffic.as_ref(), seed, json),
        Command::Simulate {
            project,
            traffic,
            queue,
            calls_per_hour,
            handle_time,
            patience,
            agents,
            days,
            seed,
            campaign: None,
            json,
        } => commands::simulate::run(
            &project,
            traffic.as_ref(),
            commands::simulate::QuickTraffic {
                queue,
                calls_per_hour,
                handle_time,
                patience,
                agents,
                days,
                seed,
            },
            json,
        ),
        Command::Run { config, engine } => commands::run::run(config.as_ref(), engine),
        Command::Deploy { bundle, to, token } => commands::run::deploy(&bundle, &to, token),
        Command::Dtmf {
            command: DtmfCommand::Detect { file },
        } => commands::run::dtmf_detect(&file),
        Command::Campaign {
            command:
                CampaignCommand::Import {
                    project,
                    campaign,
                    file,
                    server,
                    token,
                    json,
                },
        } => commands::campaign::import(commands::campaign::ImportArgs {
            project,
            campaign,
            file,
            server,
            token,
            json,
        }),
        Command::Passwd { token } => commands::passwd::run(token),
        Command::Amd {
            command: AmdCommand::Detect { file, config },
        } => commands::amd::detect_file(&file, config.as_deref()),
        Command::Call {
            number,
            server,
            api,
            token,
            from,
            rtp_ports,
        } => commands::call::run(commands::call::CallArgs {
            number,
            server,
            api,
            token,
            from,
            rtp_ports,
        }),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
