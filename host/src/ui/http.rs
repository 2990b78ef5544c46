//! Just enough HTTP/1.1 to serve a page, JSON and metrics to browsers, `curl` and
//! Prometheus: one GET (or HEAD) per connection, answered and closed. Requests are
//! read with a timeout and a size cap, so a slow or hostile client costs one thread
//! for a few seconds at most, and only a bounded number are served at once.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The longest request head read.
const MAX_HEAD: usize = 16 << 10;
/// How long a client may take to send its request, and to take the answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once; more are told to come back later.
const MAX_CONCURRENT: usize = 32;

/// A request: its method, path and query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// `GET` or `HEAD` (others are refused before routing).
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// `key=value` pairs of the query, in order.
    pub query: Vec<(String, String)>,
}

impl Request {
    /// The value of query parameter `key`.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// An answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with `status`, `content_type` and `body`.
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            content_type,
            body: body.into(),
        }
    }

    /// Plain text.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Response::new(status, "text/plain; charset=utf-8", body.into())
    }

    /// JSON.
    pub fn json(body: String) -> Self {
        Response::new(200, "application/json", body)
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

/// A listening server; it serves until the process exits.
pub struct HttpServer {
    address: SocketAddr,
}

impl HttpServer {
    /// Listens on the first of `addresses` that can be bound and serves every request
    /// with `handle` on a thread of its own.
    pub fn start(
        addresses: &[SocketAddr],
        handle: impl Fn(&Request) -> Response + Send + Sync + 'static,
    ) -> std::io::Result<HttpServer> {
        let listener = TcpListener::bind(addresses)?;
        let address = listener.local_addr()?;
        let handle = Arc::new(handle);
        std::thread::Builder::new()
            .name("http".into())
            .spawn(move || accept(listener, handle))?;
        Ok(HttpServer { address })
    }

    /// The address it listens on (with the port chosen, if 0 was asked for).
    pub fn address(&self) -> SocketAddr {
        self.address
    }
}

fn accept<H>(listener: TcpListener, handle: Arc<H>)
where
    H: Fn(&Request) -> Response + Send + Sync + 'static,
{
    let busy = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        if busy.load(Ordering::SeqCst) >= MAX_CONCURRENT {
            let _ = write_response(
                &mut stream,
                &Response::text(503, "too many requests at once; try again"),
                false,
            );
            continue;
        }
        busy.fetch_add(1, Ordering::SeqCst);
        let (handle, done) = (handle.clone(), busy.clone());
        let spawned = std::thread::Builder::new()
            .name("http-request".into())
            .spawn(move || {
                serve(stream, &*handle);
                done.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            busy.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

fn serve(mut stream: TcpStream, handle: &dyn Fn(&Request) -> Response) {
    let _ = stream.set_read_timeout(Some(CLIENT_TIMEOUT));
    let _ = stream.set_write_timeout(Some(CLIENT_TIMEOUT));
    let head = match read_head(&mut stream) {
        Ok(head) => head,
        Err(response) => {
            let _ = write_response(&mut stream, &response, false);
            return;
        }
    };
    let response = match parse_request(&head) {
        Ok(request) if request.method == "GET" || request.method == "HEAD" => {
            let response = handle(&request);
            let _ = write_response(&mut stream, &response, request.method == "HEAD");
            return;
        }
        Ok(request) => Response::text(405, format!("{} is not supported: use GET", request.method)),
        Err(message) => Response::text(400, message),
    };
    let _ = write_response(&mut stream, &response, false);
}

/// Reads up to the blank line that ends a request head.
fn read_head(stream: &mut TcpStream) -> Result<String, Response> {
    let mut reader = BufReader::new(&*stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {
                head.push_str(&line);
                if head.len() > MAX_HEAD {
                    return Err(Response::text(431, "request head too large"));
                }
                if line == "\r\n" || line == "\n" {
                    break;
                }
            }
            Err(_) => return Err(Response::text(400, "could not read the request")),
        }
    }
    Ok(head)
}

/// Parses a request head's first line.
pub fn parse_request(head: &str) -> Result<Request, String> {
    let line = head.lines().next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("malformed request line {line:?}"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(format!("unsupported protocol {version:?}: speak HTTP/1.1"));
    }
    // An absolute-form target (`http://host/path`) is allowed by HTTP/1.1.
    let target = target
        .strip_prefix("http://")
        .map_or(target, |rest| rest.find('/').map_or("/", |i| &rest[i..]));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_string(), v.to_string())
        })
        .collect();
    Ok(Request {
        method: method.to_string(),
        path: path.to_string(),
        query,
    })
}

fn write_response(
    stream: &mut TcpStream,
    response: &Response,
    head_only: bool,
) -> std::io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len()
    )
    .into_bytes();
    if response.status == 405 {
        out.extend_from_slice(b"Allow: GET, HEAD\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !head_only {
        out.extend_from_slice(&response.body);
    }
    stream.write_all(&out)?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn request_lines_give_method_path_and_query() {
        let r = parse_request("GET /api/v1/batches?limit=5&x HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/api/v1/batches");
        assert_eq!(r.param("limit"), Some("5"));
        assert_eq!(r.param("x"), Some(""));
        assert_eq!(r.param("y"), None);
        let absolute = parse_request("GET http://h:1/metrics HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!(absolute.path, "/metrics");
        assert!(parse_request("GET /\r\n").is_err());
        assert!(parse_request("GET / SPDY/3\r\n").is_err());
    }

    fn exchange(address: SocketAddr, request: &str) -> String {
        let mut stream = TcpStream::connect(address).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    }

    #[test]
    fn a_server_answers_gets_and_refuses_other_methods() {
        let server = HttpServer::start(&["127.0.0.1:0".parse().unwrap()], |request| {
            Response::text(200, format!("you asked for {}", request.path))
        })
        .unwrap();
        let answer = exchange(server.address(), "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.contains("Content-Length: 20\r\n"), "{answer}");
        assert!(answer.ends_with("\r\n\r\nyou asked for /hello"), "{answer}");
        let head = exchange(server.address(), "HEAD /hello HTTP/1.1\r\n\r\n");
        assert!(head.ends_with("\r\n\r\n"), "{head}");
        let post = exchange(server.address(), "POST /x HTTP/1.1\r\n\r\n");
        assert!(post.starts_with("HTTP/1.1 405"), "{post}");
        assert!(post.contains("Allow: GET, HEAD"), "{post}");
        let garbage = exchange(server.address(), "hello\r\n\r\n");
        assert!(garbage.starts_with("HTTP/1.1 400"), "{garbage}");
    }
}
