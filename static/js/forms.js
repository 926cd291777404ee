// Conditional fields of the one form: show a field or material only when the answers call for it.
// The server applies the same rules (workflows.catalog.schema.Condition.holds); this only spares the
// applicant fields that do not concern them. Without JavaScript every field stays visible.
(function () {
  "use strict";
  var form = document.querySelector("form.apply-form");
  if (!form) { return; }

  function answer(name) {
    var el = form.elements[name];
    if (!el) { return null; }
    if (el.type === "checkbox") { return el.checked; }
    var v = (el.value || "").trim();
    return v === "" ? null : v;
  }

  function holds(c) {
    if (c.all) { return c.all.every(holds); }
    if (c.any) { return c.any.some(holds); }
    var a = answer(c.field);
    if (c.op === "true") { return a === true; }
    if (c.op === "false") { return a !== true; }
    if (a === null || a === false) { return false; }
    if (c.op === "in") { return c.value.indexOf(a) >= 0; }
    if (c.op === "eq") { return String(a) === String(c.value); }
    if (c.op === "ne") { return String(a) !== String(c.value); }
    var left = parseFloat(a), right = parseFloat(c.value);
    if (isNaN(left)) { return false; }
    return { gte: left >= right, gt: left > right, lte: left <= right, lt: left < right }[c.op];
  }

  var blocks = Array.prototype.slice.call(form.querySelectorAll("[data-show-if]"));
  function update() {
    blocks.forEach(function (block) {
      var shown = holds(JSON.parse(block.getAttribute("data-show-if")));
      block.hidden = !shown;
      // A hidden field is neither sent nor required, as on the server.
      Array.prototype.forEach.call(block.querySelectorAll("input, select, textarea"), function (el) {
        el.disabled = !shown;
      });
    });
  }
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
})();
