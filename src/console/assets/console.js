// missive console: progressive enhancements. Every page works without this
// script except the template preview.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

// Forms that ask before they act.
document.addEventListener("submit", (e) => {
  const msg = e.target.dataset?.confirm;
  if (msg && !window.confirm(msg)) e.preventDefault();
});

// Pages that refresh part of themselves (the overview).
function liveRefresh() {
  const live = document.querySelector("[data-refresh]");
  if (!live) return;
  const every = Number(live.dataset.refresh) * 1000;
  setInterval(async () => {
    if (document.hidden) return;
    try {
      const r = await fetch(location.href, { credentials: "same-origin" });
      if (!r.ok) return;
      const doc = new DOMParser().parseFromString(await r.text(), "text/html");
      const fresh = doc.getElementById(live.id);
      if (fresh) live.innerHTML = fresh.innerHTML;
    } catch (_) { /* try again next time */ }
  }, every);
}

// ---- template editor ------------------------------------------------------

function gutter(textarea, errorLine) {
  const g = textarea.parentElement.querySelector(".gutter");
  if (!g) return;
  const n = textarea.value.split("\n").length;
  g.textContent = "";
  for (let i = 1; i <= n; i++) {
    const s = document.createElement("span");
    s.textContent = i + "\n";
    if (i === errorLine) s.className = "err-line";
    g.appendChild(s);
  }
  g.scrollTop = textarea.scrollTop;
}

function lineOf(message) {
  const m = /line (\d+)/.exec(message || "");
  return m ? Number(m[1]) : null;
}

// Shows each error beside its part; returns those with no place on the
// form (e.g. `data.name`, a variable the sample data lacks).
function showErrors(form, errors) {
  form.querySelectorAll(".part-editor").forEach((p) => p.classList.remove("has-error"));
  form.querySelectorAll(".field-error[data-for]").forEach((p) => (p.textContent = ""));
  form.querySelectorAll("textarea[data-field]").forEach((t) => gutter(t, null));
  const unplaced = [];
  for (const e of errors) {
    const t = form.querySelector(`textarea[data-field="${CSS.escape(e.field)}"]`);
    const p = form.querySelector(`.field-error[data-for="${CSS.escape(e.field)}"]`);
    if (p) p.textContent = e.message;
    if (!t && !p) unplaced.push(e);
    if (t) {
      t.closest(".part-editor").classList.add("has-error");
      gutter(t, lineOf(e.message));
      const section = t.closest("section.locale");
      if (section && section.hidden) selectTab(form, section.id);
    }
  }
  return unplaced;
}

// A problem's summary, then one line per listed field (`field`: message),
// all as text.
function showProblem(status, summary, errors) {
  status.replaceChildren(document.createTextNode(summary));
  for (const e of errors) {
    const line = document.createElement("span");
    line.className = "problem-field";
    const code = document.createElement("code");
    code.textContent = e.field;
    line.append(code, document.createTextNode(": " + e.message));
    status.append(document.createElement("br"), line);
  }
}

function selectTab(form, id) {
  form.querySelectorAll("section.locale").forEach((s) => (s.hidden = s.id !== id));
  form.querySelectorAll("[data-tab]").forEach((b) => b.classList.toggle("on", b.dataset.tab === id));
}

function draftOf(form) {
  const draft = { channels: {}, locales: {}, settings: {} };
  for (const t of form.querySelectorAll("textarea[name^='part|']")) {
    if (!t.value) continue;
    const [, locale, channel, part] = t.name.split("|");
    const value = t.value.replace(/\r\n/g, "\n");
    if (!locale) {
      (draft.channels[channel] ||= {})[part] = value;
    } else {
      ((draft.locales[locale] ||= {})[channel] ||= {})[part] = value;
    }
  }
  const v = (n) => form.querySelector(`[name="${n}"]`);
  if (v("dedup_window")?.value) draft.settings.dedup_window = v("dedup_window").value.trim();
  if (v("frequency_cap")?.value) draft.settings.frequency_cap = v("frequency_cap").value.trim();
  if (v("content_dedup")?.checked) draft.settings.content_dedup = true;
  if (v("layout")?.value.trim()) draft.layout = v("layout").value.trim();
  return draft;
}

function renderPreview(box, channels) {
  box.textContent = "";
  for (const [channel, parts] of Object.entries(channels)) {
    const sec = document.createElement("section");
    sec.className = "preview-channel";
    sec.dataset.channel = channel;
    const h = document.createElement("h3");
    h.textContent = channel;
    sec.appendChild(h);
    for (const [part, value] of Object.entries(parts)) {
      const label = document.createElement("h4");
      label.textContent = part;
      sec.appendChild(label);
      if (channel === "email" && part === "html") {
        const f = document.createElement("iframe");
        f.setAttribute("sandbox", "");
        f.className = "html-preview";
        f.srcdoc = value;
        sec.appendChild(f);
      } else {
        const pre = document.createElement("pre");
        pre.className = "wrap";
        pre.dataset.part = `${channel}.${part}`;
        pre.textContent = value;
        sec.appendChild(pre);
      }
    }
    box.appendChild(sec);
  }
}

function templateEditor() {
  const form = document.getElementById("template-form");
  if (!form) return;
  const key = form.dataset.key;
  const data = document.getElementById("sample-data");
  const localeInput = document.getElementById("preview-locale");
  const status = document.getElementById("preview-status");
  const box = document.getElementById("preview");
  const stored = localStorage.getItem("missive.sample." + key);
  if (stored && data.value.trim() === "{}") data.value = stored;

  form.querySelectorAll("textarea[data-field]").forEach((t) => {
    const err = form.querySelector(`.field-error[data-for="${CSS.escape(t.dataset.field)}"]`);
    gutter(t, lineOf(err?.textContent));
    t.addEventListener("scroll", () => {
      const g = t.parentElement.querySelector(".gutter");
      if (g) g.scrollTop = t.scrollTop;
    });
  });
  form.addEventListener("click", (e) => {
    const tab = e.target.closest("[data-tab]");
    if (tab) selectTab(form, tab.dataset.tab);
  });
  document.getElementById("add-locale")?.addEventListener("click", () => {
    const input = document.getElementById("new-locale");
    const locale = input.value.trim();
    if (!/^[A-Za-z0-9._-]{1,100}$/.test(locale) || document.getElementById("loc-" + locale)) return;
    const base = document.getElementById("loc-");
    const copy = base.cloneNode(true);
    copy.id = "loc-" + locale;
    copy.dataset.locale = locale;
    copy.querySelectorAll("textarea").forEach((t) => {
      const [, , channel, part] = t.name.split("|");
      t.name = t.id = `part|${locale}|${channel}|${part}`;
      t.dataset.field = `locales.${locale}.${channel}.${part}`;
      t.value = "";
      const p = t.closest(".part-editor").querySelector(".field-error");
      p.dataset.for = t.dataset.field;
      p.textContent = "";
    });
    form.querySelector(".settings").before(copy);
    const b = document.createElement("button");
    b.type = "button";
    b.setAttribute("role", "tab");
    b.dataset.tab = copy.id;
    b.textContent = locale;
    form.querySelector(".add-locale").before(b);
    input.value = "";
    selectTab(form, copy.id);
  });

  let timer = null;
  let seq = 0;
  const preview = async () => {
    const mine = ++seq;
    let sample;
    try {
      sample = JSON.parse(data.value || "{}");
    } catch (e) {
      status.textContent = "Sample data is not JSON: " + e.message;
      status.className = "problem";
      return;
    }
    localStorage.setItem("missive.sample." + key, data.value);
    const body = { draft: draftOf(form), data: sample };
    if (localeInput.value.trim()) body.locale = localeInput.value.trim();
    status.textContent = "Rendering…";
    status.className = "sub";
    const r = await fetch(`/v1/templates/${encodeURIComponent(key)}/preview`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(body),
    });
    if (mine !== seq) return;
    const answer = await r.json().catch(() => ({}));
    if (r.ok) {
      showErrors(form, []);
      renderPreview(box, answer.channels || {});
      status.textContent = "Preview of the draft, updated as you type.";
      status.className = "sub ok";
    } else {
      const errors = answer.errors || [];
      const unplaced = showErrors(form, errors);
      const summary = errors.length > 1
        ? `${errors.length} fields are not valid (each is marked at its part, or listed here):`
        : answer.detail || answer.title || "The preview failed.";
      showProblem(status, summary, errors.length > 1 ? unplaced : []);
      status.className = "problem";
    }
  };
  const later = () => {
    clearTimeout(timer);
    timer = setTimeout(preview, 250);
  };
  form.addEventListener("input", (e) => {
    if (e.target.matches("textarea[data-field]")) gutter(e.target, null);
    later();
  });
  data.addEventListener("input", later);
  localeInput.addEventListener("input", later);
  preview();
}

document.addEventListener("DOMContentLoaded", () => {
  liveRefresh();
  templateEditor();
});
