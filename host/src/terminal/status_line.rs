//! A line at the bottom of the terminal that is redrawn in place, and that whatever
//! else writes to the terminal (log lines, the print sink) steps around: writers clear
//! it, write, and draw it again, all under one lock, so the two never mix on a line.

use std::io::Write;
use std::sync::Mutex;

/// Clears the cursor's line from the left edge.
const CLEAR: &str = "\r\x1b[K";

/// The status line of one terminal.
pub struct StatusLine {
    inner: Mutex<Inner>,
    on: Stream,
}

/// Which standard stream a status line is drawn on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stream {
    Stderr,
    Stdout,
    /// Anything else (tests).
    Other,
}

struct Inner {
    out: Box<dyn Write + Send>,
    on: Stream,
    /// The terminal's width, or `None` to ask the terminal at every draw.
    width: Option<usize>,
    text: String,
    shown: bool,
    closed: bool,
}

impl StatusLine {
    /// A status line drawn on `out`, cut to `width` columns.
    pub fn new(out: Box<dyn Write + Send>, width: usize) -> Self {
        StatusLine::on_stream(out, Stream::Other, Some(width))
    }

    fn on_stream(out: Box<dyn Write + Send>, on: Stream, width: Option<usize>) -> Self {
        StatusLine {
            inner: Mutex::new(Inner {
                out,
                on,
                width,
                text: String::new(),
                shown: false,
                closed: false,
            }),
            on,
        }
    }

    /// A status line on a terminal that can redraw a line: standard error, where the
    /// log goes, or else standard output (the log then goes elsewhere, and the print
    /// sink's output steps around the line as the log would).
    pub fn on_terminal() -> Option<Self> {
        use std::io::IsTerminal;
        if std::env::var("TERM").is_ok_and(|t| t == "dumb") {
            return None;
        }
        if std::io::stderr().is_terminal() {
            Some(StatusLine::on_stream(
                Box::new(std::io::stderr()),
                Stream::Stderr,
                None,
            ))
        } else if std::io::stdout().is_terminal() {
            Some(StatusLine::on_stream(
                Box::new(std::io::stdout()),
                Stream::Stdout,
                None,
            ))
        } else {
            None
        }
    }

    /// Whether the line is on standard error, so that log lines must step around it.
    pub fn is_on_stderr(&self) -> bool {
        self.on == Stream::Stderr
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Shows `text` in place of what the line showed.
    pub fn show(&self, text: &str) {
        let mut inner = self.lock();
        if inner.closed {
            return;
        }
        inner.text = text.to_string();
        inner.draw();
    }

    /// Clears the line until the next [`StatusLine::show`], so that others can write.
    pub fn hide(&self) {
        self.lock().clear();
    }

    /// Clears the line for good.
    pub fn close(&self) {
        let mut inner = self.lock();
        inner.clear();
        inner.closed = true;
    }

    /// Writes `bytes` (whole lines) above the status line.
    pub fn write_above(&self, bytes: &[u8]) -> std::io::Result<()> {
        let mut inner = self.lock();
        let shown = inner.shown;
        inner.clear();
        inner.out.write_all(bytes)?;
        if shown {
            inner.draw();
        }
        inner.out.flush()
    }
}

impl Inner {
    fn clear(&mut self) {
        if self.shown {
            let _ = self.out.write_all(CLEAR.as_bytes());
            let _ = self.out.flush();
            self.shown = false;
        }
    }

    fn draw(&mut self) {
        let width = self.width.or_else(|| terminal_width(self.on)).unwrap_or(80);
        // One column short of the width: writing the last column wraps on some terminals.
        let fitted: String = self.text.chars().take(width.saturating_sub(1)).collect();
        let _ = write!(self.out, "{CLEAR}{fitted}");
        let _ = self.out.flush();
        self.shown = true;
    }
}

#[cfg(unix)]
fn terminal_width(on: Stream) -> Option<usize> {
    let size = match on {
        Stream::Stderr => rustix::termios::tcgetwinsize(std::io::stderr()),
        Stream::Stdout => rustix::termios::tcgetwinsize(std::io::stdout()),
        Stream::Other => return None,
    };
    size.ok()
        .map(|size| usize::from(size.ws_col))
        .filter(|&w| w > 0)
}

#[cfg(not(unix))]
fn terminal_width(_on: Stream) -> Option<usize> {
    std::env::var("COLUMNS").ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A terminal that records what was written to it.
    #[derive(Clone, Default)]
    struct Screen(Arc<Mutex<Vec<u8>>>);

    impl Write for Screen {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Screen {
        fn take(&self) -> String {
            String::from_utf8(std::mem::take(&mut *self.0.lock().unwrap())).unwrap()
        }
    }

    #[test]
    fn log_lines_go_above_the_status_line() {
        let screen = Screen::default();
        let line = StatusLine::new(Box::new(screen.clone()), 40);
        line.show("batch 1 · 10 rec/s");
        assert_eq!(screen.take(), "\r\x1b[Kbatch 1 · 10 rec/s");
        line.write_above(b"INFO a log line\n").unwrap();
        assert_eq!(
            screen.take(),
            "\r\x1b[KINFO a log line\n\r\x1b[Kbatch 1 · 10 rec/s"
        );
        line.hide();
        assert_eq!(screen.take(), "\r\x1b[K");
        // Hidden: writing does not bring it back until the next show.
        line.write_above(b"printed\n").unwrap();
        assert_eq!(screen.take(), "printed\n");
        line.show("batch 2");
        line.close();
        line.show("batch 3");
        assert_eq!(screen.take(), "\r\x1b[Kbatch 2\r\x1b[K");
    }

    #[test]
    fn a_long_line_is_cut_to_the_terminal_width() {
        let screen = Screen::default();
        let line = StatusLine::new(Box::new(screen.clone()), 10);
        line.show("0123456789abcdef");
        assert_eq!(screen.take(), "\r\x1b[K012345678");
    }
}
