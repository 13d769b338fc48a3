// Menu editor: live screen counters (as the engine lays a screen out) and the phone preview.
(function () {
  "use strict";
  var dataEl = document.getElementById("screen-data");
  var form = document.getElementById("node-form");
  var screen = dataEl ? JSON.parse(dataEl.textContent) : null;

  function value(name) {
    var el = form && form.elements.namedItem(name);
    return el && "value" in el ? el.value : "";
  }

  // The engine's _split: pages of header, lines, "98. More" and the back line.
  function split(header, items, back, more, backLine, budget) {
    var pages = [], sizes = items.map(function (l) { return l.length + 1; });
    var left = sizes.reduce(function (a, b) { return a + b; }, 0), start = 0;
    for (;;) {
      var tail = back || pages.length ? [backLine] : [];
      var tailChars = tail.reduce(function (a, l) { return a + l.length + 1; }, 0);
      if (start === items.length || header.length + left + tailChars <= budget) {
        pages.push([header].concat(items.slice(start), tail).join("\n"));
        return pages;
      }
      var used = header.length + more.length + 1 + tailChars, end = start;
      while (end < items.length && used + sizes[end] <= budget) { used += sizes[end]; end++; }
      end = Math.max(end, start + 1);
      for (var i = start; i < end; i++) left -= sizes[i];
      pages.push([header].concat(items.slice(start, end), [more], tail).join("\n"));
      start = end;
    }
  }

  function worst(text, lang) {
    var sizes = screen.langs[lang].worst;
    return text.replace(/\{([a-z_.:]+)\}/g, function (m, name) {
      return new Array((sizes[name] || 20) + 1).join("x");
    });
  }

  function outside(text) {
    var bad = {};
    text.replace(/\{([a-z_.:]+)\}/g, "").split("").forEach(function (ch) {
      if (screen.gsm.indexOf(ch) < 0) bad[ch] = true;
    });
    return Object.keys(bad).join("");
  }

  function optionLines(lang) {
    var lines = [], count = +value("opt_count") || 0;
    for (var i = 0; i < count; i++) {
      var remove = form.elements.namedItem("opt." + i + ".remove");
      if (remove && remove.checked) continue;
      lines.push(value("opt." + i + ".key") + ". " + value("opt." + i + ".label." + lang));
    }
    return lines;
  }

  function show(counter, text, length, max, bad) {
    counter.textContent = text + (bad ? " · not GSM-7: " + bad : "");
    counter.className = "counter" + (length > max || bad ? " over" : "");
  }

  function countScreen(lang) {
    var L = screen.langs[lang], max = screen.max, budget = max - L.room;
    var header = worst(value("text." + lang), lang), lines = [];
    if (screen.type === "menu") lines = optionLines(lang);
    if (screen.type === "place") lines = [L.my_village, L.another_place];
    var pages = split(header, lines, screen.back, L.more, L.back, budget);
    var longest = Math.max.apply(null, pages.map(function (p) { return p.length; })) + L.room;
    var counter = document.querySelector('[data-counter="text.' + lang + '"]');
    if (!counter) return;
    var what = pages.length > 1 ? pages.length + " pages (98 More), longest " : "Screen: ";
    var text = what + longest + " of " + max + " characters" + (longest > max ? " — too long" : "");
    show(counter, text, longest, max, outside(value("text." + lang)));
  }

  function countField(el) {
    var name = el.name, lang = el.dataset.lang, role = el.dataset.role;
    if (role === "text") return;
    var counter = document.querySelector('[data-counter="' + name + '"]');
    if (!counter) return;
    var length = el.value ? worst(el.value, lang).length : 0;
    var max = role === "end" ? screen.max : screen.max - screen.langs[lang].room;
    var label = role === "label" ? "Line: " : "";
    show(counter, el.value ? label + length + " of " + max + " characters" : "", length, max, outside(el.value));
  }

  function recount() {
    if (!form || !screen) return;
    Object.keys(screen.langs).forEach(countScreen);
    Array.prototype.forEach.call(form.querySelectorAll("[data-lang]"), countField);
  }

  if (form && screen) {
    form.addEventListener("input", recount);
    form.addEventListener("change", recount);
    recount();
  }

  // --- the phone preview --------------------------------------------------------------
  var phone = document.getElementById("phone");
  if (!phone) return;
  var out = document.getElementById("pv-screen"), meta = document.getElementById("pv-meta");
  var langEl = document.getElementById("pv-lang"), callerEl = document.getElementById("pv-caller");
  var input = document.getElementById("pv-input");
  var token = document.querySelector('meta[name="csrf-token"]').content;
  var key = "ijwi-preview-" + phone.dataset.key;
  var saved = JSON.parse(sessionStorage.getItem(key) || "null");
  var dialled = saved || { lang: langEl.value, caller: callerEl.value, inputs: [] };
  langEl.value = dialled.lang; callerEl.value = dialled.caller;

  // The node form as typed: the preview dials the draft with it, before it is saved.
  function edit() {
    if (!form || form.querySelector("fieldset[disabled]")) return null;
    var fields = {};
    new FormData(form).forEach(function (v, k) { if (k !== "csrf_token") fields[k] = String(v); });
    return { node: form.dataset.node, fields: fields };
  }

  var pending = null, asked = 0;
  function render() {
    var mine = ++asked;
    sessionStorage.setItem(key, JSON.stringify(dialled));
    var body = { lang: dialled.lang, caller: dialled.caller, inputs: dialled.inputs, edit: edit() };
    fetch(phone.dataset.url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token },
      body: JSON.stringify(body),
      credentials: "same-origin"
    }).then(function (r) { return r.json(); }).then(function (body) {
      if (mine !== asked) return; // a newer dial is on its way
      if (body.error) { out.textContent = body.error; return; }
      var last = body.screens[body.screens.length - 1];
      // The webhook's reply starts "CON " or "END "; a handset shows the rest.
      out.textContent = last.reply.slice(4);
      out.className = "screen" + (last.end ? " ended" : "");
      phone.dataset.reply = last.reply;
      dialled.inputs = dialled.inputs.slice(0, body.screens.length - 1);
      sessionStorage.setItem(key, JSON.stringify(dialled));
      meta.textContent = last.end
        ? (last.pretended.length ? "Call ended. Preview only: no report was recorded." : "Call ended.")
        : "Type an answer (0 back, 00 menu, 98 more) and Send.";
    });
  }

  if (form) {
    form.addEventListener("input", function () {
      clearTimeout(pending);
      pending = setTimeout(render, 400);
    });
  }
  document.getElementById("pv-dial").addEventListener("click", function () {
    dialled = { lang: langEl.value, caller: callerEl.value, inputs: [] };
    render();
  });
  document.getElementById("pv-form").addEventListener("submit", function (event) {
    event.preventDefault();
    if (out.className.indexOf("ended") >= 0) return;
    dialled.inputs.push(input.value);
    input.value = "";
    render();
  });
  render();
})();
