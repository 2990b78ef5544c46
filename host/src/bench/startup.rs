//! Start-up time of the real binary: from exec to its first batch boundary, on the word
//! count with `.wasm` plugins, without and then with compiled plugins cached.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Start-up times.
pub struct Startup {
    /// First start: plugins compiled.
    pub cold: Duration,
    /// Second start: compiled plugins read from the cache.
    pub cached: Duration,
}

fn once(binary: &Path, pipeline: &Path, cache: &Path) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut child = Command::new(binary)
        .args(["run", pipeline.to_str().unwrap_or_default()])
        .env("SLUICE_CACHE_DIR", cache)
        .env("RUST_LOG", "info")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().expect("piped");
    let mut elapsed = None;
    for line in BufReader::new(stderr).lines() {
        if line?.contains("first batch boundary") {
            elapsed = Some(started.elapsed());
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    elapsed.ok_or_else(|| anyhow::anyhow!("sluice never reached its first batch"))
}

/// Measures start-up with a fresh compiled-plugin cache, then with it filled.
pub fn measure(plugins: &[(&str, PathBuf)]) -> anyhow::Result<Startup> {
    let dir = std::env::temp_dir().join(format!("sluice-bench-startup-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let wordcount = &plugins
        .iter()
        .find(|(n, _)| *n == "wordcount")
        .expect("built")
        .1;
    let pipeline = dir.join("startup.toml");
    std::fs::write(
        &pipeline,
        format!(
            "[pipeline]\nbatch_interval = \"10ms\"\n[plugins.wordcount]\npath = {:?}\n[sources.lines]\ntype = \"stdin\"\n\
             [stages.words]\ninput = \"lines\"\nop = \"flat_map\"\nfunction = \"wordcount::split_words\"\n\
             [stages.counts]\ninput = \"words\"\nop = \"reduce_by_key\"\nfunction = \"wordcount::sum\"\n\
             [sinks.out]\ninput = \"counts\"\ntype = \"print\"\n",
            wordcount.display().to_string()
        ),
    )?;
    let binary = std::env::current_exe()?;
    let cache = dir.join("cache");
    let cold = once(&binary, &pipeline, &cache)?;
    let cached = once(&binary, &pipeline, &cache)?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Startup { cold, cached })
}
