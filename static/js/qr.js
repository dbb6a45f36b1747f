// The home page's QR scan: the camera and the browser's own BarcodeDetector where it has one (Android Chrome);
// elsewhere a note to use the phone's camera app or type the code. Nothing is downloaded for it.
(function () {
  "use strict";
  var btn = document.getElementById("qr-scan");
  if (!btn) return;
  var note = document.getElementById("qr-note"), box = document.getElementById("qr-box");
  var video = document.getElementById("qr-video"), stream = null;
  function tell(name) { note.hidden = false; note.textContent = btn.getAttribute("data-msg-" + name); }
  function stop() {
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null; box.hidden = true; btn.hidden = false;
  }
  // Only this app's own codes, opened on this site whatever host the code names: a QR never takes the phone
  // elsewhere.
  function target(raw) {
    raw = String(raw).trim();
    var m = /\/s\/([A-Za-z0-9_-]+)\/?$/.exec(raw);
    if (m) return "/s/" + m[1];
    if (/^[A-Za-z0-9-]{4,20}$/.test(raw)) return btn.getAttribute("data-code-url") + "?code=" + encodeURIComponent(raw);
    return null;
  }
  btn.hidden = false;
  document.getElementById("qr-stop").addEventListener("click", stop);
  btn.addEventListener("click", function () {
    note.hidden = true;
    var detector = null;
    try { detector = new window.BarcodeDetector({ formats: ["qr_code"] }); } catch (e) { /* none here */ }
    if (!detector || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { tell("none"); return; }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (s) {
      stream = s; video.srcObject = s; box.hidden = false; btn.hidden = true;
      video.play().catch(function () {});
      (function look() {
        if (!stream) return;
        detector.detect(video).then(function (codes) {
          var url = null;
          codes.forEach(function (c) { url = url || target(c.rawValue); });
          if (url) { stop(); location.assign(url); return; }
          if (codes.length) tell("foreign");
          setTimeout(look, 250);
        }, function () { setTimeout(look, 250); });
      })();
    }, function () { tell("camera"); });
  });
})();
