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
            let mut counts = [None, None];
            for (count, name) in counts.iter_mut().zip(["limit", "offset"]) {
                *count = match request.param(name).map(str::parse::<usize>) {
                    None => None,
                    Some(Ok(n)) => Some(n),
                    Some(Err(_)) => {
                        return Response::text(
                            400,
                            format!("{name} must be a whole number of batches\n"),
                        );
                    }
                };
            }
            let [limit, offset] = counts;
            read(&|s| Some(json(&api::batches(s, offset.unwrap_or(0), limit))))
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
        ["applications"] => read(&|s| {
            Some(json(
                &api::application(s, now_ms())
                    .into_iter()
                    .collect::<Vec<_>>(),
            ))
        }),
        ["applications", id, rest @ ..] => {
            let known = metrics.read(|s: &MetricsState| api::application_id(s).map(str::to_string));
            if known.as_deref() != Some(percent_decoded(id).as_str()) {
                return Response::text(
                    404,
                    format!(
                        "no application `{id}`: this process runs {}; /api/v1/applications lists it\n",
                        known.map_or("none yet".into(), |k| format!("`{k}`"))
                    ),
                );
            }
            match rest {
                [] => read(&|s| api::application(s, now_ms()).map(|a| json(&a))),
                ["streaming", "batches", batch, "operations", op @ ..] if op.len() <= 1 => {
                    let Ok(batch) = batch.parse::<u64>() else {
                        return Response::text(400, "a batch id is its batch time in ms\n");
                    };
                    let op = op.first().map(|o| o.parse::<usize>());
                    read(&|s| {
                        let operations = api::operations(s, batch)?;
                        match &op {
                            None => Some(json(&operations)),
                            Some(Ok(k)) => operations.get(*k).map(json),
                            Some(Err(_)) => None,
                        }
                    })
                }
                [
                    "streaming",
                    rest @ ("statistics" | "batches" | "receivers"),
                    more @ ..,
                ] => {
                    let path: Vec<&str> =
                        std::iter::once(*rest).chain(more.iter().copied()).collect();
                    return api_route(&path, request, metrics);
                }
                _ => return not_found(&request.path),
            }
        }
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

/// A path segment with its `%XX` escapes decoded (an application id is the pipeline's
/// name, which may hold spaces).
fn percent_decoded(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

fn not_found(path: &str) -> Response {
    Response::text(
        404,
        format!(
            "nothing at {path}: try /, /metrics, /api/v1/statistics, /api/v1/batches, /api/v1/receivers, /api/v1/plugins, /api/v1/applications (Spark's paths), /healthz or /readyz\n"
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

    fn json_of(metrics: &Metrics, path: &str) -> serde_json::Value {
        let response = get(metrics, path);
        assert_eq!(response.status, 200, "{path}");
        serde_json::from_slice(&response.body).unwrap()
    }

    #[test]
    fn sparks_paths_serve_the_same_documents_with_sparks_field_names() {
        let mut state = crate::metrics::sample::two_batches();
        state.phase = Phase::Running;
        let id = state.run.as_ref().unwrap().pipeline.clone();
        let mut failed = state.history.last().unwrap().clone();
        failed.report.time_ms += 500;
        failed.report.error = Some("stage `words` (partition 1): boom".into());
        state.history.push(failed);
        let metrics = Metrics::of(state);
        let apps = json_of(&metrics, "/api/v1/applications");
        assert_eq!(apps[0]["id"], id.as_str());
        assert_eq!(apps[0]["name"], id.as_str());
        let attempt = &apps[0]["attempts"][0];
        for field in [
            "startTime",
            "endTime",
            "lastUpdated",
            "duration",
            "sparkUser",
            "completed",
            "appSparkVersion",
            "startTimeEpoch",
            "endTimeEpoch",
            "lastUpdatedEpoch",
        ] {
            assert!(attempt.get(field).is_some(), "{field} in {attempt}");
        }
        assert_eq!(attempt["completed"], false);
        assert_eq!(attempt["endTimeEpoch"], -1);
        let base = format!("/api/v1/applications/{id}");
        assert_eq!(json_of(&metrics, &base), apps[0]);
        for (spark, own) in [
            ("streaming/statistics", "statistics"),
            ("streaming/batches", "batches"),
            (
                "streaming/batches?limit=1&offset=1",
                "batches?limit=1&offset=1",
            ),
            ("streaming/batches/1001000", "batches/1001000"),
            ("streaming/receivers", "receivers"),
            ("streaming/receivers/0", "receivers/0"),
        ] {
            assert_eq!(
                json_of(&metrics, &format!("{base}/{spark}")),
                json_of(&metrics, &format!("/api/v1/{own}")),
                "{spark}"
            );
        }
        let paged = json_of(&metrics, "/api/v1/batches?limit=1&offset=1");
        assert_eq!(paged[0]["batchId"], 1_001_000, "{paged}");
        let batch = json_of(&metrics, &format!("{base}/streaming/batches/1001500"));
        for field in [
            "batchId",
            "batchTime",
            "status",
            "batchDuration",
            "inputSize",
            "schedulingDelay",
            "processingTime",
            "totalDelay",
            "numActiveOutputOps",
            "numCompletedOutputOps",
            "numFailedOutputOps",
            "numTotalOutputOps",
            "firstFailureReason",
        ] {
            assert!(batch.get(field).is_some(), "{field} in {batch}");
        }
        let operations = json_of(
            &metrics,
            &format!("{base}/streaming/batches/1001500/operations"),
        );
        assert_eq!(operations[0]["outputOpId"], 0);
        assert_eq!(
            operations[0]["failureReason"],
            "stage `words` (partition 1): boom"
        );
        assert!(operations[0]["name"].is_string() && operations[0]["jobIds"].is_array());
        assert_eq!(
            json_of(
                &metrics,
                &format!("{base}/streaming/batches/1001500/operations/0")
            ),
            operations[0]
        );
        let other = get(
            &metrics,
            "/api/v1/applications/app-123/streaming/statistics",
        );
        assert_eq!(other.status, 404);
        assert!(String::from_utf8_lossy(&other.body).contains(&format!("runs `{id}`")));
        assert_eq!(
            get(
                &metrics,
                &format!("{base}/streaming/batches/1001500/operations/9")
            )
            .status,
            404
        );
    }

    #[test]
    fn a_stream_whose_newest_batch_failed_is_not_ready_and_says_why() {
        let mut state = crate::metrics::sample::two_batches();
        state.phase = Phase::Running;
        let mut failed = state.history.last().unwrap().clone();
        failed.report.time_ms += 500;
        failed.report.error = Some("stage `words` (partition 1): boom".into());
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
        empty.report.time_ms += 500;
        empty.report.error = None;
        empty.report.records_in = vec![0];
        state.history.push(empty.clone());
        let metrics = Metrics::of(state);
        assert_eq!(get(&metrics, "/readyz").status, 503);
        let mut state = crate::metrics::sample::two_batches();
        state.phase = Phase::Running;
        state.history.push(failed.clone());
        let mut fine = empty;
        fine.report.time_ms += 500;
        fine.report.records_in = vec![7];
        state.history.push(fine);
        let metrics = Metrics::of(state);
        assert_eq!(get(&metrics, "/readyz").status, 200);
    }
}
