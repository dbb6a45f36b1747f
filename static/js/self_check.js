// The site's self-check (자체점검): the answers are kept on the phone as a draft (localStorage) while the officer
// fills them in, and kept until the server has them: with no signal, they wait and go when the phone is online. The
// service worker keeps the page itself (sw.js), so that it opens again with no signal once opened online.
(function () {
  "use strict";
  var form = document.getElementById("selfcheck");
  if (!form || !window.fetch || !window.FormData) return;  // without them, the plain form posts as it is
  var key = "tracker:selfcheck:" + form.getAttribute("data-site");
  var status = document.getElementById("sc-status"), progress = document.getElementById("sc-progress");
  var uuidField = form.elements.client_uuid, busy = false;

  function msg(name) { return form.getAttribute("data-msg-" + name) || ""; }
  function get() { try { return JSON.parse(localStorage.getItem(key) || "null"); } catch (e) { return null; } }
  function put(d) { try { localStorage.setItem(key, JSON.stringify(d)); } catch (e) { /* full or private mode */ } }
  function drop() { try { localStorage.removeItem(key); } catch (e) { /* nothing kept */ } }
  // The id of the last self-check the server took: a kept copy of the page still carries it, and the server would
  // take a new self-check under it as that one again (sent once), so a page that shows it starts a new one.
  function sent(id) {
    try { if (id) localStorage.setItem(key + ":sent", id); return localStorage.getItem(key + ":sent"); } catch (e) { return null; }
  }
  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16)), h = [];
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    b.forEach(function (x) { h.push((x + 256).toString(16).slice(1)); });
    return h.slice(0, 4).join("") + "-" + h.slice(4, 6).join("") + "-" + h.slice(6, 8).join("") + "-" +
      h.slice(8, 10).join("") + "-" + h.slice(10).join("");
  }
  function say(text, kind) {
    status.textContent = text;
    status.className = "flash " + (kind || "info");
    status.hidden = !text;
  }

  function snapshot(pending) {
    var d = { client_uuid: uuidField.value, officer_name: form.elements.officer_name.value, pending: !!pending };
    form.querySelectorAll("input[type=radio]:checked").forEach(function (r) { d[r.name] = r.value; });
    return d;
  }

  function missing() {
    var names = {};
    form.querySelectorAll("input[type=radio]").forEach(function (r) { names[r.name] = names[r.name] || r.checked; });
    return Object.keys(names).filter(function (n) { return !names[n]; });
  }

  function count() {
    var total = +progress.getAttribute("data-total");
    progress.textContent = (total - missing().length) + " / " + total;
  }

  // A kept draft fills only what the page left empty: answers the server gave back after a refusal stand.
  function restore() {
    var d = get(), restored = false;
    if (!d) return null;
    if (d.client_uuid) uuidField.value = d.client_uuid;  // the same self-check: a resend is kept once
    if (!form.elements.officer_name.value && d.officer_name) { form.elements.officer_name.value = d.officer_name; restored = true; }
    Object.keys(d).forEach(function (name) {
      if (name.indexOf("a-") !== 0) return;
      var els = form.querySelectorAll('input[name="' + name + '"]'), any = false;
      els.forEach(function (r) { if (r.checked) any = true; });
      if (!any) els.forEach(function (r) { if (r.value === d[name]) { r.checked = true; restored = true; } });
    });
    if (restored) say(msg("restored"), "info");
    return d;
  }

  function send() {
    if (busy) return;
    busy = true;
    say(msg("sending"), "info");
    fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin",
                         headers: { Accept: "application/json" } })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (body) {
          busy = false;
          if (r.ok && body.ok) { sent(uuidField.value); drop(); window.location.assign(body.next); return; }
          if (r.status === 400 && body.error === "csrf") {
            // The page's security token ran out while it waited: a fresh page (same draft) sends it again once.
            var d = get() || snapshot(true);
            if (!d.reloaded) { d.reloaded = true; put(d); window.location.reload(); return; }
          }
          var d2 = get();
          if (d2) { d2.pending = false; put(d2); }
          var why = Object.keys(body.errors || {}).map(function (k) { return body.errors[k]; }).join(" · ");
          say(msg("refused").replace("{why}", why || body.message || r.status), "error");
        });
      }, function () {
        busy = false;
        say(msg("offline"), "warn");  // kept as pending: sent again when the phone is online
      });
  }

  form.addEventListener("change", function () { put(snapshot(false)); count(); });
  form.addEventListener("input", function () { put(snapshot(false)); });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var left = missing();
    if (left.length || !form.elements.officer_name.value.trim()) {
      say(msg("missing").replace("{n}", left.length), "error");
      (left.length ? form.querySelector('input[name="' + left[0] + '"]') : form.elements.officer_name).focus();
      return;
    }
    put(snapshot(true));
    send();
  });
  window.addEventListener("online", function () { var d = get(); if (d && d.pending) send(); });

  // The worker keeps this page for use with no signal; on the first visit it is not yet in charge: it is asked to.
  if ("serviceWorker" in navigator && form.getAttribute("data-sw")) {
    navigator.serviceWorker.register(form.getAttribute("data-sw")).then(function () {
      if (navigator.serviceWorker.controller) return;
      return navigator.serviceWorker.ready.then(function (reg) {
        if (reg.active) reg.active.postMessage({ type: "keep", url: location.href });
      });
    }).catch(function () { /* no worker: the page works online as before */ });
  }

  var kept = restore();
  if (!kept && uuidField.value === sent()) uuidField.value = newId();
  count();
  if (kept && kept.pending && navigator.onLine !== false) send();
})();
