"use strict";
// The batch timeline: polls the JSON API and redraws. Charts are plain SVG.

const REFRESH_MS = 1000;
const CHART_BATCHES = 120;
const TABLE_BATCHES = 15;
const SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function svgEl(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function fmtInt(n) {
  return Math.round(n).toLocaleString("en-US");
}

function fmtRate(r) {
  if (r === undefined || r === null) return "–";
  if (r >= 100 || Number.isInteger(r)) return fmtInt(r);
  return r.toFixed(1);
}

function fmtMs(ms) {
  if (ms === undefined || ms === null) return "–";
  if (ms >= 60000) return (ms / 60000).toFixed(1) + " min";
  if (ms >= 10000) return (ms / 1000).toFixed(1) + " s";
  return fmtInt(ms) + " ms";
}

// Batch times show milliseconds when the batch interval is not whole seconds.
let showMillis = false;

function fmtTime(ms) {
  const d = new Date(ms);
  const pad = (n, w) => String(n).padStart(w || 2, "0");
  return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) +
    (showMillis ? "." + pad(d.getMilliseconds(), 3) : "");
}

// A formatter for an axis of durations up to `max` ms: one unit for every tick.
function msAxis(max) {
  if (max >= 10000) return (ms) => (ms / 1000).toLocaleString("en-US", { maximumFractionDigits: 1 }) + " s";
  return (ms) => fmtInt(ms) + " ms";
}

function fmtDuration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return (h ? h + " h " : "") + (h || m ? m + " min " : "") + (s % 60) + " s";
}

// Nice round steps for an axis from 0 to max.
function niceMax(max) {
  if (!(max > 0)) return 1;
  const magnitude = Math.pow(10, Math.floor(Math.log10(max)));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * magnitude >= max) return step * magnitude;
  }
  return 10 * magnitude;
}

// Draws one series over the batches: a line, an area, a dot per batch, and optionally
// the batch interval (a dashed line) and a second, dotted series (the rate limit).
function drawChart(id, batches, value, opts) {
  const svg = document.querySelector("#" + id + " svg.timeline");
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const width = svg.clientWidth || 560, height = svg.clientHeight || 190;
  svg.setAttribute("viewBox", "0 0 " + width + " " + height);
  const left = 58, right = 10, top = 10, bottom = 22;
  const plotW = width - left - right, plotH = height - top - bottom;
  svg.dataset.points = String(batches.length);
  if (batches.length === 0) {
    svg.appendChild(svgEl("text", { x: left, y: top + plotH / 2, class: "empty" }, "waiting for the first batch…"));
    return null;
  }
  const values = batches.map(value);
  const limits = opts.limit ? batches.map(opts.limit) : [];
  let max = Math.max(...values, ...limits.filter((l) => l !== null));
  if (opts.interval) max = Math.max(max, opts.interval * 1.2);
  max = niceMax(max * 1.05);
  const tick = opts.axis ? opts.axis(max) : opts.tick;
  const n = batches.length;
  const x = (i) => left + (n === 1 ? plotW / 2 : (i * plotW) / (n - 1));
  const y = (v) => top + plotH - (Math.min(v, max) / max) * plotH;

  for (let k = 0; k <= 4; k++) {
    const v = (max * k) / 4;
    svg.appendChild(svgEl("line", { x1: left, x2: left + plotW, y1: y(v), y2: y(v), class: "axis" }));
    svg.appendChild(svgEl("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, tick(v)));
  }
  // The time axis: the batch times of up to five evenly spaced batches.
  const ticks = n === 1 ? [0] : [...new Set([0, 1, 2, 3, 4].map((k) => Math.round((k * (n - 1)) / 4)))];
  ticks.forEach((i, k) => {
    const anchor = ticks.length === 1 ? "middle" : k === 0 ? "start" : k === ticks.length - 1 ? "end" : "middle";
    svg.appendChild(svgEl("line", { x1: x(i), x2: x(i), y1: top + plotH, y2: top + plotH + 4, class: "axis" }));
    svg.appendChild(svgEl("text", { x: x(i), y: height - 5, "text-anchor": anchor, class: "tick time-tick" }, fmtTime(batches[i].batchId)));
  });
  // A failed batch: a red band across the plot, behind the series.
  batches.forEach((b, i) => {
    if (b.firstFailureReason) {
      svg.appendChild(svgEl("line", { x1: x(i), x2: x(i), y1: top, y2: top + plotH, class: "failed-mark" }));
    }
  });

  const coords = values.map((v, i) => x(i).toFixed(1) + "," + y(v).toFixed(1));
  svg.appendChild(svgEl("polygon", {
    class: "area",
    points: x(0).toFixed(1) + "," + y(0) + " " + coords.join(" ") + " " + x(n - 1).toFixed(1) + "," + y(0),
  }));
  svg.appendChild(svgEl("polyline", { class: "line", points: coords.join(" ") }));

  // Labels go last, over the dots, on a halo of the panel's colour.
  const labels = [];
  if (limits.some((l) => l !== null)) {
    const pts = limits.map((l, i) => (l === null ? null : x(i).toFixed(1) + "," + y(l).toFixed(1))).filter((p) => p);
    svg.appendChild(svgEl("polyline", { class: "limit", points: pts.join(" ") }));
    labels.push(svgEl("text", { x: left + 4, y: top + 10, class: "limit-label" }, "rate limit"));
  }
  if (opts.interval) {
    const yi = y(opts.interval);
    svg.appendChild(svgEl("line", { x1: left, x2: left + plotW, y1: yi, y2: yi, class: "interval" }));
    labels.push(svgEl("text", { x: left + plotW - 4, y: yi - 5, "text-anchor": "end", class: "interval-label" },
      "batch interval " + fmtMs(opts.interval)));
  }
  values.forEach((v, i) => {
    const b = batches[i];
    const link = svgEl("a", { href: "#batch/" + b.batchId });
    const dot = svgEl("circle", { cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: b.firstFailureReason ? 4 : n > 60 ? 2 : 3,
      class: "point" + (b.firstFailureReason ? " failed" : "") });
    dot.appendChild(svgEl("title", {}, "batch " + fmtTime(b.batchId) + ": " + opts.tick(v) +
      (b.firstFailureReason ? " (failed: " + b.firstFailureReason + ")" : "") + " · click for details"));
    link.appendChild(dot);
    svg.appendChild(link);
  });
  labels.forEach((label) => svg.appendChild(label));
  return { max, top, plotH, height, tick };
}

// Beside each timeline, as Spark draws it: how many batches fell in each band of
// values, on the timeline's own value axis.
function drawHistogram(id, values, axis) {
  const svg = document.querySelector("#" + id + " svg.hist");
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const width = svg.clientWidth || 140, height = svg.clientHeight || 190;
  svg.setAttribute("viewBox", "0 0 " + width + " " + height);
  if (!axis || values.length === 0) {
    svg.dataset.counts = "";
    return;
  }
  const BINS = 8;
  const counts = new Array(BINS).fill(0);
  for (const v of values) counts[Math.min(BINS - 1, Math.max(0, Math.floor((v / axis.max) * BINS)))]++;
  svg.dataset.counts = counts.join(",");
  const most = Math.max(...counts);
  const left = 4, right = 28, band = axis.plotH / BINS;
  counts.forEach((count, k) => {
    const y = axis.top + axis.plotH - (k + 1) * band;
    const w = most ? ((width - left - right) * count) / most : 0;
    const bar = svgEl("rect", { x: left, y: (y + 1).toFixed(1), width: w.toFixed(1), height: Math.max(1, band - 2).toFixed(1), class: "hist-bar" });
    bar.appendChild(svgEl("title", {}, count + " batches between " + axis.tick((axis.max * k) / BINS) + " and " + axis.tick((axis.max * (k + 1)) / BINS)));
    svg.appendChild(bar);
    if (count) svg.appendChild(svgEl("text", { x: left + w + 3, y: y + band / 2 + 4, class: "tick" }, String(count)));
  });
  svg.appendChild(svgEl("text", { x: left, y: axis.height - 5, class: "tick" }, "batches"));
}

function card(label, value, sub, tone) {
  const c = el("div", { class: "card" + (tone ? " " + tone : "") });
  c.appendChild(el("div", { class: "label" }, label));
  c.appendChild(el("div", { class: "value" }, value));
  if (sub instanceof Node) c.appendChild(el("div", { class: "sub" })).appendChild(sub);
  else if (sub) c.appendChild(el("div", { class: "sub" }, sub));
  return c;
}

// "N failed", linking to the newest failed batch's page (it may be pages down the table
// by now).
function failedBatches(stats) {
  if (!stats.numFailedBatches) return "none failed";
  const text = fmtInt(stats.numFailedBatches) + " failed";
  if (stats.newestFailedBatch === undefined) return text;
  return el("a", { href: "#batch/" + stats.newestFailedBatch, class: "newest-failed", title: "the newest failed batch, " + fmtTime(stats.newestFailedBatch) }, text);
}

function renderSummary(stats, batches) {
  const box = document.getElementById("summary");
  box.replaceChildren();
  const interval = stats.batchDuration;
  const recent = batches.slice(-10);
  const recentProcessing = recent.length ? recent.reduce((s, b) => s + b.processingTime, 0) / recent.length : null;
  const lastDelay = recent.length ? recent[recent.length - 1].schedulingDelay : null;
  let verdict = "–", tone = "", sub = "";
  const failed = recent.filter((b) => b.firstFailureReason);
  if (stats.status === "FAILING") {
    // The newest batch with records failed and wrote nothing: fast is not keeping up.
    const newest = batches.filter((b) => b.firstFailureReason).pop();
    verdict = "no";
    tone = "bad";
    sub = failed.length + " of the last " + recent.length + " batches failed" +
      (newest ? ": " + newest.firstFailureReason : "");
  } else if (recentProcessing !== null) {
    const load = recentProcessing / interval;
    const keeping = load < 1 && lastDelay < interval;
    verdict = keeping ? "yes" : "no";
    tone = keeping ? "good" : "bad";
    sub = "busy " + Math.round(load * 100) + "% of the interval";
  }
  box.appendChild(card("Keeping up", verdict, sub, tone));
  box.appendChild(card("Batch interval", fmtMs(interval), stats.numPartitions + " partitions"));
  box.appendChild(card("Batches", fmtInt(stats.numTotalCompletedBatches),
    failedBatches(stats), stats.numFailedBatches ? "bad" : ""));
  box.appendChild(card("Active batches", fmtInt(stats.numActiveBatches), "queued or running"));
  box.appendChild(card("Records in", fmtInt(stats.numProcessedRecords), fmtInt(stats.numOutputRecords) + " out"));
  box.appendChild(card("Input rate", fmtRate(stats.avgInputRate), "records/s, average"));
  box.appendChild(card("Scheduling delay", fmtMs(stats.avgSchedulingDelay), "average"));
  box.appendChild(card("Processing time", fmtMs(stats.avgProcessingTime), "average"));
  box.appendChild(card("Total delay", fmtMs(stats.avgTotalDelay), "average"));
  box.appendChild(card("Dead letters", fmtInt(stats.numDeadLetters), "records set aside"));
}

function cell(row, text, cls, title) {
  const td = el("td", cls ? { class: cls } : {}, text);
  if (title) td.title = title;
  row.appendChild(td);
  return td;
}

// Which page of the batch table shows: 0 is the newest TABLE_BATCHES.
let page = 0;

function batchLink(b) {
  return el("a", { href: "#batch/" + b.batchId, class: "batch-link", title: String(b.batchId) }, fmtTime(b.batchId));
}

function shorten(text, n) {
  return text.length > n ? text.slice(0, n - 1) + "…" : text;
}

function renderBatches(shown, retained) {
  const body = document.querySelector("#batches tbody");
  body.replaceChildren();
  for (const b of shown) {
    const row = el("tr", { class: "batch-row" + (b.firstFailureReason ? " failed" : ""), "data-batch": String(b.batchId) });
    const time = el("td");
    time.appendChild(batchLink(b));
    row.appendChild(time);
    const sizes = Object.entries(b.inputSizes).map(([s, n]) => s + ": " + fmtInt(n)).join(", ");
    cell(row, fmtInt(b.inputSize), "num", sizes);
    cell(row, fmtMs(b.schedulingDelay), "num");
    cell(row, fmtMs(b.processingTime), "num");
    cell(row, fmtMs(b.totalDelay), "num");
    cell(row, fmtInt(b.outputSize), "num");
    const versions = el("td");
    versions.appendChild(el("code", {}, b.plugins.map((p) => p.name + "@" + p.version).join(" ")));
    row.appendChild(versions);
    if (b.firstFailureReason) {
      cell(row, "failed: " + shorten(b.firstFailureReason, 90), "err wrap", b.firstFailureReason);
    } else {
      cell(row, "ok", "ok");
    }
    body.appendChild(row);
  }
  const first = page * TABLE_BATCHES;
  document.getElementById("batches-note").textContent = shown.length
    ? (page === 0 ? "newest " + shown.length : (first + 1) + "–" + (first + shown.length)) + " of " + retained + " retained"
    : page === 0 ? "none yet" : "none on this page";
  document.getElementById("newer").disabled = page === 0;
  document.getElementById("older").disabled = first + TABLE_BATCHES >= retained;
}

function renderReceivers(receivers) {
  const body = document.querySelector("#receivers tbody");
  body.replaceChildren();
  for (const r of receivers) {
    const row = el("tr", { class: "receiver-row" });
    cell(row, r.streamName);
    cell(row, r.type);
    cell(row, fmtRate(r.avgEventRate), "num");
    const last = r.eventRates.length ? r.eventRates[r.eventRates.length - 1][1] : null;
    cell(row, fmtRate(last), "num");
    let limit = "none";
    if (r.rateLimit !== undefined) limit = fmtRate(r.rateLimit) + "/s";
    cell(row, limit, "num", r.maxRate !== undefined ? "max_rate " + fmtRate(r.maxRate) : "");
    cell(row, r.backpressure ? "on" : "off");
    cell(row, fmtInt(r.numRecords), "num");
    if (r.lastErrorMessage) {
      cell(row, r.lastErrorMessage, "err wrap", r.lastErrorTime);
    } else {
      cell(row, "–");
    }
    body.appendChild(row);
  }
}

function renderPlugins(plugins) {
  const body = document.querySelector("#plugins tbody");
  body.replaceChildren();
  for (const p of plugins) {
    const row = el("tr", { class: "plugin-row" });
    cell(row, p.name);
    const version = el("td");
    version.appendChild(el("code", {}, p.version));
    if (!p.current) version.appendChild(el("span", { class: "note" }, " (replaced)"));
    row.appendChild(version);
    cell(row, fmtInt(p.calls), "num");
    cell(row, fmtMs(p.time), "num");
    const failures = Object.entries(p.failures);
    const total = failures.reduce((s, [, n]) => s + n, 0);
    cell(row, fmtInt(total), "num" + (total ? " err" : ""), failures.map(([k, n]) => k + ": " + n).join(", "));
    cell(row, p.functions.join(", "), "wrap");
    body.appendChild(row);
  }
}

// A stage's records out; a combined flat_map's are pairs already added up per key.
function stageOut(row, s) {
  if (s.combined) {
    cell(row, fmtInt(s.outputRecords) + " pairs, combined", "num",
      "the plugin added up its pairs per key in the same call (#[flat_map(combine)]): one per distinct key and partition");
  } else {
    cell(row, fmtInt(s.outputRecords), "num");
  }
}

function renderStages(batches) {
  const body = document.querySelector("#stages tbody");
  body.replaceChildren();
  const last = batches[batches.length - 1];
  if (!last) return;
  const total = last.stages.reduce((s, st) => s + st.time, 0) || 1;
  for (const s of last.stages) {
    const row = el("tr", { class: "stage-row" });
    cell(row, s.name);
    cell(row, fmtInt(s.inputRecords), "num");
    stageOut(row, s);
    cell(row, fmtMs(s.time), "num");
    const bar = el("td", { class: "bar-cell" });
    bar.appendChild(el("div", { class: "bar", style: "width:" + ((100 * s.time) / total).toFixed(1) + "%" }));
    row.appendChild(bar);
    body.appendChild(row);
  }
}

function setStatus(kind, text) {
  const status = document.getElementById("status");
  status.className = "status " + kind;
  status.textContent = text;
}

function render(stats, batches, receivers, plugins, tablePage) {
  document.getElementById("pipeline").textContent = stats.pipeline;
  document.title = "sluice · " + stats.pipeline;
  const interval = stats.batchDuration;
  showMillis = interval % 1000 !== 0;
  const limitOf = (b) => {
    const limits = Object.values(b.rateLimits || {});
    return limits.length && limits.length === Object.keys(b.inputSizes).length
      ? (limits.reduce((s, l) => s + l, 0)) : null;
  };
  const series = [
    ["chart-input", (b) => (b.inputSize * 1000) / interval, { tick: fmtRate, limit: limitOf }],
    ["chart-scheduling", (b) => b.schedulingDelay, { tick: fmtMs, axis: msAxis, interval }],
    ["chart-processing", (b) => b.processingTime, { tick: fmtMs, axis: msAxis, interval }],
    ["chart-total", (b) => b.totalDelay, { tick: fmtMs, axis: msAxis, interval }],
  ];
  for (const [id, value, opts] of series) {
    drawHistogram(id, batches.map(value), drawChart(id, batches, value, opts));
  }
  renderSummary(stats, batches);
  renderBatches(tablePage || batches.slice(-TABLE_BATCHES).reverse(), stats.numRetainedCompletedBatches);
  renderReceivers(receivers);
  renderPlugins(plugins);
  renderStages(batches);
  renderStatus(stats);
}

function renderStatus(stats) {
  const started = Date.parse(stats.startTime.replace("GMT", "Z"));
  const label = stats.status === "RUNNING" ? "running for " + fmtDuration(Date.now() - started) : stats.status.toLowerCase();
  setStatus(stats.status.toLowerCase(), label);
}

async function getJson(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok) throw new Error(path + " answered " + response.status);
  return response.json();
}

// The batch a `#batch/ID` address asks for, if any.
function detailId() {
  const m = /^#batch\/(\d+)$/.exec(location.hash);
  return m ? m[1] : null;
}

function table(headers, rows, id) {
  const t = el("table", id ? { id } : {});
  const head = el("tr");
  for (const h of headers) head.appendChild(el("th", h.startsWith("#") ? { class: "num" } : {}, h.replace(/^#/, "")));
  const thead = el("thead");
  thead.appendChild(head);
  t.appendChild(thead);
  const body = el("tbody");
  for (const r of rows) body.appendChild(r);
  t.appendChild(body);
  return t;
}

function renderDetail(stats, b, operations) {
  const box = document.getElementById("batch-detail");
  box.replaceChildren();
  const back = el("a", { href: "#", class: "back" }, "← all batches");
  box.appendChild(back);
  const title = el("h2", {}, "Batch " + fmtTime(b.batchId) + " ");
  title.appendChild(el("code", {}, String(b.batchId)));
  title.appendChild(el("span", { class: "verdict " + (b.firstFailureReason ? "err" : "ok") }, b.firstFailureReason ? " failed" : " succeeded"));
  box.appendChild(title);
  if (b.firstFailureReason) {
    const failure = el("div", { id: "batch-failure", class: "failure" });
    failure.appendChild(el("h3", {}, "Why it failed"));
    failure.appendChild(el("pre", {}, b.firstFailureReason));
    failure.appendChild(el("p", { class: "note" }, "Nothing of this batch was written to the sinks: a batch's output is all or nothing." +
      (b.deadLetters ? " Its " + fmtInt(b.deadLetters) + " input records were set aside as dead letters." : "")));
    box.appendChild(failure);
  }
  const cards = el("section", { class: "cards" });
  cards.appendChild(card("Input size", fmtInt(b.inputSize), "records"));
  cards.appendChild(card("Output", fmtInt(b.outputSize), "records written"));
  cards.appendChild(card("Scheduling delay", fmtMs(b.schedulingDelay)));
  cards.appendChild(card("Processing time", fmtMs(b.processingTime)));
  cards.appendChild(card("Total delay", fmtMs(b.totalDelay)));
  cards.appendChild(card("Dead letters", fmtInt(b.deadLetters), "records set aside", b.deadLetters ? "bad" : ""));
  cards.appendChild(card("Partitions", fmtInt(stats.numPartitions), "per stage"));
  cards.appendChild(card("Queued after", fmtInt(b.queuedAfter), "batches waiting"));
  box.appendChild(cards);

  box.appendChild(el("h3", {}, "Input"));
  box.appendChild(table(["Source", "#Records", "#Rate limit"], Object.entries(b.inputSizes).map(([source, n]) => {
    const row = el("tr");
    cell(row, source);
    cell(row, fmtInt(n), "num");
    const limit = (b.rateLimits || {})[source];
    cell(row, limit === undefined ? "none" : fmtRate(limit) + "/s", "num");
    return row;
  })));

  box.appendChild(el("h3", {}, "Stages"));
  const stageRows = b.stages.map((s) => {
    const row = el("tr", { class: "stage-row" });
    cell(row, s.name);
    cell(row, fmtInt(s.inputRecords), "num");
    stageOut(row, s);
    cell(row, fmtMs(s.time), "num");
    return row;
  });
  if (stageRows.length === 0) {
    const row = el("tr", { class: "stage-none" });
    row.appendChild(el("td", { colspan: "4", class: "note" },
      b.firstFailureReason ? "no stage figures: the batch failed before its stages finished (why is above)" : "no stages"));
    stageRows.push(row);
  }
  box.appendChild(table(["Stage", "#Records in", "#Records out", "#Time"], stageRows, "detail-stages"));

  box.appendChild(el("h3", {}, "Plugin versions"));
  box.appendChild(table(["Plugin", "Version", "#Calls", "#Time", "#Failures"], b.plugins.map((p) => {
    const row = el("tr");
    cell(row, p.name);
    const version = el("td");
    version.appendChild(el("code", {}, p.version));
    row.appendChild(version);
    cell(row, fmtInt(p.calls), "num");
    cell(row, fmtMs(p.time), "num");
    const failures = Object.entries(p.failures);
    const total = failures.reduce((s, [, n]) => s + n, 0);
    cell(row, failures.length ? failures.map(([k, n]) => k + ": " + n).join(", ") : "0", "num" + (total ? " err" : ""));
    return row;
  })));

  box.appendChild(el("h3", {}, "Output operations"));
  box.appendChild(table(["Sink", "Status"], operations.map((o) => {
    const row = el("tr");
    cell(row, o.name);
    if (o.failureReason) cell(row, "not written", "err"); else cell(row, "written", "ok");
    return row;
  })));
}

async function refreshDetail(id) {
  document.getElementById("overview").hidden = true;
  const box = document.getElementById("batch-detail");
  box.hidden = false;
  const stats = await getJson("/api/v1/statistics");
  document.getElementById("pipeline").textContent = stats.pipeline;
  renderStatus(stats);
  const response = await fetch("/api/v1/batches/" + id, { cache: "no-store" });
  if (response.status === 404) {
    box.replaceChildren(el("a", { href: "#", class: "back" }, "← all batches"),
      el("p", { class: "note" }, "Batch " + id + " is no longer retained (the newest " + stats.numRetainedCompletedBatches + " are)."));
    return;
  }
  if (!response.ok) throw new Error("/api/v1/batches/" + id + " answered " + response.status);
  const batch = await response.json();
  const app = encodeURIComponent(stats.pipeline);
  const operations = await getJson("/api/v1/applications/" + app + "/streaming/batches/" + id + "/operations");
  renderDetail(stats, batch, operations);
  document.title = "sluice · " + stats.pipeline + " · batch " + fmtTime(batch.batchId);
}

async function refreshOverview() {
  document.getElementById("batch-detail").hidden = true;
  document.getElementById("overview").hidden = false;
  const requests = [
    getJson("/api/v1/statistics"),
    getJson("/api/v1/batches?limit=" + CHART_BATCHES),
    getJson("/api/v1/receivers"),
    getJson("/api/v1/plugins"),
  ];
  if (page > 0) requests.push(getJson("/api/v1/batches?offset=" + page * TABLE_BATCHES + "&limit=" + TABLE_BATCHES));
  const [stats, batches, receivers, plugins, tablePage] = await Promise.all(requests);
  render(stats, batches.reverse(), receivers, plugins, tablePage);
}

let timer = null;

async function refresh() {
  clearTimeout(timer);
  try {
    const id = detailId();
    if (id) await refreshDetail(id); else await refreshOverview();
  } catch (e) {
    setStatus("disconnected", "disconnected: " + e.message);
  } finally {
    timer = setTimeout(refresh, REFRESH_MS);
  }
}

document.getElementById("newer").addEventListener("click", () => { page = Math.max(0, page - 1); refresh(); });
document.getElementById("older").addEventListener("click", () => { page += 1; refresh(); });
window.addEventListener("hashchange", refresh);
refresh();
