//! The HTTP endpoint (`[pipeline] http` or `--http`): the batch timeline page, the
//! JSON API, Prometheus metrics and health checks, all read from a run's [`Metrics`].
//!
//! | path | what |
//! |---|---|
//! | `/` | the batch timeline: a page with its script and style inside, refreshing itself |
//! | `/metrics` | Prometheus text format |
//! | `/api/v1/statistics`, `/api/v1/batches[/ID]`, `/api/v1/receivers[/ID]` | JSON after Spark's streaming REST API |
//! | `/api/v1/plugins` | JSON: plugin versions and what they did |
//! | `/healthz` | 200 while the process serves |
//! | `/readyz` | 200 while batches run and the newest succeeded; 503 before the first, while the newest failed, and after the last |

mod api;
pub(crate) mod dates;
mod http;
mod page;

pub use http::{HttpServer, Request, Response};

use crate::config::check_http_address;
use crate::metrics::{Metrics, MetricsState, Phase, prometheus};
use anyhow::Context as _;
use serde::Serialize;

/// Serves `metrics` on `address` (`host:port`) from a thread of its own, until the
/// process exits (`http` says what it withstands).
pub fn serve(address: &str, metrics: Metrics) -> anyhow::Result<HttpServer> {
    let addresses = check_http_address(address)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("bad address {address:?} for the HTTP endpoint"))?;
    HttpServer::start(&addresses, move |request| route(request, &metrics)).with_context(|| {
        format!(
            "cannot serve HTTP on {address}: pick another address with --http or `[pipeline] http`"
        )
    })
}

/// Answers one request.
pub fn route(request: &Request, metrics: &Metrics) -> Response {
    let path = request.path.trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    match segments.as_slice() {
        [] | ["index.html"] => Response::new(200, "text/html; charset=utf-8", page::html()),
        ["metrics"] => Response::new(
            200,
            prometheus::CONTENT_TYPE,
            metrics.read(prometheus::render),
        ),
        ["healthz"] => Response::text(200, "ok\n"),
        ["readyz"] => match metrics
            .read(|s| (s.phase, s.failing().map(|(t, e)| (t, e.to_string()))))
        {
            (Phase::Running, Some((time, error))) => {
                Response::text(503, format!("failing: batch {time} failed: {error}\n"))
            }
            (Phase::Running, None) => Response::text(200, "ready\n"),
            (Phase::Starting, _) => Response::text(503, "starting: sources are being opened\n"),
            (Phase::Finished, _) => Response::text(503, "finished: the last batch has completed\n"),
        },
        ["api", "v1", rest @ ..] => api_route(rest, request, metrics),
        _ => not_found(&request.path),
    }
}

fn api_route(rest: &[&str], request: &Request, metrics: &Metrics) -> Response {
    let read = |f: &dyn Fn(&MetricsState) -> Option<String>| metrics.read(f);
    let body = match rest {
        ["statistics"] => read(&|s| Some(json(&api::statistics(s)))),
        ["batches"] => {
            let limit = match request.param("limit").map(str::parse::<usize>) {
                None => None,
                Some(Ok(n)) => Some(n),
                Some(Err(_)) => {
                    return Response::text(400, "limit must be a whole number of batches\n");
                }
            };
            read(&|s| Some(json(&api::batches(s, limit))))
        }
        ["batches", id] => {
            let Ok(id) = id.parse::<u64>() else {
                return Response::text(400, "a batch id is its batch time in ms\n");
            };
            read(&|s| api::batch_by_id(s, id).map(|b| json(&b)))
        }
        ["receivers"] => read(&|s| Some(json(&api::receivers(s)))),
        ["receivers", id] => {
            let Ok(id) = id.parse::<usize>() else {
                return Response::text(400, "a receiver id is its stream id, from 0\n");
            };
            read(&|s| api::receivers(s).into_iter().nth(id).map(|r| json(&r)))
        }
        ["plugins"] => read(&|s| Some(json(&api::plugins(s)))),
        _ => return not_found(&request.path),
    };
    match body {
        Some(body) => Response::json(body),
        None => Response::text(
            404,
            format!("{} is not retained (or never existed)\n", request.path),
        ),
    }
}

fn json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

fn not_found(path: &str) -> Response {
    Response::text(
        404,
        format!(
            "nothing at {path}: try /, /metrics, /api/v1/statistics, /api/v1/batches, /api/v1/receivers, /api/v1/plugins, /healthz or /readyz\n"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(metrics: &Metrics, target: &str) -> Response {
        route(&Request::new("GET", target), metrics)
    }

    #[test]
    fn every_path_has_an_answer() {
        let metrics = Metrics::new(10);
        assert_eq!(get(&metrics, "/").content_type, "text/html; charset=utf-8");
        assert_eq!(get(&metrics, "/healthz").status, 200);
        let starting = get(&metrics, "/readyz");
        assert_eq!(starting.status, 503);
        assert!(String::from_utf8_lossy(&starting.body).starts_with("starting"));
        assert!(
            get(&metrics, "/metrics")
                .content_type
                .contains("version=0.0.4")
        );
        for path in [
            "/api/v1/statistics",
            "/api/v1/batches",
            "/api/v1/batches/",
            "/api/v1/receivers",
            "/api/v1/plugins",
        ] {
            let response = get(&metrics, path);
            assert_eq!(
                (response.status, response.content_type),
                (200, "application/json"),
                "{path}"
            );
        }
        assert_eq!(get(&metrics, "/api/v1/batches?limit=x").status, 400);
        assert_eq!(get(&metrics, "/api/v1/batches/x").status, 400);
        assert_eq!(get(&metrics, "/api/v1/batches/1000").status, 404);
        assert_eq!(get(&metrics, "/api/v1/receivers/0").status, 404);
        let missing = get(&metrics, "/nope");
        assert_eq!(missing.status, 404);
        assert!(String::from_utf8_lossy(&missing.body).contains("try /, /metrics"));
    }

    #[test]
    fn a_stream_whose_newest_batch_failed_is_not_ready_and_says_why() {
        let mut state = crate::metrics::sample::two_batches();
        state.phase = Phase::Running;
        let mut failed = state.history.last().unwrap().clone();
        failed.time_ms += 500;
        failed.error = Some("stage `words` (partition 1): boom".into());
        state.history.push(failed.clone());
        let metrics = Metrics::of(state);
        let readyz = get(&metrics, "/readyz");
        assert_eq!(
            (
                readyz.status,
                String::from_utf8_lossy(&readyz.body).as_ref()
            ),
            (
                503,
                "failing: batch 1001500 failed: stage `words` (partition 1): boom\n"
            )
        );
        let stats = String::from_utf8_lossy(&get(&metrics, "/api/v1/statistics").body).to_string();
        assert!(stats.contains(r#""status":"FAILING""#), "{stats}");

        // An empty batch that succeeds after it proves nothing; one with records does.
        let mut state = crate::metrics::sample::two_batches();
        state.phase = Phase::Running;
        state.history.push(failed.clone());
        let mut empty = failed.clone();
        empty.time_ms += 500;
        empty.error = None;
        empty.records_in = vec![0];
        state.history.push(empty.clone());
        let metrics = Metrics::of(state);
        assert_eq!(get(&metrics, "/readyz").status, 503);
        let mut state = crate::metrics::sample::two_batches();
        state.phase = Phase::Running;
        state.history.push(failed.clone());
        let mut fine = empty;
        fine.time_ms += 500;
        fine.records_in = vec![7];
        state.history.push(fine);
        let metrics = Metrics::of(state);
        assert_eq!(get(&metrics, "/readyz").status, 200);
    }
}
