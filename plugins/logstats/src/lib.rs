//! Web server access logs (Common Log Format) as typed records: `parse` turns a line
//! into a [`Request`], `is_page_view` drops health checks and static files,
//! `status_pair` keys each request by its status code, and `sum` adds the counts.
//! A pipeline wires them as flat_map, filter, map, reduce_by_key.

use serde::{Deserialize, Serialize};
use sluice_sdk::{filter, flat_map, map, reduce};

/// One request from an access log line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The client.
    pub host: String,
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path requested.
    pub path: String,
    /// The HTTP status code of the response.
    pub status: u16,
    /// Response size in bytes (0 for `-`).
    pub bytes: u64,
}

/// Parses a Common Log Format line:
/// `127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326`.
/// A line that does not parse is logged and skipped (zero records out).
#[flat_map]
pub fn parse(line: &str) -> Option<Request> {
    let request = parse_line(line);
    if request.is_none() && !line.trim().is_empty() {
        sluice_sdk::log::warn!("skipping a line that is not in Common Log Format: {line:?}");
    }
    request
}

fn parse_line(line: &str) -> Option<Request> {
    let (host, rest) = line.split_once(' ')?;
    let (_, rest) = rest.split_once("] \"")?;
    let (request, rest) = rest.split_once('"')?;
    let mut parts = request.split(' ');
    let (method, path) = (parts.next()?, parts.next()?);
    let mut numbers = rest.split_whitespace();
    let status = numbers.next()?.parse().ok()?;
    let bytes = match numbers.next()? {
        "-" => 0,
        n => n.parse().ok()?,
    };
    Some(Request {
        host: host.to_string(),
        method: method.to_string(),
        path: path.to_string(),
        status,
        bytes,
    })
}

/// Keeps requests a person made: not health checks, not static files.
#[filter]
pub fn is_page_view(request: &Request) -> bool {
    request.path != "/healthz" && !request.path.starts_with("/static/")
}

/// Keys a request by its status code, counting one.
#[map]
pub fn status_pair(request: Request) -> (u16, u64) {
    (request.status, 1)
}

/// Adds two counts.
#[reduce]
pub fn sum(a: u64, b: u64) -> u64 {
    a + b
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str =
        r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#;

    #[test]
    fn parses_common_log_format() {
        let request = parse(LINE).unwrap();
        assert_eq!(request.host, "127.0.0.1");
        assert_eq!(
            (request.method.as_str(), request.path.as_str()),
            ("GET", "/apache_pb.gif")
        );
        assert_eq!((request.status, request.bytes), (200, 2326));
        assert_eq!(parse(&LINE.replace("2326", "-")).unwrap().bytes, 0);
    }

    #[test]
    fn skips_what_does_not_parse() {
        assert_eq!(parse("garbage"), None);
        assert_eq!(parse(&LINE.replace(" 200 ", " OK ")), None);
    }

    #[test]
    fn page_views_exclude_health_checks_and_static_files() {
        let mut request = parse(LINE).unwrap();
        assert!(is_page_view(&request));
        request.path = "/healthz".into();
        assert!(!is_page_view(&request));
        request.path = "/static/app.css".into();
        assert!(!is_page_view(&request));
    }
}
