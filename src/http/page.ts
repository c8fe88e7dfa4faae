// The status page: one self-contained HTML document (no external assets, works offline)
// that reads /status every two seconds and draws the containers and the recent events.

export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>podwarden</title>
<style>
  :root { color-scheme: light dark; --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --muted: #6e7781; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem auto; max-width: 70rem; padding: 0 1rem; }
  h1 { font-size: 1.3rem; margin: 0 0 .25rem; }
  .sub { color: var(--muted); margin-bottom: 1rem; }
  table { border-collapse: collapse; width: 100%; margin-bottom: 1.5rem; }
  th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #8884; vertical-align: top; }
  th { font-weight: 600; color: var(--muted); }
  .badge { display: inline-block; padding: .05rem .5rem; border-radius: 1rem; font-weight: 600; color: #fff; }
  .pass, .ready, .healthy { background: var(--ok); }
  .warn, .starting, .creating, .stopping { background: var(--warn); }
  .fail, .failed, .unhealthy, .backing-off, .pending, .stopped { background: var(--bad); }
  .muted { color: var(--muted); }
  code { font-size: .95em; }
</style>
</head>
<body>
<h1>podwarden <span id="overall" class="badge">…</span></h1>
<div class="sub" id="summary">loading…</div>
<table>
  <thead><tr><th>container</th><th>state</th><th>health</th><th>restarts</th><th>up for</th><th>last probe</th><th>depends on</th></tr></thead>
  <tbody id="containers"></tbody>
</table>
<h2 style="font-size:1.05rem">Recent events</h2>
<table>
  <thead><tr><th>time</th><th>container</th><th>event</th></tr></thead>
  <tbody id="events"><tr><td colspan="3" class="muted">none yet</td></tr></tbody>
</table>
<script>
"use strict";
const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const badge = (v) => '<span class="badge ' + esc(v) + '">' + esc(v) + "</span>";
const ago = (iso) => {
  if (!iso) return '<span class="muted">-</span>';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 120 ? s + " s" : s < 7200 ? Math.round(s / 60) + " min" : Math.round(s / 3600) + " h";
};
async function refresh() {
  let doc;
  try {
    const res = await fetch("status", { cache: "no-store" });
    doc = await res.json();
  } catch (err) {
    document.getElementById("summary").textContent = "daemon not answering: " + err;
    return;
  }
  const overall = document.getElementById("overall");
  overall.className = "badge " + doc.status;
  overall.textContent = doc.status;
  document.getElementById("summary").innerHTML =
    "pod <code>" + esc(doc.pod.name) + "</code> " + esc(doc.pod.state) + ", " + doc.pod.containersReady + "/" + doc.pod.containersTotal +
    " ready · Podman " + (doc.podman.reachable ? "reachable" : "<b>unreachable</b>") + " · podwarden " + esc(doc.version) +
    doc.notes.map((n) => '<br><span class="muted">' + esc(n) + "</span>").join("");
  document.getElementById("containers").innerHTML = Object.entries(doc.containers).map(([name, c]) =>
    '<tr data-container="' + esc(name) + '"><td><b>' + esc(name) + "</b><br><span class=muted>" + esc(c.image) + "</span></td><td>" + badge(c.state) +
    (c.backoffSeconds > 0 ? " <span class=muted>retry in " + c.backoffSeconds + " s</span>" : "") +
    (c.lastReason ? "<br><span class=muted>" + esc(c.lastReason) + "</span>" : "") + "</td><td>" + badge(c.health) + "</td><td>" + c.restarts +
    "</td><td>" + (c.ready || c.state === "starting" ? ago(c.startedAt) : '<span class="muted">-</span>') + "</td><td>" +
    (c.lastProbe ? (c.lastProbe.ok ? "ok" : "failed") + " in " + Math.round(c.lastProbe.ms) + " ms, " + ago(c.lastProbe.at) + " ago<br><span class=muted>" + esc(c.lastProbe.message) + "</span>" : '<span class="muted">-</span>') +
    "</td><td>" + esc(c.dependsOn.join(", ") || "-") + "</td></tr>").join("");
  const events = doc.events.slice().reverse();
  if (events.length) {
    document.getElementById("events").innerHTML = events.map((e) =>
      "<tr><td>" + esc(new Date(e.at).toLocaleTimeString()) + "</td><td>" + esc(e.container) + "</td><td>" + esc(e.message) + "</td></tr>").join("");
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
`;
