"use strict";
const KEY = "chargegate.key";
const $ = (id) => document.getElementById(id);
const text = (value) => document.createTextNode(value === null || value === undefined ? "-" : String(value));

function row(table, cells, header) {
  const tr = document.createElement("tr");
  for (const cell of cells) {
    const td = document.createElement(header ? "th" : "td");
    if (cell instanceof Node) td.appendChild(cell); else td.appendChild(text(cell));
    tr.appendChild(td);
  }
  table.appendChild(tr);
}

// Rows are kept by key and changed in place, never rebuilt: a control in a row keeps its focus,
// what was typed into it and its outcome across refreshes. `rows` are [key, cells].
function sync(table, header, rows) {
  if (!table.firstChild) row(table, header, true);
  const keyed = table.keyed || (table.keyed = new Map());
  const wanted = new Set(rows.map(([key]) => key));
  for (const [key, tr] of keyed) if (!wanted.has(key)) { tr.remove(); keyed.delete(key); }
  let next = table.firstChild.nextSibling;
  for (const [key, cells] of rows) {
    let tr = keyed.get(key);
    if (!tr) {
      tr = document.createElement("tr");
      for (const _ of cells) tr.appendChild(document.createElement("td"));
      keyed.set(key, tr);
    }
    cells.forEach((cell, i) => fill(tr.cells[i], cell));
    if (tr === next) next = next.nextSibling; else table.insertBefore(tr, next);
  }
}

function fill(td, cell) {
  if (cell instanceof Node) {
    if (td.firstChild !== cell) td.replaceChildren(cell);
  } else {
    const value = cell === null || cell === undefined ? "-" : String(cell);
    if (td.textContent !== value || td.children.length) td.replaceChildren(text(value));
  }
}

function duration(seconds) {
  if (seconds === null) return "-";
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  return h ? `${h} h ${m} min` : m ? `${m} min ${s} s` : `${s} s`;
}

// A stop that did not take stands out: the car may still be charging.
function stopText(stop) {
  if (stop === null) return "-";
  if (!stop.attempts) return stop.state;
  return `NOT TAKEN ${stop.attempts}x, ${stop.state} (next ${stop.next_step}): ${stop.last_error}`;
}

const SVG = "http://www.w3.org/2000/svg";
function svgText(svg, x, y, value, anchor) {
  const label = document.createElementNS(SVG, "text");
  label.setAttribute("x", String(x)); label.setAttribute("y", String(y));
  label.setAttribute("font-size", "11"); label.setAttribute("text-anchor", anchor || "start");
  label.textContent = value;
  svg.appendChild(label);
}

function chart(svg, hours) {
  svg.replaceChildren();
  const width = svg.clientWidth || 400, height = 180, pad = 20;
  const most = Math.max(1, ...hours.map((h) => h.wh));
  const step = (width - pad) / hours.length;
  hours.forEach((h, i) => {
    const bar = document.createElementNS(SVG, "rect");
    const size = Math.round((h.wh / most) * (height - 2 * pad));
    bar.setAttribute("x", String(pad + i * step + 1));
    bar.setAttribute("y", String(height - pad - size));
    bar.setAttribute("width", String(Math.max(1, step - 2)));
    bar.setAttribute("height", String(size));
    bar.setAttribute("fill", "#2a7ab8");
    const title = document.createElementNS(SVG, "title");
    title.textContent = `${h.hour} UTC: ${h.wh} Wh`;
    bar.appendChild(title);
    svg.appendChild(bar);
    // Every sixth hour is labelled (hours come as YYYY-MM-DDTHH:MM:SS, UTC).
    if (i % 6 === 0 || i === hours.length - 1) {
      svgText(svg, pad + i * step + step / 2, height - 5, `${h.hour.slice(11, 13)}h`, "middle");
    }
  });
  const axis = document.createElementNS(SVG, "line");
  axis.setAttribute("x1", String(pad)); axis.setAttribute("x2", String(width));
  axis.setAttribute("y1", String(height - pad)); axis.setAttribute("y2", String(height - pad));
  axis.setAttribute("stroke", "#9aa5b1");
  svg.appendChild(axis);
  svgText(svg, pad, 14, `max ${most} Wh per hour (UTC hours; a session counts in the hour it ended, or now)`);
}

function render(data) {
  const ports = [], controls = new Set();
  for (const c of data.chargers) {
    // The charger's controls sit in its first port's row, each port's in its own.
    const mine = `charger ${c.charge_point_id} ${c.ocpp_version}`;
    controls.add(mine);
    c.ports.forEach((p, i) => {
      const state = document.createElement("span");
      state.className = c.online ? "online" : "offline";
      state.textContent = c.online ? "online" : "offline";
      const port = `port ${c.charge_point_id} ${p.connector_id}`;
      controls.add(port);
      ports.push([port, [c.charge_point_id, state, c.last_seen ?? "never", p.connector_id, p.status, p.since,
        i ? "" : kept(mine, () => chargerControls(c.charge_point_id, c.ocpp_version)),
        kept(port, () => portControls(c.charge_point_id, p.connector_id))]]);
    });
  }
  // The server lists a bounded number of rows (CHARGEGATE_DASHBOARD_MAX_ROWS) and counts the rest.
  if (data.not_shown.ports) ports.push(["more", [`${data.not_shown.ports} more ports not shown (GET /1.2/ports lists them all)`, "", "", "", "", "", "", ""]]);
  sync($("chargers"), ["Charger", "Connection", "Last seen (UTC)", "Port", "Status", "Since (UTC)", "Charger controls", "Port controls"], ports);
  const open = data.open_transactions.map((t) => {
    const key = `session ${t.transaction_uuid}`;
    controls.add(key);
    return [key, [t.transaction_uuid, `${t.charge_point_id} / ${t.connector_id}`, t.expires, duration(t.seconds_left), t.energy_wh, stopText(t.stop), kept(key, () => sessionControls(t))]];
  });
  if (!data.open_transactions.length) open.push(["none", ["none", "", "", "", "", "", ""]]);
  if (data.not_shown.open_transactions) open.push(["more", [`${data.not_shown.open_transactions} more open transactions not shown`, "", "", "", "", "", ""]]);
  sync($("open"), ["Transaction", "Charger / port", "Expires (UTC)", "Time left", "Energy (Wh)", "Stop", "Controls"], open);
  keepOnly(controls);
  const failures = $("failures"); failures.replaceChildren();
  row(failures, ["When (UTC)", "Charger / port", "Request", "Transaction", "Reason"], true);
  for (const f of data.recent_failures) {
    row(failures, [f.at, `${f.charge_point_id} / ${f.connector_id}`, f.kind, f.transaction_uuid, f.reason]);
  }
  if (!data.recent_failures.length) row(failures, ["none", "", "", "", ""]);
  chart($("chart"), data.energy_per_hour);
  $("updated").textContent = `updated ${data.now} UTC`;
}

async function refresh() {
  const key = sessionStorage.getItem(KEY);
  if (!key) return;
  let response;
  try {
    response = await fetch("/dashboard/api/overview", { headers: { "x-api-key": key } });
  } catch (error) {
    $("updated").textContent = "server unreachable, retrying";
    return;
  }
  if (response.status === 401 || response.status === 403) {
    // 403: a key of the `sessions` role, which may neither read this page's data nor send
    // commands; it is signed out with the server's reason, so no control is ever offered to it.
    const refused = response.status === 401 ? "That API key was refused: check it and try again."
      : `This API key may not use the dashboard: ${(await response.json().catch(() => ({}))).message}`;
    sessionStorage.removeItem(KEY);
    show(false);
    $("login-error").textContent = refused;
    return;
  }
  if (!response.ok) {
    $("updated").textContent = `error ${response.status}, retrying`;
    return;
  }
  show(true);
  render(await response.json());
  await refreshSites(key);
}

// A line of the site's allocated total over its limit: the balancer's decisions, oldest first.
function sparkline(points, limit) {
  const svg = document.createElementNS(SVG, "svg");
  const width = 240, height = 40;
  svg.setAttribute("width", String(width)); svg.setAttribute("height", String(height));
  const top = Math.max(1, limit || 0, ...points.map((p) => p.total_a));
  const xy = points.map((p, i) => [
    points.length > 1 ? (i / (points.length - 1)) * width : width / 2,
    height - (p.total_a / top) * (height - 4) - 2,
  ]);
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", xy.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" "));
  line.setAttribute("fill", "none"); line.setAttribute("stroke", "#2a7ab8");
  svg.appendChild(line);
  const title = document.createElementNS(SVG, "title");
  title.textContent = points.map((p) => `${p.at} UTC: ${p.total_a} A`).join("\n");
  svg.appendChild(title);
  return svg;
}

async function refreshSites(key) {
  const response = await fetch("/dashboard/api/sites", { headers: { "x-api-key": key } });
  if (!response.ok) return;
  const table = $("sites"); table.replaceChildren();
  row(table, ["Site", "Limit", "Allocated now", "Charging / waiting", "Sessions now", "Over time"], true);
  for (const site of await response.json()) {
    const last = site.allocations[site.allocations.length - 1];
    const limit = site.max_current_a !== null ? `${site.max_current_a} A` : `${site.max_power_w} W`;
    row(table, [
      site.name, limit, last ? `${last.total_a} A` : "-",
      last ? `${last.sessions} / ${last.waiting}` : "-",
      site.sessions.map((s) => `${s.charge_point_id}: ${s.waiting ? "waiting" : `${s.allocated_a} A`}`)
        .join("; ") || "-",
      sparkline(site.allocations, site.max_current_a),
    ]);
  }
}

function show(app) {
  $("app").hidden = !app;
  $("login").hidden = app;
}

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  sessionStorage.setItem(KEY, $("key").value.trim());
  refresh();
});
// The action log is this key's: whoever signs in next in this tab does not see it.
$("logout").addEventListener("click", () => {
  sessionStorage.removeItem(KEY);
  $("actions").replaceChildren();
  show(false);
});
refresh();
setInterval(refresh, 3000);
