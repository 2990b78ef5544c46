//! The HTTP/1.1 server of the endpoint: hyper on a tokio runtime of its own thread, one
//! GET (or HEAD) per connection. What hostile clients could do to a hand-written server
//! is bounded here by construction:
//!
//! - a request head is at most [`MAX_HEAD`] bytes (hyper answers 431 past it, having
//!   buffered no more), and must arrive within [`HEAD_TIMEOUT`];
//! - a whole exchange gets [`EXCHANGE_TIMEOUT`], however slowly the client reads;
//! - a slow client costs a task, not a thread, so `/healthz` answers while many dawdle;
//!   past [`MAX_CONNECTIONS`] at once a connection is told to come back later;
//! - on a loopback address a request whose `Host` names something else is refused
//!   (DNS rebinding: a web page cannot read the endpoint through its own name).
//!
//! The handler runs on tokio's blocking pool, never on the batches' threads.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;

/// The longest request head read.
pub const MAX_HEAD: usize = 16 << 10;
/// How long a client may take to send its request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one connection may last, answer included.
pub const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(15);
/// Connections served at once; more are told to come back later.
pub const MAX_CONNECTIONS: usize = 512;

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
    /// A request for `target` (`/path?query`).
    pub fn new(method: &str, target: &str) -> Request {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let query = query
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (k.to_string(), v.to_string())
            })
            .collect();
        Request {
            method: method.to_string(),
            path: path.to_string(),
            query,
        }
    }

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

type Handler = dyn Fn(&Request) -> Response + Send + Sync;

/// A listening server; it serves until the process exits.
pub struct HttpServer {
    address: SocketAddr,
}

impl HttpServer {
    /// Listens on the first of `addresses` that can be bound and serves every request
    /// with `handle`.
    pub fn start(
        addresses: &[SocketAddr],
        handle: impl Fn(&Request) -> Response + Send + Sync + 'static,
    ) -> std::io::Result<HttpServer> {
        let listener = TcpListener::bind(addresses)?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        if !address.ip().is_loopback() {
            tracing::warn!(
                "the HTTP endpoint listens on {address}, which is not a loopback address: whoever can reach it reads the pipeline's metrics, batches and plugin versions (there is no authentication)"
            );
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .thread_name("http")
            .build()?;
        let handle: Arc<Handler> = Arc::new(handle);
        std::thread::Builder::new()
            .name("http".into())
            .spawn(move || runtime.block_on(accept(listener, address, handle)))?;
        Ok(HttpServer { address })
    }

    /// The address it listens on (with the port chosen, if 0 was asked for).
    pub fn address(&self) -> SocketAddr {
        self.address
    }
}

async fn accept(listener: TcpListener, bound: SocketAddr, handle: Arc<Handler>) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!("the HTTP endpoint cannot listen on {bound}: {e}");
            return;
        }
    };
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tokio::spawn(async move {
                let busy = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 38\r\nconnection: close\r\n\r\ntoo many connections at once; try again";
                let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(busy)).await;
            });
            continue;
        };
        let handle = handle.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| answer(request, bound, handle.clone()));
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEAD_TIMEOUT)
                .max_buf_size(MAX_HEAD)
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(EXCHANGE_TIMEOUT, connection).await;
            drop(slot);
        });
    }
}

async fn answer(
    request: hyper::Request<hyper::body::Incoming>,
    bound: SocketAddr,
    handle: Arc<Handler>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let method = request.method().as_str().to_string();
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    let response = if !host_allowed(host, bound) {
        Response::text(
            421,
            format!(
                "this server is {bound}, not {:?}: a request through another name is refused (DNS rebinding)\n",
                host.unwrap_or_default()
            ),
        )
    } else if method != "GET" && method != "HEAD" {
        Response::text(405, format!("{method} is not supported: use GET\n"))
    } else {
        let target = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        let request = Request::new(&method, &target);
        tokio::task::spawn_blocking(move || handle(&request))
            .await
            .unwrap_or_else(|_| Response::text(500, "the handler failed\n"))
    };
    Ok(into_hyper(response))
}

fn into_hyper(response: Response) -> hyper::Response<Full<Bytes>> {
    let status = response.status;
    let mut out = hyper::Response::new(Full::new(Bytes::from(response.body)));
    *out.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = out.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(response.content_type),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if status == 405 {
        headers.insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    }
    out
}

/// Whether a request with `Host: host` may be answered by a server bound to `bound`: on
/// a loopback address, only through a loopback name or address.
pub fn host_allowed(host: Option<&str>, bound: SocketAddr) -> bool {
    if !bound.ip().is_loopback() {
        return true;
    }
    let Some(host) = host else {
        // HTTP/1.0 clients send none; a browser always does.
        return true;
    };
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => host.rsplit_once(':').map_or(host, |(name, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) {
                name
            } else {
                host
            }
        }),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpStream;

    #[test]
    fn targets_give_path_and_query() {
        let r = Request::new("GET", "/api/v1/batches?limit=5&x");
        assert_eq!(r.path, "/api/v1/batches");
        assert_eq!(r.param("limit"), Some("5"));
        assert_eq!(r.param("x"), Some(""));
        assert_eq!(r.param("y"), None);
    }

    #[test]
    fn only_loopback_names_reach_a_loopback_server() {
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        for host in [
            "localhost:8080",
            "127.0.0.1:8080",
            "[::1]:8080",
            "LOCALHOST",
            "127.0.0.2",
        ] {
            assert!(host_allowed(Some(host), local), "{host}");
        }
        for host in ["evil.example:8080", "evil.example", "10.0.0.1:8080"] {
            assert!(!host_allowed(Some(host), local), "{host}");
        }
        assert!(host_allowed(None, local));
        assert!(host_allowed(
            Some("evil.example"),
            "0.0.0.0:80".parse().unwrap()
        ));
    }

    fn exchange(address: SocketAddr, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(address).unwrap();
        stream.write_all(request).unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer.to_ascii_lowercase()
    }

    fn server() -> HttpServer {
        HttpServer::start(&["127.0.0.1:0".parse().unwrap()], |request| {
            Response::text(200, format!("you asked for {}", request.path))
        })
        .unwrap()
    }

    #[test]
    fn a_server_answers_gets_and_refuses_other_methods_heads_too_large_and_strange_hosts() {
        let server = server();
        let at = server.address();
        let answer = exchange(at, b"GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n");
        assert!(answer.starts_with("http/1.1 200 ok\r\n"), "{answer}");
        assert!(answer.contains("content-length: 20\r\n"), "{answer}");
        assert!(answer.contains("cache-control: no-store\r\n"), "{answer}");
        assert!(answer.ends_with("\r\n\r\nyou asked for /hello"), "{answer}");
        let head = exchange(at, b"HEAD /hello HTTP/1.1\r\nHost: localhost\r\n\r\n");
        assert!(head.ends_with("\r\n\r\n"), "{head}");
        let post = exchange(at, b"POST /x HTTP/1.1\r\nHost: localhost\r\n\r\n");
        assert!(post.starts_with("http/1.1 405"), "{post}");
        assert!(post.contains("allow: get, head"), "{post}");
        let garbage = exchange(at, b"hello\r\n\r\n");
        assert!(garbage.starts_with("http/1.1 400"), "{garbage}");
        let rebound = exchange(at, b"GET / HTTP/1.1\r\nHost: evil.example:80\r\n\r\n");
        assert!(rebound.starts_with("http/1.1 421"), "{rebound}");
        let mut long = b"GET /".to_vec();
        long.extend(std::iter::repeat_n(b'a', 4 * MAX_HEAD));
        let too_long = exchange(at, &long);
        assert!(too_long.starts_with("http/1.1 431"), "{too_long}");
    }

    #[test]
    fn slow_clients_do_not_keep_others_waiting() {
        let server = server();
        let at = server.address();
        let slow: Vec<TcpStream> = (0..64)
            .map(|_| {
                let mut s = TcpStream::connect(at).unwrap();
                s.write_all(b"GET /slow HTTP/1.1\r\nHo").unwrap();
                s
            })
            .collect();
        let answer = exchange(at, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
        assert!(answer.starts_with("http/1.1 200"), "{answer}");
        drop(slow);
    }
}
