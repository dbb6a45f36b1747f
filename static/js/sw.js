// Service worker: keeps the inspection form's shell (CSS, JS, and the form pages last opened) for use offline.
// Network first, so that a deployment is picked up at once; the cache only answers when the network does not.
var CACHE = "tracker-shell-v1";  // kept across deployments: a new name would drop the forms kept for offline use
var SHELL = ["/static/css/app.css", "/static/js/app.js", "/static/js/inspect.js", "/static/js/qr.js"];

self.addEventListener("install", function (e) {
  e.waitUntil(caches.open(CACHE).then(function (c) { return c.addAll(SHELL); }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (e) {
  e.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== CACHE; }).map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

function cacheable(url, req) {
  if (url.pathname.indexOf("/static/") === 0) return true;
  // The form pages (from the list or a QR) and the inspector's home; never answers, results or photos.
  return req.mode === "navigate" && (url.pathname.indexOf("/s/") === 0 || url.pathname.indexOf("/inspect") === 0);
}

self.addEventListener("fetch", function (e) {
  var req = e.request, url = new URL(req.url);
  if (req.method !== "GET" || url.origin !== self.location.origin || !cacheable(url, req)) return;
  e.respondWith(fetch(req).then(function (resp) {
    if (resp.ok && !resp.redirected) {
      var copy = resp.clone();
      caches.open(CACHE).then(function (c) { c.put(req, copy); });
    }
    return resp;
  }).catch(function () {
    return caches.match(req).then(function (hit) { return hit || Response.error(); });
  }));
});
