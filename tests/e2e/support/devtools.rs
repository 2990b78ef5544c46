//! A page in a real headless Chromium, driven over the DevTools protocol: what a person
//! does (open a page, click) and what they see (the DOM as it stands), for tests that
//! need more than one look at a page. Chromium listens on a loopback port it picks; the
//! test talks to the page's WebSocket with `tungstenite`.

use super::{PATIENCE, TempDir};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tungstenite::{Message, WebSocket};

/// One browser with one page.
pub struct Page {
    browser: Child,
    socket: WebSocket<TcpStream>,
    next_id: u64,
    _profile: TempDir,
}

impl Page {
    /// Starts Chromium and opens `url` in its page.
    pub fn open(url: &str) -> Page {
        let profile = TempDir::new("chromium-devtools");
        let mut browser = Command::new("chromium")
            .args(super::chromium::FLAGS)
            .args([
                "--window-size=1400,1200",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| super::chromium::missing(e));
        // Chromium says where it listens on standard error; the rest is drained.
        let stderr = BufReader::new(browser.stderr.take().unwrap());
        let (found, listening) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if let Some(at) = line.strip_prefix("DevTools listening on ws://") {
                    let _ = found.send(at.split('/').next().unwrap_or_default().to_string());
                }
            }
        });
        let address = listening
            .recv_timeout(PATIENCE)
            .expect("chromium says where its DevTools listen");
        let targets = targets(&address);
        let page = targets
            .as_array()
            .and_then(|t| t.iter().find(|t| t["type"] == "page"))
            .unwrap_or_else(|| panic!("a page among {targets}"));
        let ws = page["webSocketDebuggerUrl"].as_str().unwrap().to_string();
        let stream = TcpStream::connect(&address).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let (socket, _) = tungstenite::client(ws.as_str(), stream)
            .unwrap_or_else(|e| panic!("cannot open the page's DevTools socket {ws}: {e}"));
        let mut page = Page {
            browser,
            socket,
            next_id: 1,
            _profile: profile,
        };
        page.call("Page.navigate", json!({ "url": url }));
        page
    }

    /// Calls `method`; its result.
    fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let request = json!({ "id": id, "method": method, "params": params });
        self.socket
            .send(Message::text(request.to_string()))
            .unwrap_or_else(|e| panic!("DevTools {method}: {e}"));
        loop {
            let message = self
                .socket
                .read()
                .unwrap_or_else(|e| panic!("DevTools {method}: no answer: {e}"));
            let Message::Text(text) = message else {
                continue;
            };
            let answer: Value = serde_json::from_str(text.as_str()).unwrap();
            if answer["id"] == id {
                if let Some(error) = answer.get("error") {
                    panic!("DevTools {method} failed: {error}");
                }
                return answer["result"].clone();
            }
        }
    }

    /// The value of the JavaScript expression `js` in the page (JSON-serialisable).
    pub fn eval(&mut self, js: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({ "expression": js, "returnByValue": true, "awaitPromise": true }),
        );
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("{js} threw: {exception}");
        }
        result["result"]["value"].clone()
    }

    /// Waits until `js` is truthy in the page (it redraws every second); returns its value.
    pub fn wait_for(&mut self, js: &str) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let value = self.eval(js);
            let truthy = !matches!(&value, Value::Null | Value::Bool(false))
                && value != json!("")
                && value != json!(0);
            if truthy {
                return value;
            }
            if Instant::now() > deadline {
                let body = self.eval("document.body ? document.body.innerText : ''");
                panic!("the page never had {js} within {PATIENCE:?}; it shows:\n{body}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Clicks the element `selector` names, as a person would.
    pub fn click(&mut self, selector: &str) {
        let js = format!(
            "(() => {{ const e = document.querySelector({selector:?}); if (!e) return false; e.click(); return true; }})()"
        );
        assert_eq!(
            self.eval(&js),
            json!(true),
            "nothing to click at {selector}"
        );
    }
}

/// The browser's targets (`/json/list`). Chromium keeps the connection open after its
/// answer, so the body is read by its length rather than to the end.
fn targets(address: &str) -> Value {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(stream, "GET /json/list HTTP/1.1\r\nHost: {address}\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "chromium closed /json/list early: {answer:?}");
        answer.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&answer);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .expect("a Content-Length");
            if body.len() >= length {
                return serde_json::from_str(&body[..length]).unwrap();
            }
        }
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        let _ = self.browser.kill();
        let _ = self.browser.wait();
    }
}
