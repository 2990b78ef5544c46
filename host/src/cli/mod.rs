//! The command line: `sluice run`, `sluice dev`, `sluice validate`, `sluice demo`, and
//! the plugin author's `sluice plugin ...` commands (in `plugin.rs`).

mod bundled;
mod plugin;

use crate::batch::{Shutdown, SystemClock};
use crate::config::{self, Diagnostics, GeneratorSpec, LoadError, Pipeline};
use crate::engine::{Job, Options, RunSummary};
use crate::logging::{self, LogFormat};
use crate::monitor::Monitoring;
use crate::plugin::{Registry, RegistryError, Runtime};
use crate::swap::WatchMode;
use crate::terminal::StatusLine;
use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// sluice runs micro-batch stream pipelines whose operators are WebAssembly plugins.
#[derive(Debug, Parser)]
#[command(name = "sluice", version, about, long_about = None)]
pub struct Cli {
    /// What to log: a level (error, warn, info, debug, trace) or a tracing filter.
    /// RUST_LOG works too.
    #[arg(long, global = true, value_name = "FILTER")]
    pub log: Option<String>,

    /// How log lines are written: text for people, json (one object per line) for log
    /// collectors.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Also write every structured event (pipeline started, batch completed or
    /// failed, checkpoint written, plugin version ready, swapped or rolled back, HTTP
    /// address) to FILE, one JSON object per line, whatever --log says.
    #[arg(long, global = true, value_name = "FILE")]
    pub event_log: Option<PathBuf>,

    /// Do not draw the live status line (drawn when standard error or standard output
    /// is a terminal and logs are text).
    #[arg(long, global = true)]
    pub no_status: bool,

    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a pipeline until its sources end, or until Ctrl-C / SIGTERM (which finish
    /// the queued batches first).
    Run {
        /// The pipeline file.
        file: PathBuf,
        /// Override `[pipeline] partitions`.
        #[arg(long)]
        partitions: Option<usize>,
        /// Reload plugins given as `.wasm` files when the file changes, between two
        /// batches, keeping state; a version that fails its first batch is rolled back.
        #[arg(long)]
        watch: bool,
        /// Resume from the checkpoint even if the pipeline no longer has some of the
        /// stateful stages it holds state for (that state is dropped).
        #[arg(long)]
        allow_non_restored_state: bool,
        /// Start again from nothing: the checkpoint directory's checkpoints, batch
        /// journal and write-ahead logs are moved aside (to `reset-<time>/` in it), and
        /// every source starts from its beginning.
        #[arg(long)]
        reset_state: bool,
        /// Serve the batch timeline, metrics and JSON API on this host:port (overrides
        /// `[pipeline] http`; port 0 picks a free one).
        #[arg(long, value_name = "ADDR", value_parser = http_address)]
        http: Option<String>,
    },
    /// Run a pipeline for development: plugins given as crates are rebuilt when their
    /// sources change and swapped in while the pipeline runs, keeping state (and
    /// `.wasm` plugins are reloaded, as with `run --watch`).
    Dev {
        /// The pipeline file.
        file: PathBuf,
        /// Override `[pipeline] partitions`.
        #[arg(long)]
        partitions: Option<usize>,
        /// Serve the batch timeline, metrics and JSON API on this host:port (overrides
        /// `[pipeline] http`; port 0 picks a free one): watch each new version go live.
        #[arg(long, value_name = "ADDR", value_parser = http_address)]
        http: Option<String>,
    },
    /// Measure sluice against native Rust on the same data (throughput at one partition
    /// and at one per core, in memory and end to end through a directory and the files
    /// sink, the fixed cost of a batch, start-up) and print a table.
    Bench {
        /// Lines of input (10 words each) for the throughput workloads.
        #[arg(long, default_value_t = 1_000_000)]
        lines: usize,
        /// Batches the input is cut into (20: batches of 50,000 lines).
        #[arg(long, default_value_t = 20)]
        batches: usize,
    },
    /// Create, build, test and inspect plugins.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Check a pipeline file and its plugins without reading any input: every problem
    /// is reported with its file, line, key and a hint.
    Validate {
        /// The pipeline file.
        file: PathBuf,
    },
    /// Run the word-count demo: the example plugin on generated text, printed every
    /// batch. Needs nothing but this repository.
    Demo {
        /// Lines per second the generator produces (10 words each).
        #[arg(long, default_value_t = 200_000)]
        rate: u64,
        /// How many seconds of input to generate.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Partitions (default: one per core).
        #[arg(long)]
        partitions: Option<usize>,
        /// Serve the batch timeline, metrics and JSON API on this host:port.
        #[arg(long, value_name = "ADDR", value_parser = http_address)]
        http: Option<String>,
    },
}

fn http_address(text: &str) -> Result<String, String> {
    config::check_http_address(text).map(|_| text.to_string())
}

/// Parses the command line, runs the command, and returns the exit code.
pub fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let status = (cli.log_format == LogFormat::Text && !cli.no_status)
        .then(StatusLine::on_terminal)
        .flatten()
        .map(Arc::new);
    logging::init(
        cli.log.as_deref(),
        cli.log_format,
        status.clone(),
        cli.event_log.as_deref(),
    )?;
    match cli.command {
        Command::Run {
            file,
            partitions,
            watch,
            allow_non_restored_state,
            reset_state,
            http,
        } => run(
            with_partitions(load(&file)?, partitions),
            RunOptions {
                watch: watch.then_some(WatchMode::Wasm),
                engine: Options {
                    allow_non_restored_state,
                    reset_state,
                },
                http,
                status,
            },
        ),
        Command::Dev {
            file,
            partitions,
            http,
        } => dev(&file, partitions, http, status),
        Command::Plugin(command) => plugin::run(command),
        Command::Bench { lines, batches } => {
            crate::bench::run(
                &source_tree()?,
                crate::bench::BenchOptions {
                    lines,
                    batches: batches.max(1),
                },
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { file } => validate(&file),
        Command::Demo {
            rate,
            seconds,
            partitions,
            http,
        } => demo(rate, seconds, partitions, http, status),
    }
}

/// Prints an error the way a user should read it: a bad pipeline file as its list of
/// problems, anything else as its chain of causes.
pub fn report(error: &anyhow::Error) {
    let diagnostics = error
        .downcast_ref::<LoadError>()
        .and_then(|e| match e {
            LoadError::Invalid(d) => Some(d),
            LoadError::Read { .. } => None,
        })
        .or_else(|| match error.downcast_ref::<RegistryError>() {
            Some(RegistryError::Mismatch(d)) => Some(d),
            _ => None,
        })
        .or_else(|| error.downcast_ref::<Diagnostics>());
    match diagnostics {
        Some(d) => eprintln!("{d}"),
        None => eprintln!("error: {error:#}"),
    }
}

/// Loads a pipeline file. A file with problems has every one reported at once: those of
/// the functions it names too (the plugins that could be read are loaded for it), not
/// only once the rest is fixed.
fn load(file: &Path) -> anyhow::Result<Pipeline> {
    let (partial, mut problems) = match config::load_partial(file)? {
        Ok(pipeline) => return Ok(pipeline),
        Err(partial) => partial,
    };
    if !partial.plugins.is_empty()
        && let Ok(runtime) = Runtime::new()
        && let Err(RegistryError::Mismatch(more)) = Registry::load(&partial, &runtime)
    {
        problems.extend(more);
    }
    Err(problems
        .into_result(())
        .expect_err("there were problems")
        .into())
}

/// A signal this soon after the first is the same request delivered twice (`timeout`
/// signals the process and then its process group), not a person pressing Ctrl-C again.
const REPEATED_SIGNAL: Duration = Duration::from_millis(500);

/// Raises `shutdown` on the first Ctrl-C or SIGTERM; exits at once on the second.
fn install_signal_handler(shutdown: &Shutdown) -> anyhow::Result<()> {
    let shutdown = shutdown.clone();
    let mut first: Option<Instant> = None;
    ctrlc::set_handler(move || match first {
        Some(at) if at.elapsed() < REPEATED_SIGNAL => {}
        Some(_) => {
            eprintln!("sluice: second interrupt, exiting now");
            std::process::exit(130);
        }
        None => {
            first = Some(Instant::now());
            tracing::warn!("stopping: no more input is read; queued batches finish first (interrupt again to exit now)");
            shutdown.raise();
        }
    })
    .context("cannot install the signal handler")
}

fn with_partitions(mut pipeline: Pipeline, partitions: Option<usize>) -> Pipeline {
    if let Some(n) = partitions {
        pipeline.partitions = n.max(1);
    }
    pipeline
}

/// How `run` runs a pipeline, beyond the pipeline file.
#[derive(Default)]
struct RunOptions {
    /// Watch plugins and swap in new versions.
    watch: Option<WatchMode>,
    /// Engine start-up options.
    engine: Options,
    /// Serve the HTTP endpoint here (overrides the pipeline file).
    http: Option<String>,
    /// The terminal status line, if drawn.
    status: Option<Arc<StatusLine>>,
}

fn run(pipeline: Pipeline, options: RunOptions) -> anyhow::Result<ExitCode> {
    let job = Job::new(pipeline.clone(), options.engine)?;
    run_job(&pipeline, job, options)
}

/// `sluice dev`: [`run`] with every plugin watched, and, while a plugin crate does not
/// build yet, waiting for a fix instead of exiting.
fn dev(
    file: &Path,
    partitions: Option<usize>,
    http: Option<String>,
    status: Option<Arc<StatusLine>>,
) -> anyhow::Result<ExitCode> {
    let options = RunOptions {
        watch: Some(WatchMode::WasmAndCrates),
        http,
        status,
        ..RunOptions::default()
    };
    loop {
        let pipeline = with_partitions(load(file)?, partitions);
        let changes = crate::swap::CrateChanges::start(&pipeline)?;
        let error = match Job::new(pipeline.clone(), options.engine) {
            Ok(job) => return run_job(&pipeline, job, options),
            Err(error) => error,
        };
        let Some(RegistryError::Load(crate::plugin::LoadError::Build { plugin, .. })) =
            error.downcast_ref::<RegistryError>()
        else {
            return Err(error);
        };
        report(&error);
        tracing::warn!(
            event = "waiting_for_fix",
            plugin = %plugin,
            "plugin `{plugin}` does not build yet; sluice builds it again when you save its sources (Ctrl-C to stop)"
        );
        changes.wait_for(plugin)?;
    }
}

fn run_job(pipeline: &Pipeline, mut job: Job, options: RunOptions) -> anyhow::Result<ExitCode> {
    let name = pipeline.name.clone();
    let listeners = Monitoring {
        http: options.http.or_else(|| pipeline.http.clone()),
        retained_batches: pipeline.retained_batches,
        status: options.status,
    }
    .start()?;
    if let Some(mode) = options.watch {
        job.watch(mode)?;
    }
    let shutdown = Shutdown::new();
    install_signal_handler(&shutdown)?;
    let summary = job.run_observed(Arc::new(SystemClock), shutdown, listeners)?;
    finish(&name, &summary)
}

fn finish(name: &str, summary: &RunSummary) -> anyhow::Result<ExitCode> {
    tracing::info!("pipeline `{name}` finished: {summary}");
    if let Some(reason) = &summary.stopped {
        bail!(
            "pipeline `{name}` stopped: {reason}{}",
            if summary.not_run > 0 {
                format!(
                    " (so do the {} batches cut after it, not run)",
                    summary.not_run
                )
            } else {
                String::new()
            }
        );
    }
    if summary.failed > 0 {
        bail!(
            "{} of {} batches failed (their errors are logged above); the other batches' output is complete",
            summary.failed,
            summary.batches
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn validate(file: &Path) -> anyhow::Result<ExitCode> {
    let pipeline = load(file)?;
    let runtime = Runtime::new()?;
    let registry = Registry::load(&pipeline, &runtime)?;
    println!(
        "{}: ok: pipeline `{}`, {} sources, {} stages, {} sinks, {} partitions, batch interval {} ms",
        file.display(),
        pipeline.name,
        pipeline.sources.len(),
        pipeline.stages.len(),
        pipeline.sinks.len(),
        pipeline.partitions,
        pipeline.batch_interval.as_millis()
    );
    for (name, plugin) in registry.iter() {
        let functions = [plugin.listing()];
        println!(
            "  plugin `{name}` version {}: {}",
            plugin.hash(),
            functions.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The clone the binary was built from. Only `sluice bench`, a tool for sluice's own
/// developers, builds the example plugins there; everything else uses bundled files.
fn source_tree() -> anyhow::Result<PathBuf> {
    let tree = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    if !tree.join("plugins").is_dir() {
        bail!(
            "`sluice bench` builds the example plugins of the clone sluice was built from, and {} is not there any more; run it from a clone (cargo run --release -- bench)",
            tree.display()
        );
    }
    Ok(tree)
}

fn demo(
    rate: u64,
    seconds: u64,
    partitions: Option<usize>,
    http: Option<String>,
    status: Option<Arc<StatusLine>>,
) -> anyhow::Result<ExitCode> {
    let file = bundled::demo()?;
    let mut pipeline = load(&file)?;
    for source in &mut pipeline.sources {
        if let Some(spec) = source.settings_as::<GeneratorSpec>() {
            let mut spec = spec.clone();
            spec.rate = rate.max(1);
            spec.count = Some(rate.max(1) * seconds);
            source.settings = std::sync::Arc::new(spec);
        }
    }
    if let Some(n) = partitions {
        pipeline.partitions = n.max(1);
    }
    tracing::info!(
        "demo: counting words in {} generated lines ({} per second for {seconds} s, 10 words each) on {} partitions",
        rate * seconds,
        rate,
        pipeline.partitions
    );
    run(
        pipeline,
        RunOptions {
            http,
            status,
            ..RunOptions::default()
        },
    )
}
