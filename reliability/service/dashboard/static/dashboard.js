// The rledger dashboard: fetches the /v1/... JSON (or reads the data inlined by `rledger report --html`),
// draws tables and uPlot charts, and follows the event stream. Numbers are shown as the API gives
// them: a metric without data says so, it is never drawn as 0.
(function () {
  "use strict";
  const EMBED = document.getElementById("rledger-data");
  const FILE = EMBED ? JSON.parse(EMBED.textContent) : null;
  const app = document.getElementById("app");
  const live = document.getElementById("live");
  // The token lives in this page's memory only (never in storage): a reload asks for it again.
  let token = null;
  const state = { sort: { key: "agent", dir: 1 }, filters: { agent: "", outcome: "", since: "", minCost: "" } };
  const METRICS = [
    ["svr", "SVR", "step verification rate", "pct", "svr_min", ">"],
    ["cr", "CR", "compensation rate", "pct", "cr_max", "<"],
    ["pc", "PC", "plan churn", "num", "pc_max", "<"],
    ["hir", "HIR", "human intervention rate", "pct", "hir_max", "<"],
    ["ma", "MA", "mode adherence", "pct", "ma_min", ">"],
    ["tcl", "TCL", "tool call latency (mean)", "ms", null, null],
    ["wct", "WCT", "workflow completion time (mean)", "ms", null, null],
  ];
  const PAGES = [["#/", "Overview"], ["#/agents", "Agents"], ["#/workflows", "Workflows"],
    ["#/costs", "Costs"], ["#/breakers", "Breakers & alerts"]];

  class AuthNeeded extends Error {}
  class NotIncluded extends Error {}

  // -- data ------------------------------------------------------------------------------------
  function fromFile(path) {
    if (path.startsWith("/v1/report")) return FILE.report;
    if (path === "/v1/series") return FILE.series;
    if (path === "/v1/signals") return FILE.signals;
    if (path.startsWith("/v1/workflows?")) return FILE.workflows;
    const cp = path.match(/^\/v1\/events\?type=CheckpointMarked&workflow=(.+)$/);
    if (cp) return (FILE.checkpoints || {})[decodeURIComponent(cp[1])] || [];
    const m = path.match(/^\/v1\/workflows\/([^/]+)\/trail$/);
    if (m) {
      const trail = FILE.trails[decodeURIComponent(m[1])];
      if (!trail) throw new NotIncluded("this report does not include that workflow");
      return trail;
    }
    throw new NotIncluded("not part of this report: " + path);
  }

  async function api(path) {
    if (FILE) return fromFile(path);
    const headers = token ? { Authorization: "Bearer " + token } : {};
    const r = await fetch(path, { headers });
    if (r.status === 401 || r.status === 403) throw new AuthNeeded((await r.json()).error);
    if (!r.ok) throw new Error(path + ": HTTP " + r.status + " " + (await r.text()));
    return r.json();
  }

  async function checkpoints(id) {
    const path = "/v1/events?type=CheckpointMarked&workflow=" + encodeURIComponent(id);
    if (FILE) return fromFile(path);
    const headers = token ? { Authorization: "Bearer " + token } : {};
    const r = await fetch(path, { headers });
    if (!r.ok) throw new Error(path + ": HTTP " + r.status);
    return (await r.text()).split("\n").filter((l) => l).map((l) => JSON.parse(l));
  }

  async function allWorkflows() {
    if (FILE) return FILE.workflows.workflows;
    const out = [];
    let after = 0;
    for (;;) {
      const page = await api("/v1/workflows?limit=10000&after=" + after);
      out.push(...page.workflows);
      if (page.next_after === null) return out;
      after = page.next_after;
    }
  }

  // -- formatting ------------------------------------------------------------------------------
  const NO_DATA = "no data";
  function fmt(v, kind) {
    if (v === null || v === undefined) return NO_DATA;
    if (kind === "pct") return (v * 100).toFixed(2) + "%";
    if (kind === "ms") return v < 1000 ? v.toFixed(1) + " ms" : v < 120000 ? (v / 1000).toFixed(2) + " s"
      : v < 7200000 ? (v / 60000).toFixed(1) + " min" : (v / 3600000).toFixed(2) + " h";
    if (kind === "int") return String(v);
    return Number(v).toFixed(2);
  }
  function money(v, currency) {
    return v === null || v === undefined ? NO_DATA : v + " " + (currency || "");
  }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }
  function json(v) {
    const s = JSON.stringify(v, null, 1);
    return s === undefined ? "" : s.length > 600 ? s.slice(0, 600) + " …" : s;
  }
  function num(key, value, text) {
    const raw = value === null || value === undefined ? "null" : String(value);
    return `<span class="num${raw === "null" ? " nodata" : ""}" data-key="${esc(key)}" data-value="${esc(raw)}">${esc(text)}</span>`;
  }
  function time(iso) { return iso ? esc(iso.replace("T", " ").replace(/\.\d+/, "").replace("+00:00", "Z")) : "—"; }
  function link(hash, text) { return `<a href="${esc(hash)}">${esc(text)}</a>`; }
  function target(report, m) {
    if (!m[4]) return "";
    const t = report.metrics.targets[m[4]];
    return `target ${m[5]} ${fmt(t, m[3])}`;
  }

  // -- charts (uPlot) --------------------------------------------------------------------------
  const PALETTE = ["#2f7ed8", "#e4572e", "#29a329", "#a23b72", "#f3a712", "#17becf", "#8c564b", "#7f7f7f"];
  function cssVar(name) { return getComputedStyle(document.body).getPropertyValue(name).trim(); }
  function chart(el, times, series, opts) {
    opts = opts || {};
    const small = !!opts.small;
    const width = Math.max(120, el.clientWidth || 300);
    const axis = { stroke: cssVar("--fg"), grid: { stroke: cssVar("--grid") }, ticks: { stroke: cssVar("--grid") } };
    const config = {
      width, height: opts.height || (small ? 36 : 160),
      legend: { show: !small && opts.legend !== false && series.length > 1 }, cursor: { show: !small },
      scales: { x: { time: true } },
      axes: small ? [{ show: false }, { show: false }] : [axis, { ...axis, size: 56 }],
      series: [{}, ...series.map((s, i) => ({
        label: s.label, stroke: s.color || PALETTE[i % PALETTE.length], width: s.dash ? 1 : 2,
        dash: s.dash, spanGaps: false, points: { show: !small && times.length < 40 }, paths: s.paths,
      }))],
    };
    el.innerHTML = "";
    return new uPlot(config, [times, ...series.map((s) => s.values)], el);
  }
  function hasData(values) { return values.some((v) => v !== null && v !== undefined); }
  function metricChart(el, series, values, m, report) {
    if (!series.times.length || !hasData(values)) { el.innerHTML = `<p class="muted">${NO_DATA} to chart</p>`; return; }
    const lines = [{ label: m[1], values }];
    if (m[4]) lines.push({ label: "target", values: series.times.map(() => report.metrics.targets[m[4]]), color: "#999", dash: [4, 4] });
    chart(el, series.times, lines, { legend: false });
  }

  // -- pages -----------------------------------------------------------------------------------
  async function overview() {
    const [report, series, signals] = await Promise.all([api("/v1/report"), api("/v1/series"), api("/v1/signals")]);
    const h = report.health;
    const verdict = h.healthy === true ? ["ok", "Healthy"] : h.healthy === false ? ["bad", "Unhealthy"] : ["none", "No verdict: nothing was measured"];
    const cards = METRICS.map((m) => `<section class="card metric" data-metric="${m[0]}"><h3 title="${esc(m[2])}">${m[1]}</h3>
      <div class="big">${num("metrics." + m[0], report.metrics[m[0]], fmt(report.metrics[m[0]], m[3]))}</div>
      <div class="muted">${esc(m[2])} ${esc(target(report, m))}</div><div class="chart" id="chart-${m[0]}"></div></section>`).join("");
    const slo = report.slo;
    const budgets = report.costs.budgets.map((b) => `<tr><td>${esc(b.name)}</td><td>${num("budget." + b.name + ".spend", b.spend, money(b.spend, b.currency))}</td>
      <td>${esc(b.limit)} ${esc(b.currency)}</td><td>${esc(b.reserved)}</td><td>${b.period_hours === null ? "all time" : esc(b.period_hours) + " h"}</td>
      <td class="${b.within_budget ? "ok" : "bad"}">${b.within_budget ? "within" : "over: " + esc(b.breaches.join(", "))}</td></tr>`).join("");
    const open = signals.breakers.filter((b) => b.state !== "closed");
    app.innerHTML = `<h1>Overview</h1>
      <section class="verdict ${verdict[0]}" id="verdict"><strong>${verdict[1]}</strong>
        ${h.violations.map((v) => `<div>${esc(v)}</div>`).join("")}
        ${h.insufficient_data.length ? `<div class="muted">no data: ${esc(h.insufficient_data.join(", "))}</div>` : ""}</section>
      <div class="grid">${cards}</div>
      <div class="grid two">
      <section class="card"><h2>SLOs</h2><table><tr><th>SLO</th><th>value</th><th>target</th></tr>
        <tr><td>MTTE p95</td><td>${num("slo.mtte_p95_ms", slo.mtte_p95_ms, fmt(slo.mtte_p95_ms, "ms"))}</td><td>&le; ${fmt(slo.targets.mtte_p95_ms, "ms")}</td></tr>
        <tr><td>RSR</td><td>${num("slo.rsr", slo.rsr, fmt(slo.rsr, "pct"))}</td><td>&ge; ${fmt(slo.targets.rsr_min, "pct")}</td></tr></table>
        ${h.slo_violations.map((v) => `<div class="bad">${esc(v)}</div>`).join("")}</section>
      <section class="card"><h2>Spend</h2><p>${num("costs.total_cost", report.costs.total_cost, money(report.costs.total_cost, report.costs.currency))} in total</p>
        ${budgets ? `<table><tr><th>budget</th><th>spend</th><th>limit</th><th>reserved</th><th>window</th><th></th></tr>${budgets}</table>` : '<p class="muted">no budgets set</p>'}</section>
      <section class="card"><h2>Open breakers</h2>${open.length ? `<ul>${open.map((b) => `<li class="bad">${esc(b.breaker)}: ${esc(b.state)} since ${time(b.since)}</li>`).join("")}</ul>` : '<p class="muted">none open</p>'}</section>
      <section class="card"><h2>Latest alerts</h2>${alertTable(signals.alerts.slice(0, 5))}</section></div>`;
    METRICS.forEach((m) => metricChart(document.getElementById("chart-" + m[0]), series, series.metrics[m[0]], m, report));
  }

  function alertTable(alerts) {
    if (!alerts.length) return '<p class="muted">no alerts</p>';
    return `<table class="alerts"><tr><th>severity</th><th>alert</th><th>source</th><th>at</th><th>delivery</th></tr>${alerts.map((a) => `<tr>
      <td class="sev ${esc(a.severity)}">${esc(a.severity)}${a.suppressed ? " (suppressed)" : ""}</td><td>${esc(a.title)}</td><td>${esc(a.source)}</td><td>${time(a.at)}</td>
      <td>${a.deliveries.length ? a.deliveries.map((d) => `${esc(d.channel)} ${d.success ? "✓" : "✗ " + esc(d.error || "")}`).join(", ") : '<span class="muted">not delivered</span>'}${a.acknowledged_by ? " · ack " + esc(a.acknowledged_by) : ""}</td></tr>`).join("")}</table>`;
  }

  async function agents() {
    const [report, series] = await Promise.all([api("/v1/report"), api("/v1/series")]);
    const rows = Object.entries(report.metrics.agent_metrics).map(([agent, a]) => ({
      agent, steps: a.total_steps, svr: a.svr, cr: a.cr, ma: a.ma, tcl: a.tcl,
      cost: report.costs.cost_by_agent[agent] === undefined ? null : Number(report.costs.cost_by_agent[agent]),
      costText: report.costs.cost_by_agent[agent],
    }));
    const cols = [["agent", "agent"], ["steps", "steps"], ["svr", "SVR"], ["cr", "CR"], ["ma", "MA"], ["tcl", "tool latency"], ["cost", "cost"]];
    function draw() {
      const { key, dir } = state.sort;
      rows.sort((x, y) => {
        const a = x[key], b = y[key];
        if (a === b) return 0;
        if (a === null) return 1;
        if (b === null) return -1;
        return (a < b ? -1 : 1) * dir;
      });
      app.innerHTML = `<h1>Agents</h1><div class="scroll"><table id="agents" class="sortable"><thead><tr>${cols.map(([k, t]) => `<th data-sort="${k}">${t}${k === key ? (dir > 0 ? " ▲" : " ▼") : ""}</th>`).join("")}<th>SVR by ${series.bucket_seconds === 86400 ? "day" : "hour"}</th></tr></thead><tbody>
      ${rows.map((r) => `<tr data-agent="${esc(r.agent)}"><td>${link("#/agents/" + encodeURIComponent(r.agent), r.agent)}</td>
        <td>${num("agent." + r.agent + ".total_steps", r.steps, fmt(r.steps, "int"))}</td>
        <td>${num("agent." + r.agent + ".svr", r.svr, fmt(r.svr, "pct"))}</td><td>${num("agent." + r.agent + ".cr", r.cr, fmt(r.cr, "pct"))}</td>
        <td>${num("agent." + r.agent + ".ma", r.ma, fmt(r.ma, "pct"))}</td><td>${num("agent." + r.agent + ".tcl", r.tcl, fmt(r.tcl, "ms"))}</td>
        <td>${num("agent." + r.agent + ".cost", r.costText === undefined ? null : r.costText, money(r.costText, report.costs.currency))}</td>
        <td class="spark"></td></tr>`).join("")}</tbody></table></div>`;
      app.querySelectorAll("th[data-sort]").forEach((th) => th.addEventListener("click", () => {
        const k = th.dataset.sort;
        state.sort = { key: k, dir: state.sort.key === k ? -state.sort.dir : 1 };
        draw();
      }));
      app.querySelectorAll("tr[data-agent]").forEach((tr) => {
        const s = series.agents[tr.dataset.agent];
        const cell = tr.querySelector(".spark");
        if (s && hasData(s.svr)) chart(cell, series.times, [{ label: "SVR", values: s.svr }], { small: true });
        else cell.innerHTML = `<span class="muted">${NO_DATA}</span>`;
      });
    }
    draw();
  }

  async function agent(name) {
    const [report, series, signals] = await Promise.all([api("/v1/report"), api("/v1/series"), api("/v1/signals")]);
    const a = report.metrics.agent_metrics[name];
    if (!a) { app.innerHTML = `<h1>${esc(name)}</h1><p class="muted">no steps recorded by this agent</p>`; return; }
    const s = series.agents[name] || {};
    const shown = [["svr", "SVR", "pct"], ["cr", "CR", "pct"], ["ma", "MA", "pct"], ["tcl", "tool latency", "ms"], ["total_steps", "steps", "int"]];
    const violations = signals.violations[name] || [];
    app.innerHTML = `<h1>Agent ${esc(name)}</h1><div class="grid">${shown.map(([k, t, kind]) => `<section class="card"><h3>${t}</h3>
      <div class="big">${num("agent." + k, a[k], fmt(a[k], kind))}</div><div class="chart" id="a-${k}"></div></section>`).join("")}</div>
      <section class="card"><h2>Mode violations (${num("violations", signals.violation_counts[name] || 0, String(signals.violation_counts[name] || 0))})</h2>
      ${violations.length ? `<div class="scroll"><table><tr><th>at</th><th>workflow</th><th>declared mode</th><th>attempted</th><th>type</th></tr>${violations.slice(0, 100).map((v) => `<tr><td>${time(v.at)}</td>
        <td>${v.workflow_id ? link("#/workflows/" + encodeURIComponent(v.workflow_id), v.workflow_id) : "—"}</td><td>${esc(v.declared_mode)}</td><td>${esc(v.attempted_action)}</td><td>${esc(v.violation_type || "")}</td></tr>`).join("")}</table></div>` : '<p class="muted">none</p>'}</section>`;
    shown.forEach(([k, t]) => {
      const el = document.getElementById("a-" + k);
      if (s[k] && hasData(s[k])) chart(el, series.times, [{ label: t, values: s[k] }]);
      else el.innerHTML = `<p class="muted">${NO_DATA} to chart</p>`;
    });
  }

  async function workflows() {
    const [list, report] = await Promise.all([allWorkflows(), api("/v1/report")]);
    const f = state.filters;
    const agentsKnown = Object.keys(report.metrics.agent_metrics).sort();
    const total = FILE ? FILE.workflows.total : list.length;
    app.innerHTML = `<h1>Workflows</h1>${FILE ? `<p class="muted">${list.length} of ${total} workflows are in this report</p>` : ""}
      <form id="filters" class="filters"><label>agent <select name="agent"><option value="">any</option>${agentsKnown.map((a) => `<option${a === f.agent ? " selected" : ""}>${esc(a)}</option>`).join("")}</select></label>
      <label>outcome <select name="outcome"><option value="">any</option>${["running", "succeeded", "failed"].map((o) => `<option${o === f.outcome ? " selected" : ""}>${o}</option>`).join("")}</select></label>
      <label>started since <input name="since" placeholder="2026-01-31T12:00" value="${esc(f.since)}"></label>
      <label>cost at least <input name="minCost" inputmode="decimal" value="${esc(f.minCost)}"></label></form>
      <p id="wf-count" class="muted"></p><div class="scroll"><table id="workflows"><thead><tr><th>workflow</th><th>outcome</th><th>agents</th><th>started</th><th>steps</th><th>failed</th><th>cost</th></tr></thead><tbody></tbody></table></div>`;
    const form = document.getElementById("filters");
    function draw() {
      const since = f.since ? Date.parse(f.since.length <= 16 ? f.since + "Z" : f.since) : null;
      const min = f.minCost ? Number(f.minCost) : null;
      const rows = list.filter((w) => (!f.agent || (w.agents || []).includes(f.agent)) && (!f.outcome || w.outcome === f.outcome)
        && (since === null || isNaN(since) || (w.started_at && Date.parse(w.started_at) >= since)) && (min === null || isNaN(min) || Number(w.cost) >= min)).reverse();
      document.getElementById("wf-count").textContent = `${rows.length} workflows${rows.length > 500 ? ", the newest 500 shown" : ""}`;
      app.querySelector("#workflows tbody").innerHTML = rows.slice(0, 500).map((w) => `<tr data-workflow="${esc(w.workflow_id)}"><td>${link("#/workflows/" + encodeURIComponent(w.workflow_id), w.workflow_id)}${w.replay_of ? ` <span class="muted">replay of ${esc(w.replay_of)}</span>` : ""}</td>
        <td class="${w.outcome === "failed" ? "bad" : w.outcome === "succeeded" ? "ok" : ""}">${esc(w.outcome)}</td><td>${esc((w.agents || []).join(", "))}</td><td>${time(w.started_at)}</td>
        <td>${w.steps}</td><td>${w.failed_steps}</td><td>${esc(w.cost)}${w.unpriced_costs ? ` <span class="warn">+${w.unpriced_costs} unpriced</span>` : ""}</td></tr>`).join("");
    }
    form.addEventListener("input", () => { for (const k of Object.keys(f)) f[k] = form.elements[k].value; draw(); });
    form.addEventListener("submit", (e) => e.preventDefault());
    draw();
  }

  function toolRows(calls) {
    return calls.map((c) => `<tr class="${c.success === false ? "bad" : ""}"><td>${c.call_index ?? ""}</td><td>${esc(c.tool)}</td><td><pre>${esc(json(c.arguments))}</pre></td>
      <td><pre>${esc(c.error ? "error: " + c.error : json(c.result))}</pre></td><td>${fmt(c.duration_ms, "ms")}</td></tr>`).join("");
  }

  async function workflow(id) {
    const [trail, signals, marks] = await Promise.all([api("/v1/workflows/" + encodeURIComponent(id) + "/trail"), api("/v1/signals"), checkpoints(id)]);
    const byGrade = { verified: [], claimed: [], inferred: [] };
    trail.evidence.forEach((e) => (byGrade[e.confidence] || (byGrade[e.confidence] = [])).push(e));
    const unbacked = new Set(trail.unbacked_claims || []);
    const replays = signals.replays[id] || [];
    app.innerHTML = `<h1>Workflow ${esc(id)}</h1>
      <section class="card"><p>${esc(trail.goal || "")}</p><table class="facts">
        <tr><th>outcome</th><td class="${trail.success ? "ok" : trail.completed ? "bad" : ""}">${trail.completed ? (trail.success ? "succeeded" : "failed") : "running"}</td></tr>
        <tr><th>duration</th><td>${fmt(trail.duration_ms, "ms")}</td></tr><tr><th>tokens</th><td>${trail.tokens}</td></tr>
        <tr><th>cost</th><td>${num("trail.cost", trail.cost, trail.cost)}${trail.unpriced_cost_events ? ` <span class="warn">+${trail.unpriced_cost_events} unpriced</span>` : ""}</td></tr>
        <tr><th>checkpoint</th><td>${trail.checkpoint ? esc(json(trail.checkpoint)) : "whole run"}</td></tr>
        <tr><th>inputs</th><td><pre>${esc(json(trail.inputs))}</pre></td></tr><tr><th>result</th><td><pre>${esc(json(trail.outcome))}</pre></td></tr></table></section>
      <section class="card"><h2>Steps (${trail.steps.length})</h2><div class="scroll"><table id="steps"><tr><th>#</th><th>agent</th><th>mode</th><th>result</th></tr>${trail.steps.map((s) => `<tr class="${s.success ? "" : "bad"}"><td>${s.offset}</td><td>${esc(s.agent)}</td>
        <td>${esc(s.mode || "")}${s.declared_mode && s.declared_mode !== s.mode ? ` (declared ${esc(s.declared_mode)})` : ""}</td><td>${s.success ? "ok" : "failed: " + esc(s.error || "")}</td></tr>`).join("")}</table></div></section>
      <section class="card"><h2>Tool calls (${trail.tool_calls.length})</h2><div class="scroll"><table id="tools"><tr><th>#</th><th>tool</th><th>arguments</th><th>result / error</th><th>duration</th></tr>${toolRows(trail.tool_calls)}</table></div></section>
      <section class="card"><h2>Evidence</h2>${["verified", "claimed", "inferred"].map((g) => `<div class="grade" data-grade="${g}"><h3>${g} (<span class="count">${byGrade[g].length}</span>)</h3>
        ${byGrade[g].length ? `<ul>${byGrade[g].map((e) => `<li><strong>${esc(e.type)}</strong> from <em>${esc(e.source)}</em>${e.agent ? " by " + esc(e.agent) : ""} at ${time(e.timestamp)}${e.based_on.length ? ` · based on ${e.based_on.length}` : ""}${unbacked.has(e.id) ? ' <span class="warn">unbacked</span>' : ""}<pre>${esc(json(e.content))}</pre></li>`).join("")}</ul>` : '<p class="muted">none</p>'}</div>`).join("")}
        <h3>Unbacked claims (<span id="unbacked">${unbacked.size}</span>)</h3><p class="muted">claims that cite no verified evidence, directly or through an inference</p></section>
      <section class="card" id="checkpoints"><h2>Checkpoints (${marks.length})</h2>${marks.length ? `<table><tr><th>offset</th><th>at</th><th>checkpoint</th><th>label</th></tr>${marks.map((c) => `<tr><td>${c.offset}</td><td>${time(c.occurred_at)}</td><td><code>${esc(c.checkpoint_id)}</code></td><td>${esc(c.label || "")}</td></tr>`).join("")}</table><p class="muted">a trail can be cut at any of them: <code>/v1/workflows/${esc(id)}/trail?checkpoint=ID</code></p>` : '<p class="muted">no checkpoints marked</p>'}</section>
      <section class="card"><h2>Plan and state</h2>${trail.plan.length ? `<ol>${trail.plan.map((p) => `<li>${esc(p)}</li>`).join("")}</ol>` : '<p class="muted">no plan recorded</p>'}
        ${trail.state_changes.map(([k, v]) => `<div><code>${esc(k)}</code> = <code>${esc(json(v))}</code></div>`).join("")}</section>
      <section class="card" id="replays"><h2>Replays (${replays.length})</h2>${replays.length ? `<table><tr><th>at</th><th>mode</th><th>result</th><th>differences</th><th>critical</th><th>run</th></tr>${replays.map((r) => `<tr><td>${time(r.at)}</td><td>${esc(r.replay_mode)}</td>
        <td class="${r.success ? "ok" : "bad"}">${r.success ? "ok" : "failed" + (r.error ? ": " + esc(r.error) : "")}</td><td>${r.differences}</td><td>${r.critical_differences}</td><td>${r.replay_workflow_id ? esc(r.replay_workflow_id) : "—"}</td></tr>`).join("")}</table><div id="sidebyside"></div>` : '<p class="muted">never replayed</p>'}</section>`;
    const runs = replays.filter((r) => r.replay_workflow_id);
    const box = document.getElementById("sidebyside");
    for (const r of runs.slice(-3)) {
      let other;
      try { other = await api("/v1/workflows/" + encodeURIComponent(r.replay_workflow_id) + "/trail"); } catch (e) { continue; }
      const n = Math.max(trail.tool_calls.length, other.tool_calls.length);
      const rows = [];
      for (let i = 0; i < n; i++) {
        const a = trail.tool_calls[i], b = other.tool_calls[i];
        const same = a && b && a.tool === b.tool && JSON.stringify(a.arguments) === JSON.stringify(b.arguments) && JSON.stringify(a.result) === JSON.stringify(b.result) && a.error === b.error;
        const cell = (c) => c ? `<strong>${esc(c.tool)}</strong><pre>${esc(json(c.arguments))}</pre><pre>${esc(c.error ? "error: " + c.error : json(c.result))}</pre>` : '<span class="muted">—</span>';
        rows.push(`<tr class="${same ? "" : "differs"}"><td>${i}</td><td>${cell(a)}</td><td>${cell(b)}</td></tr>`);
      }
      box.insertAdjacentHTML("beforeend", `<h3>${esc(r.replay_mode)} replay ${esc(r.replay_workflow_id)}: tool calls side by side</h3><div class="scroll"><table class="side"><tr><th>#</th><th>recorded</th><th>replay</th></tr>${rows.join("")}</table></div>`);
    }
  }

  async function costs() {
    const [report, series] = await Promise.all([api("/v1/report"), api("/v1/series")]);
    const c = report.costs;
    const unpriced = new Set(c.unpriced_models);
    const models = [...new Set([...Object.keys(c.cost_by_model), ...c.unpriced_models])].sort();
    const table = (rows) => `<table>${rows.join("")}</table>`;
    const days = series.costs.days;
    app.innerHTML = `<h1>Costs</h1><p>${num("costs.total_cost", c.total_cost, money(c.total_cost, c.currency))} over ${c.workflows} workflows;
      ${c.priced_events} priced and ${num("costs.unpriced_events", c.unpriced_events, String(c.unpriced_events))} unpriced cost events (${c.unpriced_tokens} tokens at no known price: never counted as $0)</p>
      <div class="grid two"><section class="card"><h2>By model</h2>${table(["<tr><th>model</th><th>cost</th></tr>", ...models.map((m) => `<tr data-model="${esc(m)}"><td>${esc(m)}${unpriced.has(m) ? ' <span class="warn">unpriced</span>' : ""}</td>
        <td>${c.cost_by_model[m] === undefined ? '<span class="muted">no price</span>' : num("model." + m, c.cost_by_model[m], money(c.cost_by_model[m], c.currency))}</td></tr>`)])}</section>
      <section class="card"><h2>By agent</h2>${table(["<tr><th>agent</th><th>cost</th></tr>", ...Object.entries(c.cost_by_agent).map(([a, v]) => `<tr><td>${esc(a)}</td><td>${num("agentcost." + a, v, money(v, c.currency))}</td></tr>`)])}</section></div>
      <section class="card"><h2>By day</h2><div class="chart" id="cost-days"></div><div class="scroll">${table(["<tr><th>day</th><th>priced spend</th><th>unpriced events</th></tr>", ...days.map((d, i) => `<tr><td>${new Date(d * 1000).toISOString().slice(0, 10)}</td><td>${esc(series.costs.total[i])} ${esc(c.currency)}</td><td>${series.costs.unpriced_events[i]}</td></tr>`)])}</div></section>
      <section class="card"><h2>Budgets</h2>${c.budgets.length ? table(["<tr><th>budget</th><th>window</th><th>spend</th><th>reserved</th><th>limit</th><th></th></tr>", ...c.budgets.map((b) => `<tr data-budget="${esc(b.name)}"><td>${esc(b.name)}</td><td>${b.period_hours === null ? "all time" : "last " + esc(b.period_hours) + " h"}</td>
        <td>${num("budget." + b.name + ".spend", b.spend, money(b.spend, b.currency))}</td><td>${num("budget." + b.name + ".reserved", b.reserved, money(b.reserved, b.currency))}</td><td>${esc(b.limit)} ${esc(b.currency)}</td>
        <td class="${b.within_budget ? "ok" : "bad"}">${b.within_budget ? "within" : "over"}</td></tr>`)]) : '<p class="muted">no budgets set</p>'}</section>`;
    const el = document.getElementById("cost-days");
    if (days.length) chart(el, days, Object.entries(series.costs.by_model).map(([m, v]) => ({ label: m, values: v.map((x) => (x === null ? null : Number(x))) })));
    else el.innerHTML = `<p class="muted">${NO_DATA} to chart</p>`;
  }

  async function breakers() {
    const signals = await api("/v1/signals");
    const names = [...new Set(signals.transitions.map((t) => t.breaker))].sort();
    const LEVEL = { closed: 0, half_open: 1, open: 2 };
    app.innerHTML = `<h1>Breakers and alerts</h1><section class="card"><h2>Breaker states</h2>
      ${names.length ? `<div class="chart" id="breaker-timeline"></div><p class="muted">0 closed · 1 half open · 2 open</p><div class="scroll"><table id="transitions"><tr><th>at</th><th>breaker</th><th>from</th><th>to</th><th>reason</th></tr>${signals.transitions.slice().reverse().slice(0, 200).map((t) => `<tr><td>${time(t.at)}</td><td>${esc(t.breaker)}</td><td>${esc(t.from_state)}</td><td class="${t.to_state === "open" ? "bad" : ""}">${esc(t.to_state)}</td><td>${esc(t.reason || "")}</td></tr>`).join("")}</table></div>` : '<p class="muted">no breaker has changed state</p>'}</section>
      <section class="card"><h2>Alerts (${num("alert_count", signals.alert_count, String(signals.alert_count))})</h2><div class="scroll">${alertTable(signals.alerts)}</div></section>`;
    if (!names.length) return;
    const times = [...new Set(signals.transitions.map((t) => Date.parse(t.at) / 1000))].sort((a, b) => a - b);
    const lines = names.map((n) => {
      let level = null;
      const at = new Map(signals.transitions.filter((t) => t.breaker === n).map((t) => [Date.parse(t.at) / 1000, LEVEL[t.to_state]]));
      return { label: n, values: times.map((x) => (at.has(x) ? (level = at.get(x)) : level)), paths: uPlot.paths.stepped({ align: 1 }) };
    });
    chart(document.getElementById("breaker-timeline"), times, lines);
  }

  // -- routing, auth and the live stream -------------------------------------------------------
  function askToken(message) {
    app.innerHTML = `<h1>Token needed</h1><p>${esc(message)}</p><form id="token-form"><label>read token <input type="password" name="token" autocomplete="off"></label> <button>Open</button></form>
      <p class="muted">Kept in this page's memory only (a reload asks again); sent as a bearer token to this server.</p>`;
    document.getElementById("token-form").addEventListener("submit", (e) => {
      e.preventDefault();
      token = e.target.elements.token.value.trim();
      render();
      follow();
    });
  }

  let rendering = Promise.resolve();
  function render() {
    const hash = location.hash || "#/";
    document.getElementById("nav").innerHTML = PAGES.map(([h, t]) => `<a href="${h}"${(hash === h || (h !== "#/" && hash.startsWith(h))) ? ' class="here"' : ""}>${t}</a>`).join("");
    const parts = hash.slice(2).split("/").map(decodeURIComponent);
    const page = { "": overview, agents: parts[1] ? () => agent(parts[1]) : agents, workflows: parts[1] ? () => workflow(parts[1]) : workflows, costs, breakers }[parts[0]];
    rendering = rendering.then(async () => {
      try {
        await (page ? page() : Promise.reject(new NotIncluded("no such page: " + hash)));
        document.body.dataset.rendered = hash;
      } catch (e) {
        if (e instanceof AuthNeeded) askToken(e.message);
        else if (e instanceof NotIncluded) {
          app.innerHTML = `<p class="muted">${esc(e.message)}</p>`;
          document.body.dataset.rendered = hash;
        }
        else { app.innerHTML = `<p class="bad">${esc(e.message)}</p>`; throw e; }
      }
    });
    return rendering;
  }

  let followed = false, lastId = null, refresh = null;
  function shown(ev) {
    live.innerHTML = `<span class="dot"></span> live · <span id="last-event" data-offset="${ev.offset}">#${ev.offset} ${esc(ev.type)}${ev.workflow_id ? " " + esc(ev.workflow_id) : ""}</span>`;
    if (refresh === null) refresh = setTimeout(() => { refresh = null; if (!document.querySelector("form#filters input:focus")) render(); }, 1000);
  }
  async function follow() {
    if (FILE || followed) return;
    followed = true;
    for (;;) {
      try {
        const head = lastId === null ? (await (await fetch("/readyz")).json()).head_offset : lastId;
        const headers = { Authorization: token ? "Bearer " + token : "", "Last-Event-ID": String(head) };
        if (!token) delete headers.Authorization;
        const r = await fetch("/v1/events/stream", { headers });
        if (!r.ok) { followed = false; return; }
        live.innerHTML = '<span class="dot"></span> live';
        const reader = r.body.getReader(), dec = new TextDecoder();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let cut;
          while ((cut = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, cut); buf = buf.slice(cut + 2);
            const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
            const id = block.split("\n").find((l) => l.startsWith("id: "));
            if (id) lastId = Number(id.slice(4));
            if (data) shown(JSON.parse(data));
          }
        }
      } catch (e) { live.textContent = "reconnecting…"; }
      await new Promise((ok) => setTimeout(ok, 1000));
    }
  }

  window.addEventListener("hashchange", render);
  let width = window.innerWidth;
  window.addEventListener("resize", () => { if (Math.abs(window.innerWidth - width) > 40) { width = window.innerWidth; render(); } });
  if (FILE) live.textContent = "report of " + FILE.generated_at;
  if (!FILE && document.body.dataset.auth === "token") askToken("This server needs a token with the read scope.");
  else render().then(() => { if (!document.getElementById("token-form")) follow(); });
})();
