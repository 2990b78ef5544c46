//! The directories a run will write (a files sink's `path`, `checkpoint_dir`), checked
//! when the file is loaded: each must be a directory sluice can write in, or creatable
//! under one. Otherwise the run would fail only once its first batch is written.

use super::Pipeline;
use crate::settings::{Diagnostics, Location};
use std::path::Path;

/// Reports every directory of `pipeline` that cannot be created or written.
pub fn check(pipeline: &Pipeline) -> Result<(), Diagnostics> {
    let mut diagnostics = Diagnostics::new(&pipeline.file);
    let mut wanted: Vec<(&Path, Location, String)> = Vec::new();
    if let Some(spec) = &pipeline.checkpoint {
        wanted.push((&spec.dir, spec.at, "pipeline.checkpoint_dir".into()));
    }
    for sink in &pipeline.sinks {
        if let Some(path) = sink.settings.directory() {
            wanted.push((path, sink.at, format!("sinks.{}.path", sink.name)));
        }
    }
    for (dir, at, key) in wanted {
        if let Err(problem) = writable(dir) {
            diagnostics.push(
                at,
                &key,
                problem,
                Some("point it at a directory this user can write, or fix its permissions".into()),
            );
        }
    }
    diagnostics.into_result(())
}

/// Whether `dir` is, or can be created as, a directory this process writes in.
fn writable(dir: &Path) -> Result<(), String> {
    // A relative path's last ancestor is "", which is the working directory.
    let Some(existing) = dir
        .ancestors()
        .map(|a| {
            if a.as_os_str().is_empty() {
                Path::new(".")
            } else {
                a
            }
        })
        .find(|a| a.exists())
    else {
        return Err(format!("{}: no part of the path exists", dir.display()));
    };
    if !existing.is_dir() {
        return Err(if existing == dir {
            format!("{} is a file, not a directory", dir.display())
        } else {
            format!(
                "cannot create {}: {} is a file, not a directory",
                dir.display(),
                existing.display()
            )
        });
    }
    // Permissions, ACLs and read-only mounts all show in one honest test: a write.
    let probe = existing.join(format!(".sluice-write-test-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(format!(
            "cannot {} {}: cannot write in {}: {e}",
            if existing == dir {
                "write in"
            } else {
                "create"
            },
            dir.display(),
            existing.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_in_the_way_is_reported_and_a_missing_directory_under_one_is_fine() {
        let dir = std::env::temp_dir().join(format!("sluice-writable-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("file"), b"x").unwrap();
        assert_eq!(writable(&dir.join("new/deeper")), Ok(()));
        assert!(!dir.join("new").exists(), "checking creates nothing");
        let blocked = writable(&dir.join("file/out")).unwrap_err();
        assert!(blocked.contains("is a file, not a directory"), "{blocked}");
        assert!(writable(&dir.join("file")).is_err());
        // Relative to the working directory, which exists.
        assert_eq!(writable(Path::new("not-here-yet/out")), Ok(()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
