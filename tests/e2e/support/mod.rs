//! What every end-to-end test needs: the binary and plugins (built once per test run),
//! temporary directories, a running `sluice` process whose output can be waited on,
//! readers for sink output, and a Kafka-protocol broker.

mod broker;
pub mod chromium;
pub mod devtools;
mod events;
mod files_sink;
pub mod http;
mod pipeline;
mod process;
mod text;

pub use broker::{Broker, free_port};
pub use files_sink::{records_by_batch, written_batches};
pub use pipeline::{FILES_OUT, word_count};
pub use process::{PATIENCE, Sluice, records_in};
pub use text::{
    count_words, files_sink_pairs, random_lines, records_per_partition, word_counts_from_files,
};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(repo());
    command
}

/// Whether this test binary was built in release mode (then so is what it tests).
fn release() -> bool {
    std::env::current_exe()
        .unwrap()
        .components()
        .any(|c| c.as_os_str() == "release")
}

/// The target directory this test binary lives in.
fn target_dir() -> PathBuf {
    // target/<profile>/deps/e2e-<hash>
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

/// The `sluice` binary, built (once per test run) with the same profile as the tests.
pub fn sluice_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // All targets of the workspace, as `cargo test --workspace` resolves features
        // for them: the binary then reuses the dependencies the tests were built with
        // instead of building wasmtime a second time with other features.
        let mut build = cargo();
        build.args(["build", "--workspace", "--all-targets"]);
        if release() {
            build.arg("--release");
        }
        let status = build.status().expect("cargo runs");
        assert!(status.success(), "building the sluice binary failed");
        let bin = target_dir()
            .join(if release() { "release" } else { "debug" })
            .join("sluice");
        assert!(bin.is_file(), "no binary at {}", bin.display());
        bin
    })
}

/// The plugin crates the tests use: examples and fixtures.
const PLUGINS: [&str; 7] = [
    "wordcount",
    "logstats",
    "faulty",
    "ops",
    "keyed",
    "slow",
    "totals",
];

/// The profile sluice builds every plugin with (`plugin::build::PROFILE` in the host):
/// the tests build the same way, so that their builds and sluice's share one cache.
const PLUGIN_PROFILE: [&str; 4] = [
    "--config",
    "profile.release.lto=true",
    "--config",
    "profile.release.codegen-units=1",
];

/// The compiled `.wasm` of a plugin crate of this workspace (example or fixture), all
/// built once per test run.
pub fn plugin_wasm(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let status = cargo()
            .args(["build", "--release", "--target", "wasm32-unknown-unknown"])
            .args(PLUGIN_PROFILE)
            .args(PLUGINS.iter().flat_map(|p| ["-p", p]))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the plugins for wasm failed");
        target_dir().join("wasm32-unknown-unknown").join("release")
    });
    let wasm = dir.join(format!("{name}.wasm"));
    assert!(wasm.is_file(), "no plugin at {}", wasm.display());
    wasm
}

/// A plugin crate built with `features` (comma-separated, or empty for none), copied to a
/// file of its own: the variants of one crate are different versions of one plugin. Built
/// once per test run.
pub fn plugin_variant(package: &str, features: &str) -> PathBuf {
    static BUILT: Mutex<Vec<(String, PathBuf)>> = Mutex::new(Vec::new());
    let key = format!(
        "{package}-{}",
        if features.is_empty() {
            "default"
        } else {
            features
        }
    );
    let mut built = BUILT.lock().unwrap();
    if let Some((_, path)) = built.iter().find(|(k, _)| *k == key) {
        return path.clone();
    }
    let mut build = cargo();
    build.args([
        "build",
        "--release",
        "--target",
        "wasm32-unknown-unknown",
        "-p",
        package,
    ]);
    build.args(PLUGIN_PROFILE);
    if !features.is_empty() {
        build.args(["--features", features]);
    }
    assert!(
        build.status().expect("cargo runs").success(),
        "building {key} failed"
    );
    let artifact = target_dir()
        .join("wasm32-unknown-unknown/release")
        .join(format!("{package}.wasm"));
    let dir = target_dir().join("e2e-variants");
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join(format!("{key}.wasm"));
    std::fs::copy(&artifact, &copy).unwrap();
    built.push((key, copy.clone()));
    copy
}

/// Replaces `target` with a copy of `source` the way cargo and editors do: write a
/// temporary file beside it, then rename it over.
pub fn replace_by_rename(source: &Path, target: &Path) {
    let temp = target.with_extension("wasm.tmp");
    std::fs::copy(source, &temp).unwrap();
    std::fs::rename(&temp, target).unwrap();
}

/// The first 12 hex digits of the SHA-256 of a file: the version sluice names it by.
pub fn version_of(path: &Path) -> String {
    let output = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum runs");
    String::from_utf8_lossy(&output.stdout)[..12].to_string()
}

/// The `SLUICE_HOME` every test's sluice runs with: the bundled SDK and demo are written
/// there once and reused across runs, as in a user's home, without touching the real one.
pub fn sluice_home() -> PathBuf {
    target_dir().join("e2e-home")
}

/// Where tests leave files for people to look at (screenshots): `target/e2e-artifacts`.
pub fn artifacts_dir() -> PathBuf {
    let dir = target_dir().join("e2e-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A fresh, empty directory named after the test.
    pub fn new(label: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("sluice-e2e-{}-{label}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `contents` to `name` in the directory and returns its path.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every dead letter the pipeline in `dir` wrote.
pub fn dead_letters(dir: &TempDir) -> Vec<serde_json::Value> {
    written_batches(&dir.path().join("dead-letters"))
        .iter()
        .flat_map(|b| b.records().cloned())
        .collect()
}

/// A TOML string literal for a path.
pub fn toml_path(path: &Path) -> String {
    format!("{:?}", path.display().to_string())
}
