// The agent desk: signs the agent in, follows the agent's own event stream
// (state, offers with their screen pop, call data, campaign previews) and
// sends every CTI action through the API, each reachable from the keyboard.
// The page shows what the server says; it keeps no state of its own beyond
// the call in hand and the wrap-up being written.

import {
  $, h, show, t, api, whoAmI, signOut, setupSignIn, setupLanguage, onLanguage,
  liveEvents, duration, clock, valueText, serverNow, pageLinks,
} from "./common.js";
import { NOT_READY_REASONS } from "./i18n.js";

/** Who is signed in, and the agent the desk works for (the user's own id). */
let me = null;
let agent = null;
/** The agent's state as last told: `{state, reason, since_ms, call}`. */
let state = { state: "signed_out", reason: "", since_ms: Date.now(), call: null };
/** The call in hand: its screen pop, and the campaign target when it is one. */
let current = null;
/** The call the wrap-up form is about (kept after the call ends). */
let wrapCall = null;
/** When the wrap-up began (Unix ms). */
let wrapSince = 0;
/** The preview shown: `{campaign, target, view}`. */
let preview = null;
/** A campaign target the next call is for (accepted preview, campaign event). */
let campaignTarget = null;
/** The interaction event recorded for a call (the workorder hangs on it), by call id. */
const events = new Map();
let socket = null;

// ----- keyboard -------------------------------------------------------------------

/**
 * Every agent action and its key (with Alt, so it works while typing in a
 * field). Letters the browsers keep for themselves (D, E, F) are not used.
 * The table on the page is drawn from this list, so it cannot drift.
 */
const SHORTCUTS = [
  ["i", "sign_in"],
  ["o", "sign_out"],
  ["r", "ready"],
  ["n", "not_ready"],
  ["a", "answer", "accept"],
  ["j", "reject", "skip"],
  ["u", "hold", "resume"],
  ["x", "hang_up"],
  ["y", "transfer"],
  ["c", "consult"],
  ["m", "complete"],
  ["q", "conference"],
  ["z", "consult_cancel"],
  ["l", "save_data"],
  ["g", "save_wrap"],
  ["w", "workorder"],
  ["p", "dial"],
  ["k", "focus_target"],
  ["t", "send_dtmf"],
];

/** The keys a caller's line takes (RFC 4733's sixteen), at most 32 at once, as the API checks. */
const DTMF_KEYS = /^[0-9*#A-Da-d]{1,32}$/;

function drawShortcuts() {
  $("keys").tBodies[0].replaceChildren(
    ...SHORTCUTS.map(([key, ...actions]) =>
      h("tr", {}, h("td", {}, h("kbd", {}, "Alt"), "+", h("kbd", {}, key.toUpperCase())),
        h("td", {}, actions.map((a) => t(`key.${a}`)).join(" / "))),
    ),
  );
  for (const b of document.querySelectorAll("[data-action]")) {
    const found = SHORTCUTS.find(([, ...actions]) => actions.includes(b.dataset.action));
    if (found) {
      b.setAttribute("aria-keyshortcuts", `Alt+${found[0].toUpperCase()}`);
      b.title = `Alt+${found[0].toUpperCase()}`;
    }
  }
}

document.addEventListener("keydown", (ev) => {
  if (!ev.altKey || ev.ctrlKey || ev.metaKey || !agent) return;
  const key = ev.key.toLowerCase();
  const found = SHORTCUTS.find(([k]) => k === key || ev.code === `Key${k.toUpperCase()}`);
  if (!found) return;
  ev.preventDefault();
  const [, ...actions] = found;
  // The same key answers an offer or takes a preview, whichever is shown.
  const action = actions.find((a) => visibleAction(a)) || actions[0];
  run(action);
});

function visibleAction(action) {
  const b = document.querySelector(`[data-action="${action}"]`);
  return b && b.offsetParent !== null && !b.disabled;
}

// ----- actions ----------------------------------------------------------------------

/** Runs an agent action by name (a button or a key). */
async function run(action) {
  switch (action) {
    case "focus_target":
      $("target-to").focus();
      return;
    case "not_ready":
      return op("not_ready", { reason: $("reason").value });
    case "send_dtmf":
      return sendKeys($("dtmf-digits").value.trim(), true);
    case "transfer":
    case "consult": {
      const target = chosenTarget();
      if (!target) return;
      return op(action, { target });
    }
    case "complete":
      return op("transfer", {}, "complete");
    case "accept":
      return acceptPreview();
    case "skip":
      return skipPreview();
    case "save_data":
      return saveData();
    case "save_wrap":
      return saveWrap();
    case "workorder":
      return openWorkorder();
    case "dial": {
      const number = $("dial-number").value.trim();
      if (!number) {
        $("dial-number").focus();
        return;
      }
      return op("dial", { number });
    }
    default:
      return op(action, {});
  }
}

function chosenTarget() {
  const to = $("target-to").value.trim();
  if (!to) {
    say(t("call.need_target"), true);
    $("target-to").focus();
    return null;
  }
  return { kind: $("target-kind").value, to };
}

/**
 * Sends keys to the caller: typed in the field (`typed`, which is emptied
 * once they are sent) or pressed on the keypad. With nothing typed, the
 * shortcut goes to the field.
 */
async function sendKeys(digits, typed) {
  const field = $("dtmf-digits");
  if (!digits) {
    field.focus();
    return;
  }
  if (!DTMF_KEYS.test(digits)) {
    say(t("dtmf.bad"), true);
    field.focus();
    return;
  }
  if (await op("send_dtmf", { digits })) {
    if (typed) field.value = "";
    say(t("dtmf.sent", { n: digits.length }));
  }
}

/** A CTI operation for this agent; the answer or the refusal is shown (as the `action` the agent took). Whether it was done. */
async function op(name, body, action = name) {
  try {
    await api("POST", `/api/v1/agents/${encodeURIComponent(agent)}/${name}`, body);
    say(t("done", { what: t(`act.${action}`) }));
    return true;
  } catch (e) {
    say(e.message, true);
    return false;
  }
}

/** A line in the status area (read out by screen readers). */
function say(text, error = false) {
  const s = $("status");
  s.textContent = text;
  s.classList.toggle("error", error);
}

// ----- state ----------------------------------------------------------------------------

function setState(s) {
  state = { ...state, ...s };
  const badge = $("state");
  badge.textContent = t(`state.${state.state}`);
  badge.dataset.state = state.state;
  $("state-reason").textContent = state.reason ? `(${state.reason})` : "";
  tick();
  layout();
}

/** Which cards show, from the state and the call in hand. */
function layout() {
  const st = state.state;
  const offering = st === "ringing" && current && current.offered;
  show($("offer"), Boolean(offering));
  show($("call"), (st === "talking" || st === "held") && Boolean(current));
  show($("preview"), Boolean(preview) && !offering);
  show($("wrap"), Boolean(wrapCall));
  for (const b of document.querySelectorAll("#call [data-action=hold]")) b.disabled = st === "held";
  for (const b of document.querySelectorAll("#call [data-action=resume]")) b.disabled = st !== "held";
}

function tick() {
  $("state-time").textContent = duration(serverNow() - state.since_ms);
  if (wrapCall) $("wrap-time").textContent = duration(serverNow() - wrapSince);
}

function onEvent(ev) {
  if (ev.event === "hello" && ev.agent) {
    const a = ev.agent;
    setState({ state: a.state, reason: a.reason, since_ms: a.since_ms, call: a.call });
    return;
  }
  if (ev.event === "lagged") {
    reload();
    return;
  }
  if (ev.agent !== agent) return;
  switch (ev.event) {
    case "agent_state": {
      const before = state.state;
      if ((before === "talking" || before === "held") && !["talking", "held"].includes(ev.state) && current) {
        startWrap(current, ev.at_ms);
      }
      if (ev.state === "wrap_up" && current && !current.offered && !wrapCall) startWrap(current, ev.at_ms);
      if ((ev.state === "talking" || ev.state === "held") && current && current.offered) {
        current.offered = false;
        current.answered_ms = ev.at_ms;
        drawCall(current.pop);
      }
      if (ev.state === "ready" || ev.state === "not_ready" || ev.state === "signed_out") {
        if (current && current.offered && before === "ringing") current = null;
      }
      setState({ state: ev.state, reason: ev.reason, since_ms: ev.at_ms, call: ev.call ?? null });
      break;
    }
    case "call_offered":
      current = { pop: ev.pop, offered: true, campaign: campaignTarget };
      drawOffer(ev.pop);
      layout();
      $("offer").querySelector("[data-action=answer]").focus();
      break;
    case "call_answered":
      if (current && current.pop.call === ev.call) {
        current.offered = false;
        current.answered_ms = ev.at_ms;
        drawCall(current.pop);
        loadHistory(current.pop.customer_id || current.pop.caller);
      }
      layout();
      break;
    case "call_data":
      if (current && current.pop.call === ev.call) {
        current.pop.data = ev.data;
        drawCall(current.pop);
      }
      break;
    case "notice":
      say(ev.message, true);
      break;
    case "campaign":
      onCampaign(ev);
      break;
    default:
  }
}

async function reload() {
  try {
    const a = await api("GET", `/api/v1/agents/${encodeURIComponent(agent)}`);
    setState({ state: a.state, reason: a.reason, since_ms: a.since_ms, call: a.call });
  } catch (e) {
    say(e.message, true);
  }
}

// ----- the offer and the call -----------------------------------------------------------

function facts(dl, pairs) {
  dl.replaceChildren(
    ...pairs.filter(([, v]) => v !== undefined && v !== null && v !== "").flatMap(([k, v]) => [h("dt", {}, t(k)), h("dd", {}, String(v))]),
  );
}

function drawOffer(pop) {
  facts($("offer-facts"), [
    ["pop.caller", pop.caller],
    ["pop.customer", pop.customer_id],
    ["pop.queue", pop.queue],
    ["pop.waited", duration(pop.waited_ms)],
    ["pop.via", pop.via],
    ["pop.called", pop.called],
  ]);
  $("offer-trail").tBodies[0].replaceChildren(
    ...pop.trail.map((e) => h("tr", {}, h("td", {}, clock(e.at_ms)), h("td", {}, e.node), h("td", {}, e.detail))),
  );
  $("offer-data").tBodies[0].replaceChildren(
    ...pop.data.map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", {}, valueText(v)))),
  );
}

function drawCall(pop) {
  facts($("call-facts"), [
    ["pop.caller", pop.caller],
    ["pop.customer", pop.customer_id],
    ["pop.queue", pop.queue],
    ["pop.call", pop.call],
  ]);
  const body = $("call-data").tBodies[0];
  body.replaceChildren(...pop.data.map(([k, v]) => dataRow(k, valueText(v))));
}

function dataRow(key, value) {
  return h("tr", {},
    h("td", {}, h("input", { class: "data-key", value: key, "aria-label": t("col.field") })),
    h("td", {}, h("input", { class: "data-value", value, "aria-label": t("col.value") })));
}

/** Sends the edited call data; it travels with the call on transfer. */
async function saveData() {
  if (!current) return;
  const data = {};
  for (const row of $("call-data").tBodies[0].rows) {
    const k = row.querySelector(".data-key").value.trim();
    if (k) data[k] = row.querySelector(".data-value").value;
  }
  try {
    const r = await api("PUT", `/api/v1/calls/${current.pop.call}/data`, { data });
    current.pop.data = r.data;
    drawCall(current.pop);
    say(t("data.saved"));
  } catch (e) {
    say(e.message, true);
  }
}

// ----- after the call ---------------------------------------------------------------------

function startWrap(call, at) {
  wrapCall = call;
  wrapSince = at;
  call.ended_ms = Math.max(at, call.answered_ms || 0);
  $("wrap-call").textContent = `${t("pop.caller")} ${call.pop.caller}`;
  fillDispositions();
  $("notes").value = "";
  $("event-type").value = "";
  current = null;
  layout();
  $("disposition").focus();
}

/**
 * The wrap-up's choices: what the call was about, from the site's event types
 * (the customer's record keeps it), and for a campaign call the campaign's own
 * disposition codes (the dialer acts on them).
 */
async function fillDispositions() {
  const types = $("event-type");
  try {
    const list = await api("GET", "/api/v1/event-types");
    types.replaceChildren(h("option", { value: "" }, t("wrap.choose")), ...list.map((e) => h("option", { value: e.id }, e.name || e.id)));
  } catch (e) {
    say(e.message, true);
  }
  const campaign = wrapCall && wrapCall.campaign;
  show($("campaign-disposition"), false);
  if (!campaign) return;
  try {
    const c = await api("GET", `/api/v1/campaigns/${encodeURIComponent(campaign.campaign)}`);
    // A campaign without disposition codes asks for none.
    campaign.codes = c.dispositions.length > 0;
    $("disposition").replaceChildren(
      h("option", { value: "" }, t("wrap.choose")),
      ...c.dispositions.map(([code, label]) => h("option", { value: code }, label || code)),
    );
    show($("campaign-disposition"), campaign.codes);
  } catch (e) {
    say(e.message, true);
  }
}

/**
 * Saves the wrap-up: a campaign call's disposition on its target, and what
 * the call was about, with the notes, as an interaction event on the
 * customer's record (linked to the call's contact record).
 */
async function saveWrap() {
  if (!wrapCall) return;
  const campaign = wrapCall.campaign && wrapCall.campaign.codes ? wrapCall.campaign : null;
  const code = campaign ? $("disposition").value : "";
  const type = $("event-type").value;
  if (campaign && !code) {
    say(t("wrap.need_code"), true);
    $("disposition").focus();
    return;
  }
  if (!wrapCall.campaign && !type) {
    say(t("wrap.need_type"), true);
    $("event-type").focus();
    return;
  }
  const notes = $("notes").value.trim();
  try {
    if (campaign) {
      await api("POST", `/api/v1/campaigns/${encodeURIComponent(campaign.campaign)}/targets/${campaign.target}/disposition`, { code });
    }
    if (type) await recordEvent(wrapCall, type, notes);
    say(t("wrap.saved"));
    wrapCall = null;
    campaignTarget = null;
    layout();
  } catch (e) {
    say(e.message, true);
  }
}

/**
 * The interaction event of a call, created once: the customer's history shows
 * it and workorders raised from the call hang on it. The contact record is
 * linked once the call has ended (it is written then).
 */
async function recordEvent(call, type, notes) {
  const pop = call.pop;
  if (events.has(pop.call)) return events.get(pop.call);
  const ended = call !== current;
  const ev = await api("POST", "/api/v1/interactions", {
    event_type: type,
    customer_id: pop.customer_id || pop.caller,
    channel: "agent",
    started_ms: call.answered_ms || undefined,
    ended_ms: ended && call.ended_ms ? call.ended_ms : undefined,
    description: notes,
    employee: agent,
    contacts: ended ? [pop.call] : [],
  });
  events.set(pop.call, ev.id);
  return ev.id;
}

// ----- workorders ---------------------------------------------------------------------------

let kinds = [];

async function openWorkorder() {
  const call = current || wrapCall;
  if (!call) {
    say(t("wo.no_call"), true);
    return;
  }
  try {
    kinds = (await api("GET", "/api/v1/workorder-types")).types;
    const select = $("wo-kind");
    select.replaceChildren(...kinds.map((k) => h("option", { value: k.name }, k.label || k.name)));
    drawWorkorderFields(call);
    show($("workorder"), true);
    select.focus();
  } catch (e) {
    say(e.message, true);
  }
}

/** The fields of the chosen kind, prefilled from the call (customer, caller, call data). */
function drawWorkorderFields(call) {
  const kind = kinds.find((k) => k.name === $("wo-kind").value);
  const known = { customer_id: call.pop.customer_id, customer: call.pop.customer_id, phone: call.pop.caller, caller: call.pop.caller };
  for (const [k, v] of call.pop.data) known[k] = valueText(v);
  $("wo-fields").replaceChildren(
    ...(kind ? kind.fields : []).flatMap((f) => {
      const id = `wo-f-${f.name}`;
      const input = f.values && f.values.length
        ? h("select", { id, name: f.name }, h("option", { value: "" }, "–"), ...f.values.map((v) => h("option", { value: v }, v)))
        : h("input", { id, name: f.name, required: f.required || undefined });
      if (known[f.name] !== undefined) input.value = known[f.name];
      return [h("label", { for: id }, f.name + (f.required ? " *" : "")), input];
    }),
  );
}

async function createWorkorder(ev) {
  ev.preventDefault();
  const call = current || wrapCall;
  if (!call) return;
  const fields = {};
  const kind = kinds.find((k) => k.name === $("wo-kind").value);
  for (const el of $("wo-fields").querySelectorAll("input, select")) {
    if (el.value === "") continue;
    const f = kind && kind.fields.find((x) => x.name === el.name);
    fields[el.name] = f && f.type === "number" ? Number(el.value) : el.value;
  }
  try {
    const type = $("event-type").value;
    if (!type) {
      say(t("wrap.need_type"), true);
      $("event-type").focus();
      return;
    }
    const id = await recordEvent(call, type, $("notes").value.trim());
    const o = await api("POST", `/api/v1/interactions/${id}/workorders`, {
      kind: $("wo-kind").value,
      fields,
      comment: $("wo-comment").value.trim() || undefined,
    });
    say(t("wo.created", { number: o.number }));
    show($("workorder"), false);
    $("wo-comment").value = "";
  } catch (e) {
    say(e.message, true);
  }
}

// ----- customer history -----------------------------------------------------------------------

async function loadHistory(customer) {
  let hist;
  try {
    hist = await api("GET", `/api/v1/customers/${encodeURIComponent(customer)}/history?limit=10`);
  } catch (e) {
    show($("history"), false);
    return;
  }
  const contacts = (hist.contacts || []).map((c) =>
    h("li", {}, `${clock(c.started_ms)} ${new Date(c.started_ms).toLocaleDateString()} · ${c.queue || ""} · ${c.agent || ""} · ${c.end_reason || c.ended || ""}`));
  const orders = (hist.workorders || []).map((o) => h("li", {}, `${o.number} · ${o.kind} · ${o.state}`));
  const evs = (hist.interactions || []).map((e) => h("li", {}, `${clock(e.started_ms || e.created_ms || 0)} · ${e.event_type} · ${e.description || ""}`));
  $("history-body").replaceChildren(
    h("h3", {}, t("history.contacts")), contacts.length ? h("ul", {}, contacts) : h("p", {}, t("none")),
    h("h3", {}, t("history.events")), evs.length ? h("ul", {}, evs) : h("p", {}, t("none")),
    h("h3", {}, t("history.orders")), orders.length ? h("ul", {}, orders) : h("p", {}, t("none")),
  );
  show($("history"), true);
}

// ----- campaigns ------------------------------------------------------------------------------

async function onCampaign(ev) {
  if (ev.what === "preview" && ev.target !== undefined) {
    try {
      const [view, target] = await Promise.all([
        api("GET", `/api/v1/campaigns/${encodeURIComponent(ev.campaign)}`),
        api("GET", `/api/v1/campaigns/${encodeURIComponent(ev.campaign)}/targets/${ev.target}`),
      ]);
      preview = { campaign: ev.campaign, target: ev.target, view, detail: target };
      drawPreview();
      layout();
      $("preview").querySelector("[data-action=accept]").focus();
    } catch (e) {
      say(e.message, true);
    }
  } else if (ev.what === "preview_ended") {
    if (preview && preview.target === ev.target) preview = null;
    layout();
  } else if (ev.what === "call_placed" && ev.target !== undefined) {
    campaignTarget = { campaign: ev.campaign, target: ev.target };
    if (current) current.campaign = campaignTarget;
  }
}

function drawPreview() {
  const p = preview;
  const fields = p.detail.fields || {};
  const entries = Array.isArray(fields) ? fields : Object.entries(fields);
  facts($("preview-facts"), [
    ["preview.campaign", p.view.label || p.campaign],
    ["preview.phone", p.detail.phone],
    ["preview.attempts", p.detail.attempts],
    ...entries.map(([k, v]) => [k, valueText(v)]),
  ]);
  $("preview-script").textContent = p.view.script || t("preview.no_script");
}

async function acceptPreview() {
  if (!preview) return;
  const { campaign, target } = preview;
  // The call may be offered before the answer to the accept arrives.
  campaignTarget = { campaign, target };
  try {
    await api("POST", `/api/v1/campaigns/${encodeURIComponent(campaign)}/targets/${target}/accept`, {});
    preview = null;
    layout();
    say(t("preview.accepted"));
  } catch (e) {
    campaignTarget = null;
    say(e.message, true);
  }
}

async function skipPreview() {
  if (!preview) return;
  const reason = $("skip-reason").value.trim();
  if (!reason) {
    say(t("preview.need_reason"), true);
    $("skip-reason").focus();
    return;
  }
  const { campaign, target } = preview;
  try {
    await api("POST", `/api/v1/campaigns/${encodeURIComponent(campaign)}/targets/${target}/skip`, { reason });
    preview = null;
    $("skip-reason").value = "";
    layout();
    say(t("preview.skipped"));
  } catch (e) {
    say(e.message, true);
  }
}

// ----- start ----------------------------------------------------------------------------------

function fillReasons() {
  const select = $("reason");
  const chosen = select.value;
  select.replaceChildren(...NOT_READY_REASONS.map((r) => h("option", { value: r }, t(`reason.${r}`))));
  if (chosen) select.value = chosen;
}

async function fillTargets() {
  try {
    const [queues, agents] = await Promise.all([api("GET", "/api/v1/queues"), api("GET", "/api/v1/agents")]);
    $("targets").replaceChildren(
      ...queues.map((q) => h("option", { value: q.name }, t("target.queue"))),
      ...agents.filter((a) => a.id !== agent).map((a) => h("option", { value: a.id }, a.name || a.id)),
    );
  } catch (e) {
    // Only a help for typing: the transfer works without it.
  }
}

function enter(who) {
  me = who;
  agent = who.user;
  $("who").textContent = `${who.user} · ${t(`role.${who.role}`)}`;
  pageLinks($("pages"), who.role);
  show($("signin-page"), false);
  show($("work"), true);
  show($("signout"), true);
  fillReasons();
  fillTargets();
  socket = liveEvents(`/api/v1/cti/ws?agent=${encodeURIComponent(agent)}`, {
    onEvent,
    onState: (s, e) => {
      $("link").textContent = t(`link.${s}`);
      $("link").dataset.state = s;
      if (e && e.status === 401) leave();
      if (e && e.status === 403) say(e.message, true);
    },
  });
  $("work").focus();
}

function leave() {
  if (socket) socket.stop();
  socket = null;
  me = null;
  agent = null;
  current = null;
  wrapCall = null;
  preview = null;
  show($("work"), false);
  show($("signout"), false);
  show($("signin-page"), true);
  $("who").textContent = "";
  pageLinks($("pages"), null);
  $("signin-user").focus();
}

async function main() {
  setupLanguage($("lang"));
  onLanguage(() => {
    drawShortcuts();
    fillReasons();
    if (me) {
      $("who").textContent = `${me.user} · ${t(`role.${me.role}`)}`;
      setState({});
    }
  });
  drawShortcuts();
  for (const b of document.querySelectorAll("[data-action]")) {
    if (b.type !== "submit") b.addEventListener("click", () => run(b.dataset.action));
  }
  $("data-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    saveData();
  });
  $("data-add").addEventListener("click", () => {
    const row = dataRow("", "");
    $("call-data").tBodies[0].append(row);
    row.querySelector("input").focus();
  });
  $("wrap-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    saveWrap();
  });
  $("dtmf-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    run("send_dtmf");
  });
  for (const b of $("keypad").querySelectorAll("[data-key]")) {
    b.addEventListener("click", () => sendKeys(b.dataset.key, false));
  }
  $("dial-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    run("dial");
  });
  $("wo-form").addEventListener("submit", createWorkorder);
  $("wo-kind").addEventListener("change", () => drawWorkorderFields(current || wrapCall));
  $("wo-cancel").addEventListener("click", () => show($("workorder"), false));
  $("signout").addEventListener("click", async () => {
    await signOut().catch(() => {});
    leave();
  });
  setupSignIn($("signin"), enter);
  setInterval(tick, 1000);
  const who = await whoAmI().catch(() => null);
  if (who) enter(who);
  else leave();
}

main();
