// The inspection form, improved: answers kept on the phone as they are given, photos shrunk before upload,
// an offline queue that sends itself when the network returns. The form works without this file.
(function () {
  "use strict";
  var DB = "tracker", STORE = "queue", SENT = "tracker:sent";
  var form = document.getElementById("insp");
  var queueNote = document.getElementById("insp-queue");
  var host = form || queueNote;
  if (!host) return;
  var csrfUrl = host.getAttribute("data-csrf-url");

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
  function wasSent(id) { return lsGet(SENT, []).indexOf(id) >= 0; }

  // --- the queue in IndexedDB (it keeps photo blobs too) -------------------------------------------
  function idb() {
    return new Promise(function (ok, fail) {
      var r = indexedDB.open(DB, 1);
      r.onupgradeneeded = function () { r.result.createObjectStore(STORE, { keyPath: "uuid" }); };
      r.onsuccess = function () { ok(r.result); };
      r.onerror = function () { fail(r.error); };
    });
  }
  function store(mode, fn) {
    return idb().then(function (db) {
      return new Promise(function (ok, fail) {
        var t = db.transaction(STORE, mode), req = fn(t.objectStore(STORE));
        t.oncomplete = function () { ok(req ? req.result : undefined); };
        t.onerror = function () { fail(t.error); };
      });
    });
  }
  var queue = {
    put: function (e) { return store("readwrite", function (s) { return s.put(e); }); },
    all: function () { return store("readonly", function (s) { return s.getAll(); }); },
    del: function (id) { return store("readwrite", function (s) { return s.delete(id); }); }
  };

  function freshToken() {
    return fetch(csrfUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 401) { var e = new Error("login"); e.login = true; throw e; }
        if (!r.ok) throw new Error("csrf " + r.status);
        return r.json();
      }).then(function (j) { return j.csrf_token; });
  }

  // Send one stored submission; resolves {status, body}. A network failure rejects.
  function send(entry, retried) {
    return freshToken().then(function (token) {
      var fd = new FormData();
      entry.fields.forEach(function (f) { fd.append(f[0], f[0] === "csrf_token" ? token : f[1]); });
      entry.files.forEach(function (f) { fd.append(f[0], f[1], f[2]); });
      return fetch(entry.url, { method: "POST", body: fd, credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": token } });
    }).then(function (r) {
      if (r.redirected || (r.headers.get("Content-Type") || "").indexOf("json") < 0) {
        var e = new Error("login"); e.login = true; throw e;
      }
      return r.json().then(function (body) {
        if (r.status === 400 && body.error === "csrf" && !retried) return send(entry, true);
        return { status: r.status, body: body };
      });
    });
  }

  var flushing = false;
  function flush() {
    if (flushing || !navigator.onLine || !window.indexedDB) return Promise.resolve();
    flushing = true;
    return queue.all().then(function (entries) {
      return entries.filter(function (e) { return !e.error; }).reduce(function (p, e) {
        return p.then(function () {
          return send(e).then(function (res) {
            if (res.status === 200 || res.status === 201) {
              markSent(e.uuid);
              return queue.del(e.uuid).then(function () { sentFromQueue(e, res.body); });
            }
            // It will not pass on a retry: keep it, stop retrying, and keep the reasons the server gave.
            var errs = res.body.errors || {};
            var why = Object.keys(errs).map(function (k) { return errs[k]; }).join(" · ");
            e.error = why || res.body.message || String(res.status);
            return queue.put(e);
          });
        });
      }, Promise.resolve());
    }).catch(function (err) { if (err && err.login) say(msg("login"), "warn"); })
      .then(function () { flushing = false; showQueue(); });
  }

  function sentFromQueue(entry, body) {
    if (form && form.elements.client_uuid.value === entry.uuid) { location.assign(body.url); return; }
    say(msg("sent"), "info");
  }

  function showQueue() {
    if (!queueNote || !window.indexedDB) return;
    queue.all().then(function (entries) {
      // Refused entries are never retried; say so, with the server's reason, instead of promising to send them.
      var refused = entries.filter(function (e) { return e.error; });
      var waiting = entries.length - refused.length;
      var lines = [];
      if (waiting) lines.push(queueNote.getAttribute("data-msg").replace("{n}", waiting));
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
  function say(text, kind) {
    var el = statusEl || queueNote;
    if (!el) return;
    el.hidden = false;
    el.className = "flash " + (kind || "info");
    el.textContent = text;
  }

  window.addEventListener("online", flush);
  if ("serviceWorker" in navigator && host.getAttribute("data-sw")) {
    navigator.serviceWorker.register(host.getAttribute("data-sw")).catch(function () {});
  }

  if (!form) { showQueue(); flush(); return; }

  // --- the form -------------------------------------------------------------------------------------
  var site = form.getAttribute("data-site"), mode = form.getAttribute("data-mode");
  var uuidField = form.elements.client_uuid;
  var pointer = "tracker:cur:" + site + ":" + mode;
  var photos = {};  // input name -> shrunk Blob
  var busy = false;

  function draftKey() { return "tracker:draft:" + site + ":" + uuidField.value; }

  function restore() {
    var cur = lsGet(pointer, null);
    if (cur && !wasSent(cur) && lsGet("tracker:draft:" + site + ":" + cur, null)) {
      uuidField.value = cur;  // the same inspection, so a retry stays idempotent
    } else if (wasSent(uuidField.value)) {
      uuidField.value = uuid4();  // a cached form shell whose key was already used
    }
    lsSet(pointer, uuidField.value);
    var draft = lsGet(draftKey(), null);
    if (!draft) return;
    var restored = false;
    Object.keys(draft).forEach(function (name) {
      var els = form.querySelectorAll('[name="' + name + '"]');
      if (!els.length) return;
      if (els[0].type === "radio") {
        var any = false;
        els.forEach(function (r) { if (r.checked) any = true; });
        if (!any) els.forEach(function (r) { if (r.value === draft[name]) { r.checked = true; restored = true; } });
      } else if (!els[0].value || els[0].value === els[0].defaultValue) {
        if (els[0].value !== draft[name]) { els[0].value = draft[name]; restored = true; }
      }
    });
    form.querySelectorAll("textarea").forEach(function (t) {
      if (t.value) { var d = t.closest("details"); if (d) d.open = true; }
    });
    if (restored) say(msg("restored"), "info");
  }

  function save() {
    var data = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.type === "file" || el.type === "hidden" || el.name === "csrf_token") return;
      if (el.type === "radio") { if (el.checked) data[el.name] = el.value; return; }
      if (el.value) data[el.name] = el.value;
    });
    lsSet(draftKey(), data);
    lsSet(pointer, uuidField.value);
  }

  function forget() {
    try { localStorage.removeItem(draftKey()); localStorage.removeItem(pointer); } catch (e) { /* ignore */ }
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

  form.addEventListener("change", function (e) {
    var t = e.target;
    if (t.type === "file") {
      var info = t.closest("details").querySelector(".photo-info");
      delete photos[t.name];
      if (!t.files.length) { info.textContent = ""; return; }
      info.textContent = msg("photo");
      shrink(t.files[0], 1600).then(function (blob) {
        photos[t.name] = blob;
        info.textContent = "✓ " + Math.round(blob.size / 1024) + " KB";
      }, function () { t.value = ""; info.textContent = msg("bad-photo"); });
      return;
    }
    if (t.type === "radio") {
      var fs = t.closest("fieldset");
      fs.classList.remove("has-error");
      if (t.value === "no") { var d = fs.querySelector("details"); if (d) d.open = true; }
    }
    save(); updateProgress();
  });
  form.addEventListener("input", save);

  function entryFromForm() {
    form.elements.device_time.value = new Date().toISOString();
    var fields = [], files = [];
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled) return;
      if (el.type === "file") {
        if (photos[el.name]) files.push([el.name, photos[el.name], el.name.slice(2) + ".jpg"]);
        else if (el.files.length) files.push([el.name, el.files[0], el.files[0].name]);
        return;
      }
      if ((el.type === "radio" || el.type === "checkbox") && !el.checked) return;
      fields.push([el.name, el.value]);
    });
    return { uuid: uuidField.value, url: form.action, site: site, siteName: form.getAttribute("data-site-name"),
             fields: fields, files: files, at: new Date().toISOString() };
  }

  function showErrors(body) {
    var errs = body.errors || {}, first = null;
    Object.keys(errs).forEach(function (k) {
      var fs = document.getElementById("q-" + k.replace(/^(answers|photos)\./, ""));
      if (!fs) return;
      fs.classList.add("has-error");
      var p = fs.querySelector("p.error") || document.createElement("p");
      p.className = "error"; p.textContent = errs[k];
      fs.querySelector(".yn").after(p);
      first = first || fs;
    });
    say(body.message || "", "error");
    (first || statusEl).scrollIntoView({ block: "center" });
  }

  function queued() {
    markSent(uuidField.value);
    forget();
    say(msg("offline"), "warn");
    Array.prototype.forEach.call(form.elements, function (el) { if (el.type !== "hidden") el.disabled = true; });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (busy) return;  // a double tap sends once (and the server would return the same record anyway)
    var left = unanswered();
    if (left.length) {
      left.forEach(function (fs) { fs.classList.add("has-error"); });
      say(msg("missing").replace("{n}", left.length), "error");
      left[0].scrollIntoView({ block: "center" });
      return;
    }
    busy = true;
    var button = document.getElementById("insp-submit");
    button.disabled = true;
    var entry = entryFromForm();
    var keep = function () { return queue.put(entry).then(queued, function () { busy = false; button.disabled = false; form.submit(); }); };
    if (!navigator.onLine) { keep(); return; }
    say(msg("sending"), "info");
    send(entry).then(function (res) {
      if (res.status === 200 || res.status === 201) { markSent(entry.uuid); forget(); location.assign(res.body.url); return; }
      busy = false; button.disabled = false;
      showErrors(res.body);
    }, function (err) {
      if (err && err.login) { busy = false; button.disabled = false; say(msg("login"), "warn"); return; }
      keep();
    });
  });

  if (mode === "onsite" && navigator.geolocation && form.elements.lat) {
    var line = document.getElementById("gps-line");
    line.textContent = line.getAttribute("data-asking");
    navigator.geolocation.getCurrentPosition(function (pos) {
      form.elements.lat.value = pos.coords.latitude.toFixed(6);
      form.elements.lng.value = pos.coords.longitude.toFixed(6);
      line.textContent = line.getAttribute("data-ok");
    }, function () { line.textContent = line.getAttribute("data-no"); },
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 120000 });
  }

  form.noValidate = true;  // our own check marks every unanswered item at once; without JS the browser's does
  restore();
  updateProgress();
  flush();
  if (window.performance && performance.mark) performance.mark("insp-ready");  // bench/form_ttu.py reads it
})();
