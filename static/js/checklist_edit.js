// The checklist editor without a round trip: "add" clones a blank row, "remove" greys a row out.
// Without this file the same buttons work through the server.
(function () {
  "use strict";
  var rows = document.getElementById("cl-rows"), add = document.getElementById("cl-add");
  if (!rows || !add) return;
  rows.addEventListener("change", function (e) {
    if (e.target.classList.contains("cl-remove")) e.target.closest(".cl-row").classList.toggle("removed", e.target.checked);
  });
  add.addEventListener("click", function (e) {
    e.preventDefault();
    var all = rows.querySelectorAll(".cl-row"), last = all[all.length - 1], n = all.length;
    var row = last.cloneNode(true);
    row.classList.remove("removed");
    row.querySelectorAll("p.error").forEach(function (p) { p.remove(); });
    row.querySelectorAll("input, select, label").forEach(function (el) {
      ["name", "id", "for"].forEach(function (a) {
        var v = el.getAttribute(a);
        if (v) el.setAttribute(a, v.replace(/^items-\d+-/, "items-" + n + "-"));
      });
      if (el.type === "text" || el.type === "hidden") el.value = "";
      // The copied row's errors stay behind (their paragraphs are gone): so does the copy's link to them.
      if (el.hasAttribute("aria-invalid")) {
        el.removeAttribute("aria-invalid");
        var d = (el.getAttribute("aria-describedby") || "").split(" ").filter(function (x) { return !/-error$/.test(x); });
        if (d.length && d[0]) el.setAttribute("aria-describedby", d.join(" ")); else el.removeAttribute("aria-describedby");
      }
      // A new row gets a new key: only existing items' keys are fixed.
      if (el.readOnly) { el.readOnly = false; el.removeAttribute("aria-describedby"); el.setAttribute("pattern", "[a-z][a-z0-9_]*"); }
      if (el.type === "checkbox") el.checked = el.name.slice(-7) === "-onsite" || el.name.slice(-6) === "-phone";
    });
    var legend = row.querySelector("legend");
    legend.textContent = legend.textContent.replace(/\d+/, String(n + 1));
    rows.appendChild(row);
    row.querySelector("input[type=text]").focus();
  });
})();
