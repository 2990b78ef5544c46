//! Building a plugin crate to WebAssembly with cargo, as `sluice run` does when a
//! pipeline's plugin `path` is a crate directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The target plugins are built for.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Why a plugin crate did not build.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// cargo could not be started.
    #[error("cannot run cargo to build {}: {source}", dir.display())]
    Spawn {
        /// The crate.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// cargo reported errors (already printed above by cargo).
    #[error("cargo could not build {} for {WASM_TARGET} (its errors are above)", dir.display())]
    Failed {
        /// The crate.
        dir: PathBuf,
    },
    /// The build produced no `.wasm` file.
    #[error("building {} produced no .wasm file: is its crate-type \"cdylib\"?", dir.display())]
    NoArtifact {
        /// The crate.
        dir: PathBuf,
    },
    /// The wasm target is missing and could not be installed.
    #[error(
        "the {WASM_TARGET} target is not installed and `rustup target add {WASM_TARGET}` failed"
    )]
    NoTarget,
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Installs the wasm target with rustup if it is missing. Without rustup there is
/// nothing to check: cargo will say what is wrong.
pub fn ensure_wasm_target() -> Result<(), BuildError> {
    let Ok(output) = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
    else {
        return Ok(());
    };
    if String::from_utf8_lossy(&output.stdout)
        .lines()
        .any(|l| l.trim() == WASM_TARGET)
    {
        return Ok(());
    }
    tracing::info!(
        "installing the {WASM_TARGET} target, which plugins are built for (rustup target add {WASM_TARGET})"
    );
    let status = Command::new("rustup")
        .args(["target", "add", WASM_TARGET])
        .status();
    match status {
        Ok(s) if s.success() => Ok(()),
        _ => Err(BuildError::NoTarget),
    }
}

/// The release profile every plugin is built with, whatever its crate says: whole-program
/// optimisation (fat LTO, one codegen unit). A plugin is one small module, so this costs
/// seconds of build, and in wasm it runs about 10% faster (`sluice bench`, the example
/// plugins with and without it). The end-to-end tests build with the same flags, so that
/// their builds and sluice's share one cache.
pub const PROFILE: [&str; 4] = [
    "--config",
    "profile.release.lto=true",
    "--config",
    "profile.release.codegen-units=1",
];

/// Builds the crate in `dir` for wasm in release mode and returns the `.wasm` path.
/// cargo's progress and errors go to this process's stderr, as they would in a
/// terminal.
pub fn build_crate(dir: &Path) -> Result<PathBuf, BuildError> {
    ensure_wasm_target()?;
    let output = cargo()
        .args(["build", "--release"])
        .args(PROFILE)
        .args([
            "--target",
            WASM_TARGET,
            "--message-format=json-render-diagnostics",
            "--manifest-path",
        ])
        .arg(dir.join("Cargo.toml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|source| BuildError::Spawn {
            dir: dir.to_path_buf(),
            source,
        })?;
    if !output.status.success() {
        return Err(BuildError::Failed {
            dir: dir.to_path_buf(),
        });
    }
    let manifest =
        std::fs::canonicalize(dir.join("Cargo.toml")).unwrap_or_else(|_| dir.join("Cargo.toml"));
    artifact(&String::from_utf8_lossy(&output.stdout), &manifest).ok_or(BuildError::NoArtifact {
        dir: dir.to_path_buf(),
    })
}

/// The `.wasm` file in cargo's JSON messages for the package whose manifest is
/// `manifest`.
fn artifact(messages: &str, manifest: &Path) -> Option<PathBuf> {
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter(|m| {
            m["manifest_path"]
                .as_str()
                .is_some_and(|p| Path::new(p) == manifest)
        })
        .flat_map(|m| {
            m["filenames"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f.as_str().map(PathBuf::from))
                .collect::<Vec<_>>()
        })
        .find(|f| f.extension().is_some_and(|e| e == "wasm"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_wasm_artifact_of_the_right_package() {
        let messages = r#"{"reason":"compiler-artifact","manifest_path":"/w/sdk/Cargo.toml","filenames":["/t/libsdk.rlib"]}
{"reason":"compiler-artifact","manifest_path":"/w/plugins/wc/Cargo.toml","filenames":["/t/wc.wasm","/t/libwc.rlib"]}
{"reason":"build-finished","success":true}"#;
        assert_eq!(
            artifact(messages, Path::new("/w/plugins/wc/Cargo.toml")),
            Some(PathBuf::from("/t/wc.wasm"))
        );
        assert_eq!(artifact(messages, Path::new("/w/other/Cargo.toml")), None);
    }
}
