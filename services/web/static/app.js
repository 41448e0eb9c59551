// Live updates without reloading: the element with data-live names the API
// URL the page's numbers come from; it is polled every few seconds and the
// numbers, states and job rows are updated in place. Values are set with
// textContent, never as HTML.
(function () {
  "use strict";
  var PERIOD_MS = 3000;

  function text(el, value) { if (el && el.textContent !== String(value)) { el.textContent = value; } }

  function setState(badge, state, label) {
    if (!badge || badge.getAttribute("data-state") === state) { return; }
    badge.setAttribute("data-state", state);
    badge.className = "badge state-" + state;
    text(badge, label || state.replace("_", " "));
  }

  function label(state) {
    return { failed_spec: "failed spec", dead_lettered: "dead-lettered" }[state] || state;
  }

  function duration(seconds) {
    var t = Math.max(0, Math.round(seconds)), h = Math.floor(t / 3600), m = Math.floor(t / 60) % 60, s = t % 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return h > 0 ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
  }

  function cell(row, value) { var td = document.createElement("td"); td.textContent = value; row.appendChild(td); return td; }

  function overview(data) {
    data.states.forEach(function (c) { text(document.querySelector('[data-count="' + c.state + '"]'), c.takes); });
    if (data.dead_letters !== null) { text(document.querySelector('[data-count="dead_letters"]'), data.dead_letters); }
    var body = document.getElementById("jobs");
    if (body) {
      while (body.firstChild) { body.removeChild(body.firstChild); }
      data.jobs.forEach(function (job) {
        var row = document.createElement("tr");
        cell(row, job.stage);
        var link = document.createElement("a"); link.href = "/takes/" + encodeURIComponent(job.take_id);
        var code = document.createElement("code"); code.textContent = job.take_id.slice(0, 12); link.appendChild(code);
        var td = document.createElement("td"); td.appendChild(link); row.appendChild(td);
        cell(row, job.state + " #" + (job.attempt + 1));
        var p = cell(row, " " + Math.round(job.progress * 100) + " %");
        var bar = document.createElement("progress"); bar.max = 1; bar.value = job.progress; p.insertBefore(bar, p.firstChild);
        cell(row, job.eta_seconds === null ? "" : duration(job.eta_seconds));
        cell(row, job.worker || "");
        body.appendChild(row);
      });
      if (data.jobs.length === 0) {
        var empty = document.createElement("tr"); empty.className = "empty";
        var c = cell(empty, "No job is running."); c.colSpan = 6; body.appendChild(empty);
      }
    }
  }

  function takes(list) {
    list.forEach(function (t) {
      document.querySelectorAll('[data-take="' + t.take_id + '"] [data-state]').forEach(function (b) { setState(b, t.state, label(t.state)); });
    });
  }

  function course(data) {
    var all = data.other_takes.slice();
    data.modules.forEach(function (m) { m.lessons.forEach(function (l) { all = all.concat(l.takes); }); });
    takes(all);
  }

  function take(data) { takes([data.summary]); }

  function refresh(el) {
    var url = el.getAttribute("data-live");
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (data) {
        if (data.states) { overview(data); }
        else if (data.modules) { course(data); }
        else if (data.summary && data.take) { take(data); }
        text(document.querySelector("[data-updated]"), new Date().toLocaleTimeString());
      })
      .catch(function () { /* the next poll tries again */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (e) { if (!window.confirm(form.getAttribute("data-confirm"))) { e.preventDefault(); } });
    });
    var live = document.querySelector("[data-live]");
    if (live) { setInterval(function () { if (!document.hidden) { refresh(live); } }, PERIOD_MS); }
  });
})();
