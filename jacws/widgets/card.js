// jacws client card: who the client is, what it sent and received (one timeline), and a form for every event.
// Plain DOM, no imports, no CDN. Actions go to the kernel as custom messages; the kernel answers in `status`.
const KIND_ORDER = ["walker", "user", "channel", "client", "self", "response", "error", "connection", "change_user", "notification"];
const DEFAULT_DATA = '{"type": "chat", "data": {"message": "hi"}}';

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) node.append(child);
  return node;
}

function clock(seconds) {
  const date = new Date(seconds * 1000);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

async function copy(text, button) {
  let done = false;
  try {
    await navigator.clipboard.writeText(text);
    done = true;
  } catch {
    const area = el("textarea", { style: "position:fixed;left:-9999px;top:0" });
    area.value = text;
    document.body.appendChild(area);
    area.select();
    try {
      done = document.execCommand("copy");
    } catch {
      done = false;
    }
    area.remove();
  }
  const before = button.textContent;
  button.textContent = done ? "copied" : "select and copy";
  button.classList.toggle("jacws-copied", done);
  setTimeout(() => {
    button.textContent = before;
    button.classList.remove("jacws-copied");
  }, 1200);
}

function copyButton(text, what) {
  const button = el("button", { type: "button", class: "jacws-copy", title: `copy ${what}`, "aria-label": `copy ${what}` }, "copy");
  button.addEventListener("click", (event) => {
    event.stopPropagation();
    copy(text(), button);
  });
  return button;
}

// A file's content in base64 (the kernel gets it through the widget's messages).
async function base64Of(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = "";
  for (let start = 0; start < bytes.length; start += 0x8000) binary += String.fromCharCode(...bytes.subarray(start, start + 0x8000));
  return btoa(binary);
}

// The value a form field sends: text as-is for str fields, else JSON when it parses (as the kernel does).
function fieldValue(text, type) {
  if (type === "str") return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function shellQuote(text) {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

function render({ model, el: host }) {
  host.classList.add("jacws-card");
  const expanded = new Set();
  let tab = "walker";
  let statusHidden = false;

  const header = el("div", { class: "jacws-card-head" });
  const ids = el("div", { class: "jacws-card-ids" });
  const progress = el("div", { class: "jacws-progress", hidden: true });
  const rtt = el("div", { class: "jacws-rtt" });
  const tabs = el("div", { class: "jacws-tabs", role: "tablist" });
  const panes = el("div", { class: "jacws-panes" });
  const status = el("div", { class: "jacws-status", role: "status" });
  const filters = el("div", { class: "jacws-filters", role: "group", "aria-label": "show" });
  const count = el("div", { class: "jacws-count" });
  const timeline = el("div", { class: "jacws-timeline", role: "log", "aria-live": "polite" });
  host.append(header, ids, progress, rtt, tabs, panes, status, filters, count, timeline);

  const act = (action) => {
    statusHidden = false;
    model.send(action);
  };

  // -- header, ids, progress, round trips ---------------------------------------------------
  function drawHeader() {
    const state = model.get("state");
    const code = model.get("close_code");
    const badge = el("span", { class: `jacws-state jacws-state-${state}` }, state + (state === "closed" && code ? ` (code ${code})` : ""));
    const name = model.get("name");
    const identity = model.get("identity");
    const who = el("span", { class: "jacws-card-name", title: name }, name);
    const parts = [who];
    if (identity && identity !== name) parts.push(el("span", { class: "jacws-card-identity", title: identity }, identity));
    const extras = [];
    if (model.get("can_graph")) {
      const graph = el("button", { type: "button", class: "jacws-small jacws-graph-button", title: "show or hide this user's graph" }, "graph");
      graph.addEventListener("click", () => act({ action: "graph" }));
      extras.push(el("span", { class: "jacws-spacer" }), graph);
    }
    header.replaceChildren(...parts, badge, ...extras);
    closeButton.disabled = state !== "open";
    const values = model.get("ids");
    ids.replaceChildren();
    for (const key of ["client_id", "root_id", "channel_id"]) {
      const value = values[key] || "-";
      const row = el("div", { class: "jacws-id" }, el("span", { class: "jacws-id-name" }, key), el("code", { title: value }, value));
      if (values[key]) row.append(copyButton(() => value, key));
      ids.appendChild(row);
    }
  }

  function drawProgress() {
    const value = model.get("progress");
    if (!value || value.value === undefined) {
      progress.hidden = true;
      return;
    }
    progress.hidden = false;
    const done = value.value >= 100 || value.status === "completed" || value.status === "done";
    const bar = el("div", { class: `jacws-bar${done ? " jacws-bar-done" : ""}`, style: `width:${value.value}%` });
    const label = `${Number(value.value.toFixed(1))}% ${value.status || ""}`.trim();
    progress.replaceChildren(
      el("div", { class: "jacws-track", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": value.value }, bar),
      el("span", { class: "jacws-progress-label" }, label),
    );
  }

  function drawRtt() {
    const value = model.get("rtt");
    rtt.textContent = value && value.count
      ? `walker round trip: last ${value.last.toFixed(1)} ms · mean ${value.mean.toFixed(1)} ms (${value.count})`
      : "";
  }

  // -- forms ------------------------------------------------------------------------------
  const walkerPane = el("div", { class: "jacws-pane" });
  const messagePane = el("div", { class: "jacws-pane" });
  const connectionPane = el("div", { class: "jacws-pane" });
  const paneOf = { walker: walkerPane, message: messagePane, connection: connectionPane };

  function drawTabs() {
    tabs.replaceChildren();
    for (const name of Object.keys(paneOf)) {
      const button = el("button", { type: "button", role: "tab", class: "jacws-tab", "aria-selected": String(tab === name) }, name);
      button.addEventListener("click", () => {
        tab = name;
        statusHidden = true;  // an answer belongs to the form that caused it
        drawTabs();
        drawStatus();
      });
      tabs.appendChild(button);
    }
    for (const [name, pane] of Object.entries(paneOf)) pane.hidden = name !== tab;
  }
  panes.append(walkerPane, messagePane, connectionPane);

  const walkerSelect = el("select", { class: "jacws-walker-name", "aria-label": "walker" });
  const fieldsBox = el("div", { class: "jacws-fields" });
  const responseBox = el("input", { type: "checkbox", checked: true });
  const responseLabel = el("label", { class: "jacws-check" }, responseBox, "answer with response");
  const runButton = el("button", { type: "button", class: "jacws-primary" }, "run walker");
  const frameBox = el("pre", { class: "jacws-snippet jacws-frame" });
  const curlBox = el("pre", { class: "jacws-snippet jacws-curl" });
  const snippets = el("div", { class: "jacws-snippets" });
  let fieldInputs = [];

  function walkerEntry() {
    return model.get("walkers").find((w) => w.name === walkerSelect.value);
  }

  const isFile = (spec) => spec.type === "file" || spec.type === "files";
  const takesFiles = (entry) => Boolean(entry) && entry.fields.some(isFile);

  function walkerFields() {
    const fields = {};
    for (const [spec, input] of fieldInputs) if (!isFile(spec) && input.value !== "") fields[spec.name] = input.value;
    return fields;
  }

  // The picked files of each file field, read in the browser and sent to the kernel in base64.
  async function walkerFiles() {
    const files = {};
    for (const [spec, input] of fieldInputs) {
      if (!isFile(spec)) continue;
      files[spec.name] = await Promise.all(
        Array.from(input.files, async (file) => ({ name: file.name, type: file.type, data: await base64Of(file) })),
      );
    }
    return files;
  }

  function drawWalkerForm() {
    const walkers = model.get("walkers");
    const current = walkerSelect.value;
    walkerSelect.replaceChildren(...walkers.map((w) => el("option", { value: w.name }, takesFiles(w) ? `${w.name} (files, REST)` : w.name)));
    if (walkers.some((w) => w.name === current)) walkerSelect.value = current;
    drawFields();
  }

  function drawFields() {
    const entry = walkerEntry();
    fieldInputs = [];
    fieldsBox.replaceChildren();
    responseLabel.hidden = takesFiles(entry); // a REST call always answers
    for (const spec of entry ? entry.fields : []) {
      if (isFile(spec)) {
        const picker = el("input", { type: "file", "aria-label": spec.name });
        picker.multiple = spec.type === "files";
        picker.addEventListener("change", drawSnippets);
        fieldInputs.push([spec, picker]);
        fieldsBox.appendChild(el("label", { class: "jacws-field" }, el("span", {}, spec.name), picker));
        continue;
      }
      const initial = spec.default === undefined || spec.default === null ? "" : typeof spec.default === "string" ? spec.default : JSON.stringify(spec.default);
      const input = el("input", { type: "text", placeholder: spec.type + (spec.required ? " (required)" : ""), "aria-label": spec.name });
      input.value = initial;
      input.addEventListener("input", drawSnippets);
      fieldInputs.push([spec, input]);
      fieldsBox.appendChild(el("label", { class: "jacws-field" }, el("span", {}, spec.name), input));
    }
    if (!entry) fieldsBox.appendChild(el("div", { class: "jacws-hint" }, "the server declares no websocket walkers"));
    drawSnippets();
  }

  function drawSnippets() {
    const entry = walkerEntry();
    if (!entry) {
      snippets.hidden = true;
      return;
    }
    snippets.hidden = false;
    const context = {};
    for (const [spec, input] of fieldInputs) if (!isFile(spec) && input.value !== "") context[spec.name] = fieldValue(input.value, spec.type);
    if (takesFiles(entry)) {
      frameBox.textContent = "files travel over REST only: the card posts a multipart form";
      const parts = fieldInputs.map(([spec, input]) =>
        isFile(spec) ? Array.from(input.files, (f) => `-F ${shellQuote(`${spec.name}=@${f.name}`)}`).join(" ") || `-F ${spec.name}=@FILE` : input.value !== "" ? `-F ${shellQuote(`${spec.name}=${input.value}`)}` : "",
      );
      const auth = model.get("identity") && model.get("identity") !== "anonymous" ? ' -H "Authorization: Bearer $TOKEN"' : "";
      curlBox.textContent = `curl -X POST ${model.get("base_url")}/walker/${entry.name}${auth} ${parts.filter(Boolean).join(" ")}`;
      return;
    }
    const frame = { type: "walker", walker: entry.name, context, response: responseBox.checked };
    frameBox.textContent = JSON.stringify(frame);
    const base = model.get("base_url");
    const auth = model.get("identity") && model.get("identity") !== "anonymous" ? ' -H "Authorization: Bearer $TOKEN"' : "";
    const methods = entry.methods.filter((m) => m !== "websocket");
    if (methods.includes("post") || (methods.length && !methods.includes("get"))) {
      const method = methods.includes("post") ? "POST" : methods[0].toUpperCase();
      curlBox.textContent = `curl -X ${method} ${base}/walker/${entry.name} -H 'Content-Type: application/json'${auth} -d ${shellQuote(JSON.stringify(context))}`;
    } else if (methods.includes("get")) {
      const query = new URLSearchParams(Object.entries(context).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
      curlBox.textContent = `curl ${shellQuote(`${base}/walker/${entry.name}?${query}`)}${auth}`;
    } else {
      curlBox.textContent = "websocket only: this walker has no REST route";
    }
  }

  walkerSelect.addEventListener("change", drawFields);
  responseBox.addEventListener("change", drawSnippets);
  runButton.addEventListener("click", async () => {
    const files = takesFiles(walkerEntry()) ? await walkerFiles() : {};
    act({ action: "walker", walker: walkerSelect.value, fields: walkerFields(), response: responseBox.checked, files });
  });
  snippets.append(
    el("div", { class: "jacws-snippet-head" }, el("span", {}, "socket frame"), copyButton(() => frameBox.textContent, "the socket frame")),
    frameBox,
    el("div", { class: "jacws-snippet-head" }, el("span", {}, "REST call ($TOKEN: client.token in the kernel)"), copyButton(() => curlBox.textContent, "the curl command")),
    curlBox,
  );
  walkerPane.append(
    el("label", { class: "jacws-field" }, el("span", {}, "walker"), walkerSelect),
    fieldsBox,
    el("div", { class: "jacws-row" }, responseLabel, runButton),
    snippets,
  );

  let messageKind = "channel";
  const kindButtons = el("div", { class: "jacws-segmented", role: "radiogroup", "aria-label": "send to" });
  const targetsInput = el("input", { type: "text", class: "jacws-targets", "aria-label": "target ids" });
  let targetsTyped = false;
  targetsInput.addEventListener("input", () => {
    targetsTyped = targetsInput.value !== "";
  });
  const targetsList = el("datalist", { id: `jacws-targets-${Math.random().toString(36).slice(2)}` });
  targetsInput.setAttribute("list", targetsList.id);
  const dataInput = el("textarea", { rows: 3, class: "jacws-data", "aria-label": "data (JSON)", spellcheck: "false" });
  dataInput.value = DEFAULT_DATA;
  const sendButton = el("button", { type: "button", class: "jacws-primary" }, "send");
  const targetHint = el("div", { class: "jacws-hint" });

  function drawMessageForm() {
    kindButtons.replaceChildren();
    for (const kind of ["user", "channel", "client"]) {
      const button = el("button", { type: "button", role: "radio", class: `jacws-seg k-${kind}`, "aria-checked": String(kind === messageKind) }, kind);
      button.addEventListener("click", () => {
        if (messageKind !== kind) {
          messageKind = kind;
          targetsTyped = false;
        }
        drawMessageForm();
      });
      kindButtons.appendChild(button);
    }
    const options = model.get("targets")[messageKind] || [];
    targetsList.replaceChildren(...options.map(([label, id]) => el("option", { value: id }, label)));
    targetsInput.placeholder = { user: "root ids, comma separated", channel: "channel ids, comma separated", client: "client ids, comma separated" }[messageKind];
    const names = options.map(([label]) => label).join(", ");
    targetHint.textContent = options.length && messageKind !== "channel" ? `pick from the list: ${names}` : "";
    sendButton.textContent = `send to ${messageKind}`;
    if (!targetsTyped) targetsInput.value = defaultTarget();  // follows the client (a reconnect changes its ids)
  }

  function defaultTarget() {
    if (messageKind === "channel") return model.get("ids").channel_id || "";
    const options = model.get("targets")[messageKind] || [];
    return options.length ? options[0][1] : "";
  }

  sendButton.addEventListener("click", () => act({ action: "send", kind: messageKind, ids: targetsInput.value, data: dataInput.value }));
  messagePane.append(
    el("label", { class: "jacws-field" }, el("span", {}, "send to"), kindButtons),
    el("label", { class: "jacws-field" }, el("span", {}, "ids"), targetsInput),
    targetsList,
    targetHint,
    el("label", { class: "jacws-field" }, el("span", {}, "data"), dataInput),
    el("div", { class: "jacws-row" }, el("span", { class: "jacws-spacer" }), sendButton),
  );

  const reconnectButton = el("button", { type: "button", title: "close and connect again (a new client id)" }, "reconnect");
  reconnectButton.addEventListener("click", () => act({ action: "reconnect" }));
  const closeButton = el("button", { type: "button", title: "close the connection (code 1000)" }, "close");
  closeButton.addEventListener("click", () => act({ action: "close" }));
  const becomeSelect = el("select", { "aria-label": "become" });
  const changeButton = el("button", { type: "button", class: "jacws-primary" }, "change_user");
  const connectionButton = el("button", { type: "button" }, "ask for the connection event");
  changeButton.addEventListener("click", () => act({ action: "change_user", identity: Number(becomeSelect.value) }));
  connectionButton.addEventListener("click", () => act({ action: "connection" }));

  function drawConnectionForm() {
    const current = becomeSelect.value;
    becomeSelect.replaceChildren(...model.get("identities").map(([label, index]) => el("option", { value: index }, label)));
    if ([...becomeSelect.options].some((o) => o.value === current)) becomeSelect.value = current;
  }
  const channelsInput = el("input", { type: "text", class: "jacws-targets", "aria-label": "channel ids", placeholder: "channel ids, comma separated" });
  const watchBox = el("input", { type: "checkbox" });
  const joinButton = el("button", { type: "button", title: "be on these channels too" }, "join");
  const leaveButton = el("button", { type: "button", title: "be on these channels no more" }, "leave");
  const presenceButton = el("button", { type: "button", title: "who is on the first of these channels, on every server" }, "who is here?");
  joinButton.addEventListener("click", () => act({ action: "join", ids: channelsInput.value, presence: watchBox.checked }));
  leaveButton.addEventListener("click", () => act({ action: "leave", ids: channelsInput.value }));
  presenceButton.addEventListener("click", () => act({ action: "presence", ids: channelsInput.value }));
  connectionPane.append(
    el("label", { class: "jacws-field" }, el("span", {}, "channels"), channelsInput),
    el("div", { class: "jacws-row" }, el("label", { class: "jacws-check" }, watchBox, "joining: tell me who comes and goes")),
    el("div", { class: "jacws-row" }, el("span", { class: "jacws-spacer" }), joinButton, leaveButton, presenceButton),
    el("label", { class: "jacws-field" }, el("span", {}, "become"), becomeSelect),
    el("div", { class: "jacws-row" }, el("span", { class: "jacws-hint" }, "same socket, another user (the browser's way to log in)"), changeButton),
    el("div", { class: "jacws-row" }, connectionButton, el("span", { class: "jacws-spacer" }), reconnectButton, closeButton),
  );

  function drawStatus() {
    const value = model.get("status");
    const show = value && value.text && !statusHidden;
    status.hidden = !show;
    status.className = `jacws-status${show && value.level === "error" ? " jacws-status-error" : ""}`;
    status.textContent = show ? value.text : "";
  }

  // -- the timeline -----------------------------------------------------------------------
  function drawFilters() {
    const chosen = model.get("filter");
    filters.replaceChildren(el("span", { class: "jacws-hint" }, "show:"));
    for (const name of model.get("filters")) {
      const chip = el("button", { type: "button", class: `jacws-chip k-${name}`, "aria-pressed": String(chosen === name), "data-filter": name }, name);
      chip.addEventListener("click", () => {
        model.set("filter", name);
        model.save_changes();
      });
      filters.appendChild(chip);
    }
    const counts = model.get("counts");
    count.textContent = `${counts.shown} shown · ${counts.received} received · ${counts.sent} sent`;
  }

  function drawTimeline() {
    const rows = [];
    for (const entry of model.get("entries")) {
      const sent = entry.dir === "out";
      const row = el("div", { class: `jacws-entry k-${entry.kind} ${sent ? "jacws-out" : "jacws-in"}`, "data-key": entry.key, "data-kind": entry.kind });
      const line = el(
        "div",
        { class: "jacws-entry-line", title: `${clock(entry.at)} · ${sent ? "sent" : "received"} · ${entry.kind}${entry.route ? " · " + entry.route : ""}\nclick to show the whole message` },
        el("span", { class: "jacws-entry-time" }, clock(entry.at)),
        el("span", { class: "jacws-dir" }, sent ? "sent" : "recv"),
        el("span", { class: "jacws-kind" }, entry.kind),
        el("span", { class: "jacws-entry-label" }, entry.label),
      );
      if (entry.latency !== null && entry.latency !== undefined) line.append(el("span", { class: "jacws-latency" }, `${entry.latency.toFixed(1)} ms`));
      row.appendChild(line);
      if (entry.route) row.appendChild(el("div", { class: "jacws-entry-route" }, entry.route));
      const open = expanded.has(entry.key);
      const body = el("pre", { class: "jacws-entry-json", hidden: !open }, open ? pretty(entry.text) : "");
      if (!open) body.dataset.lazy = "1";
      body.addEventListener("click", (event) => event.stopPropagation());  // select text without closing
      row.appendChild(body);
      row.addEventListener("click", () => {
        if (expanded.has(entry.key)) expanded.delete(entry.key);
        else expanded.add(entry.key);
        body.hidden = !expanded.has(entry.key);
        if (!body.hidden && body.dataset.lazy) {
          body.textContent = pretty(entry.text);
          delete body.dataset.lazy;
        }
      });
      rows.push(row);
    }
    timeline.replaceChildren(...rows);
  }

  const redraw = {
    "change:state change:close_code change:name change:identity change:ids change:can_graph": () => {
      drawHeader();
      drawSnippets();
      drawMessageForm();
    },
    "change:progress": drawProgress,
    "change:rtt": drawRtt,
    "change:walkers change:base_url": drawWalkerForm,
    "change:targets": drawMessageForm,
    "change:identities": drawConnectionForm,
    "change:status": () => {
      statusHidden = false;
      drawStatus();
    },
    "change:filters change:filter change:counts": drawFilters,
    "change:entries": drawTimeline,
  };
  const each = (fn) => {
    for (const [events, handler] of Object.entries(redraw)) for (const name of events.split(" ")) fn(name, handler);
  };
  each((name, handler) => model.on(name, handler));

  drawHeader();
  drawProgress();
  drawRtt();
  drawTabs();
  drawWalkerForm();
  drawMessageForm();
  drawConnectionForm();
  drawStatus();
  drawFilters();
  drawTimeline();
  return () => each((name, handler) => model.off(name, handler));
}

export default { render };
