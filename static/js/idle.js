// The idle warning (KWCAG 2.2, WCAG 2.2.1 Timing Adjustable): before the server ends an unused login, say so and
// offer to go on; once it has ended, say that plainly, with a link to log in again. Nothing kept on the phone (the
// form's draft, queued inspections) is touched: they wait for the next login as before.
(function () {
  var dlg = document.getElementById("idle-dialog");
  if (!dlg || typeof dlg.showModal !== "function") return;
  var limit = +dlg.getAttribute("data-limit"), MIN = 60000;
  // Two minutes before the end, or at 80 % of a limit shorter than ten minutes.
  var warnBefore = Math.min(2 * MIN, limit * 200);
  // Use of the page (typing, tapping) without requests counts too, at most once every five minutes.
  var ACTIVE_EVERY = Math.min(5 * MIN, limit * 500);
  var deadline = Date.now() + (+dlg.getAttribute("data-left")) * 1000;
  var timer = null, busy = false, ended = false;
  var warnPart = dlg.querySelector("[data-idle=warn]"), endedPart = dlg.querySelector("[data-idle=ended]");
  var msg = document.getElementById("idle-msg");

  function schedule(at) {
    clearTimeout(timer);
    timer = setTimeout(check, Math.max(0, at - Date.now()));
  }

  // The server's answer: the login ends leftSeconds from now, so it was last used (limit - left) seconds ago.
  function heard(leftSeconds) { deadline = Date.now() + leftSeconds * 1000; }
  function sinceUse() { return Date.now() - (deadline - limit * 1000); }

  // Ask the server what is left (the question itself does not count as use): another tab or the form's own
  // requests may have used the login meanwhile. Offline, nothing is shown: the server cannot be reached, so this
  // page cannot know whether the login has ended, and the phone keeps the draft either way. The check runs again
  // once the phone is back online.
  function check() {
    if (ended || !navigator.onLine) return;
    fetch(dlg.getAttribute("data-check-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 401) return showEnded();
        if (!r.ok) throw new Error(r.status);
        return r.json().then(function (j) {
          heard(j.left);
          if (j.left * 1000 > warnBefore) { hide(); schedule(deadline - warnBefore); }
          else { showWarning(j.left); schedule(deadline + 1000); }
        });
      })
      .catch(function () { schedule(Date.now() + MIN); });  // unreachable: no warning; ask again in a minute
  }

  function open(part, labelId) {
    warnPart.hidden = part !== warnPart;
    endedPart.hidden = part !== endedPart;
    dlg.setAttribute("aria-labelledby", labelId);
    if (!dlg.open) dlg.showModal();  // moves focus into the dialog (its first button); Esc closes it
    var first = part.querySelector("button, a");
    if (first && !part.contains(document.activeElement)) first.focus();
  }

  function showWarning(leftSeconds) {
    msg.textContent = msg.getAttribute("data-template").replace("{n}", Math.max(1, Math.ceil(leftSeconds / 60)));
    open(warnPart, "idle-msg");
  }

  function showEnded() {
    ended = true;
    clearTimeout(timer);
    open(endedPart, "idle-ended-msg");
  }

  function hide() { if (dlg.open && !ended) dlg.close(); }

  // 계속 사용: a POST that counts as use. A token grown old (a page kept offline) is swapped for a fresh one once.
  function extend(retried) {
    if (busy || ended) return Promise.resolve();
    busy = true;
    return fetch(dlg.getAttribute("data-keepalive-url"), {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRFToken": dlg.getAttribute("data-csrf"), Accept: "application/json" } })
      .then(function (r) {
        busy = false;
        if (r.status === 204) { heard(limit); hide(); schedule(deadline - warnBefore); return; }
        if (r.status === 401) return showEnded();
        if (r.status === 400 && !retried) return freshToken().then(function () { return extend(true); });
      })
      .catch(function () { busy = false; });
  }

  function freshToken() {
    return fetch(dlg.getAttribute("data-csrf-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (r.status === 401) { showEnded(); throw new Error("ended"); } return r.json(); })
      .then(function (j) { if (j.csrf_token) dlg.setAttribute("data-csrf", j.csrf_token); });
  }

  dlg.querySelector("[data-idle-extend]").addEventListener("click", function () { extend(false); });
  dlg.querySelector("[data-idle-close]").addEventListener("click", function () { dlg.close(); });

  function active() {
    if (!ended && navigator.onLine && sinceUse() >= ACTIVE_EVERY) extend(false);
  }
  ["keydown", "pointerdown", "input"].forEach(function (type) {
    document.addEventListener(type, active, { capture: true, passive: true });
  });
  window.addEventListener("online", check);
  // A phone asleep runs no timers: on waking, ask at once rather than trust a timer that is late.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && Date.now() >= deadline - warnBefore) check();
  });
  schedule(deadline - warnBefore);
})();
