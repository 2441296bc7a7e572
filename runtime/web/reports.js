// The reports page: the Q13 statistics (`GET /api/v1/stats`) over a chosen
// period, by queue, agent, skill group and trunk, as tables and as bar
// charts (chart.js), with each grouping downloadable as CSV
// (`GET /api/v1/stats.csv`, which the browser fetches with the session);
// and the statistics per flow (F13, `GET /api/v1/flow-stats`): per flow a
// table of its menus, the one that loses callers first.

import {
  $, h, show, t, api, whoAmI, signOut, setupSignIn, setupLanguage, onLanguage,
  duration, percent, serverNow, pageLinks, mayOpen, dayStart, dayValue, dateTime,
} from "./common.js";
import { barChart } from "./chart.js";

const DAY = 86_400_000;
const GROUPINGS = ["queue", "agent", "skill", "trunk"];
/** Which part of the report each grouping is. */
const PART = { queue: "queues", agent: "agents", skill: "skills", trunk: "trunks" };
/**
 * The columns of every table: the heading's words and how a group's figure
 * is written. Counts as numbers, shares as percentages, times as m:ss.
 */
const COLUMNS = [
  ["rp.offered", (g) => g.offered],
  ["rp.answered", (g) => g.answered],
  ["rp.abandoned", (g) => g.abandoned],
  ["rp.abandon_rate", (g) => percent(g.abandon_rate)],
  ["rp.service_level", (g) => (g.offered ? percent(g.service_level) : "–")],
  ["rp.asa", (g) => (g.answered ? duration(g.asa_ms) : "–")],
  ["rp.handled", (g) => g.handled],
  ["rp.aht", (g) => (g.handled ? duration(g.aht_ms) : "–")],
  ["rp.occupancy", (g) => percent(g.occupancy)],
];

/**
 * The columns of a flow's table of steps: the heading's words and how a
 * step's figure is written. Shares are of the calls that reached the step
 * (self-service, hung up) or of its visits (no input, no match).
 */
const STEP_COLUMNS = [
  ["rp.flow_calls", (n) => n.calls],
  ["rp.flow_self_service", (n) => percent(n.self_service_share)],
  ["rp.flow_to_agents", (n) => n.to_agents],
  ["rp.flow_hangups", (n) => n.hangups],
  ["rp.flow_hangup_rate", (n) => percent(n.hangup_share)],
  ["rp.flow_no_input", (n) => percent(n.no_input_share)],
  ["rp.flow_no_match", (n) => percent(n.no_match_share)],
  ["rp.flow_mean_time", (n) => (n.mean_time_ms === null ? "–" : duration(n.mean_time_ms))],
];

let me = null;
/** The statistics per flow of the period shown. */
let flows = null;
/** The report shown, and the period it covers `[from, to)`. */
let report = null;
let period = null;

/** The period chosen on the form, as Unix ms `{from, to}`; null when the dates do not make one. */
function chosenPeriod() {
  const now = serverNow();
  const d = new Date(now);
  d.setHours(0, 0, 0, 0);
  const today = d.getTime();
  switch ($("period").value) {
    case "yesterday":
      return { from: today - DAY, to: today };
    case "last7":
      return { from: today - 6 * DAY, to: now };
    case "custom": {
      const from = dayStart($("from").value);
      const last = dayStart($("to").value);
      if (from === null || last === null || last < from) return null;
      // The last day counts whole; a day in the future ends now.
      return { from, to: Math.min(last + DAY, now) };
    }
    default:
      return { from: today, to: now };
  }
}

async function load() {
  const p = chosenPeriod();
  if (!p || p.from >= p.to) {
    say(t("rp.bad_period"), true);
    $("from").focus();
    return;
  }
  say(t("rp.loading"));
  try {
    const [r, f] = await Promise.all([
      api("GET", `/api/v1/stats?from=${p.from}&to=${p.to}`),
      api("GET", `/api/v1/flow-stats?from=${p.from}&to=${p.to}`),
    ]);
    report = r;
    flows = f.flows || [];
    period = p;
    draw();
    say(t("rp.loaded"));
  } catch (e) {
    say(e.message, true);
  }
}

function headRow(grouping) {
  return h("tr", {},
    h("th", { scope: "col" }, t(`rp.col_${grouping}`)),
    COLUMNS.map(([key]) => h("th", { scope: "col" }, t(key))));
}

function groupRow(g, label) {
  return h("tr", { "data-group": g.name },
    h("th", { scope: "row" }, label),
    COLUMNS.map(([, value]) => h("td", {}, String(value(g)))));
}

function drawTable(grouping) {
  const table = $(`table-${grouping}`);
  const rows = report[PART[grouping]] || [];
  table.tHead.replaceChildren(headRow(grouping));
  table.tBodies[0].replaceChildren(
    ...(rows.length
      ? rows.map((g) => groupRow(g, g.name))
      : [h("tr", {}, h("td", { colspan: COLUMNS.length + 1, class: "muted" }, t("none")))]),
  );
  table.tFoot.replaceChildren(groupRow(report.total, t("rp.total")));
  const link = $(`csv-${grouping}`);
  link.href = `/api/v1/stats.csv?by=${grouping}&from=${period.from}&to=${period.to}`;
  link.setAttribute("download", `stats-${grouping}-${dayValue(period.from)}.csv`);
}

function drawChart(grouping) {
  // The table lists every group; the chart only those with calls (every
  // queue of the program is in the report, most of them idle on a quiet day).
  const rows = (report[PART[grouping]] || []).map((g) => ({
    label: g.name,
    values: grouping === "agent"
      ? { handled: g.handled }
      : { offered: g.offered, answered: g.answered, abandoned: g.abandoned },
  })).filter((r) => Object.values(r.values).some((v) => v > 0));
  const series = grouping === "agent"
    ? [{ key: "handled", label: t("rp.handled"), className: "s-handled" }]
    : [
      { key: "offered", label: t("rp.offered"), className: "s-offered" },
      { key: "answered", label: t("rp.answered"), className: "s-answered" },
      { key: "abandoned", label: t("rp.abandoned"), className: "s-abandoned" },
    ];
  const box = $(`chart-${grouping}`);
  if (!rows.length) {
    box.replaceChildren(h("p", { class: "muted" }, t("rp.no_calls")));
    return;
  }
  box.replaceChildren(barChart({ title: t(`rp.chart_${grouping}`), series, rows }));
}

/** Steps in the order that shows which loses callers: by the share of its calls that hung up there, then hang-ups, then calls. */
function byLosses(a, b) {
  return (b.hangup_share || 0) - (a.hangup_share || 0) || b.hangups - a.hangups || b.calls - a.calls;
}

/** A step's name for people: the menu's name, or the trail's word and its line. */
function stepName(n) {
  const line = /:(\d+):\d+$/.exec(n.id);
  return line ? `${n.name} (${t("rp.flow_line", { line: line[1] })})` : n.name;
}

function flowTable(f) {
  const all = $("flow-all-steps").checked;
  const steps = (f.nodes || [])
    .filter((n) => all || n.kind === "menu" || n.kind === "collect")
    .sort(byLosses);
  const caption = h("caption", {}, t("rp.flow_summary", {
    flow: f.flow,
    calls: f.calls,
    self_service: percent(f.self_service_share),
    to_agents: f.to_agents,
    hung_up: f.hung_up,
  }));
  const head = h("tr", {},
    h("th", { scope: "col" }, t("rp.flow_step")),
    STEP_COLUMNS.map(([key]) => h("th", { scope: "col" }, t(key))));
  const rows = steps.length
    ? steps.map((n) => h("tr", { "data-step": n.id, class: n.hangups > 0 ? "loses" : "" },
      h("th", { scope: "row" }, stepName(n)),
      STEP_COLUMNS.map(([, value]) => h("td", {}, String(value(n))))))
    : [h("tr", {}, h("td", { colspan: STEP_COLUMNS.length + 1, class: "muted" }, t("rp.flow_no_menus")))];
  const table = h("table", { class: "grid figures report", "data-flow": f.flow },
    caption, h("thead", {}, head), h("tbody", {}, ...rows));
  return table;
}

function drawFlows() {
  const box = $("flows");
  const list = (flows || []).filter((f) => f.calls > 0);
  box.replaceChildren(...(list.length
    ? list.map(flowTable)
    : [h("p", { class: "muted" }, t("rp.no_calls"))]));
  const link = $("csv-flow");
  link.href = `/api/v1/flow-stats.csv?from=${period.from}&to=${period.to}`;
  link.setAttribute("download", `flow-stats-${dayValue(period.from)}.csv`);
}

function draw() {
  if (!report) return;
  $("period-text").textContent = t("rp.covers", { from: dateTime(period.from), to: dateTime(period.to) });
  for (const g of GROUPINGS) drawTable(g);
  drawFlows();
  drawChart("queue");
  drawChart("agent");
}

/** A line in the status area (read out by screen readers). */
function say(text, error = false) {
  const s = $("status");
  s.textContent = text;
  s.classList.toggle("error", error);
}

function showCustom() {
  const custom = $("period").value === "custom";
  show($("custom"), custom);
  if (custom && !$("from").value) {
    const today = dayValue(serverNow());
    $("from").value = today;
    $("to").value = today;
  }
}

function enter(who) {
  me = who;
  $("who").textContent = `${who.user} · ${t(`role.${who.role}`)}`;
  pageLinks($("pages"), who.role);
  show($("signin-page"), false);
  show($("signout"), true);
  if (!mayOpen("/reports", who.role)) {
    $("refused-text").textContent = t("rp.refused", { role: t(`role.${who.role}`) });
    show($("refused"), true);
    show($("report"), false);
    return;
  }
  show($("refused"), false);
  show($("report"), true);
  $("report").focus();
  load();
}

function leave() {
  me = null;
  report = null;
  flows = null;
  $("who").textContent = "";
  pageLinks($("pages"), null);
  show($("report"), false);
  show($("refused"), false);
  show($("signout"), false);
  show($("signin-page"), true);
  $("signin-user").focus();
}

async function main() {
  setupLanguage($("lang"));
  onLanguage(() => {
    if (me) {
      $("who").textContent = `${me.user} · ${t(`role.${me.role}`)}`;
      if (!mayOpen("/reports", me.role)) $("refused-text").textContent = t("rp.refused", { role: t(`role.${me.role}`) });
    }
    draw();
  });
  $("period").addEventListener("change", showCustom);
  $("flow-all-steps").addEventListener("change", () => {
    if (report) drawFlows();
  });
  $("period-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    load();
  });
  $("signout").addEventListener("click", async () => {
    await signOut().catch(() => {});
    leave();
  });
  setupSignIn($("signin"), enter);
  const who = await whoAmI().catch(() => null);
  if (who) enter(who);
  else leave();
}

main();
