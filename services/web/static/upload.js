// The studio's upload page. A take goes from the browser straight to the
// raw bucket by a presigned multipart upload: the server checks where it
// goes and starts the upload, the parts (PARALLEL at a time) go to the
// bucket through presigned URLs, and the server completes it and sends the
// ingest job. Resumable: the upload's id, key and part size are kept in
// localStorage under the file's name, size and modification time; when the
// same file is chosen again (after a reload, a lost connection, a pause),
// the bucket is asked which parts it holds and only the rest is sent.
// Then the take is polled until the probe's verdict is there, which is
// shown as the server renders it. Text is set with textContent; the only
// HTML inserted is the server's own verdict section of this page.
(function () {
  "use strict";
  var PARALLEL = 4;       // parts in flight
  var URL_BATCH = 8;      // presigned URLs asked for at once
  var RETRIES = 6;        // tries of one part before the upload stops (1, 2, 4, 8, 16 s apart)
  var POLL_MS = 2000;     // how often the take is polled for its verdict
  var PREFIX = "moocpipe.upload:";

  var root = document.getElementById("upload");
  if (!root) { return; }
  function $(id) { return document.getElementById(id); }
  var csrf = root.getAttribute("data-csrf");
  var bucket = root.getAttribute("data-bucket");
  var form = $("upload-form"), fileInput = $("upload-file"), errorBox = $("upload-error");
  var startButton = $("upload-start"), keyPreview = $("upload-key");
  var resumeBox = $("upload-resume"), resumeText = $("upload-resume-text");
  var progressBox = $("upload-progress"), bar = $("upload-bar"), statusLine = $("upload-status");
  var pauseButton = $("upload-pause"), continueButton = $("upload-continue");
  var current = null;
  var folders = null;

  function text(el, value) { el.textContent = value; }
  function show(el, on) { el.hidden = !on; }
  function state(s) { root.setAttribute("data-state", s); }
  function say(message) { text(statusLine, message); }
  function showError(message) { text(errorBox, message); show(errorBox, true); }
  function hideError() { show(errorBox, false); }

  function bytes(n) {
    var units = ["B", "KB", "MB", "GB", "TB"], i = 0;
    while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
    return (i === 0 ? Math.round(n) : n.toFixed(1)) + " " + units[i];
  }
  function duration(seconds) {
    var t = Math.max(0, Math.round(seconds)), h = Math.floor(t / 3600), m = Math.floor(t / 60) % 60, s = t % 60;
    var pad = function (v) { return (v < 10 ? "0" : "") + v; };
    return h > 0 ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
  }
  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }
  function online() {
    if (navigator.onLine !== false) { return Promise.resolve(); }
    say("Offline: the upload goes on when the connection is back.");
    return new Promise(function (resolve) { window.addEventListener("online", function () { resolve(); }, { once: true }); });
  }

  // The server's JSON API; an error carries the server's message and kind.
  function api(method, path, body) {
    var init = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    if (method !== "GET") { init.headers["x-csrf-token"] = csrf; }
    return fetch(path, init).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) {
          var e = new Error(data.message || ("the server answered HTTP " + r.status));
          e.status = r.status; e.kind = data.kind;
          throw e;
        }
        return data;
      });
    });
  }

  // --- what is kept in localStorage, per file -------------------------------
  function fileKey(file) { return PREFIX + file.name + ":" + file.size + ":" + file.lastModified; }
  function load(file) {
    try { var v = localStorage.getItem(fileKey(file)); return v ? JSON.parse(v) : null; } catch (e) { return null; }
  }
  function save(file, u) { try { localStorage.setItem(fileKey(file), JSON.stringify(u)); } catch (e) { /* private mode: no resume */ } }
  function forget(file) { try { localStorage.removeItem(fileKey(file)); } catch (e) { /* nothing kept */ } }
  function unfinished() {
    var list = [];
    try {
      for (var i = 0; i < localStorage.length; i++) {
        var k = localStorage.key(i);
        if (k && k.indexOf(PREFIX) === 0) { list.push(JSON.parse(localStorage.getItem(k))); }
      }
    } catch (e) { /* nothing kept */ }
    return list;
  }

  // --- the form ---------------------------------------------------------------
  function field(name) { return form.elements[name]; }
  function value(name) { return field(name).value.trim(); }
  function lecture() { return field("kind").value === "lecture"; }

  function request(file) {
    var r = { course: value("course"), kind: field("kind").value, file_name: value("file_name"), size_bytes: file.size };
    if (lecture()) {
      if (value("module")) { r.module = value("module"); }
      if (value("lesson")) { r.lesson = value("lesson"); }
    }
    ["title", "language", "author_email"].forEach(function (n) { if (value(n)) { r[n] = value(n); } });
    return r;
  }

  function preview() {
    var parts = [value("course")];
    if (lecture()) { parts.push(value("module"), value("lesson")); } else { parts.push(field("kind").value); }
    parts.push(value("file_name"));
    var complete = parts.every(function (p) { return p; });
    text(keyPreview, complete ? "Stored as s3://" + bucket + "/" + parts.join("/") : "");
  }

  function fill(id, values) {
    var list = $(id);
    while (list.firstChild) { list.removeChild(list.firstChild); }
    values.forEach(function (v) { var o = document.createElement("option"); o.value = v; list.appendChild(o); });
  }
  function lessons() {
    var m = value("module"), found = null;
    if (folders) { folders.modules.forEach(function (f) { if (f.folder === m) { found = f; } }); }
    fill("upload-lessons", found ? found.lessons : []);
  }
  function loadFolders() {
    var course = value("course");
    folders = null; fill("upload-modules", []); fill("upload-lessons", []);
    if (!course || course.indexOf("/") >= 0) { return; }
    api("GET", "/api/v1/uploads/folders/" + encodeURIComponent(course))
      .then(function (f) { folders = f; fill("upload-modules", f.modules.map(function (m) { return m.folder; })); lessons(); })
      .catch(function () { /* a new course has none */ });
  }
  function kindChanged() {
    document.querySelectorAll(".lecture-only").forEach(function (el) { show(el, lecture()); });
    preview();
  }

  function offerResume(file, u) {
    text(resumeText, "An unfinished upload of this file was found: s3://" + u.bucket + "/" + u.key +
      ", started " + new Date(u.started).toLocaleString() + ". Resume it to send only the parts the bucket does not hold yet.");
    show(resumeBox, true);
    $("upload-resume-go").onclick = function () { start(file, u); };
    $("upload-restart").onclick = function () {
      api("POST", base(u) + "/abort", { key: u.key })
        .catch(function (e) { if (e.status !== 404) { throw e; } })
        .then(function () { forget(file); show(resumeBox, false); hideError(); noteUnfinished(); })
        .catch(function (e) { showError("Could not abort the old upload: " + e.message); });
    };
  }

  // --- one upload -----------------------------------------------------------
  function base(u) { return "/api/v1/uploads/" + encodeURIComponent(u.upload_id); }
  function partLength(u, n) { return n < u.parts ? u.part_size : u.size - u.part_size * (u.parts - 1); }
  function count(map) { return Object.keys(map).length; }
  function stopped(run) { return !run.running || run.paused; }
  function problem(message, how) { var e = new Error(message); e[how] = true; return e; }

  function start(file, u) {
    if (current && current.running) { return; }
    hideError();
    show(form, false); show(resumeBox, false); show(progressBox, true);
    show(pauseButton, true); show(continueButton, false);
    text($("upload-title"), "s3://" + u.bucket + "/" + u.key);
    var run = current = {
      file: file, u: u, etags: {}, urls: {}, urlWait: null, queue: [], active: {}, inflight: {}, xhrs: {},
      running: true, paused: false, completing: false, doneBytes: 0, startBytes: 0, t0: Date.now(), sent: 0, present: 0,
      retries: 0
    };
    noteUnfinished();
    state("checking");
    say("Asking the bucket which parts it already holds…");
    api("GET", base(u) + "/parts?key=" + encodeURIComponent(u.key)).then(function (listed) {
      listed.parts.forEach(function (p) {
        if (p.part_number <= u.parts && p.size_bytes === partLength(u, p.part_number)) { run.etags[p.part_number] = p.etag; }
      });
      for (var n = 1; n <= u.parts; n++) {
        if (run.etags[n]) { run.doneBytes += partLength(u, n); } else { run.queue.push(n); }
      }
      run.present = count(run.etags);
      run.startBytes = run.doneBytes;
      run.t0 = Date.now();
      root.setAttribute("data-parts-total", u.parts);
      root.setAttribute("data-parts-present", run.present);
      root.setAttribute("data-parts-sent", 0);
      state("uploading");
      progress(run);
      pump(run);
    }).catch(function (e) {
      run.running = false;
      if (e.status === 404) {
        forget(file);
        noteUnfinished();
        show(progressBox, false); show(form, true);
        showError("That upload no longer exists (it was completed or aborted): upload the file again.");
        state("idle");
      } else {
        fail(run, "Could not ask the bucket which parts it holds: " + e.message);
      }
    });
  }

  function progress(run) {
    var inflight = 0;
    Object.keys(run.inflight).forEach(function (n) { inflight += run.inflight[n]; });
    var size = run.u.size, done = Math.min(size, run.doneBytes + inflight);
    bar.value = size ? done / size : 0;
    var line = bytes(done) + " of " + bytes(size) + " (" + Math.floor(100 * done / size) + " %)";
    var elapsed = (Date.now() - run.t0) / 1000, rate = elapsed > 1 ? (done - run.startBytes) / elapsed : 0;
    if (rate > 0 && done < size) { line += " · " + bytes(rate) + "/s · about " + duration((size - done) / rate) + " left"; }
    line += " · " + count(run.etags) + " of " + run.u.parts + " parts in the bucket";
    if (run.present > 0) { line += " (" + run.present + " were in the bucket already)"; }
    say(line);
  }

  function pump(run) {
    if (stopped(run)) {
      if (count(run.active) === 0 && run.paused) { state("paused"); show(pauseButton, false); show(continueButton, true); progress(run); say(statusLine.textContent + " · paused"); }
      return;
    }
    while (count(run.active) < PARALLEL && run.queue.length > 0) { send(run, run.queue.shift()); }
    if (count(run.active) === 0 && run.queue.length === 0) { complete(run); }
  }

  function send(run, n) {
    run.active[n] = true;
    attempt(run, n, 0).then(function (etag) {
      run.etags[n] = etag;
      run.doneBytes += partLength(run.u, n);
      run.sent += 1;
      root.setAttribute("data-parts-sent", run.sent);
    }, function (e) {
      run.queue.unshift(n);
      if (!stopped(run)) { fail(run, e.message); }
    }).then(function () {
      delete run.active[n];
      delete run.inflight[n];
      if (!stopped(run)) { progress(run); }
      pump(run);
    });
  }

  // One part: its URL, the PUT, and tries again on what may pass (a lost
  // connection, a 5xx, an expired URL).
  function attempt(run, n, tries) {
    return urlFor(run, n).then(function (url) { return put(run, n, url); }).catch(function (e) {
      if (stopped(run) || e.fatal || tries + 1 >= RETRIES) { throw e; }
      if (e.expired) { delete run.urls[n]; }
      var wait = Math.pow(2, tries) * 1000;
      run.retries += 1;
      root.setAttribute("data-retries", run.retries);
      say("Part " + n + ": " + e.message + "; trying again in " + wait / 1000 + " s");
      return sleep(wait).then(online).then(function () {
        if (stopped(run)) { throw problem("stopped", "stopped"); }
        return attempt(run, n, tries + 1);
      });
    });
  }

  // Presigned URLs, a batch at a time: this part, the others in flight and
  // the next ones in the queue.
  function urlFor(run, n) {
    if (run.urls[n]) { return Promise.resolve(run.urls[n]); }
    if (run.urlWait) { return run.urlWait.then(function () { return urlFor(run, n); }); }
    var wanted = [n];
    Object.keys(run.active).concat(run.queue).forEach(function (k) {
      var p = Number(k);
      if (wanted.length < URL_BATCH && !run.urls[p] && wanted.indexOf(p) < 0) { wanted.push(p); }
    });
    run.urlWait = api("POST", base(run.u) + "/parts", { key: run.u.key, part_numbers: wanted })
      .then(function (answer) { answer.urls.forEach(function (p) { run.urls[p.part_number] = p.url; }); run.urlWait = null; },
        function (e) { run.urlWait = null; throw e; });
    return run.urlWait.then(function () {
      if (!run.urls[n]) { throw problem("the server gave no URL for part " + n, "fatal"); }
      return run.urls[n];
    });
  }

  function put(run, n, url) {
    return new Promise(function (resolve, reject) {
      var from = (n - 1) * run.u.part_size, to = from + partLength(run.u, n);
      var xhr = new XMLHttpRequest();
      run.xhrs[n] = xhr;
      xhr.open("PUT", url);
      xhr.upload.onprogress = function (e) { run.inflight[n] = e.loaded; progress(run); };
      xhr.onload = function () {
        delete run.xhrs[n];
        run.inflight[n] = 0;
        if (xhr.status >= 200 && xhr.status < 300) {
          var etag = xhr.getResponseHeader("ETag");
          if (!etag) {
            reject(problem("the bucket's answer has no ETag this page may read: its CORS rules must expose ETag (see deploy/README.md)", "fatal"));
          } else {
            resolve(etag.replace(/"/g, ""));
          }
        } else if (xhr.status === 403) {
          reject(problem("the bucket refused the part's URL (expired?)", "expired"));
        } else if (xhr.status >= 500 || xhr.status === 408 || xhr.status === 429) {
          reject(problem("the bucket answered HTTP " + xhr.status, "retry"));
        } else {
          reject(problem("the bucket refused part " + n + " (HTTP " + xhr.status + ")", "fatal"));
        }
      };
      xhr.onerror = function () {
        delete run.xhrs[n];
        run.inflight[n] = 0;
        reject(problem("the connection to the bucket failed (the network, or CORS rules that do not allow this page)", "retry"));
      };
      xhr.onabort = function () { delete run.xhrs[n]; run.inflight[n] = 0; reject(problem("stopped", "stopped")); };
      xhr.send(run.file.slice(from, to));
    });
  }

  function halt(run) {
    Object.keys(run.xhrs).forEach(function (n) { run.xhrs[n].abort(); });
  }

  function fail(run, message) {
    if (!run.running) { return; }
    run.running = false;
    halt(run);
    state("error");
    say(message + " — nothing is lost: Resume sends what the bucket does not hold yet.");
    show(pauseButton, false);
    show(continueButton, true);
  }

  function complete(run) {
    if (run.completing) { return; }
    run.completing = true;
    state("completing");
    show(pauseButton, false);
    say("All " + run.u.parts + " parts are in the bucket; joining them into the take…");
    var parts = [];
    for (var n = 1; n <= run.u.parts; n++) { parts.push({ part_number: n, etag: run.etags[n] }); }
    api("POST", base(run.u) + "/complete", { key: run.u.key, size_bytes: run.u.size, parts: parts }).then(function (done) {
      run.running = false;
      forget(run.file);
      bar.value = 1;
      root.setAttribute("data-take-id", done.take_id);
      state("done");
      var seconds = (Date.now() - run.t0) / 1000;
      noteUnfinished();
      say("Uploaded " + bytes(run.u.size) + " in " + (seconds < 10 ? seconds.toFixed(1) + " s" : duration(seconds)) +
        (run.present > 0 ? " (" + run.present + " of " + run.u.parts + " parts were in the bucket already)" : "") +
        (done.ingest === "submitted" ? ". The probe checks it now." : ". The ingest's next scan of the bucket picks it up."));
      history.replaceState(null, "", "/upload?take=" + encodeURIComponent(done.take_id));
      watch(done.take_id);
    }, function (e) {
      run.completing = false;
      fail(run, "Completing the upload failed: " + e.message);
    });
  }

  // --- the verdict ------------------------------------------------------------
  function refreshVerdict(id) {
    return fetch("/upload?take=" + encodeURIComponent(id), { credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("verdict");
        var old = $("verdict");
        if (fresh && old) { old.replaceWith(document.importNode(fresh, true)); }
        return fresh && !fresh.hasAttribute("data-waiting");
      });
  }

  function watch(id) {
    var section = $("verdict");
    show(section, true);
    if (!section.firstChild) { text(section, "Waiting for the take to be ingested and probed…"); }
    var timer = setInterval(function () {
      if (document.hidden) { return; }
      fetch("/api/v1/takes/" + encodeURIComponent(id), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          var over = data.probe || ["error", "dead_lettered"].indexOf(data.summary.state) >= 0;
          return refreshVerdict(id).then(function (final) { if (over && final !== false) { clearInterval(timer); } });
        })
        .catch(function () { /* the next poll tries again */ });
    }, POLL_MS);
  }

  // --- wiring -----------------------------------------------------------------
  fileInput.addEventListener("change", function () {
    hideError();
    var file = fileInput.files[0];
    show(resumeBox, false);
    if (!file) { return; }
    var name = field("file_name");
    if (!name.value || name.getAttribute("data-auto")) { name.value = file.name; name.setAttribute("data-auto", "1"); }
    var saved = load(file);
    if (saved) { offerResume(file, saved); }
    preview();
  });
  field("file_name").addEventListener("input", function () { field("file_name").removeAttribute("data-auto"); });
  field("course").addEventListener("change", loadFolders);
  field("module").addEventListener("change", lessons);
  field("kind").addEventListener("change", kindChanged);
  ["course", "module", "lesson", "file_name"].forEach(function (n) { field(n).addEventListener("input", preview); });

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    hideError();
    var file = fileInput.files[0];
    if (!file) { showError("Choose the take's file."); return; }
    var saved = load(file);
    if (saved) { start(file, saved); return; }
    startButton.disabled = true;
    api("POST", "/api/v1/uploads", request(file)).then(function (created) {
      var u = {
        bucket: created.bucket, key: created.key, upload_id: created.upload_id, part_size: created.part_size_bytes,
        parts: created.parts, size: created.size_bytes, title: created.title, started: Date.now()
      };
      save(file, u);
      start(file, u);
    }).catch(function (err) {
      showError(err.message);
    }).then(function () { startButton.disabled = false; });
  });

  pauseButton.addEventListener("click", function () {
    var run = current;
    if (!run || !run.running) { return; }
    run.paused = true;
    halt(run);
    pump(run);
  });
  continueButton.addEventListener("click", function () {
    var run = current;
    if (run) { run.running = false; start(run.file, run.u); }
  });

  // Uploads this browser left unfinished, named until they are done.
  function noteUnfinished() {
    var left = unfinished().filter(function (u) { return !current || !current.running || u.upload_id !== current.u.upload_id; });
    text($("upload-unfinished"), left.length === 0 ? "" : "Unfinished upload" + (left.length > 1 ? "s" : "") + ": " +
      left.map(function (u) { return u.key; }).join(", ") + ". Choose the same file again to resume.");
    show($("upload-unfinished"), left.length > 0);
  }

  kindChanged();
  noteUnfinished();
  var shown = $("verdict");
  if (shown && shown.hasAttribute("data-waiting")) { watch(shown.getAttribute("data-take")); }
})();
