// The one form in the browser. The server applies every rule itself; this only helps:
// 1. conditional fields show only when the answers call for them (workflows.catalog.schema.Condition);
// 2. the list of departments the matter goes to follows the answers, and screen readers hear the change;
// 3. the cheap rules (required, length, numbers, dates, phone, e-mail, ID and credit-code check
//    characters) are checked before "Save and continue", with the server's own messages.
// Without JavaScript every field stays visible and the server reports the same mistakes.
(function () {
  "use strict";
  var form = document.querySelector("form.apply-form");
  if (!form) { return; }
  // On a phone the step list scrolls sideways: keep the current step in view.
  var current = form.querySelector(".steps [aria-current]");
  if (current && current.scrollIntoView) { current.scrollIntoView({ block: "nearest", inline: "center" }); }
  // After a refused "save and continue", the list of mistakes gets the focus (its links lead to the fields).
  var summary = document.querySelector(".error-summary");
  if (summary) { summary.focus(); }
  var saved = {};
  try { saved = JSON.parse(form.getAttribute("data-answers") || "{}"); } catch (e) { saved = {}; }

  function answer(name) {
    var el = form.elements[name];
    if (!el) { return saved.hasOwnProperty(name) ? saved[name] : null; }  // answered on another step
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
    if (a === null || a === false || a === undefined) { return false; }
    if (c.op === "in") { return c.value.indexOf(a) >= 0; }
    if (c.op === "eq") { return String(a) === String(c.value); }
    if (c.op === "ne") { return String(a) !== String(c.value); }
    if (c.op === "months_ago_gte") { return true; }  // date rules are the server's
    var left = parseFloat(a), right = parseFloat(c.value);
    if (isNaN(left)) { return false; }
    return { gte: left >= right, gt: left > right, lte: left <= right, lt: left < right }[c.op];
  }

  var blocks = Array.prototype.slice.call(form.querySelectorAll("[data-show-if]"));
  var items = Array.prototype.slice.call(document.querySelectorAll(".routing-list [data-condition]"));
  var status = document.getElementById("routing-status");

  function update(announce) {
    blocks.forEach(function (block) {
      var shown = holds(JSON.parse(block.getAttribute("data-show-if")));
      block.hidden = !shown;
      // A hidden field is neither sent nor required, as on the server.
      Array.prototype.forEach.call(block.querySelectorAll("input, select, textarea"), function (el) {
        el.disabled = !shown;
      });
    });
    var changes = [];
    items.forEach(function (li) {
      var shown = holds(JSON.parse(li.getAttribute("data-condition")));
      if (li.hidden === shown) {
        li.hidden = !shown;
        changes.push((shown ? "+ " : "− ") + li.textContent.replace(/\s+/g, " ").trim());
      }
    });
    if (announce && status && changes.length) { status.textContent = changes.join("; "); }
  }
  form.addEventListener("input", function () { update(true); });
  form.addEventListener("change", function () { update(true); });
  update(false);

  // --- the cheap rules ------------------------------------------------------------------------------
  var ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  var CREDIT = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  var CREDIT_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

  function checkId(v) {
    if (v.length !== 18) { return "length"; }
    if (!/^\d{17}[\dX]$/.test(v)) { return "characters"; }
    var sum = 0;
    for (var i = 0; i < 17; i++) { sum += parseInt(v[i], 10) * ID_WEIGHTS[i]; }
    return "10X98765432"[sum % 11] === v[17] ? null : "check";
  }

  function checkCredit(v) {
    if (v.length !== 18) { return "length"; }
    for (var j = 0; j < 18; j++) { if (CREDIT.indexOf(v[j]) < 0) { return "characters"; } }
    var total = 0;
    for (var i = 0; i < 17; i++) { total += CREDIT.indexOf(v[i]) * CREDIT_WEIGHTS[i]; }
    return CREDIT[(31 - total % 31) % 31] === v[17] ? null : "check";
  }

  function problem(el) {
    if (el.disabled || el.type === "file" || el.type === "hidden") { return null; }
    var v = (el.value || "").trim();
    var d = el.dataset;
    if (!v) { return d.msgRequired || null; }
    if (d.maxlength && v.length > parseInt(d.maxlength, 10)) { return d.msgMaxlength; }
    if (d.number) {
      var ok = d.number === "integer" ? /^-?\d+$/.test(v) : /^-?\d+(\.\d+)?$/.test(v);
      if (!ok) { return d.msgNumber; }
      var n = parseFloat(v);
      if ((d.min !== undefined && d.min !== "" && n < parseFloat(d.min)) ||
          (d.max !== undefined && d.max !== "" && n > parseFloat(d.max))) { return d.msgRange; }
    }
    if (d.date && !/^\d{4}-\d{2}-\d{2}$/.test(v)) { return d.msgDate; }
    if (d.pattern && !new RegExp(d.pattern).test(v)) { return d.msgPattern; }
    if (d.check) {
      var code = (d.check === "resident_id" ? checkId : checkCredit)(v.toUpperCase());
      if (code) { return d["msg" + code.charAt(0).toUpperCase() + code.slice(1)] || d.msgCheck; }
    }
    return null;
  }

  function show(el, message) {
    var box = el.closest(".field");
    var id = el.id + "-error";
    var list = document.getElementById(id);
    var described = (el.getAttribute("aria-describedby") || "").split(" ").filter(function (x) { return x && x !== id; });
    if (message) {
      if (!list) {
        list = document.createElement("ul");
        list.className = "field-errors";
        list.id = id;
        box.appendChild(list);
      }
      list.textContent = "";
      var li = document.createElement("li");
      li.textContent = message;
      list.appendChild(li);
      box.classList.add("has-error");
      el.setAttribute("aria-invalid", "true");
      described.push(id);
    } else {
      if (list) { list.remove(); }
      box.classList.remove("has-error");
      el.removeAttribute("aria-invalid");
    }
    if (described.length) { el.setAttribute("aria-describedby", described.join(" ")); }
    else { el.removeAttribute("aria-describedby"); }
  }

  var checked = Array.prototype.slice.call(form.querySelectorAll("[data-msg-required], [data-maxlength], [data-number], [data-date], [data-pattern], [data-check]"));
  checked.forEach(function (el) {
    el.addEventListener("change", function () { show(el, problem(el)); });
  });
  form.addEventListener("submit", function (event) {
    var submitter = event.submitter;
    if (!submitter || submitter.value !== "next") { return; }  // saving, going back: everything is kept as typed
    var first = null;
    checked.forEach(function (el) {
      var message = problem(el);
      show(el, message);
      if (message && !first) { first = el; }
    });
    if (first) {
      event.preventDefault();
      first.focus();
    }
  });
})();
