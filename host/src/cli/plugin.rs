//! `sluice plugin`: the plugin author's loop. `new` makes a crate from a template,
//! `build` compiles it for wasm, `test` runs one function over JSON-lines records through
//! the real host runtime, `inspect` shows what a `.wasm` declares.

use crate::config::{Limits, PluginPath, PluginSpec, units::format_bytes};
use crate::plugin::{Call, PluginVersion, Runtime, artifact, content_hash, read_module};
use crate::record::Records;
use crate::render;
use anyhow::{Context as _, bail};
use clap::Subcommand;
use sluice_sdk::wire::{Kind, ReduceMode};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The `sluice plugin` subcommands.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Create a plugin crate from a template: functions, a unit test and a pipeline.
    New {
        /// The crate's name (letters, digits, `_` and `-`).
        name: String,
        /// The directory to create it in.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Build a plugin crate for wasm, in release mode, and say what came out.
    Build {
        /// The crate's directory.
        path: PathBuf,
    },
    /// Run one function over records from a JSON-lines file, through the real host
    /// runtime, and print its output as JSON lines.
    Test {
        /// A plugin crate's directory or a `.wasm` file.
        path: PathBuf,
        /// The function to run.
        #[arg(long)]
        function: String,
        /// The input records, one JSON value per line (`-` for standard input).
        #[arg(long)]
        input: PathBuf,
        /// For a `reduce` function: combine all records into one instead of combining
        /// `[key, value]` pairs per key.
        #[arg(long)]
        whole: bool,
        /// The batch time the function sees, in ms since the Unix epoch.
        #[arg(long, default_value_t = 0)]
        batch_time: i64,
    },
    /// Show a `.wasm` plugin's ABI version, functions, imports, size and version hash.
    Inspect {
        /// The `.wasm` file (or a crate directory, which is built first).
        path: PathBuf,
    },
}

/// Runs a `sluice plugin` subcommand.
pub fn run(command: PluginCommand) -> anyhow::Result<ExitCode> {
    match command {
        PluginCommand::New { name, dir } => new(&name, &dir),
        PluginCommand::Build { path } => build(&path),
        PluginCommand::Test {
            path,
            function,
            input,
            whole,
            batch_time,
        } => test(&path, &function, &input, whole, batch_time),
        PluginCommand::Inspect { path } => inspect(&path),
    }
}

fn spec_for(path: &Path) -> anyhow::Result<PluginSpec> {
    // `.` and `..` have no name of their own: use the directory's.
    let named = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let name = named
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("plugin")
        .replace('-', "_");
    let path = if path.extension().is_some_and(|e| e == "wasm") {
        PluginPath::Wasm(path.to_path_buf())
    } else if path.join("Cargo.toml").is_file() {
        PluginPath::Crate(path.to_path_buf())
    } else {
        bail!(
            "{} is neither a .wasm file nor a crate directory with a Cargo.toml",
            path.display()
        );
    };
    Ok(PluginSpec {
        name,
        path,
        limits: Limits::default(),
        at: Default::default(),
    })
}

fn load(path: &Path) -> anyhow::Result<(PluginVersion, PathBuf, Vec<u8>)> {
    let spec = spec_for(path)?;
    let wasm = artifact(&spec)?;
    let bytes = read_module(&spec, &wasm)?;
    let runtime = Runtime::new()?;
    let version = PluginVersion::load(&runtime, &spec.name, &bytes, spec.limits)?;
    Ok((version, wasm, bytes))
}

fn new(name: &str, dir: &Path) -> anyhow::Result<ExitCode> {
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        bail!(
            "`{name}` is not a crate name: use letters, digits, `_` and `-`, starting with a letter"
        );
    }
    let root = dir.join(name);
    if root.exists() {
        bail!(
            "{} already exists; pick another name or --dir",
            root.display()
        );
    }
    let dependency = super::bundled::sdk_dependency(&super::bundled::sdk()?);
    let module = name.replace('-', "_");
    std::fs::create_dir_all(root.join("src"))
        .with_context(|| format!("cannot create {}", root.display()))?;
    let files = [
        ("Cargo.toml", super::bundled::PLUGIN_MANIFEST),
        ("src/lib.rs", include_str!("template/lib.rs.in")),
        ("pipeline.toml", include_str!("template/pipeline.toml.in")),
        (".gitignore", "/target\n"),
    ];
    for (file, template) in files {
        let text = template
            .replace("{{name}}", name)
            .replace("{{module}}", &module)
            .replace("{{sdk}}", &dependency);
        std::fs::write(root.join(file), text).with_context(|| format!("cannot write {file}"))?;
    }
    println!("created plugin crate {}", root.display());
    println!("next:");
    println!("  cd {}", root.display());
    println!(
        "  cargo test                       # the functions are plain Rust: test them natively"
    );
    println!("  sluice dev pipeline.toml         # run it; edit src/lib.rs and watch it swap in");
    Ok(ExitCode::SUCCESS)
}

fn build(path: &Path) -> anyhow::Result<ExitCode> {
    let (version, wasm, bytes) = load(path)?;
    println!(
        "built {} ({}, version {})",
        wasm.display(),
        format_bytes(bytes.len() as u64),
        version.hash()
    );
    for entry in version.manifest() {
        println!("  {:<24} {}", entry.name, entry.kind);
    }
    Ok(ExitCode::SUCCESS)
}

fn inspect(path: &Path) -> anyhow::Result<ExitCode> {
    let (version, wasm, bytes) = load(path)?;
    let abi = version.manifest().first().map_or(0, |e| e.abi);
    println!("plugin:       {}", wasm.display());
    println!("size:         {}", format_bytes(bytes.len() as u64));
    println!(
        "version:      {} (sha-256 {})",
        version.hash(),
        full_sha256(&bytes)
    );
    println!("ABI version:  {abi}");
    println!("functions:");
    let width = version
        .manifest()
        .iter()
        .map(|e| e.name.len())
        .max()
        .unwrap_or(0);
    for entry in version.manifest() {
        println!(
            "  {:<width$}  {:<14}  {}",
            entry.name,
            entry.kind.as_str(),
            entry.signature
        );
    }
    println!("imports:      sluice.log, sluice.panic (what a plugin may import; nothing else)");
    debug_assert_eq!(content_hash(&bytes), version.hash());
    Ok(ExitCode::SUCCESS)
}

fn full_sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn test(
    path: &Path,
    function: &str,
    input: &Path,
    whole: bool,
    batch_time: i64,
) -> anyhow::Result<ExitCode> {
    let (version, _, _) = load(path)?;
    let Some(entry) = version.entry(function) else {
        let names: Vec<&str> = version.manifest().iter().map(|e| e.name.as_str()).collect();
        bail!(
            "the plugin has no function `{function}`; it has: {}",
            names.join(", ")
        );
    };
    let text = if input == Path::new("-") {
        std::io::read_to_string(std::io::stdin()).context("cannot read standard input")?
    } else {
        std::fs::read_to_string(input)
            .with_context(|| format!("cannot read {}", input.display()))?
    };
    let mut records = Records::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let value: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not JSON", input.display(), i + 1))?;
        records.push_encoded(&rmp_serde::to_vec_named(&value)?);
    }
    let mode = match (entry.kind, whole) {
        (Kind::Reduce, true) => ReduceMode::Whole as u32,
        _ => ReduceMode::Keyed as u32,
    };
    let call = Call {
        function,
        mode,
        batch_time_ms: batch_time,
        partition: 0,
    };
    let output = version.call(&call, &records)?;
    let mut line = String::new();
    for record in output.iter() {
        line.clear();
        render::json(record, &mut line);
        println!("{line}");
    }
    eprintln!(
        "{} records in, {} out ({} `{function}`)",
        records.len(),
        output.len(),
        entry.kind
    );
    Ok(ExitCode::SUCCESS)
}
