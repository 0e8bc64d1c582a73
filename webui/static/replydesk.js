// Replydesk: keyboard shortcuts and small composer helpers.
// No inline scripts anywhere (the Content-Security-Policy forbids them);
// everything the pages do in the browser is in this file and htmx.
(function () {
  "use strict";

  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"]; } catch (e) { return ""; }
  }

  function post(url, data) {
    const body = new URLSearchParams(data);
    return fetch(url, { method: "POST", body: body, credentials: "same-origin",
                        headers: { "X-CSRFToken": csrf(), "HX-Request": "true" } });
  }

  // --- inbox list: j/k selection that survives live reloads -----------------
  let selectedId = null;

  function rows() { return Array.from(document.querySelectorAll("#rows tr.row")); }

  function select(row) {
    rows().forEach(function (r) { r.classList.remove("selected"); r.removeAttribute("aria-selected"); });
    if (!row) return;
    row.classList.add("selected");
    row.setAttribute("aria-selected", "true");
    selectedId = row.dataset.id;
    const link = row.querySelector(".preview a");
    if (link) link.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    const all = rows();
    if (!all.length) return;
    let i = all.findIndex(function (r) { return r.dataset.id === selectedId; });
    i = i < 0 ? 0 : Math.min(all.length - 1, Math.max(0, i + step));
    select(all[i]);
  }

  document.addEventListener("htmx:afterSwap", function () {
    if (selectedId) {
      const row = document.querySelector('#rows tr.row[data-id="' + selectedId + '"]');
      if (row) { row.classList.add("selected"); row.setAttribute("aria-selected", "true"); }
    }
    setupComposer();
    tick();
  });

  document.addEventListener("click", function (ev) {
    const row = ev.target.closest && ev.target.closest("#rows tr.row");
    if (row && !ev.target.closest("a, button, input, select")) window.location = row.dataset.href;
    if (ev.target.closest && ev.target.closest("[data-help]")) openHelp();
  });

  function openHelp() {
    const d = document.getElementById("help");
    if (d && !d.open) d.showModal();
  }

  function submit(id) {
    const f = document.getElementById(id);
    if (f) f.requestSubmit();
  }

  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    const typing = t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
    if (typing) {
      if (ev.key === "Escape") t.blur();
      return;
    }
    const page = document.body.dataset.page;
    switch (ev.key) {
      case "j": if (page === "inbox") { move(1); ev.preventDefault(); } break;
      case "k": if (page === "inbox") { move(-1); ev.preventDefault(); } break;
      case "Enter": {
        const row = document.querySelector("#rows tr.row.selected");
        if (page === "inbox" && row) { window.location = row.dataset.href; ev.preventDefault(); }
        break;
      }
      case "/": {
        const q = document.getElementById("q");
        if (q) { q.focus(); q.select(); ev.preventDefault(); }
        else { window.location = "/?focus=search"; }
        break;
      }
      case "r": {
        const box = document.getElementById("reply-text");
        if (box) { box.focus(); ev.preventDefault(); }
        break;
      }
      case "e": if (page === "conversation") { submit("close-form"); ev.preventDefault(); } break;
      case "a": if (page === "conversation") { submit("assign-me-form"); ev.preventDefault(); } break;
      case "?": openHelp(); ev.preventDefault(); break;
    }
  });

  // --- live updates -------------------------------------------------------------
  // #poller asks /live/changes every second; with news it fires "rd-changed"
  // naming the conversations and, on the inbox, whether any could be in this
  // list (`list`) and whether the counts can have moved (`counts`). The list
  // reloads when one could be in it or one of its rows changed (it may have
  // left the filter); at most every 1.5 s, so a change shows within 2 s of
  // being stored (a poll within 1 s, then at most the rest of the 1.5 s).
  // The counts are a summary: every 5 s at most.
  const LIST_EVERY_MS = 1500;
  const COUNTS_EVERY_MS = 5000;

  function throttled(eventName, everyMs) {
    let last = Date.now();  // the page has just loaded the list and its counts
    let due = null;
    return function () {
      if (due !== null) return;  // already on its way; it will read the newest state
      due = setTimeout(function () {
        due = null;
        last = Date.now();
        htmx.trigger(document.body, eventName);
      }, Math.max(0, last + everyMs - Date.now()));
    };
  }
  const reloadList = throttled("rd-list", LIST_EVERY_MS);
  const reloadCounts = throttled("rd-counts", COUNTS_EVERY_MS);

  document.addEventListener("rd-changed", function (ev) {
    if (!document.getElementById("list")) return;
    const d = ev.detail || {};
    const shown = new Set(rows().map(function (r) { return r.dataset.id; }));
    const mine = (d.conversations || []).some(function (id) { return shown.has(String(id)); });
    if (d.list !== false || mine) reloadList();
    if (d.counts !== false) reloadCounts();
  });

  // --- composer ---------------------------------------------------------------
  // X counts length its own way; this is a quick estimate while typing, the
  // server's answer (twitter-text) replaces it a moment later.
  const URL_RE = /https?:\/\/\S+/gi;
  function xLength(text) {
    let n = 0;
    const rest = text.replace(URL_RE, function () { n += 23; return ""; });
    for (const ch of rest.replace(/\u200d/g, "").replace(/[\ufe0e\ufe0f]/g, "")) {
      const c = ch.codePointAt(0);
      const light = c <= 0x10ff || (c >= 0x2000 && c <= 0x200d) || (c >= 0x2010 && c <= 0x201f) || (c >= 0x2032 && c <= 0x2037);
      n += light ? 1 : 2;
    }
    return n;
  }

  let typingSent = 0;
  let previewTimer = null;

  function setupComposer() {
    const box = document.getElementById("reply-text");
    if (!box || box.dataset.ready) return;
    box.dataset.ready = "1";
    const composer = document.getElementById("composer");
    box.addEventListener("input", function () {
      const counter = document.getElementById("counter");
      const limit = parseInt(composer.dataset.limit || "0", 10);
      if (counter && composer.dataset.kind === "x") {
        const used = xLength(box.value);
        counter.textContent = used + " / " + limit;
        counter.classList.toggle("over", used > limit);
      }
      const now = Date.now();
      if (box.dataset.presence && now - typingSent > 2000) {
        typingSent = now;
        post(box.dataset.presence, { typing: "1" }).catch(function () {});
      }
      if (box.dataset.preview) {
        clearTimeout(previewTimer);
        previewTimer = setTimeout(function () {
          post(box.dataset.preview, { text: box.value }).then(function (r) { return r.text(); }).then(function (html) {
            const out = document.getElementById("md-preview");
            if (out) out.innerHTML = html;  // sanitised by the server (nh3)
          }).catch(function () {});
        }, 300);
      }
    });
    if (box.value) box.dispatchEvent(new Event("input"));
  }

  // Undo countdown on queued replies.
  function tick() {
    document.querySelectorAll("time.countdown").forEach(function (t) {
      const left = Math.round((Date.parse(t.getAttribute("datetime")) - Date.now()) / 1000);
      t.textContent = left > 0 ? "in " + left + " s" : "any moment";
    });
  }
  setInterval(tick, 1000);

  // datetime-local is the agent's local time; send the offset to UTC beside it.
  document.addEventListener("submit", function (ev) {
    const tz = ev.target.querySelector && ev.target.querySelector('input[name="tz_offset"]');
    if (tz) tz.value = String(new Date().getTimezoneOffset());
  }, true);

  window.addEventListener("pagehide", function () {
    const c = document.querySelector("[data-conversation]");
    if (c && navigator.sendBeacon) {
      const data = new FormData();
      data.append("csrf_token", csrf());
      navigator.sendBeacon("/c/" + c.dataset.conversation + "/leave", data);
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    // At phone width the filters fold away; the list comes first.
    const more = document.getElementById("more-filters");
    if (more && window.matchMedia("(max-width: 760px)").matches) more.open = false;
    setupComposer();
    tick();
    if (new URLSearchParams(location.search).get("focus") === "search") {
      const q = document.getElementById("q");
      if (q) q.focus();
    }
  });
})();
