//! Files the binary carries, so that it works away from the clone it was built in: the
//! plugin SDK (for `sluice plugin new` and the demo) and the demo's pipeline and plugin.
//!
//! They are written out on first use under sluice's home directory (`$SLUICE_HOME`, else
//! `$XDG_DATA_HOME/sluice`, else `~/.local/share/sluice`), one directory per content
//! hash: `sdk/0.1.0-<hash>/` and `demo/0.1.0-<hash>/`. A binary built from other sources
//! writes and uses directories of its own; a directory once written is never changed,
//! so crates that depend on it keep building.
//!
//! The files are embedded with `include_dir` (each file becomes an `include_bytes!`, so
//! an edit rebuilds the binary) rather than a hand-kept list of `include_str!`s.

use anyhow::{Context as _, bail};
use include_dir::{Dir, include_dir};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// `guest-sdk/` of the clone: the SDK crate and its macro crate under `macros/`.
static SDK: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../guest-sdk");

/// The demo's plugin sources.
static WORDCOUNT_SRC: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../plugins/wordcount/src");

/// The demo's pipeline; its plugin path `../plugins/wordcount` holds in the written
/// directory as in the clone.
const DEMO_PIPELINE: &str = include_str!("../../../examples/demo.toml");

/// The manifest of a plugin crate, shared by `sluice plugin new` and the demo.
pub const PLUGIN_MANIFEST: &str = include_str!("template/Cargo.toml.in");

/// SDK files a plugin build does not need: the SDK's own tests.
fn needed_by_plugins(path: &Path) -> bool {
    !path.starts_with("tests")
}

/// sluice's home directory.
pub fn home() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("SLUICE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("sluice"));
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".local/share/sluice")),
        None => bail!(
            "sluice keeps its SDK and demo under $SLUICE_HOME, $XDG_DATA_HOME/sluice or ~/.local/share/sluice, and none of SLUICE_HOME, XDG_DATA_HOME and HOME is set"
        ),
    }
}

/// The files of one bundle: paths relative to its directory, and contents.
type Files = Vec<(PathBuf, Vec<u8>)>;

fn files_of(dir: &'static Dir<'static>, under: &Path, keep: fn(&Path) -> bool) -> Files {
    let mut files = Vec::new();
    let mut stack = vec![dir];
    while let Some(dir) = stack.pop() {
        stack.extend(dir.dirs());
        for file in dir.files() {
            if keep(file.path()) {
                files.push((under.join(file.path()), file.contents().to_vec()));
            }
        }
    }
    files.sort();
    files
}

fn sdk_files() -> Files {
    files_of(&SDK, Path::new(""), needed_by_plugins)
}

/// The directory of the SDK crate, written out if this binary has not yet done so.
pub fn sdk() -> anyhow::Result<PathBuf> {
    write_once(&home()?.join("sdk"), &sdk_files())
}

/// A `[dependencies]` value for the SDK at `dir`.
pub fn sdk_dependency(dir: &Path) -> String {
    format!("{{ path = {:?} }}", dir.display().to_string())
}

/// The demo's pipeline file, its plugin crate beside it, written out if needed.
pub fn demo() -> anyhow::Result<PathBuf> {
    let sdk = sdk()?;
    let manifest = PLUGIN_MANIFEST
        .replace("{{name}}", "wordcount")
        .replace("{{sdk}}", &sdk_dependency(&sdk));
    let mut files = files_of(&WORDCOUNT_SRC, Path::new("plugins/wordcount/src"), |_| true);
    files.push(("plugins/wordcount/Cargo.toml".into(), manifest.into_bytes()));
    files.push((
        "examples/demo.toml".into(),
        DEMO_PIPELINE.as_bytes().to_vec(),
    ));
    files.sort();
    Ok(write_once(&home()?.join("demo"), &files)?.join("examples/demo.toml"))
}

/// Writes `files` into `parent/<version>-<hash of the files>/` unless that directory
/// exists, and returns it. The files go to a temporary sibling first and are renamed
/// into place, so a directory that exists is whole, even when two processes race.
fn write_once(parent: &Path, files: &Files) -> anyhow::Result<PathBuf> {
    let mut digest = Sha256::new();
    for (path, contents) in files {
        digest.update(path.to_string_lossy().as_bytes());
        digest.update([0]);
        digest.update((contents.len() as u64).to_le_bytes());
        digest.update(contents);
    }
    let hash: String = digest
        .finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect();
    let dir = parent.join(format!("{}-{hash}", env!("CARGO_PKG_VERSION")));
    if dir.is_dir() {
        return Ok(dir);
    }
    let scratch = parent.join(format!(".writing-{hash}-{}", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        for (path, contents) in files {
            let target = scratch.join(path);
            if let Some(folder) = target.parent() {
                std::fs::create_dir_all(folder)?;
            }
            std::fs::write(target, contents)?;
        }
        Ok(())
    })();
    written.with_context(|| format!("cannot write {}", scratch.display()))?;
    if let Err(e) = std::fs::rename(&scratch, &dir) {
        let _ = std::fs::remove_dir_all(&scratch);
        if !dir.is_dir() {
            return Err(e).with_context(|| format!("cannot create {}", dir.display()));
        }
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sdk_is_carried_whole_and_builds_standalone() {
        let files = sdk_files();
        let names: Vec<String> = files.iter().map(|(p, _)| p.display().to_string()).collect();
        for needed in [
            "Cargo.toml",
            "src/lib.rs",
            "macros/Cargo.toml",
            "macros/src/lib.rs",
        ] {
            assert!(names.contains(&needed.to_string()), "{needed} in {names:?}");
        }
        assert!(!names.iter().any(|n| n.starts_with("tests")), "{names:?}");
        // Written out alone, the manifests cannot inherit from sluice's workspace.
        for (path, contents) in &files {
            if path.ends_with("Cargo.toml") {
                let text = String::from_utf8_lossy(contents);
                assert!(
                    !text.contains("workspace = true") && !text.contains(".workspace"),
                    "{} inherits: {text}",
                    path.display()
                );
                assert!(
                    text.contains(&format!("version = \"{}\"", env!("CARGO_PKG_VERSION"))),
                    "{} is not version {}",
                    path.display(),
                    env!("CARGO_PKG_VERSION")
                );
            }
        }
    }

    #[test]
    fn a_bundle_is_written_once_per_content() {
        let parent = std::env::temp_dir().join(format!("sluice-bundle-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&parent);
        let one: Files = vec![("a/b.txt".into(), b"one".to_vec())];
        let first = write_once(&parent, &one).unwrap();
        assert_eq!(std::fs::read(first.join("a/b.txt")).unwrap(), b"one");
        assert_eq!(write_once(&parent, &one).unwrap(), first);
        let two: Files = vec![("a/b.txt".into(), b"two".to_vec())];
        let second = write_once(&parent, &two).unwrap();
        assert_ne!(second, first);
        assert_eq!(std::fs::read(first.join("a/b.txt")).unwrap(), b"one");
        let entries = std::fs::read_dir(&parent).unwrap().count();
        assert_eq!(entries, 2, "no scratch directory is left behind");
        std::fs::remove_dir_all(&parent).unwrap();
    }
}
