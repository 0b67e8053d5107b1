// jacws browser client: the jac-cloud websocket protocol from a plain page, no build step, no CDN.
// Every URL is relative to this page, so it works at "/" and behind jupyter-server-proxy alike.
"use strict";

const PUBLIC_ROOT = "n::000000000000000000000001";
const $ = (id) => document.getElementById(id);
const page = { ws: null, token: null, email: null, walkers: [], pending: new Map(), seq: 0, count: 0 };

function websocketUrl(channel) {
  const url = new URL("websocket", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  if (channel) url.searchParams.set("channel_id", channel);
  return url.toString();
}

function setState(state) {
  const badge = $("state");
  badge.textContent = state;
  badge.className = "state " + state.split(" ")[0];
}

function status(id, text, bad) {
  const element = $(id);
  element.textContent = text;
  element.style.color = bad ? "#dc3545" : "";
}

function kindOf(message) {
  if (message && message.type === "connection") return "connection";
  if (message && "status" in message && "reports" in message) return "response";
  if (message && "error" in message && "code" in message) return "error";
  return "notification";
}

function showInfo(data) {
  $("client-id").textContent = data.client_id;
  $("root-id").textContent = data.root_id;
  $("channel-id").textContent = data.channel_id;
  if (!$("channel-ids").value) $("channel-ids").value = data.channel_id;
  const who = data.root_id === PUBLIC_ROOT ? "anonymous" : page.email || "logged in";
  setState(`open · ${who}`);
  $("chat-channel").textContent = data.channel_id;
  $("chat-author").textContent = author();
}

// The chat's signature: the logged-in email, else "guest-" and a few characters of the client id.
function author() {
  if (page.email) return page.email;
  const client = $("client-id").textContent.split(":").pop();
  return client && client !== "-" ? `guest-${client.slice(0, 4)}` : "guest";
}

function addToInbox(message) {
  const item = document.createElement("li");
  const kind = kindOf(message);
  const label = document.createElement("span");
  label.className = "kind " + kind;
  label.textContent = `${new Date().toLocaleTimeString()} ${kind}`;
  item.append(label, " ", JSON.stringify(message));
  $("inbox").prepend(item);
  page.count += 1;
  $("count").textContent = `${page.count} messages`;
}

function span(className, text) {
  const element = document.createElement("span");
  element.className = className;
  element.textContent = text;
  return element;
}

// A chat line: time, author and text. The seed's walkers send {"message": "string"} with no author.
function addToChat(message) {
  const body = message.data || {};
  const who = body.author ?? body.from;
  const text = typeof body.message === "string" ? body.message : JSON.stringify(body);
  const item = document.createElement("li");
  item.classList.toggle("mine", who !== undefined && who === author());
  const time = span("time", new Date().toLocaleTimeString());
  const name = who === undefined ? span("author none", "no author") : span("author", `${who}:`);
  item.append(time, name, span("text", text));
  $("chat").append(item);
  $("chat").scrollTop = $("chat").scrollHeight;
}

function receive(event) {
  const message = JSON.parse(event.data);
  addToInbox(message);
  if (message.type === "connection") showInfo(message.data);
  if (message.type === "chat") addToChat(message);
  if (message && message.id !== undefined && page.pending.has(message.id)) {
    const started = page.pending.get(message.id);
    page.pending.delete(message.id);
    $("walker-rtt").textContent = `round trip ${(performance.now() - started).toFixed(1)} ms`;
  }
}

function connect() {
  return new Promise((resolve, reject) => {
    if (page.ws && page.ws.readyState <= WebSocket.OPEN) return resolve(page.ws);
    setState("connecting");
    const ws = new WebSocket(websocketUrl($("channel").value.trim()));
    page.ws = ws;
    ws.onmessage = (event) => {
      receive(event);
      resolve(ws);
    };
    ws.onerror = () => reject(new Error("cannot connect"));
    ws.onclose = (event) => {
      if (page.ws === ws) setState(`closed (code ${event.code})`);
    };
  });
}

function send(event) {
  if (!page.ws || page.ws.readyState !== WebSocket.OPEN) throw new Error("not connected: press connect first");
  page.ws.send(JSON.stringify(event));
}

async function rest(path, body, token) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const answer = await fetch(path, { method: "POST", headers, body: JSON.stringify(body || {}) });
  return { status: answer.status, body: await answer.json().catch(() => ({})) };
}

async function register() {
  const answer = await rest("user/register", { email: $("email").value, password: $("password").value });
  const ok = answer.status === 201;
  status("auth-status", ok ? "registered: now log in" : `register refused (${answer.status}): ${answer.body.error || answer.body.message}`, !ok);
}

async function login() {
  const answer = await rest("user/login", { email: $("email").value, password: $("password").value });
  if (answer.status !== 200) {
    status("auth-status", `login refused: ${answer.body.message || answer.status}`, true);
    return;
  }
  page.token = answer.body.token;
  page.email = answer.body.user.email;
  $("change-token").value = page.token;
  await connect();
  send({ type: "change_user", token: `Bearer ${page.token}` });
  status("auth-status", `logged in as ${page.email}; sent change_user`);
}

async function logout() {
  // Revoke the token everywhere (this socket then turns anonymous with a fresh connection event).
  if (page.token) await rest("user/logout", {}, page.token);
  page.token = null;
  page.email = null;
  $("change-token").value = "";
  status("auth-status", "logged out: the token is revoked");
}

function ids(text) {
  return text.split(",").map((part) => part.trim()).filter(Boolean);
}

function data(textarea) {
  try {
    return JSON.parse($(textarea).value);
  } catch (error) {
    throw new Error(`data is not JSON: ${error.message}`);
  }
}

function walkerContext() {
  const context = {};
  for (const input of $("walker-fields").querySelectorAll("input:not([type=file])")) {
    if (input.value === "") continue;
    if (input.dataset.type === "str") context[input.name] = input.value;
    else {
      try {
        context[input.name] = JSON.parse(input.value);
      } catch {
        context[input.name] = input.value;
      }
    }
  }
  return context;
}

function selectedWalker() {
  return page.walkers.find((walker) => walker.name === $("walker-name").value);
}

function takesFiles(walker) {
  return Boolean(walker) && walker.fields.some((field) => field.type === "file" || field.type === "files");
}

// A walker with file fields runs over REST (files never travel on the socket): a multipart POST with the
// picked files and the other fields as text, its answer shown in the inbox like a socket's.
async function runWithFiles(walker) {
  const form = new FormData();
  for (const input of $("walker-fields").querySelectorAll("input")) {
    if (input.type === "file") for (const file of input.files) form.append(input.name, file, file.name);
    else if (input.value !== "") form.append(input.name, input.value);
  }
  const headers = page.token ? { Authorization: `Bearer ${page.token}` } : {};
  const started = performance.now();
  $("walker-rtt").textContent = "uploading…";
  const answer = await fetch(`walker/${encodeURIComponent(walker.name)}`, { method: "POST", body: form, headers });
  const body = await answer.json();
  $("walker-rtt").textContent = `${Math.round(performance.now() - started)} ms over REST`;
  addToInbox(body);
  if (!answer.ok) throw new Error(body.error || `HTTP ${answer.status}`);
}

const senders = {
  walker() {
    const walker = selectedWalker();
    if (takesFiles(walker)) return runWithFiles(walker);
    const response = $("walker-response").checked;
    const event = { type: "walker", walker: $("walker-name").value, context: walkerContext(), response };
    if (response) {
      event.id = `page-${++page.seq}`;
      page.pending.set(event.id, performance.now());
      $("walker-rtt").textContent = "waiting…";
    }
    send(event);
  },
  user: () => send({ type: "user", root_ids: ids($("user-ids").value), data: data("user-data") }),
  channel: () => send({ type: "channel", channel_ids: ids($("channel-ids").value), data: data("channel-data") }),
  client: () => send({ type: "client", client_ids: ids($("client-ids").value), data: data("client-data") }),
  change_user() {
    const token = $("change-token").value.trim();
    send(token ? { type: "change_user", token } : { type: "change_user" });
  },
  connection: () => send({ type: "connection" }),
};

function showWalkerFields() {
  const entry = selectedWalker();
  const fields = $("walker-fields");
  fields.replaceChildren();
  $("walker-response").closest("label").style.display = takesFiles(entry) ? "none" : ""; // REST always answers
  for (const field of entry ? entry.fields : []) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.name = field.name;
    input.dataset.type = field.type;
    input.dataset.testid = `field-${field.name}`;
    if (field.type === "file" || field.type === "files") {
      input.type = "file";
      input.multiple = field.type === "files";
      label.append(`${field.name} `, input);
      fields.append(label);
      continue;
    }
    input.placeholder = field.type + (field.required ? "" : " (optional)");
    if (field.default !== undefined && field.default !== null) {
      input.value = typeof field.default === "string" ? field.default : JSON.stringify(field.default);
    }
    label.append(`${field.name} `, input);
    fields.append(label);
  }
}

async function loadWalkers() {
  const answer = await fetch("walkers");
  // Socket walkers, and walkers that take files over REST (POST); those run with an upload.
  const usable = (walker) => walker.websocket || (takesFiles(walker) && walker.methods.includes("post"));
  page.walkers = (await answer.json()).walkers.filter(usable);
  const select = $("walker-name");
  const label = (walker) => (takesFiles(walker) ? `${walker.name} (files, REST)` : walker.name);
  select.replaceChildren(...page.walkers.map((walker) => new Option(label(walker), walker.name)));
  showWalkerFields();
  $("chat-seed").hidden = !page.walkers.some((walker) => walker.name === "send_chat_to_group");
}

function showTab(name) {
  for (const button of document.querySelectorAll("#tabs button")) button.classList.toggle("active", button.dataset.tab === name);
  for (const form of document.querySelectorAll("form[data-form]")) form.hidden = form.dataset.form !== name;
}

// Runs an action from a button or form, showing its error (if any) in the status line given.
function guard(action, statusId = "send-status") {
  return async (event) => {
    if (event) event.preventDefault();
    try {
      await action();
      status(statusId, "");
    } catch (error) {
      status(statusId, error.message, true);
    }
  };
}

function sendChat() {
  const text = $("chat-text").value.trim();
  if (!text) return;
  const chat = { type: "chat", data: { message: text, author: author() } };
  send({ type: "channel", channel_ids: [$("channel-id").textContent], data: chat });
  $("chat-text").value = "";
}

function wire() {
  const params = new URLSearchParams(location.search);
  if (params.get("channel_id")) $("channel").value = params.get("channel_id");
  $("connect").onclick = guard(connect);
  $("disconnect").onclick = () => page.ws && page.ws.close();
  $("register").onclick = guard(register);
  $("login").onclick = guard(login);
  $("logout").onclick = guard(logout);
  $("walker-name").onchange = showWalkerFields;
  for (const button of document.querySelectorAll("#tabs button")) button.onclick = () => showTab(button.dataset.tab);
  for (const form of document.querySelectorAll("form[data-form]")) form.onsubmit = guard(senders[form.dataset.form]);
  for (const button of document.querySelectorAll("button.copy")) {
    button.onclick = () => navigator.clipboard && navigator.clipboard.writeText($(button.dataset.copy).textContent);
  }
  $("chat-form").onsubmit = guard(sendChat, "chat-status");
  $("chat-walker").onclick = guard(
    () => send({ type: "walker", walker: "send_chat_to_group", context: { channel_id: $("channel-id").textContent } }),
    "chat-status",
  );
  loadWalkers().catch((error) => status("send-status", `cannot load the walkers: ${error.message}`, true));
}

wire();
