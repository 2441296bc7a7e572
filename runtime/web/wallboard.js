// The supervisor's wallboard: loads the queues, agents, today's figures and
// campaigns once, then follows every ACD event live (`/api/v1/acd/events`)
// and redraws at most once a frame. Figures turn amber or red at thresholds
// kept per queue in this browser. Supervisors act on agents from here; the
// API checks each action's permission and writes it to the audit log.

import {
  $, h, show, t, api, whoAmI, signOut, setupSignIn, setupLanguage, onLanguage,
  liveEvents, duration, clock, percent, serverNow, pageLinks,
} from "./common.js";
import { NOT_READY_REASONS } from "./i18n.js";

/** Roles that may watch the ACD's events (as the API's `/acd/events` allows). */
const VIEWERS = ["supervisor", "quality_inspector", "analyst"];
/** The actions on an agent, and the roles the API grants them to. */
const ACTIONS = [
  ["listen", ["supervisor", "quality_inspector"]],
  ["whisper", ["supervisor"]],
  ["barge", ["supervisor"]],
  ["take_over", ["supervisor"]],
  ["stop_monitor", ["supervisor", "quality_inspector"]],
  ["force_ready", ["supervisor"]],
  ["force_not_ready", ["supervisor"]],
  ["force_sign_out", ["supervisor"]],
];
const MONITOR = new Set(["listen", "whisper", "barge", "take_over", "stop_monitor"]);
const STATE_ORDER = ["ringing", "talking", "held", "wrap_up", "ready", "not_ready", "signed_out"];

let me = null;
let socket = null;
/** Queue name → the queue's real-time view (as `GET /api/v1/queues` answers). */
const queues = new Map();
/** Queue name → today's figures (as `GET /api/v1/stats` answers, then kept up by `record` events). */
const today = new Map();
/** Call id → a waiting call `{call, queue, caller, entered_ms, position, offered_to}`. */
const waiting = new Map();
/** Agent id → the agent's view. */
const agents = new Map();
/** Agent id → today's figures. */
const agentToday = new Map();
/** Campaign name → its view. */
const campaigns = new Map();

// ----- thresholds -------------------------------------------------------------------

const TH_KEY = "dialect.thresholds";
/**
 * The figures that turn amber or red, the way they grow worse (`up`: a higher
 * value is worse), their unit as typed, and the defaults.
 */
const FIGURES = {
  waiting: { up: true, unit: "calls", amber: 3, red: 6 },
  longest: { up: true, unit: "s", amber: 20, red: 60 },
  service_level: { up: false, unit: "%", amber: 80, red: 60 },
  abandon_rate: { up: true, unit: "%", amber: 5, red: 10 },
  not_ready_time: { up: true, unit: "min", amber: 10, red: 20 },
  campaign_abandon: { up: true, unit: "%", amber: 2, red: 3 },
};

/** The thresholds as saved, read once (every figure of every row asks). */
let thresholdCache = null;
function savedThresholds() {
  if (thresholdCache) return thresholdCache;
  try {
    thresholdCache = JSON.parse(localStorage.getItem(TH_KEY) || "{}") || {};
  } catch (e) {
    thresholdCache = {};
  }
  return thresholdCache;
}

function storeThresholds(saved) {
  localStorage.setItem(TH_KEY, JSON.stringify(saved));
  thresholdCache = null;
}

/** The amber and red levels of `figure` for `queue` (its own, else every queue's, else the default). */
function levels(figure, queue) {
  const saved = savedThresholds();
  const own = (queue && saved[queue] && saved[queue][figure]) || (saved["*"] && saved["*"][figure]);
  return own || FIGURES[figure];
}

/** "", "amber" or "red" for a value (in the figure's unit). */
function alarm(figure, value, queue) {
  if (value === null || value === undefined || Number.isNaN(value)) return "";
  const { amber, red } = levels(figure, queue);
  const up = FIGURES[figure].up;
  const past = (limit) => (up ? value >= limit : value < limit);
  if (past(red)) return "red";
  if (past(amber)) return "amber";
  return "";
}

function drawThresholds() {
  const q = $("th-queue").value || "*";
  $("th-table").tBodies[0].replaceChildren(
    ...Object.keys(FIGURES).map((f) => {
      const l = levels(f, q === "*" ? null : q);
      return h("tr", {},
        h("th", { scope: "row" }, `${t(`fig.${f}`)} (${t(`unit.${FIGURES[f].unit}`)})`),
        h("td", {}, h("input", { type: "number", step: "any", name: `${f}.amber`, value: l.amber, "aria-label": `${t(`fig.${f}`)} ${t("wb.amber")}` })),
        h("td", {}, h("input", { type: "number", step: "any", name: `${f}.red`, value: l.red, "aria-label": `${t(`fig.${f}`)} ${t("wb.red")}` })));
    }),
  );
}

function fillThresholdQueues() {
  const select = $("th-queue");
  const chosen = select.value || "*";
  select.replaceChildren(h("option", { value: "*" }, t("wb.all_queues")), ...[...queues.keys()].map((n) => h("option", { value: n }, n)));
  select.value = chosen;
}

function saveThresholds(ev) {
  ev.preventDefault();
  const q = $("th-queue").value || "*";
  const saved = savedThresholds();
  saved[q] = {};
  for (const f of Object.keys(FIGURES)) {
    const amber = Number($("thresholds").elements[`${f}.amber`].value);
    const red = Number($("thresholds").elements[`${f}.red`].value);
    saved[q][f] = { amber, red };
  }
  storeThresholds(saved);
  say(t("wb.thresholds_saved"));
  redraw();
}

// ----- loading ---------------------------------------------------------------------------

function startOfToday() {
  const d = new Date(serverNow());
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

/** Everything at once: on start, after a reconnection, and when events were missed. */
async function loadAll() {
  try {
    const [qs, as, stats, cs] = await Promise.all([
      api("GET", "/api/v1/queues?calls=true"),
      api("GET", "/api/v1/agents"),
      api("GET", `/api/v1/stats?from=${startOfToday()}`),
      api("GET", "/api/v1/campaigns").catch(() => []),
    ]);
    queues.clear();
    waiting.clear();
    for (const q of qs) setQueue(q);
    agents.clear();
    for (const a of as) agents.set(a.id, a);
    today.clear();
    for (const g of stats.queues) today.set(g.name, g);
    agentToday.clear();
    for (const g of stats.agents) agentToday.set(g.name, g);
    campaigns.clear();
    for (const c of cs) campaigns.set(c.name, c);
    fillThresholdQueues();
    drawThresholds();
    redraw();
  } catch (e) {
    say(e.message, true);
  }
}

function setQueue(q) {
  queues.set(q.name, q);
  const now = serverNow();
  // An empty list is left out of the answer.
  const calls = q.calls || [];
  for (const [id, w] of waiting) if (w.queue === q.name && !calls.some((c) => c.call === id)) waiting.delete(id);
  for (const c of calls) {
    const known = waiting.get(c.call);
    waiting.set(c.call, {
      call: c.call,
      queue: q.name,
      caller: c.caller,
      position: c.position,
      entered_ms: known ? known.entered_ms : now - c.waited_ms,
      callback: c.callback,
      offered_to: known ? known.offered_to : null,
    });
  }
}

/**
 * Figures only the server computes (the wait estimate, the recent service
 * level, callers' numbers) are read again for a queue when an event says it
 * changed, at most once per 250 ms per queue.
 */
const pending = new Map();
function refreshQueue(name) {
  if (pending.has(name)) return;
  pending.set(name, setTimeout(async () => {
    pending.delete(name);
    try {
      setQueue(await api("GET", `/api/v1/queues/${encodeURIComponent(name)}`));
      redraw();
    } catch (e) {
      // The next event or a reconnection reads it again.
    }
  }, 250));
}

const campaignPending = new Map();
function refreshCampaign(name) {
  if (campaignPending.has(name)) return;
  campaignPending.set(name, setTimeout(async () => {
    campaignPending.delete(name);
    try {
      campaigns.set(name, await api("GET", `/api/v1/campaigns/${encodeURIComponent(name)}`));
      redraw();
    } catch (e) {
      // As above.
    }
  }, 250));
}

// ----- events ------------------------------------------------------------------------------

function figuresOf(map, name) {
  if (!map.has(name)) {
    map.set(name, { name, offered: 0, answered: 0, abandoned: 0, abandoned_within: 0, answered_within: 0, handled: 0, talk_ms: 0, wrap_ms: 0, hold_ms: 0, service_level: 1, aht_ms: 0 });
  }
  return map.get(name);
}

/** A finished stay in a queue: today's figures, counted as `GET /api/v1/stats` counts them. */
function addRecord(r) {
  const q = queues.get(r.queue);
  const within = q ? q.service_level_ms : 20_000;
  const g = figuresOf(today, r.queue);
  if (!["transferred", "outbound", "direct"].includes(r.outcome)) g.offered += 1;
  if (r.outcome === "answered" || r.outcome === "callback_answered") {
    g.answered += 1;
    if (r.wait_ms <= within) g.answered_within += 1;
  } else if (r.outcome === "abandoned") {
    g.abandoned += 1;
    if (r.wait_ms <= within) g.abandoned_within += 1;
  }
  const denom = g.offered - g.abandoned_within;
  g.service_level = denom <= 0 ? 1 : g.answered_within / denom;
  if (r.agent) {
    const a = figuresOf(agentToday, r.agent);
    a.handled += 1;
    a.talk_ms += r.talk_ms;
    a.wrap_ms += r.wrap_ms;
    a.aht_ms = (a.talk_ms + a.wrap_ms) / a.handled;
  }
}

async function onEvent(ev) {
  switch (ev.event) {
    case "call_queued":
      waiting.set(ev.call, {
        call: ev.call, queue: ev.queue, caller: (waiting.get(ev.call) || {}).caller || "", position: ev.position,
        entered_ms: ev.at_ms, offered_to: null,
      });
      refreshQueue(ev.queue);
      break;
    case "call_offered": {
      const w = waiting.get(ev.pop.call);
      if (w) {
        w.offered_to = ev.agent;
        w.caller = ev.pop.caller;
      }
      break;
    }
    case "call_answered":
    case "call_left":
      waiting.delete(ev.call);
      refreshQueue(ev.queue);
      break;
    case "agent_state": {
      const a = agents.get(ev.agent);
      if (a) {
        a.state = ev.state;
        a.reason = ev.reason;
        a.since_ms = ev.at_ms;
        if (ev.state === "signed_out") a.answered = 0;
        redrawAgent(ev.agent);
        return;
      } else {
        try {
          agents.set(ev.agent, await api("GET", `/api/v1/agents/${encodeURIComponent(ev.agent)}`));
        } catch (e) {
          return;
        }
      }
      break;
    }
    case "record":
      addRecord(ev);
      if (ev.agent && agents.has(ev.agent) && (ev.outcome === "answered" || ev.outcome === "callback_answered")) {
        agents.get(ev.agent).answered += 1;
      }
      break;
    case "campaign":
      refreshCampaign(ev.campaign);
      break;
    case "lagged":
      loadAll();
      return;
    default:
      return;
  }
  redraw();
}

// ----- drawing ----------------------------------------------------------------------------

let frame = 0;
/** Everything is drawn at the next frame (not only the agents that changed). */
let drawAll = true;
/** Agents whose rows changed since the last frame. */
const changedAgents = new Set();

function redraw() {
  drawAll = true;
  schedule();
}

/** The times waited and in state are due to move on at the next frame. */
let clockDue = false;
function tick() {
  clockDue = true;
  schedule();
}

/**
 * One agent changed: the next frame updates its row and moves it to its place,
 * and redraws the small tables, rather than touching every agent's row.
 */
function redrawAgent(id) {
  changedAgents.add(id);
  schedule();
}

function schedule() {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    draw();
  });
}

/** Sets a text only when it differs, so that an unchanged cell costs no layout. */
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

const STATE_RANK = new Map(STATE_ORDER.map((s, i) => [s, i]));
/** The agents' order on the board: by state (busiest first), then by id. */
function agentOrder(a, b) {
  return (STATE_RANK.get(a.state) ?? STATE_ORDER.length) - (STATE_RANK.get(b.state) ?? STATE_ORDER.length)
    || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * Queue id → agents by state class, counted in one pass over the agents (a
 * count per queue and state would read every agent once per queue).
 */
function staffByQueue() {
  const counts = new Map();
  for (const a of agents.values()) {
    const key = a.state === "ready" ? "ready"
      : a.state === "not_ready" ? "not_ready"
        : ["ringing", "talking", "held", "wrap_up"].includes(a.state) ? "busy" : null;
    if (!key) continue;
    for (const q of a.queues || []) {
      let c = counts.get(q);
      if (!c) counts.set(q, (c = { ready: 0, busy: 0, not_ready: 0 }));
      c[key] += 1;
    }
  }
  return counts;
}

function cell(text, cls = "") {
  return h("td", { class: cls || undefined }, text);
}

function draw() {
  const now = serverNow();
  $("now").textContent = clock(now);
  const byQueue = new Map();
  for (const w of waiting.values()) {
    if (!byQueue.has(w.queue)) byQueue.set(w.queue, []);
    byQueue.get(w.queue).push(w);
  }
  const staff = staffByQueue();
  syncRows($("queues").tBodies[0], "data-queue",
    [...queues.values()].filter((q) => q.active).map((q) => {
      const calls = byQueue.get(q.name) || [];
      const longest = calls.reduce((m, w) => Math.max(m, now - w.entered_ms), 0);
      const g = today.get(q.name) || figuresOf(today, q.name);
      const counts = staff.get(q.name) || { ready: 0, busy: 0, not_ready: 0 };
      const abandonRate = g.offered ? g.abandoned / g.offered : 0;
      return [q.name, q.name, [
        [String(calls.length), alarm("waiting", calls.length, q.name)],
        [duration(longest), alarm("longest", longest / 1000, q.name)],
        [q.estimated_wait_ms === null || q.estimated_wait_ms === undefined ? "–" : duration(q.estimated_wait_ms)],
        [percent(q.service_level), alarm("service_level", q.service_level * 100, q.name)],
        [percent(g.service_level), alarm("service_level", g.service_level * 100, q.name)],
        [String(g.offered)],
        [String(g.answered)],
        [`${g.abandoned} (${percent(abandonRate)})`, alarm("abandon_rate", abandonRate * 100, q.name)],
        [String(counts.ready)],
        [String(counts.busy)],
        [String(counts.not_ready)],
      ]];
    }));
  syncRows($("calls").tBodies[0], "data-call",
    [...waiting.values()].sort((a, b) => a.entered_ms - b.entered_ms).map((w) => [w.call, null, [
      [w.queue],
      [String(w.position || "")],
      [w.caller + (w.offered_to ? ` → ${w.offered_to}` : "")],
      [duration(now - w.entered_ms), alarm("longest", (now - w.entered_ms) / 1000, w.queue)],
    ]]));
  if (drawAll) {
    drawAgents(now);
  } else {
    for (const id of changedAgents) placeAgent(id, now);
    // The times in state move on; the rows stay where they are.
    if (clockDue) for (const a of agents.values()) agentRow(a, now);
  }
  drawAll = false;
  clockDue = false;
  changedAgents.clear();
  show($("campaigns-card"), campaigns.size > 0);
  syncRows($("campaigns").tBodies[0], "data-campaign",
    [...campaigns.values()].map((c) => [c.name, c.label || c.name, [
      [t(`campaign.${c.state}`)],
      [c.dial_level === undefined ? "–" : c.dial_level.toFixed(2)],
      [percent(c.abandon_rate_short), alarm("campaign_abandon", (c.abandon_rate_short ?? 0) * 100)],
      [percent(c.abandon_rate_rolling), alarm("campaign_abandon", (c.abandon_rate_rolling ?? 0) * 100)],
      [c.talk_minutes_per_agent_hour === null || c.talk_minutes_per_agent_hour === undefined ? "–" : c.talk_minutes_per_agent_hour.toFixed(1)],
      [String(c.calls_in_progress ?? 0)],
    ]]));
}

/**
 * Brings a small table's rows up to `list`, each `[key, row heading or null,
 * [[text, class], …]]`: rows are kept by key and only cells that changed are
 * written, so that a frame costs the browser what changed, not the table.
 */
function syncRows(body, attr, list) {
  const kept = new Map([...body.rows].map((tr) => [tr.getAttribute(attr), tr]));
  const order = list.map(([key, head, cells]) => {
    let tr = kept.get(String(key));
    if (!tr) {
      tr = h("tr", { [attr]: key }, head === null ? [] : h("th", { scope: "row" }, head),
        cells.map(() => cell("")));
    } else if (head !== null) {
      setText(tr.cells[0], head);
    }
    const first = head === null ? 0 : 1;
    cells.forEach(([text, cls = ""], i) => {
      const td = tr.cells[first + i];
      setText(td, text);
      if (td.className !== cls) td.className = cls;
    });
    return tr;
  });
  const same = body.rows.length === order.length && order.every((tr, i) => body.rows[i] === tr);
  if (!same) body.replaceChildren(...order);
}

/**
 * Agent rows are kept and updated in place, so that a supervisor's click is
 * not lost to a redraw between pressing and releasing the button.
 */
const rows = new Map();
/** The agents' ids in the order their rows stand. */
let shown = [];

/** Every agent's row, in order. */
function drawAgents(now) {
  const order = [...agents.values()].sort(agentOrder);
  const trs = order.map((a) => agentRow(a, now));
  const body = $("agents").tBodies[0];
  const same = body.rows.length === trs.length && trs.every((tr, i) => body.rows[i] === tr);
  if (!same) body.replaceChildren(...trs);
  shown = order.map((a) => a.id);
}

/** One agent's row updated and moved to where its new state puts it. */
function placeAgent(id, now) {
  const a = agents.get(id);
  const known = rows.has(id);
  if (!a || !known) {
    drawAgents(now);
    return;
  }
  const tr = agentRow(a, now);
  const from = shown.indexOf(id);
  if (from >= 0) shown.splice(from, 1);
  // Where the row goes among the others, which are in order.
  let lo = 0;
  let hi = shown.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (agentOrder(agents.get(shown[mid]), a) < 0) lo = mid + 1;
    else hi = mid;
  }
  shown.splice(lo, 0, id);
  const body = $("agents").tBodies[0];
  const next = lo + 1 < shown.length ? rows.get(shown[lo + 1]).tr : null;
  if (tr.nextSibling !== next || tr.parentNode !== body) body.insertBefore(tr, next);
}

function agentRow(a, now) {
  let r = rows.get(a.id);
  if (!r) {
    const allowed = ACTIONS.filter(([, roles]) => me && roles.includes(me.role)).map(([op]) => op);
    const cells = [cell(""), cell(""), cell(""), cell(""), cell("")];
    const badge = h("span", { class: "badge" });
    cells[0].append(badge);
    const tr = h("tr", { "data-agent": a.id },
      h("th", { scope: "row" }, a.name ? `${a.id} ${a.name}` : a.id),
      cells,
      h("td", { class: "actions-only" }, allowed.length
        ? h("div", { class: "row tight" }, allowed.map((op) =>
          h("button", { type: "button", "data-op": op, onclick: () => act(a.id, op) }, t(`op.${op}`))))
        : ""));
    r = { tr, cells, badge };
    rows.set(a.id, r);
  }
  const g = agentToday.get(a.id);
  const inState = now - a.since_ms;
  if (r.badge.dataset.state !== a.state) r.badge.dataset.state = a.state;
  setText(r.badge, t(`state.${a.state}`));
  setText(r.cells[1], a.reason || "");
  setText(r.cells[2], duration(inState));
  const level = a.state === "not_ready" ? alarm("not_ready_time", inState / 60_000) : "";
  if (r.cells[2].className !== level) r.cells[2].className = level;
  setText(r.cells[3], String(a.answered ?? 0));
  setText(r.cells[4], g && g.handled ? duration(g.aht_ms) : "–");
  return r.tr;
}

// ----- actions ------------------------------------------------------------------------------

async function act(agent, op) {
  const body = {};
  if (MONITOR.has(op)) {
    const phone = $("monitor-phone").value.trim();
    if (!phone) {
      say(t("wb.need_phone"), true);
      $("monitor-phone").focus();
      return;
    }
    localStorage.setItem("dialect.monitor_phone", phone);
    body.phone = phone;
  }
  if (op === "force_not_ready") body.reason = $("force-reason").value;
  try {
    await api("POST", `/api/v1/agents/${encodeURIComponent(agent)}/${op}`, body);
    say(t("wb.done", { what: t(`op.${op}`), agent }));
  } catch (e) {
    say(e.message, true);
  }
}

function say(text, error = false) {
  const s = $("status");
  s.textContent = text;
  s.classList.toggle("error", error);
}

function setBig(on) {
  document.body.classList.toggle("big", on);
  $("big").setAttribute("aria-pressed", String(on));
  if (on && document.documentElement.requestFullscreen && !document.fullscreenElement) {
    document.documentElement.requestFullscreen().catch(() => {});
  } else if (!on && document.fullscreenElement) {
    document.exitFullscreen().catch(() => {});
  }
}

// ----- start ----------------------------------------------------------------------------------

function fillReasons() {
  $("force-reason").replaceChildren(...NOT_READY_REASONS.map((r) => h("option", { value: r }, t(`reason.${r}`))));
}

function enter(who) {
  me = who;
  $("who").textContent = `${who.user} · ${t(`role.${who.role}`)}`;
  pageLinks($("pages"), who.role);
  show($("signin-page"), false);
  show($("signout"), true);
  if (!VIEWERS.includes(who.role)) {
    // Nothing of the board is drawn: the API would refuse its data and actions anyway.
    $("refused-text").textContent = t("wb.refused", { role: t(`role.${who.role}`) });
    show($("refused"), true);
    show($("board"), false);
    return;
  }
  show($("refused"), false);
  show($("board"), true);
  document.body.classList.toggle("can-act", ACTIONS.some(([, roles]) => roles.includes(who.role)));
  fillReasons();
  $("monitor-phone").value = localStorage.getItem("dialect.monitor_phone") || "";
  socket = liveEvents("/api/v1/acd/events", {
    onEvent,
    onOpen: loadAll,
    onState: (s, e) => {
      $("link").textContent = t(`link.${s}`);
      $("link").dataset.state = s;
      if (e && e.status === 401) leave();
    },
  });
}

function leave() {
  if (socket) socket.stop();
  socket = null;
  me = null;
  rows.clear();
  show($("board"), false);
  show($("refused"), false);
  show($("signout"), false);
  show($("signin-page"), true);
  $("who").textContent = "";
  pageLinks($("pages"), null);
  $("signin-user").focus();
}

async function main() {
  setupLanguage($("lang"));
  onLanguage(() => {
    fillReasons();
    fillThresholdQueues();
    drawThresholds();
    if (me) enterLabels();
    rows.clear();
    redraw();
  });
  $("big").addEventListener("click", () => setBig(!document.body.classList.contains("big")));
  document.addEventListener("keydown", (ev) => {
    if (ev.altKey && (ev.key.toLowerCase() === "b" || ev.code === "KeyB")) {
      ev.preventDefault();
      setBig(!document.body.classList.contains("big"));
    }
  });
  $("th-queue").addEventListener("change", drawThresholds);
  $("thresholds").addEventListener("submit", saveThresholds);
  $("th-reset").addEventListener("click", () => {
    const saved = savedThresholds();
    delete saved[$("th-queue").value || "*"];
    storeThresholds(saved);
    drawThresholds();
    redraw();
  });
  $("signout").addEventListener("click", async () => {
    await signOut().catch(() => {});
    leave();
  });
  setupSignIn($("signin"), enter);
  // Times waited and in state move on between events.
  setInterval(tick, 1000);
  const who = await whoAmI().catch(() => null);
  if (who) enter(who);
  else leave();
}

function enterLabels() {
  $("who").textContent = `${me.user} · ${t(`role.${me.role}`)}`;
  if (!VIEWERS.includes(me.role)) $("refused-text").textContent = t("wb.refused", { role: t(`role.${me.role}`) });
}

main();
