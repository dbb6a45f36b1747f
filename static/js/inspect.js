// The inspection form, improved: answers and shrunk photos kept on the phone as they are given, and an outbox
// queue that sends itself when the network or the login returns. The form works without this file.
(function () {
  "use strict";
  var DB = "tracker", STORE = "queue", DRAFTS = "drafts", SENT = "tracker:sent";
  var form = document.getElementById("insp");
  var queueNote = document.getElementById("insp-queue");
  var host = form || queueNote;
  if (!host) return;
  var csrfUrl = host.getAttribute("data-csrf-url");
  var loginPath = host.getAttribute("data-login-url");
  var me = host.getAttribute("data-user");  // a queued inspection is sent only under the login that made it
  var tokenUrl = host.getAttribute("data-form-token-url");
  // Another inspector's inspection stays on the phone, sealed: this login never sends it (nor one the server
  // already refused as another inspector's), and it goes out when its own inspector logs in again.
  function mine(e) { return (!e.owner || e.owner === me) && e.refusedFor !== me; }

  // --- small helpers ------------------------------------------------------------------------------
  function uuid4() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16)), h = "";
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    for (var i = 0; i < 16; i++) h += (b[i] + 256).toString(16).slice(1);
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  function lsGet(k, d) { try { var v = localStorage.getItem(k); return v ? JSON.parse(v) : d; } catch (e) { return d; } }
  function lsSet(k, v) { try { localStorage.setItem(k, JSON.stringify(v)); } catch (e) { /* full or private mode */ } }
  function markSent(id) { var s = lsGet(SENT, []); if (s.indexOf(id) < 0) s.push(id); lsSet(SENT, s.slice(-100)); }
  function unmarkSent(id) { lsSet(SENT, lsGet(SENT, []).filter(function (x) { return x !== id; })); }
  function wasSent(id) { return lsGet(SENT, []).indexOf(id) >= 0; }

  // --- IndexedDB: the outbox queue, and the photos of the drafts (localStorage cannot hold blobs) ----
  var dbp = null;
  function idb() {
    dbp = dbp || new Promise(function (ok, fail) {
      var r = indexedDB.open(DB, 2);
      r.onupgradeneeded = function () {
        var d = r.result;
        if (!d.objectStoreNames.contains(STORE)) d.createObjectStore(STORE, { keyPath: "uuid" });
        if (!d.objectStoreNames.contains(DRAFTS)) d.createObjectStore(DRAFTS, { keyPath: "uuid" });
      };
      r.onsuccess = function () {
        r.result.onversionchange = function () { r.result.close(); dbp = null; };
        ok(r.result);
      };
      r.onerror = function () { dbp = null; fail(r.error); };
    });
    return dbp;
  }
  function store(name, mode, fn) {
    return idb().then(function (db) {
      return new Promise(function (ok, fail) {
        var t = db.transaction(name, mode), req = fn(t.objectStore(name));
        t.oncomplete = function () { ok(req ? req.result : undefined); };
        t.onerror = function () { fail(t.error); };
        t.onabort = function () { fail(t.error); };
      });
    });
  }
  var queue = {
    put: function (e) { return store(STORE, "readwrite", function (s) { return s.put(e); }); },
    all: function () { return store(STORE, "readonly", function (s) { return s.getAll(); }); },
    del: function (id) { return store(STORE, "readwrite", function (s) { return s.delete(id); }); }
  };

  function freshToken() {
    return fetch(csrfUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 401 || isLogin(r)) { var e = new Error("login"); e.login = true; throw e; }
        if (!r.ok) throw new Error("csrf " + r.status);
        return r.json();
      }).then(function (j) { return j.csrf_token; });
  }

  function isLogin(r) {
    try { return r.redirected && new URL(r.url).pathname === loginPath; } catch (e) { return false; }
  }

  // What a reply means for a kept inspection:
  //   ok      - saved (201), or saved before (200);
  //   login   - the login expired: keep it, and send it once the user has logged in again;
  //   later   - the server or a proxy on the way failed (5xx, 502/504 on a weak signal, no answer): keep it, retry;
  //   refused - the server said no (422, 409, 413, ...): keep it, show the reason, do not retry as it is.
  //   sealed  - the server says another inspector wrote it (409 on form_token): keep it for them, unsent.
  function verdict(r, body) {
    if (r.status === 401 || isLogin(r)) return "login";
    if (r.status === 409 && body && body.errors && body.errors.form_token) return "sealed";
    if (body && body.url && (r.status === 200 || r.status === 201)) return "ok";
    if (r.status >= 500 || r.status === 408 || r.status === 429 || r.status < 400) return "later";
    return "refused";
  }

  function reason(res) {
    if (res.status === 413) return msg("too-big") || "413";
    var errs = res.body.errors || {};
    var why = Object.keys(errs).map(function (k) { return errs[k]; }).join(" · ");
    return why || res.body.message || "HTTP " + res.status;
  }

  // The form's signed owner: an entry made on a kept form under a key of the phone's own has none yet; the server
  // signs one for this login (only this login's entries are ever sent, see mine()).
  function ownerToken(entry) {
    var f = entry.fields.filter(function (x) { return x[0] === "form_token"; })[0];
    if (f && f[1]) return Promise.resolve();
    return fetch(tokenUrl + "?client_uuid=" + encodeURIComponent(entry.uuid),
                 { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 401 || isLogin(r)) { var e = new Error("login"); e.login = true; throw e; }
        if (!r.ok) throw new Error("form-token " + r.status);
        return r.json();
      }).then(function (j) { if (f) f[1] = j.form_token; else entry.fields.push(["form_token", j.form_token]); });
  }

  // Send one stored submission; always resolves {kind, status, body} (see verdict), never rejects.
  function send(entry, retried) {
    return ownerToken(entry).then(freshToken).then(function (token) {
      var fd = new FormData();
      entry.fields.forEach(function (f) { fd.append(f[0], f[0] === "csrf_token" ? token : f[1]); });
      entry.files.forEach(function (f) { fd.append(f[0], f[1], f[2]); });
      return fetch(entry.url, { method: "POST", body: fd, credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": token } });
    }).then(function (r) {
      var json = (r.headers.get("Content-Type") || "").indexOf("json") >= 0;
      return (json ? r.json().catch(function () { return null; }) : Promise.resolve(null)).then(function (body) {
        // A token that went stale between fetching and posting: once more with a new one. A second failure
        // is not the inspection's fault either, so it is retried later rather than refused.
        if (r.status === 400 && (!body || body.error === "csrf")) {
          return retried ? { kind: "later", status: 400, body: {} } : send(entry, true);
        }
        return { kind: verdict(r, body), status: r.status, body: body || {} };
      });
    }).catch(function (err) { return { kind: err && err.login ? "login" : "later", status: 0, body: {} }; });
  }

  var flushing = false, sendingNow = null, timer = null, wait = 5000;
  function retryLater() {
    clearTimeout(timer);
    timer = setTimeout(flush, wait);
    wait = Math.min(wait * 2, 300000);  // 5 s, 10 s, 20 s ... at most 5 minutes between tries
  }
  function flush() {
    if (flushing || !navigator.onLine || !window.indexedDB) return Promise.resolve();
    flushing = true;
    clearTimeout(timer);
    var login = false, later = false;
    return queue.all().then(function (entries) {
      return entries.filter(function (e) { return !e.error && e.uuid !== sendingNow && mine(e); }).reduce(function (p, e) {
        return p.then(function () {
          if (login) return;  // the others would meet the same login page
          return send(e).then(function (res) {
            if (res.kind === "ok") {
              markSent(e.uuid);
              return queue.del(e.uuid).then(function () { sentFromQueue(e, res.body); });
            }
            if (res.kind === "login") { login = true; return; }
            if (res.kind === "later") { later = true; return; }
            if (res.kind === "sealed") { e.refusedFor = me; return queue.put(e); }
            e.error = reason(res);
            e.errorFields = Object.keys(res.body.errors || {});
            return queue.put(e);
          });
        });
      }, Promise.resolve());
    }).catch(function () { later = true; })
      .then(function () {
        flushing = false;
        if (login) sayLogin();
        if (later) retryLater(); else wait = 5000;
        showQueue();
      });
  }

  function sentFromQueue(entry, body) {
    if (form && form.elements.client_uuid.value === entry.uuid) { location.assign(body.url); return; }
    say(msg("sent"), "info", body.url, msg("result"));
  }

  function showQueue() {
    if (!queueNote || !window.indexedDB) return;
    queue.all().then(function (entries) {
      // Refused entries are never retried; say so, with the server's reason, instead of promising to send them.
      var others = entries.filter(function (e) { return !mine(e); }).length;  // sealed: another inspector's
      entries = entries.filter(mine);
      var refused = entries.filter(function (e) { return e.error; });
      var waiting = entries.length - refused.length;
      var lines = [];
      if (waiting) lines.push(queueNote.getAttribute("data-msg").replace("{n}", waiting));
      if (others) lines.push(queueNote.getAttribute("data-msg-others").replace("{n}", others));
      refused.forEach(function (e) {
        lines.push(queueNote.getAttribute("data-msg-refused").replace("{site}", e.siteName || "")
                   .replace("{why}", e.error));
      });
      queueNote.hidden = lines.length === 0;
      queueNote.className = "flash " + (refused.length ? "error" : "warn");
      queueNote.textContent = lines.join(" ");
    });
  }

  function msg(name) { return host.getAttribute("data-msg-" + name) || ""; }
  var statusEl = document.getElementById("insp-status");
  var bar = document.getElementById("submit-bar");
  function say(text, kind, href, linkText) {
    var el = statusEl || queueNote;
    if (!el) return;
    el.hidden = false;
    el.className = "flash " + (kind || "info");
    // A refusal or a lost login interrupts; the rest waits for a pause in what the screen reader is saying.
    el.setAttribute("aria-live", kind === "error" ? "assertive" : "polite");
    el.textContent = text;
    if (href) {
      var a = document.createElement("a");
      a.href = href; a.className = "btn small"; a.textContent = linkText;
      el.appendChild(document.createTextNode(" "));
      el.appendChild(a);
    }
    // The message sits in the bar fixed at the bottom: the page's end must still scroll out from under it.
    if (bar && form) form.style.paddingBottom = (bar.offsetHeight + 16) + "px";
  }
  // The offline page: the forms this phone keeps, read from the service worker's cache.
  function listKept() {
    var list = document.getElementById("kept-forms");
    if (!list || !window.caches) return;
    caches.open("tracker-pages").then(function (c) {
      return c.keys().then(function (reqs) {
        return Promise.all(reqs.filter(function (r) { return /^\/inspect\/sites\/\d+$/.test(new URL(r.url).pathname); })
          .map(function (r) {
            return c.match(r).then(function (resp) { return resp.text(); }).then(function (html) {
              var doc = new DOMParser().parseFromString(html, "text/html"), h = doc.querySelector("h1");
              var badge = doc.querySelector(".mode-line .badge");
              return { url: r.url, text: (h ? h.textContent : r.url) + (badge ? " · " + badge.textContent : "") };
            });
          }));
      });
    }).then(function (forms) {
      forms.sort(function (a, b) { return a.text < b.text ? -1 : 1; });
      forms.forEach(function (f) {
        var li = document.createElement("li"), a = document.createElement("a");
        a.href = f.url; a.className = "btn block"; a.textContent = f.text;
        li.appendChild(a); list.appendChild(li);
      });
      var none = document.getElementById("kept-none");
      if (none) none.hidden = forms.length > 0;
    }).catch(function () {});
  }

  function sayLogin() { say(msg("login"), "warn", host.getAttribute("data-login-next"), msg("login-link")); }

  window.addEventListener("online", flush);
  // Back to this tab, perhaps after logging in again in another one.
  document.addEventListener("visibilitychange", function () { if (!document.hidden) flush(); });
  if ("serviceWorker" in navigator && host.getAttribute("data-sw")) {
    navigator.serviceWorker.register(host.getAttribute("data-sw")).then(function () {
      // Opened before the worker controlled the page (the first visit): ask it to keep this form too.
      if (form && !navigator.serviceWorker.controller) {
        navigator.serviceWorker.ready.then(function (reg) {
          if (reg.active) reg.active.postMessage({ type: "keep", url: location.href });
        });
      }
    }).catch(function () {});
    navigator.serviceWorker.addEventListener("message", function (e) {
      if (form && e.data && e.data.type === "checklist-changed") checklistChanged();
    });
  }

  if (!form) { showQueue(); flush(); listKept(); return; }

  // --- the form -------------------------------------------------------------------------------------
  var site = form.getAttribute("data-site"), mode = form.getAttribute("data-mode");
  var uuidField = form.elements.client_uuid;
  var pointer = "tracker:cur:" + site + ":" + mode;
  var photos = {};  // input name -> shrunk Blob
  var busy = false;
  // The hidden fields kept too: the form's owner for this key, and a code scanned with no signal (and when).
  var KEPT_HIDDEN = /^(form_token|offline_qr_token|offline_scanned_at)$/;
  var DRAFT_FIELD = /^(a-|n-|contact_name$|called_at$|note$|form_token$|offline_qr_token$|offline_scanned_at$)/;
  var tokenField = form.elements.form_token;

  function draftKey() { return "tracker:draft:" + site + ":" + uuidField.value; }

  function fill(draft) {
    var restored = false;
    Object.keys(draft).forEach(function (name) {
      var els = form.querySelectorAll('[name="' + name + '"]');
      if (!els.length) return;
      if (els[0].type === "radio") {
        var any = false;
        // The site's own self-check answer (pre-filled) gives way to what the inspector chose on the call.
        els.forEach(function (r) { if (r.checked && !r.hasAttribute("data-site-answer")) any = true; });
        if (!any) els.forEach(function (r) { if (r.value === draft[name]) { r.checked = true; restored = true; } });
      } else if (!els[0].value || els[0].value === els[0].defaultValue) {
        if (els[0].value !== draft[name]) { els[0].value = draft[name]; restored = true; }
      }
    });
    form.querySelectorAll("textarea").forEach(function (t) {
      if (t.value) { var d = t.closest("details"); if (d) d.open = true; }
    });
    return restored;
  }

  function restore() {
    var cur = lsGet(pointer, null);
    if (cur && !wasSent(cur) && lsGet("tracker:draft:" + site + ":" + cur, null)) {
      uuidField.value = cur;  // the same inspection, so a retry stays idempotent
    } else if (wasSent(uuidField.value)) {
      uuidField.value = uuid4();  // a cached form shell whose key was already used
    }
    lsSet(pointer, uuidField.value);
    var draft = lsGet(draftKey(), null);
    // The page's token signs the page's own key: under another key, only the draft's token (if any) fits.
    if (tokenField && uuidField.value !== uuidField.defaultValue) tokenField.value = (draft && draft.form_token) || "";
    if (draft && fill(draft)) say(msg("restored"), "info");
    fetchOwnerToken();
    if (!window.indexedDB) return Promise.resolve(!!draft);
    return store(DRAFTS, "readonly", function (s) { return s.get(uuidField.value); }).then(function (d) {
      Object.keys((d && d.photos) || {}).forEach(function (name) { showPhoto(name, d.photos[name], true); });
      return !!draft;
    });
  }

  // A kept inspection the server refused comes back into its form, photos included, to be fixed and sent.
  function reopenRefused() {
    return queue.all().then(function (entries) {
      var e = entries.filter(function (x) { return x.error && x.site === site && x.mode === mode; })[0];
      if (!e) return;
      // A key that the server says belongs to someone else's inspection would only be refused again: the
      // answers move to a new draft under a new key, and the dead entry goes.
      var stale = (e.errorFields || []).indexOf("client_uuid") >= 0;
      uuidField.value = stale ? uuid4() : e.uuid;
      unmarkSent(uuidField.value);
      var draft = {};
      e.fields.forEach(function (f) { if (DRAFT_FIELD.test(f[0]) && f[1]) draft[f[0]] = f[1]; });
      if (tokenField) tokenField.value = stale ? "" : (draft.form_token || "");
      if (stale) delete draft.form_token;
      if (mode === "phone" && e.calledAtSet) delete draft.called_at;  // filled in at submit, not by the user
      fill(draft);
      save();
      e.files.forEach(function (f) { if (f[1] instanceof Blob) { showPhoto(f[0], f[1], true); keepPhoto(f[0], f[1]); } });
      updateProgress();
      say(msg("reopened").replace("{why}", e.error), "error");
      fetchOwnerToken();
      if (stale) return queue.del(e.uuid);
    });
  }

  // A key the phone made itself gets its signed owner from the server when there is a signal (else at send).
  function fetchOwnerToken() {
    if (!tokenField || tokenField.value || !navigator.onLine || !tokenUrl) return;
    var id = uuidField.value;
    fetch(tokenUrl + "?client_uuid=" + encodeURIComponent(id), { credentials: "same-origin",
                                                                  headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok || isLogin(r)) throw new Error("form-token " + r.status); return r.json(); })
      .then(function (j) { if (uuidField.value === id && !tokenField.value) { tokenField.value = j.form_token; save(); } })
      .catch(function () { /* sent with the entry instead */ });
  }

  function save() {
    var data = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.type === "file" || el.name === "csrf_token") return;
      if (el.type === "hidden" && !KEPT_HIDDEN.test(el.name)) return;
      if (el.type === "radio") { if (el.checked) data[el.name] = el.value; return; }
      if (el.value) data[el.name] = el.value;
    });
    lsSet(draftKey(), data);
    lsSet(pointer, uuidField.value);
  }

  function keepPhoto(name, blob) {
    if (!window.indexedDB) return Promise.resolve();
    var id = uuidField.value;
    return store(DRAFTS, "readwrite", function (s) {
      var g = s.get(id);
      g.onsuccess = function () {
        var d = g.result || { uuid: id, photos: {} };
        if (blob) d.photos[name] = blob; else delete d.photos[name];
        s.put(d);
      };
    }).catch(function () { /* the photo still goes with this submit; only a reload would lose it */ });
  }

  function forget() {
    try { localStorage.removeItem(draftKey()); localStorage.removeItem(pointer); } catch (e) { /* ignore */ }
    if (window.indexedDB) {
      var id = uuidField.value;
      store(DRAFTS, "readwrite", function (s) { return s.delete(id); }).catch(function () {});
    }
  }

  var progress = document.getElementById("insp-progress");
  function groups() { return form.querySelectorAll("fieldset.q"); }
  function unanswered() {
    return Array.prototype.filter.call(groups(), function (fs) { return !fs.querySelector("input[type=radio]:checked"); });
  }
  function updateProgress() {
    var total = groups().length, left = unanswered().length;
    progress.textContent = (total - left) + " / " + total;
  }

  function shrink(file, max) {
    return new Promise(function (ok, fail) {
      var img = new Image(), url = URL.createObjectURL(file);
      img.onload = function () {
        var s = Math.min(1, max / Math.max(img.naturalWidth, img.naturalHeight));
        var c = document.createElement("canvas");
        c.width = Math.round(img.naturalWidth * s); c.height = Math.round(img.naturalHeight * s);
        c.getContext("2d").drawImage(img, 0, 0, c.width, c.height);
        URL.revokeObjectURL(url);
        c.toBlob(function (b) { b ? ok(b) : fail(new Error("encode")); }, "image/jpeg", 0.85);
      };
      img.onerror = function () { URL.revokeObjectURL(url); fail(new Error("not an image")); };
      img.src = url;
    });
  }

  function showPhoto(name, blob, kept) {
    var input = form.querySelector('input[name="' + name + '"]');
    if (!input) return;
    photos[name] = blob;
    var info = input.closest("details").querySelector(".photo-info");
    info.textContent = "";
    var img = document.createElement("img");
    img.className = "photo-thumb"; img.alt = ""; img.src = URL.createObjectURL(blob);
    info.appendChild(img);
    info.appendChild(document.createTextNode("✓ " + (kept ? msg("photo-kept") + " · " : "") +
                                             Math.round(blob.size / 1024) + " KB"));
    input.closest("details").open = true;
  }

  form.addEventListener("change", function (e) {
    var t = e.target;
    if (t.type === "file") {
      var info = t.closest("details").querySelector(".photo-info");
      delete photos[t.name];
      if (!t.files.length) { info.textContent = ""; keepPhoto(t.name, null); return; }
      info.textContent = msg("photo");
      shrink(t.files[0], 1600).then(function (blob) {
        showPhoto(t.name, blob, false);
        keepPhoto(t.name, blob);
      }, function () { t.value = ""; info.textContent = msg("bad-photo"); keepPhoto(t.name, null); });
      return;
    }
    if (t.type === "radio") {
      var fs = t.closest("fieldset");
      markItem(fs, null);
      if (t.value === "no") { var d = fs.querySelector("details"); if (d) d.open = true; }
    }
    save(); updateProgress();
  });
  form.addEventListener("input", save);

  // The prevention officer's name and number, fetched live: the kept copy of this page holds neither.
  var contact = document.getElementById("contact");
  if (contact) {
    fetch(contact.getAttribute("data-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok || isLogin(r)) throw new Error("contact " + r.status); return r.json(); })
      .then(function (c) {
        var call = document.getElementById("contact-call");
        if (c.phone) {
          call.href = "tel:" + c.phone.replace(/[^0-9+]/g, "");
          call.querySelector(".num").textContent = c.phone;
          call.hidden = false;
        }
        if (c.name) {
          document.getElementById("contact-name").textContent = c.name;
          document.getElementById("contact-line").hidden = false;
        }
      }).catch(function () {
        var note = document.getElementById("contact-note");
        note.textContent = contact.getAttribute("data-msg-offline");
        note.hidden = false;
      });
    document.getElementById("contact-suggest").addEventListener("click", function () {
      form.elements.contact_name.value = document.getElementById("contact-name").textContent;
      save();
    });
  }

  // A new checklist was published since this kept copy was: reopen it at once if the inspector has not started,
  // otherwise offer to. Either way the answers are in the draft and come back.
  var touched = false;  // whether the inspector has done anything on this page yet (a script's fill does not count)
  form.addEventListener("input", function (e) { if (e.isTrusted) touched = true; }, true);
  form.addEventListener("change", function (e) { if (e.isTrusted) touched = true; }, true);
  function checklistChanged() {
    // Only once what this page brings back (a draft, a refused inspection) is in the form: a reload before that
    // would save the empty form as the draft, and the refused answers would not come back.
    ready.then(function () {
      if (!busy && !touched) { save(); location.reload(); return; }
      say(msg("changed"), "warn", location.href, msg("reload"));
    });
  }

  // The scan proof comes in the URL (see the QR route): a kept copy of this page has none of its own.
  var scan = new URLSearchParams(location.search).get("scan");
  if (scan && form.elements.scan_token && !form.elements.scan_token.value) {
    form.elements.scan_token.value = scan;
    document.getElementById("scan-ok").hidden = false;
  }
  // A code scanned with no signal: the service worker opened this kept form with the code and the phone's time
  // after "#". Both go into the draft; the server checks the code at submit and keeps it as a weaker proof.
  var offline = new URLSearchParams(location.hash.slice(1));
  if (offline.get("offline-scan") && form.elements.offline_qr_token) {
    form.elements.offline_qr_token.value = offline.get("offline-scan");
    form.elements.offline_scanned_at.value = offline.get("at") || new Date().toISOString();
    history.replaceState(null, "", location.pathname + location.search);  // not in the history, nor shared
  }
  function showOfflineScan() {
    var code = form.elements.offline_qr_token;
    if (code && code.value && !form.elements.scan_token.value) document.getElementById("scan-offline").hidden = false;
  }

  function entryFromForm() {
    var now = new Date();
    form.elements.device_time.value = now.toISOString();
    var fields = [], files = [], calledAtSet = false;
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled) return;
      if (el.type === "file") {
        if (photos[el.name]) files.push([el.name, photos[el.name], el.name.slice(2) + ".jpg"]);
        else if (el.files.length) files.push([el.name, el.files[0], el.files[0].name]);
        return;
      }
      if ((el.type === "radio" || el.type === "checkbox") && !el.checked) return;
      // An untouched call time is the time of this tap, not of the later send from the queue.
      if (el.name === "called_at" && !el.value) { fields.push([el.name, now.toISOString()]); calledAtSet = true; return; }
      fields.push([el.name, el.value]);
    });
    return { uuid: uuidField.value, url: form.action, site: site, mode: mode, calledAtSet: calledAtSet, owner: me,
             siteName: form.getAttribute("data-site-name"), fields: fields, files: files, at: now.toISOString() };
  }

  // An item in error is marked for the eye (has-error) and for a screen reader: its answers are invalid and
  // described by the error (its own, or the status line's count of unanswered items).
  function markItem(fs, errorId) {
    fs.classList.toggle("has-error", !!errorId);
    fs.querySelectorAll("input[type=radio]").forEach(function (r) {
      if (errorId) { r.setAttribute("aria-invalid", "true"); r.setAttribute("aria-describedby", errorId); }
      else { r.removeAttribute("aria-invalid"); r.removeAttribute("aria-describedby"); }
    });
  }
  // Focus goes to the first item in error, so that the keyboard and a screen reader start there.
  function focusItem(fs) {
    fs.scrollIntoView({ block: "center" });
    var r = fs.querySelector("input[type=radio]");
    if (r) r.focus({ preventScroll: true });
  }

  function showErrors(body) {
    var errs = body.errors || {}, first = null;
    form.querySelectorAll("fieldset.q p.error").forEach(function (p) { p.remove(); });
    Object.keys(errs).forEach(function (k) {
      var key = k.replace(/^(answers|photos)\./, ""), fs = document.getElementById("q-" + key);
      if (!fs) return;
      var p = document.createElement("p");
      p.className = "error"; p.id = "e-" + key; p.textContent = errs[k];
      fs.querySelector(".yn").after(p);
      markItem(fs, p.id);
      first = first || fs;
    });
    if (first) focusItem(first); else statusEl.scrollIntoView({ block: "center" });
  }

  // Kept on the phone, to be sent by itself: the form is done with, and a new one gets a new key.
  function queued(kind) {
    markSent(uuidField.value);
    forget();
    if (kind === "login") sayLogin(); else say(msg(kind), "warn", form.getAttribute("data-home"), msg("home"));
    Array.prototype.forEach.call(form.elements, function (el) { if (el.type !== "hidden") el.disabled = true; });
    if (kind === "later") retryLater();
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (busy) return;  // a double tap sends once (and the server would return the same record anyway)
    var left = unanswered();
    if (left.length) {
      say(msg("missing").replace("{n}", left.length), "error");
      left.forEach(function (fs) { markItem(fs, statusEl.id); });
      focusItem(left[0]);
      return;
    }
    busy = true;
    var button = document.getElementById("insp-submit");
    button.disabled = true;
    var entry = entryFromForm();
    var again = function () { busy = false; button.disabled = false; sendingNow = null; };
    // Into the queue before anything goes on the wire: whatever the network or the server does next, the
    // inspection is on the phone until the server has said it is saved.
    sendingNow = entry.uuid;
    queue.put(entry).then(function () {
      if (!navigator.onLine) { sendingNow = null; queued("offline"); return; }
      say(msg("sending"), "info");
      return send(entry).then(function (res) {
        sendingNow = null;
        if (res.kind === "ok") {
          markSent(entry.uuid); forget();
          return queue.del(entry.uuid).then(function () { location.assign(res.body.url); });
        }
        if (res.kind === "sealed") {  // this page was another login's: kept for that inspector, never sent as ours
          entry.refusedFor = me;
          again();
          say(res.body.message || "409", "error");
          return queue.put(entry);
        }
        if (res.kind !== "refused") { queued(res.kind); return; }
        // Refused: the answers stay in the form and in the draft; the kept copy carries the reason, so that
        // the week list names it if the form is left as it is.
        entry.error = reason(res);
        entry.errorFields = Object.keys(res.body.errors || {});
        again();
        say(msg("refused").replace("{why}", entry.error), "error");
        showErrors(res.body);
        return queue.put(entry);
      });
    }, function () { again(); form.submit(); });  // no IndexedDB (private mode): the plain form post
  });

  // --- the position: asked for only with the user's consent (위치정보법) ---------------------------------------
  // The answer the server knows comes with the page (kept offline with it); an answer given on this phone is kept
  // in localStorage too, and the newer of the two counts. Until the server has it, it goes with the submission.
  var panel = document.getElementById("consent");
  var CONSENT = "tracker:consent:" + me;
  function when(rec) { return (rec && Date.parse(rec.at)) || 0; }
  function consentNow() {
    var page = { state: panel.getAttribute("data-state"), at: panel.getAttribute("data-at") };
    var local = lsGet(CONSENT, null);
    if (local && when(local) > when(page)) return local;
    lsSet(CONSENT, page);
    return page;
  }
  function locate() {
    var line = document.getElementById("gps-line");
    if (!navigator.geolocation) { line.textContent = line.getAttribute("data-no"); return; }
    line.textContent = line.getAttribute("data-asking");
    navigator.geolocation.getCurrentPosition(function (pos) {
      form.elements.lat.value = pos.coords.latitude.toFixed(6);
      form.elements.lng.value = pos.coords.longitude.toFixed(6);
      line.textContent = line.getAttribute("data-ok");
    }, function () { line.textContent = line.getAttribute("data-no"); },
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 120000 });
  }
  function applyConsent(rec) {
    panel.hidden = rec.state !== "unasked";
    form.elements.location_consent.value = rec.pending ? rec.state : "";
    var off = rec.state === "refused" || rec.state === "withdrawn";
    document.getElementById("consent-change").hidden = !off;
    if (off) {
      form.elements.lat.value = form.elements.lng.value = "";
      var line = document.getElementById("gps-line");
      line.textContent = line.getAttribute("data-off");
    }
    if (rec.state === "given") locate();
  }
  function postConsent(rec) {
    if (!rec.pending || !navigator.onLine) return;
    freshToken().then(function (token) {
      var fd = new FormData();
      fd.append("answer", rec.state); fd.append("csrf_token", token);
      return fetch(panel.getAttribute("data-url"), { method: "POST", body: fd, credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": token } });
    }).then(function (r) {
      if (!r.ok || isLogin(r)) throw new Error("consent " + r.status);
      return r.json();
    }).then(function (saved) {
      lsSet(CONSENT, saved);  // the server has it now: a submission need not carry it
      form.elements.location_consent.value = "";
    }).catch(function () { /* sent with the submission, or on the next page */ });
  }
  if (mode === "onsite" && panel && form.elements.lat) {
    var known = consentNow();
    applyConsent(known);
    postConsent(known);
    window.addEventListener("online", function () { postConsent(lsGet(CONSENT, known)); });
    panel.addEventListener("click", function (e) {
      var b = e.target.closest("button[data-answer]");
      if (!b) return;
      var rec = { state: b.getAttribute("data-answer"), at: new Date().toISOString(), pending: true };
      lsSet(CONSENT, rec);
      applyConsent(rec);
      postConsent(rec);
    });
  }

  form.classList.add("js");  // the styles that assume this script, such as the camera button's hidden input
  form.noValidate = true;  // our own check marks every unanswered item at once; without JS the browser's does
  var ready = restore().then(function (hadDraft) { return hadDraft || !window.indexedDB ? null : reopenRefused(); })
    .catch(function () {});
  updateProgress();
  ready.then(function () {
    updateProgress();
    showOfflineScan();
    if (offline.get("offline-scan")) save();  // the scanned code is in the draft from the start
    flush();
  });
  if (window.performance && performance.mark) performance.mark("insp-ready");  // bench/form_ttu.py reads it
})();
