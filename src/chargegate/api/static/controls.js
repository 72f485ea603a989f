"use strict";
// The operator's hands: every control is a client of the public API (/1.2) with the key the
// page signed in with. A command goes out as POST /1.2/chargers/<id>/commands, a stop or an
// extension as PATCH /1.2/transactions/<id>; the queue item is then followed until it resolves,
// and its outcome is shown next to the control and in the action log (which outlives the
// session rows a stop removes).
const API = "/1.2";
const POLL_MS = 500;
// Each version takes only its own reset types (README, "reset").
const RESET_TYPES = { "1.6": ["soft", "hard"], "2.0.1": ["immediate", "on_idle"] };
const ALL_RESET_TYPES = [...RESET_TYPES["1.6"], ...RESET_TYPES["2.0.1"]];

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  node.append(...children); // text is appended as text nodes, never parsed as HTML
  return node;
}

function choice(values) {
  return el("select", {}, ...values.map((value) => el("option", { value }, value)));
}

async function call(method, path, body) {
  const headers = { "x-api-key": sessionStorage.getItem(KEY) || "" };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(API + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  return { status: response.status, data };
}

function refusal(status, data) {
  const why = data && typeof data.message === "string" ? data.message : "no message";
  return `HTTP ${status}: ${why}`;
}

// One action's outcome, shown in two places: next to its control and in the action log.
function tracker(out, label) {
  const logged = el("output", { className: "outcome" });
  $("actions").prepend(el("li", {}, `${new Date().toISOString().slice(11, 19)} ${label} `, logged));
  return (state, detail) => {
    for (const node of [out, logged]) {
      node.dataset.state = state;
      node.textContent = detail ? `${state}: ${detail}` : state;
    }
  };
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A queue item's success: a command's result as the charger sent it, or a stop's transaction.
function success(item) {
  if (item.transaction_uuid) return `transaction ${item.state}`;
  const result = JSON.stringify(item.result);
  return result.length > 160 ? `${result.slice(0, 160)}...` : result;
}

async function follow(id, report, done) {
  for (;;) {
    let answer;
    try {
      answer = await call("GET", `/queue/${encodeURIComponent(id)}`);
    } catch (error) {
      report("IN PROGRESS", `queue item ${id} (server unreachable, retrying)`);
      await pause(POLL_MS * 4);
      continue;
    }
    const { status, data } = answer;
    if (status !== 200) return report("FAILURE", refusal(status, data));
    if (data.status === "FAILURE") return report("FAILURE", data.reason);
    if (data.status !== "IN PROGRESS") {
      report("SUCCESS", success(data));
      return done && done(data);
    }
    await pause(POLL_MS);
  }
}

// Sends one request and follows what it started: 202 a queue item, 204 done at once.
async function act(button, out, label, method, path, body, done) {
  const report = tracker(out, label);
  button.disabled = true;
  report("SENDING");
  try {
    const { status, data } = await call(method, path, body);
    if (status === 202) {
      report("IN PROGRESS", `queue item ${data.id}`);
      await follow(data.id, report, done);
    } else if (status === 204) {
      report("SUCCESS", body.expires ? `expires ${body.expires}` : "");
      if (done) done(null);
    } else {
      report("FAILURE", refusal(status, data));
    }
  } catch (error) {
    report("FAILURE", "the server could not be reached");
  } finally {
    button.disabled = false;
  }
}

// A control: its inputs, a button, and the outcome of its last use. `send(inputs)` gives the
// request to make as [method, path, body].
function control(name, target, label, inputs, send, done) {
  const out = el("output", { className: "outcome" });
  const button = el("button", { type: "button" }, label);
  const box = el("span", { className: "control" }, ...inputs, button, out);
  box.dataset.control = name;
  Object.assign(box.dataset, target);
  button.addEventListener("click", () => {
    const [method, path, body] = send();
    act(button, out, `${label} ${Object.values(target).join(" / ")}`, method, path, body, done);
  });
  return box;
}

function command(cp, action, params) {
  return ["POST", `/chargers/${encodeURIComponent(cp)}/commands`, { action, params }];
}

const OPERATIVE = ["inoperative", "operative"];

function availability(cp, port) {
  const state = choice(OPERATIVE);
  const target = port ? { charger: cp, port: String(port) } : { charger: cp };
  return control("availability", target, "Set availability", [state], () =>
    command(cp, "change_availability", { port: port || null, operative: state.value === "operative" }),
  );
}

function configuration(cp) {
  const shown = el("details", { className: "configuration" });
  const box = control("configuration", { charger: cp }, "Read configuration", [], () =>
    command(cp, "get_configuration", {}), async () => {
      // The keys as read, by name, in both versions' words (GET .../configuration).
      const { status, data } = await call("GET", `/chargers/${encodeURIComponent(cp)}/configuration`);
      if (status !== 200) return;
      shown.open = true;
      shown.replaceChildren(
        el("summary", {}, `${data.keys.length} keys`),
        el("ul", {}, ...data.keys.map((k) => el("li", {}, `${k.key} = ${k.value ?? "-"}`))),
      );
    });
  box.appendChild(shown);
  return box;
}

// A charger's own controls: reset (the types of its OCPP version), availability, configuration.
function chargerControls(cp, version) {
  const types = choice(RESET_TYPES[version] || ALL_RESET_TYPES);
  return el(
    "div",
    { className: "controls" },
    control("reset", { charger: cp }, "Reset", [types], () =>
      command(cp, "reset", { type: types.value }),
    ),
    availability(cp, 0),
    configuration(cp),
  );
}

function portControls(cp, port) {
  return el(
    "div",
    { className: "controls" },
    control("unlock", { charger: cp, port: String(port) }, "Unlock", [], () =>
      command(cp, "unlock_connector", { port }),
    ),
    availability(cp, port),
  );
}

// An open session's controls: stop, and a new expiry in UTC. A time typed without a zone (as
// the page shows them) gets its Z; anything else goes as typed, for the API to judge.
const ZONELESS = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?$/;
function sessionControls(transaction) {
  const path = `/transactions/${encodeURIComponent(transaction.transaction_uuid)}`;
  const expires = el("input", { type: "text", size: 20, value: transaction.expires || "" });
  expires.setAttribute("aria-label", "new expires (UTC)");
  const target = { transaction: transaction.transaction_uuid };
  return el(
    "div",
    { className: "controls" },
    control("stop", target, "Stop", [], () => ["PATCH", path, { state: "closed" }]),
    control("extend", target, "Extend to", [expires], () => {
      const typed = expires.value.trim();
      return ["PATCH", path, { expires: ZONELESS.test(typed) ? `${typed}Z` : typed }];
    }),
  );
}

// Built once per charger, port or session and reused on every refresh, so what an operator
// typed or chose, and the outcome shown, survive the 3-second redraw.
const built = new Map();
function kept(key, build) {
  if (!built.has(key)) built.set(key, build());
  return built.get(key);
}
function keepOnly(keys) {
  for (const key of [...built.keys()]) if (!keys.has(key)) built.delete(key);
}
