// What the desk and the wallboard share: building elements without markup
// (caller data is always text, never HTML), the page's language, calls to the
// API with the session's anti-forgery token, the sign-in form, the live event
// socket with its reconnection, and the formatting of times and durations.

import { MESSAGES, LANGUAGES } from "./i18n.js";

// ----- elements -------------------------------------------------------------

/** An element with attributes and children (strings become text nodes). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

/** Shows or hides an element. */
export function show(el, visible) {
  el.hidden = !visible;
}

// ----- language ---------------------------------------------------------------

const LANG_KEY = "dialect.lang";

/** The language the page speaks: the one chosen on the page, else the browser's. */
export function language() {
  const chosen = localStorage.getItem(LANG_KEY);
  if (chosen && MESSAGES[chosen]) return chosen;
  const wanted = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || "en"];
  for (const l of wanted) {
    const base = String(l).toLowerCase().split("-")[0];
    if (MESSAGES[base]) return base;
  }
  return "en";
}

let lang = language();
const listeners = [];

/** A message in the page's language, with `{name}` placeholders filled. */
export function t(key, vars = {}) {
  const table = MESSAGES[lang] || MESSAGES.en;
  const text = table[key] ?? MESSAGES.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? String(vars[k]) : `{${k}}`));
}

/** Writes every marked element's text in the page's language. */
export function translate(root = document) {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : lang;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
}

/** Runs `f` whenever the language changes (to redraw what is drawn from data). */
export function onLanguage(f) {
  listeners.push(f);
}

/** Sets up the language switch (a `<select>`) and translates the page. */
export function setupLanguage(select) {
  select.replaceChildren(...LANGUAGES.map(([code, name]) => h("option", { value: code }, name)));
  select.value = lang;
  select.addEventListener("change", () => {
    lang = select.value;
    localStorage.setItem(LANG_KEY, lang);
    translate();
    for (const f of listeners) f();
  });
  translate();
}

// ----- API ----------------------------------------------------------------------

let csrf = null;
let clockOffset = 0;

/** An error the API answered: its status, stable code and message for people. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Calls the API; JSON in and out. Changes carry the anti-forgery token. */
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let r;
  try {
    r = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (e) {
    throw new ApiError(0, "network", t("error.network"));
  }
  const date = Date.parse(r.headers.get("date") || "");
  if (!Number.isNaN(date)) clockOffset = date - Date.now();
  const text = await r.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch (e) {
      data = text;
    }
  }
  if (!r.ok) {
    const message = data && typeof data === "object" && data.message ? data.message : `${r.status} ${r.statusText}`;
    throw new ApiError(r.status, data && data.error ? data.error : "http", message);
  }
  return data;
}

/** The server's time now, ms (the browser's clock corrected by the last answer's `Date`). */
export function serverNow() {
  return Date.now() + clockOffset;
}

/** Who is signed in (`{user, role, department, csrf}`), or null. */
export async function whoAmI() {
  try {
    const me = await api("GET", "/api/v1/me");
    csrf = me.csrf;
    return me;
  } catch (e) {
    if (e.status === 401) return null;
    throw e;
  }
}

/** Signs in; the session cookie is set by the answer. */
export async function signIn(user, password) {
  const me = await api("POST", "/api/v1/login", { user, password });
  csrf = me.csrf;
  return me;
}

/** Ends the session. */
export async function signOut() {
  try {
    await api("POST", "/api/v1/logout");
  } finally {
    csrf = null;
  }
}

/**
 * Wires the sign-in form: on success `done(me)` runs; a refusal shows the
 * server's own message (wrong password, locked out).
 */
export function setupSignIn(form, done) {
  const error = form.querySelector(".error");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    const user = form.elements.user.value.trim();
    const password = form.elements.password.value;
    try {
      const me = await signIn(user, password);
      form.elements.password.value = "";
      done(me);
    } catch (e) {
      error.textContent = e.message;
      form.elements.password.select();
    }
  });
}

// ----- events -----------------------------------------------------------------------

/**
 * A live event socket that opens with a one-time ticket and opens again after
 * a drop (waiting longer each time, at most 10 s). `onEvent` gets each event,
 * `onState` "open" or "closed", `onOpen` runs after each (re)connection so the
 * page can reload what it may have missed.
 */
export function liveEvents(path, { onEvent, onState, onOpen }) {
  let delay = 500;
  let stopped = false;
  let socket = null;
  async function connect() {
    if (stopped) return;
    let ticket;
    try {
      ticket = (await api("POST", "/api/v1/ws-tickets")).ticket;
    } catch (e) {
      onState("closed", e);
      if (e.status === 401) return;
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10_000);
      return;
    }
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const sep = path.includes("?") ? "&" : "?";
    socket = new WebSocket(`${scheme}//${location.host}${path}${sep}ticket=${encodeURIComponent(ticket)}`);
    socket.addEventListener("open", () => {
      delay = 500;
      onState("open");
      if (onOpen) onOpen();
    });
    socket.addEventListener("message", (m) => {
      let ev;
      try {
        ev = JSON.parse(m.data);
      } catch (e) {
        return;
      }
      onEvent(ev);
    });
    socket.addEventListener("close", () => {
      onState("closed");
      if (!stopped) {
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 10_000);
      }
    });
  }
  connect();
  return {
    stop() {
      stopped = true;
      if (socket) socket.close();
    },
  };
}

// ----- formatting ---------------------------------------------------------------------

/** A duration as m:ss, or h:mm:ss from an hour on. */
export function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return hh > 0 ? `${hh}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}

/** A clock time (hh:mm:ss) of a Unix-ms instant, in the browser's zone. */
export function clock(ms) {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}

/** A share (0..1) as a percentage, or a dash. */
export function percent(x) {
  return x === null || x === undefined || Number.isNaN(x) ? "–" : `${Math.round(x * 1000) / 10}%`;
}

/** A call-data value as text (numbers, texts, yes/no, records). */
export function valueText(v) {
  if (v === null || v === undefined) return "";
  if (Array.isArray(v)) return v.map(([k, x]) => `${k}=${valueText(x)}`).join(", ");
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** Whether a key press happened in a field where typing goes (shortcuts then need Alt). */
export function typing(ev) {
  const el = ev.target;
  return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
}

// ----- pages ---------------------------------------------------------------------------

/**
 * The pages and the roles that may use them, as the API grants them (an
 * administrator may use all): the header links only to what the person
 * signed in may open.
 */
const PAGES = [
  ["/", "nav.desk", ["agent"]],
  ["/wallboard", "nav.wallboard", ["supervisor", "quality_inspector", "analyst"]],
  ["/reports", "nav.reports", ["supervisor", "quality_inspector", "analyst"]],
  ["/recordings", "nav.recordings", ["supervisor", "quality_inspector", "agent"]],
];

/** Whether `role` may use the page at `path`. */
export function mayOpen(path, role) {
  const page = PAGES.find(([p]) => p === path);
  return Boolean(page) && (role === "admin" || page[2].includes(role));
}

/** Fills the header's `<nav>` with links to the other pages `role` may open (none when signed out). */
export function pageLinks(nav, role) {
  nav.replaceChildren(
    ...PAGES.filter(([path]) => role && path !== location.pathname && mayOpen(path, role)).map(([path, key]) =>
      h("a", { href: path, "data-i18n": key }, t(key))),
  );
}

/** A date input's day (YYYY-MM-DD) as the Unix ms of its local midnight, or null. */
export function dayStart(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value || "");
  return m ? new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3])).getTime() : null;
}

/** A Unix-ms instant as the YYYY-MM-DD a date input takes, in the browser's zone. */
export function dayValue(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

/** A date and time (YYYY-MM-DD hh:mm:ss) of a Unix-ms instant, in the browser's zone. */
export function dateTime(ms) {
  return `${dayValue(ms)} ${clock(ms)}`;
}
