// Service worker (served from /sw.js; its bytes change whenever a static file does, so phones update it).
// It keeps, for use offline: the shell (CSS, JS, icons), the form pages of the sites this phone has opened (with the
// published checklist in them), the week list, the sites' self-check pages (자체점검, opened through their signed
// links on the officer's own phone; they name a site and the checklist, nothing personal) and an offline page.
// Nothing else. The page clears it all at logout.
"use strict";
var VERSION = {{ version|tojson }};
var SHELL = {{ shell|tojson }};
var OFFLINE = {{ offline|tojson }};
var STATIC_PREFIX = {{ static_prefix|tojson }};
var FILES = "tracker-static", PAGES = "tracker-pages";  // fixed names: a deployment must not drop the kept forms
var FORM = /^\/inspect\/sites\/\d+$/, SCAN = /^\/s\/[^/]+$/, HOME = "/inspect", SELF = /^\/r\/[^/]+\/self-check$/;

self.addEventListener("install", function (e) {
  e.waitUntil(Promise.all([
    caches.open(FILES).then(function (c) { return c.addAll(SHELL); }),
    caches.open(PAGES).then(function (c) { return c.add(OFFLINE); })
  ]).then(function () { return self.skipWaiting(); }));
});

// Static names are content-hashed, so a kept page always gets exactly the files it names. What no kept page and
// no part of the shell names any more is dropped, and so are the caches of older versions of this script.
self.addEventListener("activate", function (e) {
  e.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== FILES && k !== PAGES; })
      .map(function (k) { return caches.delete(k); }));
  }).then(prune).then(function () { return self.clients.claim(); }));
});

function prune() {
  var wanted = {};
  SHELL.forEach(function (u) { wanted[new URL(u, self.location).href] = true; });
  return caches.open(PAGES).then(function (pages) {
    return pages.keys().then(function (reqs) {
      return Promise.all(reqs.map(function (r) {
        return pages.match(r).then(function (resp) { return resp.text(); }).then(function (html) {
          var re = /(?:src|href)="([^"]+)"/g, m;
          while ((m = re.exec(html))) wanted[new URL(m[1].replace(/&amp;/g, "&"), self.location).href] = true;
        });
      }));
    });
  }).then(function () { return caches.open(FILES); }).then(function (files) {
    return files.keys().then(function (reqs) {
      return Promise.all(reqs.filter(function (r) { return !wanted[r.url]; }).map(function (r) { return files.delete(r); }));
    });
  });
}

// A form is kept under its URL without the scan proof, which belongs to one visit only.
function formKey(url) {
  var u = new URL(url);
  u.searchParams.delete("scan");
  u.searchParams.delete("lang");
  return u.href;
}

function keep(key, resp) {
  if (!resp.ok || resp.redirected || resp.type !== "basic") return Promise.resolve();
  return caches.open(PAGES).then(function (c) { return c.put(key, resp); });
}

function fresh(key) {
  return fetch(key, { credentials: "same-origin" });
}

// The checklist version and language a form page was written with (data-kept on the form).
function version(html) { var m = /data-kept="([^"]*)"/.exec(html); return m ? m[1] : ""; }

// Fetch the form again after showing the kept copy; tell the page when the published checklist has changed.
function revalidate(key, kept, clientId) {
  return Promise.all([kept.text(), fresh(key)]).then(function (r) {
    var resp = r[1];
    if (!resp.ok || resp.redirected) return;
    return resp.clone().text().then(function (html) {
      return keep(key, resp).then(function () {
        if (version(html) === version(r[0]) || !clientId) return;
        return tell(clientId, { type: "checklist-changed" }, 20);
      });
    });
  }).catch(function () { /* offline: the kept copy stands */ });
}

// The page that asked may not exist yet when the answer is in (a fast network): look again for a few seconds.
function tell(clientId, message, tries) {
  return self.clients.get(clientId).then(function (c) {
    if (c) { c.postMessage(message); return; }
    if (tries > 0) return new Promise(function (ok) { setTimeout(ok, 250); }).then(function () { return tell(clientId, message, tries - 1); });
  });
}

function offlinePage() {
  return caches.match(OFFLINE, { cacheName: PAGES }).then(function (hit) { return hit || Response.error(); });
}

function formNav(e) {
  var url = new URL(e.request.url), key = formKey(url.href);
  // A language switch goes to the server, which remembers it; the page it answers is kept in its place.
  var lookup = url.searchParams.has("lang") ? Promise.resolve(null) : caches.match(key, { cacheName: PAGES });
  return lookup.then(function (hit) {
    if (hit) {
      e.waitUntil(revalidate(key, hit.clone(), e.resultingClientId));
      return hit;
    }
    return fetch(e.request).then(function (resp) {
      // A page opened with a scan proof in its URL carries it in its HTML: keep a copy fetched without it.
      if (!url.searchParams.has("scan")) e.waitUntil(keep(key, resp.clone()));
      else e.waitUntil(fresh(key).then(function (r) { return keep(key, r); }).catch(function () {}));
      return resp;
    }, function () {
      return caches.match(key, { cacheName: PAGES }).then(function (kept) { return kept || offlinePage(); });
    });
  });
}

// A scanned QR code: the server signs a scan record for this user and names the form; the form then comes from the
// kept copy when there is one. Offline, the code opens the kept form of its site, with the code and the phone's
// time after "#" (never sent to a server, nor logged): the form keeps them in its draft, and the server records
// them as a weaker, offline proof (the server signs the real ones).
function scanNav(e) {
  var key = new URL(e.request.url).pathname;
  return fetch(e.request.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (r) {
      var json = (r.headers.get("Content-Type") || "").indexOf("json") >= 0;
      if (!r.ok || r.redirected || !json) return fetch(e.request);  // login, closed, unknown: the server's own page
      return r.json().then(function (j) {
        var where = new Response(JSON.stringify({ form: j.form }), { headers: { "Content-Type": "application/json" } });
        e.waitUntil(caches.open(PAGES).then(function (c) { return c.put(key, where); }));
        return Response.redirect(j.form + (j.form.indexOf("?") < 0 ? "?" : "&") + "scan=" + encodeURIComponent(j.scan), 303);
      });
    }, function () {
      return caches.match(key, { cacheName: PAGES }).then(function (hit) {
        if (!hit) return offlinePage();
        var code = decodeURIComponent(key.slice(3)), at = new Date().toISOString();
        return hit.json().then(function (j) {
          return Response.redirect(j.form + "#offline-scan=" + encodeURIComponent(code) + "&at=" + encodeURIComponent(at), 303);
        });
      });
    });
}

// The week list: fresh when the network answers, the last one seen when it does not.
function homeNav(e) {
  var key = new URL(HOME, self.location).href;
  return fetch(e.request).then(function (resp) {
    if (new URL(e.request.url).search === "") e.waitUntil(keep(key, resp.clone()));
    return resp;
  }, function () {
    return caches.match(key, { cacheName: PAGES }).then(function (hit) { return hit || offlinePage(); });
  });
}

// A site's self-check: fresh when the network answers (a fresh security token and checklist), the last one seen
// when it does not. A link the server no longer takes (expired, revoked) drops its kept copy.
function selfCheckNav(e) {
  var key = formKey(e.request.url);
  return fetch(e.request).then(function (resp) {
    if (resp.status === 404 || resp.status === 410) e.waitUntil(caches.open(PAGES).then(function (c) { return c.delete(key); }));
    else e.waitUntil(keep(key, resp.clone()));
    return resp;
  }, function () {
    return caches.match(key, { cacheName: PAGES }).then(function (hit) { return hit || offlinePage(); });
  });
}

self.addEventListener("fetch", function (e) {
  var req = e.request, url = new URL(req.url);
  if (req.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.indexOf(STATIC_PREFIX) === 0) {
    e.respondWith(caches.match(req, { cacheName: FILES }).then(function (hit) {
      return hit || fetch(req).then(function (resp) {
        if (resp.ok) { var copy = resp.clone(); e.waitUntil(caches.open(FILES).then(function (c) { return c.put(req, copy); })); }
        return resp;
      });
    }));
    return;
  }
  if (req.mode !== "navigate") return;
  if (FORM.test(url.pathname)) e.respondWith(formNav(e));
  else if (SCAN.test(url.pathname)) e.respondWith(scanNav(e));
  else if (url.pathname === HOME) e.respondWith(homeNav(e));
  else if (SELF.test(url.pathname)) e.respondWith(selfCheckNav(e));
  else e.respondWith(fetch(req).catch(offlinePage));
});

// A form (or a self-check) opened before this worker controlled the page (the very first visit) is kept on the
// page's word.
self.addEventListener("message", function (e) {
  var d = e.data || {};
  if (d.type === "keep" && typeof d.url === "string" && new URL(d.url).origin === self.location.origin &&
      (FORM.test(new URL(d.url).pathname) || SELF.test(new URL(d.url).pathname))) {
    var key = formKey(d.url);
    e.waitUntil(caches.match(key, { cacheName: PAGES }).then(function (hit) {
      return hit || fresh(key).then(function (r) { return keep(key, r); });
    }).catch(function () {}));
  }
});
