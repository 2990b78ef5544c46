//! A real headless Chromium (Debian's `chromium`; `scripts/test` installs it), run once per
//! call with a fresh profile and the flags that keep it off the network.

use super::{PATIENCE, TempDir};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;

/// Headless, and off the network: no updates, sync or background requests.
pub const FLAGS: [&str; 10] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
];

/// What to say when chromium cannot be started.
pub fn missing(e: std::io::Error) -> ! {
    panic!(
        "cannot start chromium ({e}): install it with `apt-get install -y chromium`, or run the tests with scripts/test, which does"
    )
}

fn run(args: &[&str]) -> Output {
    let profile = TempDir::new("chromium-profile");
    let child = Command::new("chromium")
        .args(FLAGS)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| missing(e));
    let pid = child.id();
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    // A hung browser fails the test instead of stalling it.
    let output = match finished.recv_timeout(PATIENCE) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("chromium did not finish within {PATIENCE:?}");
        }
    };
    assert!(
        output.status.success(),
        "chromium failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The page at `url` as the DOM stands after its scripts ran for `budget_ms` of
/// virtual time.
pub fn dump_dom(url: &str, budget_ms: u32) -> String {
    let budget = format!("--virtual-time-budget={budget_ms}");
    let output = run(&[&budget, "--window-size=1400,1200", "--dump-dom", url]);
    String::from_utf8(output.stdout).unwrap()
}

/// Saves a PNG of the page at `url` (after `budget_ms` of virtual time) to `png`.
pub fn screenshot(url: &str, budget_ms: u32, png: &Path) {
    let budget = format!("--virtual-time-budget={budget_ms}");
    let target = format!("--screenshot={}", png.display());
    let _ = std::fs::remove_file(png);
    run(&[&budget, "--window-size=1400,1250", &target, url]);
    assert!(
        png.is_file(),
        "chromium wrote no screenshot at {}",
        png.display()
    );
}
