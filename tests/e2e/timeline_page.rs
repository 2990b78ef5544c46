//! The batch timeline page, loaded in a real headless Chromium against a running
//! pipeline: its script fetches the API and draws the charts and tables.

use crate::support::http::get_json;
use crate::support::*;

/// The part of `dom` inside the element that opens with `opening`.
fn section<'a>(dom: &'a str, opening: &str) -> &'a str {
    let start = dom
        .find(opening)
        .unwrap_or_else(|| panic!("no {opening} in the page:\n{dom}"));
    let rest = &dom[start..];
    let end = rest
        .find("</figure>")
        .or_else(|| rest.find("</table>"))
        .unwrap();
    &rest[..end]
}

/// `n` with thousands separated by commas, as the page writes numbers.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[test]
fn the_page_charts_the_batches_and_lists_them_in_a_real_browser() {
    let dir = TempDir::new("timeline");
    let pipeline = dir.write(
        "timeline.toml",
        &word_count(
            "name = \"timeline\"\nbatch_interval = \"200ms\"\npartitions = 2",
            "[sources.text]\ntype = \"generator\"\nrate = 5000\nmax_rate = 4000",
            "[sinks.out]\ninput = \"counts\"\ntype = \"print\"\nnum = 1\n",
        ),
    );
    let mut sluice = Sluice::start(&["run", pipeline.to_str().unwrap(), "--http", "127.0.0.1:0"]);
    let http = sluice.http_address();
    for _ in 0..5 {
        sluice.wait_for_nonempty_batch();
    }
    let url = format!("http://{http}/");
    let dom = chromium::dump_dom(&url, 3_000);

    // Four charts, each with a dot per batch it draws; the delay charts also draw the
    // batch interval.
    for chart in [
        "chart-input",
        "chart-scheduling",
        "chart-processing",
        "chart-total",
    ] {
        let svg = section(&dom, &format!("id=\"{chart}\""));
        let points = svg.matches("class=\"point").count();
        assert!(points >= 5, "{chart} has {points} points:\n{svg}");
        assert!(
            svg.contains(&format!("data-points=\"{points}\"")),
            "{chart}: one dot per batch:\n{svg}"
        );
        assert!(svg.contains("<polyline class=\"line\""), "{chart}:\n{svg}");
        // The time axis is labelled, and a histogram of the same batches is beside it.
        assert!(
            svg.matches("time-tick").count() >= 2,
            "{chart}: batch times along the axis:\n{svg}"
        );
        let counts = svg
            .split("data-counts=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("{chart} has a histogram:\n{svg}"));
        let binned: usize = counts.split(',').map(|n| n.parse::<usize>().unwrap()).sum();
        assert_eq!(binned, points, "{chart}: every batch in a bin: {counts}");
        if chart != "chart-input" {
            assert!(svg.contains("batch interval 200 ms"), "{chart}:\n{svg}");
        }
    }
    assert!(
        section(&dom, "id=\"chart-input\"").contains("rate limit"),
        "max_rate is drawn on the input rate chart"
    );

    // The tables: batches (newest first, as many as the chart shows, up to 25),
    // the receiver with its limit, the plugin with its version.
    let batches = section(&dom, "<table id=\"batches\"");
    let rows = batches.matches("class=\"batch-row").count();
    assert!(rows >= 5, "{rows} batch rows:\n{batches}");
    let plugins = get_json(&http, "/api/v1/plugins");
    let version = plugins[0]["version"].as_str().unwrap();
    assert!(
        batches.contains(&format!("wordcount@{version}")),
        "{batches}"
    );
    let receivers = section(&dom, "<table id=\"receivers\"");
    assert!(
        receivers.contains(">text<") && receivers.contains("4,000/s"),
        "{receivers}"
    );
    let plugin_rows = section(&dom, "<table id=\"plugins\"");
    assert!(plugin_rows.contains(version), "{plugin_rows}");
    let verdict = section(&dom, ">Keeping up<");
    assert!(
        verdict.contains(">yes<") || verdict.contains(">no<"),
        "the verdict is drawn: {verdict}"
    );
    assert!(dom.contains(">timeline<"), "the pipeline is named");

    // A picture, for people: target/e2e-artifacts/batch-timeline.png.
    let png = artifacts_dir().join("batch-timeline.png");
    chromium::screenshot(&url, 3_000, &png);
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert!(
        bytes.len() > 20_000,
        "more than a blank page: {} bytes",
        bytes.len()
    );

    // Paging: the table shows 15 batches; "older" shows the next 15.
    while get_json(&http, "/api/v1/statistics")["numRetainedCompletedBatches"]
        .as_u64()
        .unwrap()
        < 17
    {
        sluice.wait_for_batch(&|_| true);
    }
    let mut page = devtools::Page::open(&url);
    page.wait_for("document.querySelectorAll('tr.batch-row').length === 15");
    let newest: u64 = page
        .eval("Number(document.querySelector('tr.batch-row').dataset.batch)")
        .as_u64()
        .unwrap();
    page.click("#older");
    let note = page.wait_for(
        "(() => { const t = document.getElementById('batches-note').textContent; return t.startsWith('16–') && t; })()",
    );
    assert!(note.as_str().unwrap().ends_with("retained"), "{note}");
    let older: u64 = page
        .eval("Number(document.querySelector('tr.batch-row').dataset.batch)")
        .as_u64()
        .unwrap();
    assert!(older < newest, "page 2 starts older: {older} < {newest}");
    assert_eq!(
        page.eval("document.getElementById('newer').disabled"),
        false
    );

    // A batch's detail: its stages with records in and out, as the API has them.
    page.click("tr.batch-row a.batch-link");
    page.wait_for("document.querySelectorAll('#detail-stages tr.stage-row').length > 0");
    let id = page.eval("location.hash.split('/')[1]");
    let batch = get_json(&http, &format!("/api/v1/batches/{}", id.as_str().unwrap()));
    let shown = page.eval(
        "[...document.querySelectorAll('#detail-stages tr.stage-row')].map(r => [...r.cells].slice(0, 3).map(c => c.textContent).join('|'))",
    );
    let expected: Vec<String> = batch["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let out = grouped(s["outputRecords"].as_u64().unwrap());
            format!(
                "{}|{}|{}",
                s["name"].as_str().unwrap(),
                grouped(s["inputRecords"].as_u64().unwrap()),
                if s["combined"] == true {
                    format!("{out} pairs, combined")
                } else {
                    out
                }
            )
        })
        .collect();
    assert_eq!(shown, serde_json::json!(expected));
    assert!(
        expected
            .iter()
            .any(|s| s.starts_with("words|") && s.ends_with("pairs, combined")),
        "the word count's flat_map is combined in the plugin: {expected:?}"
    );
    drop(page);

    sluice.signal("TERM");
    sluice.finish().expect_code(0);
}

#[test]
fn a_stream_whose_batches_fail_is_shown_failing_with_the_reason_in_a_real_browser() {
    let dir = TempDir::new("timeline-failing");
    let pipeline = crate::integrity::pipeline(
        &dir,
        "batch_interval = \"200ms\"\non_batch_failure = \"dead_letter\"\nbatch_retries = 0",
        "type = \"stdin\"",
        "op = \"reduce_by_key\"\nfunction = \"faulty::sum_or_panic\"",
    );
    let (mut sluice, mut stdin) =
        Sluice::start_with_stdin(&["run", &pipeline, "--http", "127.0.0.1:0"]);
    let http = sluice.http_address();
    std::io::Write::write_all(&mut stdin, b"a 1\na 666\nb 2\n").unwrap();
    std::io::Write::flush(&mut stdin).unwrap();
    let failed = sluice.wait_for_event("batch_failed");
    // Empty batches go on succeeding after it; they prove nothing.
    sluice.wait_for_batch(&|e| e["batch"].as_u64() > failed["batch"].as_u64());
    let (status, body) = http::get(&http, "/readyz");
    assert_eq!(status, 503, "{body}");
    assert!(
        body.starts_with(&format!("failing: batch {} failed: ", failed["batch"])),
        "{body}"
    );

    let dom = chromium::dump_dom(&format!("http://{http}/"), 3_000);
    let verdict = section(&dom, ">Keeping up<");
    assert!(verdict.contains(">no<"), "{verdict}");
    assert!(
        verdict.contains("refusing to add"),
        "the reason is shown: {verdict}"
    );
    assert!(
        dom.contains("class=\"status failing\""),
        "the status pill says failing:\n{dom}"
    );

    // "1 failed" links to the failed batch's page, which says why it failed (its row has
    // long left the table's first page on a slow machine: a batch every 200 ms).
    let mut page = devtools::Page::open(&format!("http://{http}/"));
    let link = format!("a.newest-failed[href=\"#batch/{}\"]", failed["batch"]);
    page.wait_for(&format!("!!document.querySelector({link:?})"));
    page.click(&link);
    let reason = page.wait_for(
        "(() => { const e = document.querySelector('#batch-failure pre'); return e && e.textContent; })()",
    );
    assert!(
        reason.as_str().unwrap().contains("refusing to add"),
        "the detail page gives the reason: {reason}"
    );
    assert_eq!(
        page.eval("location.hash"),
        format!("#batch/{}", failed["batch"]).as_str()
    );
    let stages = page.eval("document.querySelector('#detail-stages tbody').textContent");
    assert!(
        stages.as_str().unwrap().contains("the batch failed before"),
        "{stages}"
    );
    let headers = page.eval(
        "[...document.querySelectorAll('#detail-stages th')].map(c => c.textContent).join(',')",
    );
    assert_eq!(headers, "Stage,Records in,Records out,Time");
    assert_eq!(
        page.eval("document.getElementById('overview').hidden"),
        true,
        "the detail replaces the overview"
    );
    // A picture, for people: target/e2e-artifacts/batch-detail-failed.png.
    let png = artifacts_dir().join("batch-detail-failed.png");
    chromium::screenshot(
        &format!("http://{http}/#batch/{}", failed["batch"]),
        3_000,
        &png,
    );
    // And back.
    page.click("#batch-detail a.back");
    page.wait_for("!document.getElementById('overview').hidden");
    drop(stdin);
    sluice.finish().expect_code(1);
}
