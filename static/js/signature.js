// The officer's 확인 서명 on the on-site form (issue 16): a plain canvas drawn with pointer events (finger, pen or
// mouse). Each stroke's end writes the picture into the hidden field as a PNG data URL; the server checks and
// re-encodes it like a photo. No library: the page must work offline, and the pad is a few lines.
(function () {
  "use strict";
  var pad = document.getElementById("sig-pad");
  var field = document.getElementById("sig-data");
  if (!pad || !field || !pad.getContext) return;
  var ctx = pad.getContext("2d");
  var drawing = false, drawn = false, last = null;

  function blank() {
    // White, not transparent: what the officer saw is what the document shows.
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, pad.width, pad.height);
    ctx.strokeStyle = "#111";
    ctx.lineWidth = 4;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    drawn = false;
    field.value = "";
  }

  function at(e) {
    // The canvas is drawn at 600 × 200 and shown at the screen's width: scale the pointer to it.
    var r = pad.getBoundingClientRect();
    return { x: (e.clientX - r.left) * pad.width / r.width, y: (e.clientY - r.top) * pad.height / r.height };
  }

  pad.addEventListener("pointerdown", function (e) {
    e.preventDefault();
    drawing = true;
    last = at(e);
    if (pad.setPointerCapture) pad.setPointerCapture(e.pointerId);
    ctx.beginPath();
    ctx.arc(last.x, last.y, ctx.lineWidth / 2, 0, Math.PI * 2);
    ctx.fillStyle = "#111";
    ctx.fill();
    drawn = true;
  });
  pad.addEventListener("pointermove", function (e) {
    if (!drawing) return;
    e.preventDefault();
    var p = at(e);
    ctx.beginPath();
    ctx.moveTo(last.x, last.y);
    ctx.lineTo(p.x, p.y);
    ctx.stroke();
    last = p;
  });
  function end() {
    if (!drawing) return;
    drawing = false;
    if (drawn) field.value = pad.toDataURL("image/png");
  }
  pad.addEventListener("pointerup", end);
  pad.addEventListener("pointercancel", end);
  pad.addEventListener("pointerleave", end);
  document.getElementById("sig-clear").addEventListener("click", blank);
  blank();
})();
