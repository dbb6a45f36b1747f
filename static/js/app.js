// Small progressive touches shared by every page; each page works without it.
document.addEventListener("submit", function (e) {
  var msg = e.target.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) e.preventDefault();
});

// A print button where the page offers one (the QR sheet): a phone's browser hides "print" deep in a menu.
document.querySelectorAll("[data-print]").forEach(function (b) {
  b.hidden = false;
  b.addEventListener("click", function () { window.print(); });
});

// A frame of this app's own (the e-mail preview) as tall as its content, so that the page scrolls, not the frame.
document.querySelectorAll("iframe[data-autosize]").forEach(function (f) {
  function fit() {
    try {
      var doc = f.contentDocument;
      if (doc && doc.documentElement) {
        f.style.height = "0px";
        f.style.height = doc.documentElement.scrollHeight + (f.offsetHeight - f.clientHeight) + "px";
      }
    } catch (e) { /* not ours to measure: keep the fixed height */ }
  }
  f.addEventListener("load", fit);
  window.addEventListener("resize", fit);
  if (f.contentDocument && f.contentDocument.readyState === "complete") fit();
});

// Logging out clears what this phone keeps for use offline: the service worker, its pages and files, the drafts of
// unsent forms and the tokens they hold (inspect.js keeps them in localStorage and in IndexedDB "tracker"). An
// inspection already queued to be sent stays, sealed with its inspector's id: inspect.js sends it only once that
// inspector logs in again, and the server refuses it (409) in anyone else's name.
function clearKept(keepWorker) {
  var jobs = [];
  // The worker goes too, so that nothing is kept again until the next login registers it afresh.
  if (!keepWorker && navigator.serviceWorker && navigator.serviceWorker.getRegistrations) {
    jobs.push(navigator.serviceWorker.getRegistrations().then(function (regs) {
      return Promise.all(regs.map(function (r) { return r.unregister(); }));
    }));
  }
  if (window.caches) {
    jobs.push(caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (k) { return k.indexOf("tracker-") === 0; })
        .map(function (k) { return caches.delete(k); }));
    }));
  }
  try {
    Object.keys(localStorage).filter(function (k) { return /^tracker:(draft:|cur:|sent$|user$)/.test(k); })
      .forEach(function (k) { localStorage.removeItem(k); });
  } catch (e) { /* no storage: nothing kept */ }
  if (window.indexedDB) {
    jobs.push(new Promise(function (ok) {
      var r = indexedDB.open("tracker");
      r.onsuccess = function () {
        var d = r.result;
        if (!d.objectStoreNames.contains("drafts")) { d.close(); ok(); return; }
        var t = d.transaction("drafts", "readwrite");
        t.objectStore("drafts").clear();
        t.oncomplete = t.onerror = t.onabort = function () { d.close(); ok(); };
      };
      r.onerror = r.onblocked = function () { ok(); };
    }));
  }
  return Promise.all(jobs).catch(function () {});
}

// This login's inspections still waiting on the phone (IndexedDB "tracker", store "queue"), oldest first.
function unsentOf(me) {
  if (!window.indexedDB) return Promise.resolve([]);
  return new Promise(function (ok) {
    var r = indexedDB.open("tracker");
    r.onsuccess = function () {
      var d = r.result;
      if (!d.objectStoreNames.contains("queue")) { d.close(); ok([]); return; }
      var q = d.transaction("queue").objectStore("queue").getAll();
      q.onsuccess = function () {
        d.close();
        ok(q.result.filter(function (x) { return (!x.owner || x.owner === me) && x.refusedFor !== me; })
          .sort(function (a, b) { return a.at < b.at ? -1 : 1; }));
      };
      q.onerror = function () { d.close(); ok([]); };
    };
    r.onerror = r.onblocked = function () { ok([]); };
  });
}

// Logging out with unsent inspections asks first, naming each (site and time): they stay on the phone, sealed.
function confirmUnsent(f) {
  return unsentOf(f.getAttribute("data-user")).then(function (entries) {
    if (!entries.length) return true;
    var lang = document.documentElement.lang || undefined;
    var lines = entries.map(function (x) {
      return "- " + (x.siteName || "") + " (" + new Date(x.at).toLocaleString(lang) + ")";
    });
    return window.confirm([f.getAttribute("data-msg-unsent").replace("{n}", entries.length)].concat(lines)
      .concat(["", f.getAttribute("data-msg-unsent-after")]).join("\n"));
  });
}

// A login other than the last one on this phone (a session that ended without logging out): the pages and drafts
// kept for the last one go, so that no one opens another's kept forms; queued inspections stay, sealed.
document.querySelectorAll("form[data-logout]").forEach(function (f, i) {
  if (i) return;
  try {
    var who = f.getAttribute("data-user"), last = localStorage.getItem("tracker:user");
    if (last && last !== who) clearKept(true);
    localStorage.setItem("tracker:user", who);
  } catch (e) { /* no storage: nothing kept */ }
});

document.querySelectorAll("form[data-logout]").forEach(function (f) {
  f.addEventListener("submit", function (e) {
    e.preventDefault();
    confirmUnsent(f).then(function (go) {
      if (!go) return;
      return clearKept().then(logout);
    });
  });
  function logout() {
    return Promise.resolve().then(function () {
      // A page kept offline may carry an old token: ask for a fresh one, or post the one it has.
      return fetch(f.getAttribute("data-csrf-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (j) { if (j.csrf_token) f.elements.csrf_token.value = j.csrf_token; });
    }).catch(function () {}).then(function () { f.submit(); });
  }
});

// 내 정보's location page: the answer the server now holds, for a form this phone keeps offline (inspect.js reads it
// and takes the newer of it and the kept page's).
var consentState = document.getElementById("location-state");
if (consentState) {
  try {
    localStorage.setItem("tracker:consent:" + consentState.getAttribute("data-user"), JSON.stringify(
      { state: consentState.getAttribute("data-state"), at: consentState.getAttribute("data-at") }));
  } catch (e) { /* no storage: the form goes by its own page */ }
}
