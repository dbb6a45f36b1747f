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
