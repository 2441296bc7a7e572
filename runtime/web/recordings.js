// The recordings page: searches recorded calls (`GET /api/v1/recordings`)
// by agent, caller, queue, result and dates, and plays one in the page's
// `<audio>` player, which fetches the file with the session cookie. The
// server decides what each role may find and hear (an agent: their own
// calls) and writes every play to the audit log.

import {
  $, h, show, t, api, whoAmI, signOut, setupSignIn, setupLanguage, onLanguage,
  duration, pageLinks, mayOpen, dayStart, dateTime,
} from "./common.js";

const DAY = 86_400_000;
/** At most this many results are asked for at once. */
const LIMIT = 200;

let me = null;
/** The recordings found, as the API answered. */
let found = [];
/** The recording in the player (its URL). */
let playing = null;

async function search(ev) {
  if (ev) ev.preventDefault();
  const q = new URLSearchParams();
  for (const name of ["agent", "caller", "queue", "result"]) {
    const v = $("search").elements[name].value.trim();
    if (v) q.set(name, v);
  }
  const from = dayStart($("q-from").value);
  const last = dayStart($("q-to").value);
  if (from !== null) q.set("from", String(from));
  if (last !== null) q.set("to", String(last + DAY));
  if (from !== null && last !== null && last < from) {
    say(t("rp.bad_period"), true);
    $("q-from").focus();
    return;
  }
  q.set("limit", String(LIMIT));
  say(t("rp.loading"));
  try {
    found = await api("GET", `/api/v1/recordings?${q}`);
    draw();
    say(t("rec.found", { n: found.length }));
  } catch (e) {
    say(e.message, true);
  }
}

function play(r) {
  const player = $("player");
  playing = r.url;
  player.src = r.url;
  $("playing").textContent = t("rec.now_playing", {
    caller: r.caller,
    agent: r.agent || "–",
    when: dateTime(r.started_ms),
  });
  player.play().catch(() => {
    // Autoplay refused or the file cannot be read: the controls stay for the person.
  });
  player.addEventListener("error", () => say(t("rec.cannot_play"), true), { once: true });
  draw();
  player.focus();
}

function draw() {
  const body = $("results").tBodies[0];
  if (!found.length) {
    body.replaceChildren(h("tr", {}, h("td", { colspan: 8, class: "muted" }, t("none"))));
    return;
  }
  body.replaceChildren(
    ...found.map((r) =>
      h("tr", { "data-contact": r.contact, "data-index": r.index, class: r.url === playing ? "playing" : null },
        h("td", {}, dateTime(r.started_ms)),
        h("td", {}, r.agent || "–"),
        h("td", {}, r.caller),
        h("td", {}, r.called),
        h("td", {}, r.queue || "–"),
        h("td", {}, t(`rec.${r.result}`)),
        h("td", {}, r.talk_ms === null || r.talk_ms === undefined ? "–" : duration(r.talk_ms)),
        h("td", {}, h("button", {
          type: "button",
          class: "play",
          "aria-label": t("rec.play_label", { caller: r.caller, when: dateTime(r.started_ms) }),
          onclick: () => play(r),
        }, t("rec.play"))))),
  );
}

/** A line in the status area (read out by screen readers). */
function say(text, error = false) {
  const s = $("status");
  s.textContent = text;
  s.classList.toggle("error", error);
}

function enter(who) {
  me = who;
  $("who").textContent = `${who.user} · ${t(`role.${who.role}`)}`;
  pageLinks($("pages"), who.role);
  show($("signin-page"), false);
  show($("signout"), true);
  if (!mayOpen("/recordings", who.role)) {
    $("refused-text").textContent = t("rec.refused", { role: t(`role.${who.role}`) });
    show($("refused"), true);
    show($("library"), false);
    return;
  }
  show($("own-only"), who.role === "agent");
  show($("refused"), false);
  show($("library"), true);
  $("q-agent").focus();
  search();
}

function leave() {
  me = null;
  found = [];
  $("player").removeAttribute("src");
  $("who").textContent = "";
  pageLinks($("pages"), null);
  show($("library"), false);
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
      if (!mayOpen("/recordings", me.role)) $("refused-text").textContent = t("rec.refused", { role: t(`role.${me.role}`) });
    }
    draw();
  });
  $("search").addEventListener("submit", search);
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
