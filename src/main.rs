use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};

use button::formats::Format;
use button::launch::RunArgs;
use button::lint::{Code, Severity};
use button::model::{RejectReason, Review, Verdict};
use button::ops::{self, FormatChoice};
use button::store::{StatusFilter, Store, now_ms};
use button::text::sanitize;

#[derive(Parser)]
#[command(name = "button", version, about = "Generate and curate multi-turn function-calling data (BUTTON method)")]
struct Cli {
    /// The workspace folder (holds button.db)
    #[arg(long, global = true, default_value = ".")]
    workspace: PathBuf,
    /// The TUI's theme: dark, light, high-contrast, or themes/NAME.toml of the workspace
    #[arg(long, global = true)]
    theme: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Import a dataset file and open the TUI on its samples to review them
    Review {
        file: PathBuf,
        /// auto, button, openai, sharegpt, hermes, xlam or glaive
        #[arg(long, default_value = "auto")]
        format: FormatChoice,
    },
    /// Load trajectories from a dataset file as samples awaiting review
    Import {
        file: PathBuf,
        /// auto, button, openai, sharegpt, hermes, xlam or glaive
        #[arg(long, default_value = "auto")]
        format: FormatChoice,
    },
    /// Write samples to a dataset file (and OUT.HASH.provenance.jsonl beside it)
    Export {
        /// A dataset layout: button, openai, sharegpt or hermes
        #[arg(long, conflicts_with = "target", required_unless_present = "target")]
        format: Option<Format>,
        /// Shaped for a trainer: openai (the fine-tuning API), trl, llamafactory (its sharegpt
        /// formatting) or llamafactory-openai; for LLaMA-Factory, `dataset_info.json` beside it
        #[arg(long = "for", value_name = "TRAINER")]
        target: Option<button::formats::trainers::Target>,
        /// The file to write, or - for standard output (no provenance then)
        #[arg(long)]
        out: PathBuf,
        /// accepted, rejected, pending or all
        #[arg(long, default_value = "accepted")]
        status: StatusFilter,
    },
    /// Check a dataset file against the lint rules (no workspace needed)
    Lint {
        file: Option<PathBuf>,
        /// auto, button, openai, sharegpt, hermes, xlam or glaive
        #[arg(long, default_value = "auto")]
        format: FormatChoice,
        /// One JSON document: {"findings": [...], "summary": {...}}
        #[arg(long)]
        json: bool,
        /// List the rules and exit
        #[arg(long)]
        rules: bool,
    },
    /// Counts by status, stage, strategy, turns, calls, parallel calls and lint code
    Stats {
        /// A dataset file; without it, the workspace
        file: Option<PathBuf>,
        #[arg(long, default_value = "auto")]
        format: FormatChoice,
    },
    /// One line per sample: id, verdict, stage, strategy, turns, calls, lint codes, source
    List {
        /// accepted, rejected, pending or all
        #[arg(long, default_value = "all")]
        status: StatusFilter,
    },
    /// Record a review verdict for one sample
    Verdict {
        sample: String,
        verdict: VerdictArg,
        /// Why it was rejected (repeatable): hallucinated-function, bad-arguments, user-leaks-plan,
        /// premature-final, inconsistent-tool-result, not-compositional, other
        #[arg(long = "reason")]
        reasons: Vec<RejectReason>,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Undo the newest verdict or edit not undone yet (works across restarts)
    Undo,
    /// Do again what the newest undo undid, when nothing was done since
    Redo,
    /// Print one sample's whole lineage as JSON
    Show { sample: String },
    /// Generate samples with the BUTTON pipeline (offline simulator unless an endpoint is set)
    Run {
        /// Run without the TUI, with progress on stderr
        #[arg(long)]
        headless: bool,
        /// The target number of samples in the workspace for this seed
        #[arg(long)]
        samples: Option<usize>,
        /// LLM calls in flight at once: a number, or "auto" (start at 4, follow the server)
        #[arg(long)]
        concurrency: Option<button::config::Concurrency>,
        /// An OpenAI-compatible base URL (default: button.toml, then `OPENAI_BASE_URL`)
        #[arg(long)]
        endpoint: Option<String>,
        /// The model name (default: button.toml, then `BUTTON_MODEL`)
        #[arg(long)]
        model: Option<String>,
        #[arg(long)]
        seed: Option<u64>,
        /// Allow parallel calls in the dialogues
        #[arg(long)]
        parallel: Option<OnOff>,
        /// Stream replies (SSE)
        #[arg(long)]
        stream: Option<OnOff>,
        /// Scenarios: a text file (one a line) or chat logs (glaive or `OpenAI` JSONL)
        #[arg(long)]
        scenarios: Option<PathBuf>,
        /// Make this seed's failed samples again (each failed attempt is kept in its history)
        #[arg(long)]
        retry_failed: bool,
    },
    /// Write a commented button.toml into the workspace
    Init,
    /// Serve the simulator as an OpenAI-compatible HTTP server on 127.0.0.1
    SimServe {
        #[arg(long, default_value_t = 8089)]
        port: u16,
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
        #[arg(long, default_value_t = 0)]
        jitter_ms: u64,
        /// Share of requests answered with an error, e.g. 429=0.1,500=0.05
        #[arg(long, default_value = "")]
        error_rate: String,
        /// Share of streamed replies cut off half way
        #[arg(long, default_value_t = 0.0)]
        truncate_rate: f64,
        /// Seconds in the Retry-After header of 429s
        #[arg(long, default_value_t = 1.0)]
        retry_after: f64,
        /// Share of deliberately malformed replies
        #[arg(long, default_value_t = 0.02)]
        malformed_rate: f64,
        /// An outage after every N requests (0: none): connections closed unanswered
        #[arg(long, default_value_t = 0)]
        down_every: u64,
        /// How long each outage lasts, in milliseconds
        #[arg(long, default_value_t = 3000)]
        down_for_ms: u64,
        /// Requests in flight the server takes at most (0: no limit); beyond, it answers 429
        /// with Retry-After
        #[arg(long, default_value_t = 0)]
        capacity: usize,
        /// Answer 400 to requests with a `response_format`, as a server without structured
        /// outputs does
        #[arg(long)]
        no_response_format: bool,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Check the prompt templates (built-in and the workspace's overrides)
    Prompts {
        #[arg(long)]
        check: bool,
    },
    /// The end of the workspace's log (button.log): runs, failed calls and retries,
    /// re-asks, verdicts, edits, undos, errors and every TUI message in full
    Log {
        /// How many lines, from the end
        #[arg(long, default_value_t = 50)]
        lines: usize,
    },
}

impl Command {
    fn name(&self) -> &'static str {
        match self {
            Command::Review { .. } => "review",
            Command::Import { .. } => "import",
            Command::Export { .. } => "export",
            Command::Lint { .. } => "lint",
            Command::Stats { .. } => "stats",
            Command::List { .. } => "list",
            Command::Verdict { .. } => "verdict",
            Command::Undo => "undo",
            Command::Redo => "redo",
            Command::Show { .. } => "show",
            Command::Run { .. } => "run",
            Command::Init => "init",
            Command::SimServe { .. } => "sim-serve",
            Command::Prompts { .. } => "prompts",
            Command::Log { .. } => "log",
        }
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum OnOff {
    On,
    Off,
}

#[derive(Clone, Copy, ValueEnum)]
enum VerdictArg {
    Accept,
    Reject,
    Flag,
    Clear,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // An existing workspace logs what each command does (commands that create one start
    // logging once it exists).
    let name = cli.command.as_ref().map_or("tui", Command::name);
    button::log::set_command(name);
    if Store::db_path(&cli.workspace).exists() {
        button::log::init(&cli.workspace);
    }
    match run(cli) {
        Ok(code) => {
            if code == ExitCode::SUCCESS {
                tracing::info!("command {name} ended");
            } else {
                tracing::warn!("command {name} ended with a failing exit status");
            }
            code
        }
        Err(e) => {
            let text = sanitize(&format!("{e:#}")).into_owned();
            tracing::error!("command {name} failed: {text}");
            eprintln!("error: {text}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let ws = cli.workspace.as_path();
    match cli.command {
        None => tui(ws, cli.theme, RunArgs::default(), false, false, None),
        Some(Command::Review { file, format }) => {
            need_terminal()?;
            let (report, line) = import_report(ws, &file, format)?;
            eprintln!("{line}");
            // Nothing of the file is in the workspace: there is nothing to review.
            if report.imported + report.already_present == 0 {
                let code = import_exit(&report, &file);
                if code == ExitCode::SUCCESS {
                    eprintln!("error: nothing to review: {} holds no record", file.display());
                }
                return Ok(ExitCode::from(2));
            }
            tui(ws, cli.theme, RunArgs::default(), false, true, Some(line))
        }
        Some(Command::Import { file, format }) => import(ws, &file, format),
        Some(Command::Export { format, target, out, status }) => {
            let what = match (format, target) {
                (_, Some(t)) => ops::ExportAs::For(t),
                (Some(f), None) => ops::ExportAs::Format(f),
                (None, None) => bail!("say what to write: --format LAYOUT or --for TRAINER"),
            };
            let store = Store::open_read_only(ws)?;
            let started = Instant::now();
            let report = ops::export_as(&store, what, &out, status)?;
            let shape = match what {
                ops::ExportAs::Format(f) => format!("{f} format"),
                ops::ExportAs::For(t) => format!("for {t}"),
            };
            eprintln!(
                "exported {} {}samples to {} ({shape}) in {:.1} s{}{}",
                report.written,
                status_word(status),
                out.display(),
                started.elapsed().as_secs_f64(),
                report.provenance.map(|p| format!("; provenance in {}", p.display())).unwrap_or_default(),
                report.dataset_info.map(|p| format!("; entry written to {}", p.display())).unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Lint { rules: true, .. }) => {
            for c in Code::ALL {
                println!("{} {:<22} {:<7} {}", c.id(), c.name(), c.severity().as_str(), c.what());
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Lint { file: None, .. }) => bail!("lint needs a FILE (or --rules to list the rules)"),
        Some(Command::Lint { file: Some(file), format, json, .. }) => lint(&file, format, json),
        Some(Command::Stats { file: Some(file), format }) => {
            let input = ops::Spooled::new(&file)?;
            let stats = ops::stats_file(&input.path, format)?;
            print!("{}", stats.render(true));
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Stats { file: None, .. }) => {
            let store = Store::open_read_only(ws)?;
            print!("{}", ops::stats_workspace(&store)?.render(false));
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Verdict { sample, verdict, reasons, note }) => {
            let mut store = Store::open(ws, false)?;
            let review = match verdict {
                VerdictArg::Clear => None,
                v => Some(Review {
                    verdict: match v {
                        VerdictArg::Accept => Verdict::Accepted,
                        VerdictArg::Reject => Verdict::Rejected,
                        _ => Verdict::Flagged,
                    },
                    reasons,
                    note,
                    at: now_ms(),
                }),
            };
            let what = review.as_ref().map_or("cleared", |r| r.verdict.as_str());
            store.set_review(&sample, review)?;
            println!("{sample}: {what}");
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::List { status }) => {
            let store = Store::open_read_only(ws)?;
            let stdout = std::io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            let mut result = Ok(());
            store.list(status, |r| {
                if result.is_ok() {
                    let m = &r.summary;
                    let codes = m.codes_text();
                    result = writeln!(
                        out,
                        "{}  {:<8}  {:<9}  {:<24}  {:>2} turns  {:>2} calls  {:<11}  {}",
                        r.id,
                        r.verdict.map_or("pending", |v| v.as_str()),
                        m.stage,
                        m.strategy.as_deref().unwrap_or("-"),
                        m.turns,
                        m.calls,
                        if codes.is_empty() { "clean" } else { codes.as_str() },
                        sanitize(r.source.as_deref().unwrap_or(""))
                    );
                }
            })?;
            result?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Run {
            headless,
            samples,
            concurrency,
            endpoint,
            model,
            seed,
            parallel,
            stream,
            scenarios,
            retry_failed,
        }) => {
            let args = RunArgs {
                samples,
                concurrency: match concurrency {
                    Some(button::config::Concurrency::Fixed(n)) => Some(n),
                    _ => None,
                },
                auto_concurrency: concurrency == Some(button::config::Concurrency::Auto),
                endpoint,
                model,
                seed,
                parallel: parallel.map(|p| p == OnOff::On),
                stream: stream.map(|s| s == OnOff::On),
                scenarios,
                retry_failed,
            };
            if headless { run_headless(ws, args) } else { tui(ws, cli.theme, args, true, false, None) }
        }
        Some(Command::SimServe {
            port,
            latency_ms,
            jitter_ms,
            error_rate,
            truncate_rate,
            retry_after,
            malformed_rate,
            down_every,
            down_for_ms,
            capacity,
            no_response_format,
            seed,
        }) => {
            let cfg = button::serve::ServeConfig {
                latency_ms,
                jitter_ms,
                error_rates: button::serve::parse_error_rates(&error_rate).map_err(anyhow::Error::msg)?,
                truncate_rate,
                retry_after_s: retry_after,
                down_every,
                down_for: std::time::Duration::from_millis(down_for_ms),
                capacity,
                reject_response_format: no_response_format,
            };
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(async {
                let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                    .await
                    .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
                let addr = listener.local_addr()?;
                println!(
                    "serving the simulator (seed {seed}) at http://{addr}/v1 ; replies are SIMULATED; Ctrl-C stops"
                );
                let shutdown = tokio_util::sync::CancellationToken::new();
                let stop = shutdown.clone();
                tokio::spawn(async move {
                    let _ = tokio::signal::ctrl_c().await;
                    stop.cancel();
                });
                let sim = button::sim::Simulator { seed, malformed_rate };
                let n = button::serve::serve(listener, sim, cfg, shutdown).await;
                println!("stopped after {n} requests");
                anyhow::Ok(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Init) => {
            let path = ws.join(button::config::FILE);
            if path.exists() {
                bail!("{} exists already; it was left as it is", path.display());
            }
            std::fs::create_dir_all(ws).with_context(|| format!("creating {}", ws.display()))?;
            std::fs::write(&path, button::config::TEMPLATE).with_context(|| format!("writing {}", path.display()))?;
            println!("wrote {}", path.display());
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Log { lines }) => {
            if !Store::db_path(ws).exists() {
                bail!("{} is not a workspace (no button.db): there is no log to show", ws.display());
            }
            let path = button::log::path(ws);
            let shown = button::log::tail(ws, lines).with_context(|| format!("reading {}", path.display()))?;
            if shown.is_empty() {
                eprintln!("{} is empty: nothing was logged yet", path.display());
            }
            for line in shown {
                println!("{}", sanitize(&line));
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Prompts { check }) => {
            let prompts = button::prompts::Prompts::load(Some(ws))?;
            for step in button::domain::Step::ALL {
                let i = prompts.info(step);
                println!("{:<28} {}  {}", step.id(), i.version, i.file);
            }
            if check {
                let errors = prompts.check();
                for e in &errors {
                    eprintln!("{e}");
                }
                if !errors.is_empty() {
                    return Ok(ExitCode::from(1));
                }
                println!("all {} templates render", button::domain::Step::ALL.len());
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(c @ (Command::Undo | Command::Redo)) => {
            let mut store = Store::open(ws, false)?;
            let (done, word, did) = if matches!(c, Command::Redo) {
                (store.redo()?, "redo", "redid")
            } else {
                (store.undo()?, "undo", "undid")
            };
            match done {
                Some(e) if matches!(e.action, button::store::Action::Verdicts { .. }) => {
                    println!("{did} #{} ({})", e.seq, e.action.describe());
                }
                Some(e) => println!("{did} #{} ({}) on {}", e.seq, e.action.describe(), e.sample_id),
                None => println!("nothing to {word}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Show { sample }) => {
            let store = Store::open_read_only(ws)?;
            let stored = store.sample(&sample)?;
            let mut v = serde_json::to_value(&stored.sample)?;
            v["review"] = serde_json::to_value(&stored.review)?;
            for line in serde_json::to_string_pretty(&v)?.lines() {
                println!("{}", sanitize(line));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn status_word(s: StatusFilter) -> &'static str {
    match s {
        StatusFilter::Accepted => "accepted ",
        StatusFilter::Rejected => "rejected ",
        StatusFilter::Pending => "pending ",
        StatusFilter::All => "",
    }
}

fn tui(
    ws: &Path,
    theme: Option<String>,
    run: RunArgs,
    start_run: bool,
    review_queue: bool,
    notice: Option<String>,
) -> Result<ExitCode> {
    need_terminal()?;
    button::tui::run(button::tui::Options {
        workspace: ws.to_path_buf(),
        theme,
        run,
        start_run,
        review_queue,
        notice,
    })?;
    Ok(ExitCode::SUCCESS)
}

fn need_terminal() -> Result<()> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        bail!("the TUI needs a terminal; without one use the subcommands (button --help), e.g. button run --headless");
    }
    Ok(())
}

fn import(ws: &Path, file: &Path, format: FormatChoice) -> Result<ExitCode> {
    let (report, line) = import_report(ws, file, format)?;
    println!("{line}");
    Ok(import_exit(&report, file))
}

/// An import that found nothing to import and skipped records failed: exit 2, said once.
fn import_exit(report: &ops::ImportReport, file: &Path) -> ExitCode {
    if report.imported == 0 && report.already_present == 0 && !report.skipped.is_empty() {
        eprintln!("error: nothing was imported: every record of {} was skipped (reasons above)", file.display());
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}

fn note_bom(input: &ops::Spooled) {
    if input.starts_with_bom() {
        eprintln!("note: {} starts with a UTF-8 byte-order mark; it was read past", input.name);
    }
}

const SHOWN_SKIPS: usize = 50;
const SHOWN_REPEATS: usize = 10;

fn import_report(ws: &Path, file: &Path, format: FormatChoice) -> Result<(ops::ImportReport, String)> {
    let input = ops::Spooled::new(file)?;
    let name = input.name.as_str();
    // Check the input before creating a workspace for it.
    ops::resolve_format(&input.path, format).map_err(|e| anyhow::anyhow!(input.explain(&e)))?;
    note_bom(&input);
    let mut store = Store::open(ws, true)?;
    button::log::init(ws);
    let started = Instant::now();
    let report = ops::import_named(&mut store, &input.path, name, format)
        .map_err(|e| anyhow::anyhow!("importing {name}: {}", input.explain(&e)))?;
    let secs = started.elapsed().as_secs_f64();
    for (record, f) in report.skipped.iter().take(SHOWN_SKIPS) {
        eprintln!("{}: {} {}", report.place(name, *record), f.code.id(), sanitize(&location(f)));
        if let Some(e) = &f.excerpt {
            eprintln!("    it reads: {}", sanitize(e));
        }
    }
    if report.skipped.len() > SHOWN_SKIPS {
        eprintln!("({} more skipped records are counted below, not shown)", report.skipped.len() - SHOWN_SKIPS);
    }
    for (record, first) in report.repeats.iter().take(SHOWN_REPEATS) {
        eprintln!("note: {} repeats {}; imported once", report.place(name, *record), report.place(name, *first));
    }
    if report.repeats.len() > SHOWN_REPEATS {
        eprintln!("({} more repeats are counted below, not shown)", report.repeats.len() - SHOWN_REPEATS);
    }
    let mut line = format!(
        "imported {} samples from {} ({} format, {}) in {:.1} s",
        report.imported,
        name,
        report.format.map_or("?", button::formats::Format::as_str),
        report.container.map_or_else(|| "?".to_string(), button::formats::container::Container::describe),
        secs
    );
    if !report.repeats.is_empty() {
        let _ = write!(line, "; {} repeats of earlier records in the file", report.repeats.len());
    }
    if report.already_present > 0 {
        let _ = write!(line, "; {} already in the workspace", report.already_present);
    }
    let unit = match report.container.map(|c| c.shape) {
        Some(button::formats::container::Shape::Array) => "item",
        _ => "line",
    };
    if report.skipped.is_empty() {
        let _ = write!(line, "; no {unit} skipped");
    } else {
        let why: Vec<String> =
            report.skipped_by_code().iter().map(|(c, n)| format!("{n} {} ({})", c.name(), c.id())).collect();
        let _ = write!(line, "; {} {unit}s skipped: {}", report.skipped.len(), why.join(", "));
    }
    Ok((report, line))
}

fn location(f: &button::lint::Finding) -> String {
    let p = f.pointer();
    if p.is_empty() { f.message.clone() } else { format!("{} (at {p})", f.message) }
}

fn lint(file: &Path, format: FormatChoice, json: bool) -> Result<ExitCode> {
    let input = ops::Spooled::new(file)?;
    let (file, name) = (input.path.as_path(), input.name.as_str());
    note_bom(&input);
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut first = true;
    if json {
        out.write_all(b"{\"findings\":[")?;
    }
    let linted = ops::lint_file(file, format, |line, findings| {
        for f in findings {
            if json {
                if !first {
                    out.write_all(b",\n")?;
                }
                first = false;
                serde_json::to_writer(&mut out, &f.to_json(name, line))?;
            } else {
                writeln!(
                    out,
                    "{name}:{line}: {} {} {}",
                    f.code.id(),
                    f.code.severity().as_str(),
                    sanitize(&location(f))
                )?;
            }
        }
        Ok(())
    });
    let (format, s) = match linted {
        Ok(r) => r,
        Err(e) => {
            // The document stays whole JSON, with the error in it; exit 2 says it failed.
            let message = sanitize(&input.explain(&e)).into_owned();
            if json {
                write!(out, "],\n\"error\":{}}}\n", serde_json::Value::String(message.clone()))?;
                out.flush()?;
            }
            drop(out);
            eprintln!("error: {message}");
            return Ok(ExitCode::from(2));
        }
    };
    if json {
        let by_code: serde_json::Map<String, serde_json::Value> =
            s.by_code.iter().map(|(c, n)| (c.id().to_string(), (*n).into())).collect();
        let summary = serde_json::json!({
            "file": name, "format": format.as_str(), "trajectories": s.trajectories, "unreadable_lines": s.unreadable,
            "errors": s.errors, "warnings": s.warnings, "with_errors": s.with_errors,
            "with_warnings": s.with_warnings, "by_code": by_code,
        });
        write!(out, "],\n\"summary\":{summary}}}\n")?;
    } else {
        let codes: Vec<String> = s.by_code.iter().map(|(c, n)| format!("{} {} {n}", c.id(), c.name())).collect();
        writeln!(
            out,
            "{name}: {} trajectories ({} format), {} unreadable lines; {} errors on {} lines, {} warnings on {} lines{}{}",
            s.trajectories,
            format,
            s.unreadable,
            s.errors,
            s.with_errors,
            s.warnings,
            s.with_warnings,
            if codes.is_empty() { "" } else { "; " },
            codes.join(", ")
        )?;
    }
    out.flush()?;
    let has_errors = s.by_code.keys().any(|c| c.severity() == Severity::Error);
    Ok(if has_errors { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

// The dataset paths allocate a small map per JSON object; mimalloc halves that cost
// against glibc's malloc across the worker threads.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn run_headless(ws: &Path, a: RunArgs) -> Result<ExitCode> {
    let cfg = button::config::Config::load(ws)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let button::launch::Prepared { backend, run, sources, prompts, .. } =
        rt.block_on(button::launch::prepare(ws, &cfg, &a, false))?;
    if backend.is_simulated() {
        eprintln!("no endpoint configured: the replies are SIMULATED by the offline simulator (seed {})", run.seed);
    }
    let simulated = backend.is_simulated();
    let target = run.samples;
    let seed = run.seed;
    let started = Instant::now();
    let structured_setting = cfg.llm.structured_output;
    let (summary, progress, structured) = rt.block_on(async {
        let p = button::pipeline::start(ws, backend, prompts, run, sources)?;
        let control = p.control.clone();
        let (summary, progress) = button::headless::drive(p, target).await?;
        anyhow::Ok((summary, progress, control.structured()))
    })?;
    if summary.started == 0 {
        println!("the workspace already holds {target} ended samples for seed {seed}: nothing to do");
        return Ok(ExitCode::SUCCESS);
    }
    let failures: Vec<String> = summary.failures.iter().map(|(k, v)| format!("{v} {k}")).collect();
    let ended = if summary.endpoint_down.is_some() {
        "stopped: the endpoint is down"
    } else if summary.cancelled {
        "cancelled"
    } else {
        "finished"
    };
    println!(
        "run {ended}: {} samples this run ({} complete, {}{} failed{}{}), {} already done; {} calls ({} reused, {} re-asks of which {} rescued), {} tokens in {:.1} s{}",
        summary.started,
        summary.complete,
        if summary.stopped > 0 { format!("{} stopped (will resume), ", summary.stopped) } else { String::new() },
        summary.failed,
        if failures.is_empty() { "" } else { ": " },
        failures.join(", "),
        summary.skipped_already_done,
        progress.calls_done,
        progress.calls_reused,
        progress.reasks,
        progress.rescued,
        progress.tokens,
        started.elapsed().as_secs_f64(),
        if simulated { "; replies were simulated" } else { "" }
    );
    if structured_setting == button::llm::StructuredOutput::Auto && structured == Some(true) {
        println!("structured outputs: on (the endpoint took response_format; structured_output = \"auto\")");
    }
    if let Some(limit) = progress.settled_limit() {
        println!(
            "concurrency auto: settled near {limit:.1} calls in flight (the second half's mean); last change: {}",
            progress.concurrency_note
        );
    }
    if let Some(why) = summary.endpoint_down {
        eprintln!("error: {}; run the same command again once it is back", sanitize(&why));
        return Ok(ExitCode::from(3));
    }
    Ok(ExitCode::SUCCESS)
}
