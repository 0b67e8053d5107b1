// jacws flow view: a live sequence diagram of every message (no imports, no CDN).
// The kernel sends flows in batches ("append") and all of them to a new view ("reset");
// only the rows in view are drawn, so 10,000 messages scroll smoothly.
const SVG = "http://www.w3.org/2000/svg";
const ROW = 26;          // px per message
const HEAD = 28;         // px of the sticky lane header
const GUTTER = 92;       // px of the time column
const MIN_LANE = 136;    // px between two lifelines at least
const RIGHT = 96;        // px right of the last lifeline, for the labels of its self-arrows
const CHAR = 6.6;        // px per character of an 11px monospace label
const OVERSCAN = 8;      // rows drawn above and below the viewport
const DASH = { response: "6 3", connection: "2 3", notification: "2 3" };
const [SEQ, AT, SOURCE, TARGET, KIND, LABEL, ROUTE, CAUSE, LATENCY, TEXT] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

const stores = new WeakMap();

function storeFor(model) {
  let store = stores.get(model);
  if (!store) {
    store = { flows: [], listeners: new Set() };
    stores.set(model, store);
    model.on("msg:custom", (msg) => {
      if (msg.type === "reset") {
        store.flows = msg.flows.slice();
      } else if (msg.type === "append") {
        const last = store.flows.length ? store.flows[store.flows.length - 1][SEQ] : 0;
        for (const flow of msg.flows) if (flow[SEQ] > last) store.flows.push(flow);
      } else {
        return;
      }
      if (store.flows.length > msg.keep) store.flows.splice(0, store.flows.length - msg.keep);
      for (const listener of store.listeners) listener(msg.type);
    });
    model.send({ type: "hello" });
  }
  return store;
}

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function clock(seconds) {
  const date = new Date(seconds * 1000);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

function cut(text, chars) {
  if (chars < 2) return "";
  return text.length <= chars ? text : text.slice(0, chars - 1) + "…";
}

function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function millis(seconds) {
  return seconds < 1 ? `${(seconds * 1000).toFixed(1)} ms` : `${seconds.toFixed(2)} s`;
}

function swatch(kind) {
  const mark = svg("svg", { width: 22, height: 10, class: `k-${kind}`, "aria-hidden": "true" });
  mark.appendChild(svg("line", { x1: 1, y1: 5, x2: 15, y2: 5, class: "jacws-stroke", "stroke-dasharray": DASH[kind] || "" }));
  mark.appendChild(svg("path", { d: "M14,1 L21,5 L14,9 z", class: "jacws-fill" }));
  return mark;
}

function render({ model, el: host }) {
  const store = storeFor(model);
  const hidden = new Set();       // kinds switched off in the legend
  const chosen = new Set();       // clients picked (none: every client)
  let follow = true;
  let selected = null;            // seq of the clicked flow
  let visible = [];
  let considered = 0;             // the newest seq already filtered into visible
  let queued = false;
  let programmaticScroll = false;

  const root = el("div", { class: "jacws-flow" });
  const bar = el("div", { class: "jacws-flow-bar" });
  const caption = el("span", { class: "jacws-flow-caption" });
  const followButton = el("button", { class: "jacws-flow-follow", type: "button" });
  bar.append(caption, followButton);
  const legend = el("div", { class: "jacws-flow-legend", role: "group", "aria-label": "kinds" });
  const clients = el("div", { class: "jacws-flow-clients", role: "group", "aria-label": "clients" });
  const scroller = el("div", { class: "jacws-flow-scroll" });
  const lanesRow = el("div", { class: "jacws-flow-lanes" });
  const canvas = el("div", { class: "jacws-flow-canvas" });
  scroller.append(lanesRow, canvas);
  const detail = el("div", { class: "jacws-flow-detail", hidden: "" });
  root.append(bar, legend, clients, scroller, detail);
  host.appendChild(root);

  const lanes = () => model.get("lanes");
  const passes = (flow) =>
    !hidden.has(flow[KIND]) && (chosen.size === 0 || chosen.has(flow[SOURCE]) || chosen.has(flow[TARGET]));

  function geometry() {
    const names = lanes();
    const width = Math.max(scroller.clientWidth || 600, 300);
    const lane = Math.max(MIN_LANE, (width - GUTTER - RIGHT) / Math.max(names.length, 1));
    const index = new Map(names.map((name, i) => [name, i]));
    const x = (name) => GUTTER + lane * ((index.has(name) ? index.get(name) : names.length) + 0.5);
    const last = names.length ? x(names[names.length - 1]) : 0;
    return { names, lane, x, last, total: GUTTER + lane * names.length + RIGHT };
  }

  function buildLegend() {
    legend.replaceChildren();
    for (const kind of model.get("kinds")) {
      const chip = el("button", { type: "button", class: `jacws-chip k-${kind}`, "data-kind": kind, "aria-pressed": String(!hidden.has(kind)) });
      chip.append(swatch(kind), el("span", {}, kind));
      chip.title = hidden.has(kind) ? `show ${kind} messages` : `hide ${kind} messages`;
      chip.addEventListener("click", () => {
        hidden.has(kind) ? hidden.delete(kind) : hidden.add(kind);
        buildLegend();
        refilter();
      });
      legend.appendChild(chip);
    }
  }

  function buildClients() {
    clients.replaceChildren(el("span", { class: "jacws-flow-hint" }, "clients:"));
    for (const name of lanes()) {
      if (name === "server") continue;
      const chip = el("button", { type: "button", class: "jacws-chip jacws-client-chip", "data-lane": name, "aria-pressed": String(chosen.has(name)) }, name);
      chip.title = chosen.has(name) ? `stop picking ${name}` : `only messages to or from ${name} (and other picked clients)`;
      chip.addEventListener("click", () => {
        chosen.has(name) ? chosen.delete(name) : chosen.add(name);
        buildClients();
        refilter();
      });
      clients.appendChild(chip);
    }
  }

  function setFollow(on) {
    follow = on;
    followButton.textContent = on ? "pause" : "follow newest";
    followButton.title = on ? "stop scrolling to the newest message" : "scroll to the newest message as they arrive";
    followButton.setAttribute("aria-pressed", String(on));
    if (on) schedule(true);
  }
  followButton.addEventListener("click", () => setFollow(!follow));

  // Scrolls made here are not the reader's: the scroll event they cause must not pause following.
  function scrollTo(top) {
    const target = Math.max(0, Math.min(top, scroller.scrollHeight - scroller.clientHeight));
    if (Math.abs(scroller.scrollTop - target) >= 1) {
      programmaticScroll = true;
      scroller.scrollTop = target;
    }
  }

  function refilter() {
    visible = store.flows.filter(passes);
    considered = store.flows.length ? store.flows[store.flows.length - 1][SEQ] : 0;
    schedule(follow);
  }

  function schedule(scrollDown = false) {
    const already = queued;
    if (scrollDown) queued = "down";
    else if (!queued) queued = true;
    if (already) return;
    requestAnimationFrame(() => {
      const down = queued === "down";
      queued = false;
      draw(down);
    });
  }

  function drawLanes(geo) {
    lanesRow.style.width = `${geo.total}px`;
    lanesRow.replaceChildren(el("span", { class: "jacws-lane jacws-lane-time", style: `left:4px;width:${GUTTER - 8}px` }, "time"));
    for (const name of geo.names) {
      const label = el("span", { class: "jacws-lane", title: name, style: `left:${geo.x(name) - geo.lane / 2 + 4}px;width:${geo.lane - 8}px` }, name);
      lanesRow.appendChild(label);
    }
  }

  function draw(scrollDown) {
    const geo = geometry();
    drawLanes(geo);
    const total = model.get("total");
    const kept = store.flows.length;
    caption.textContent = `${total} message${total === 1 ? "" : "s"}` +
      (kept < total ? ` · the latest ${kept} kept` : "") +
      (visible.length < kept ? ` · ${visible.length} shown` : "");
    canvas.style.height = `${visible.length * ROW + 8}px`;
    canvas.style.width = `${geo.total}px`;
    if (scrollDown) scrollTo(scroller.scrollHeight);
    const top = Math.max(0, scroller.scrollTop);
    const first = Math.max(0, Math.floor(top / ROW) - OVERSCAN);
    const last = Math.min(visible.length, Math.ceil((top + scroller.clientHeight) / ROW) + OVERSCAN);
    const height = Math.max((last - first) * ROW, 1);
    const picture = svg("svg", { width: geo.total, height, class: "jacws-flow-svg", style: `top:${first * ROW}px` });
    for (const name of geo.names) {
      picture.appendChild(svg("line", { x1: geo.x(name), y1: 0, x2: geo.x(name), y2: height, class: "jacws-lifeline" }));
    }
    const selectedFlow = selected === null ? null : store.flows.find((f) => f[SEQ] === selected);
    const causeSeq = selectedFlow ? selectedFlow[CAUSE] : null;
    for (let i = first; i < last; i++) picture.appendChild(row(visible[i], (i - first) * ROW, geo, causeSeq));
    canvas.replaceChildren(picture);
  }

  function row(flow, top, geo, causeSeq) {
    const kind = flow[KIND];
    const group = svg("g", { class: `jacws-row k-${kind}`, "data-seq": flow[SEQ], "data-kind": kind });
    if (flow[SEQ] === selected || flow[SEQ] === causeSeq) {
      group.appendChild(svg("rect", { x: 0, y: top, width: geo.total, height: ROW, class: flow[SEQ] === selected ? "jacws-selected" : "jacws-cause" }));
    } else {
      group.appendChild(svg("rect", { x: 0, y: top, width: geo.total, height: ROW, class: "jacws-hit" }));
    }
    group.appendChild(svg("text", { x: 4, y: top + 17, class: "jacws-time" }, clock(flow[AT])));
    const x1 = geo.x(flow[SOURCE]);
    const x2 = geo.x(flow[TARGET]);
    const y = top + 19;
    const dash = DASH[kind] || "";
    let room;
    let labelX;
    let anchor = "middle";
    if (x1 === x2) {
      group.appendChild(svg("path", { d: `M${x1},${y - 8} h22 v8 h-16`, fill: "none", class: "jacws-stroke", "stroke-dasharray": dash }));
      group.appendChild(svg("path", { d: `M${x1 + 1},${y} l7,-4 v8 z`, class: "jacws-fill" }));
      room = (x1 === geo.last ? geo.lane / 2 + RIGHT : geo.lane / 2) - 32;
      labelX = x1 + 28;
      anchor = "start";
    } else {
      const forward = x2 > x1;
      const tip = forward ? x2 - 2 : x2 + 2;
      group.appendChild(svg("line", { x1, y1: y, x2: forward ? tip - 7 : tip + 7, y2: y, class: "jacws-stroke", "stroke-dasharray": dash }));
      group.appendChild(svg("path", { d: forward ? `M${tip},${y} l-8,-4 v8 z` : `M${tip},${y} l8,-4 v8 z`, class: "jacws-fill" }));
      room = Math.abs(x2 - x1) - 14;
      labelX = (x1 + x2) / 2;
    }
    const words = flow[ROUTE] ? `${flow[LABEL]} · ${flow[ROUTE]}` : flow[LABEL];
    group.appendChild(svg("text", { x: labelX, y: y - 5, "text-anchor": anchor, class: "jacws-label" }, cut(words, Math.floor(room / CHAR))));
    const latency = flow[LATENCY] === null ? "" : ` · ${millis(flow[LATENCY])} after #${flow[CAUSE]}`;
    group.appendChild(svg("title", {}, `#${flow[SEQ]} ${clock(flow[AT])}${latency}\n${flow[SOURCE]} → ${flow[TARGET]} · ${kind}\n${words}\n${cut(flow[TEXT], 600)}`));
    group.addEventListener("click", () => select(flow[SEQ]));
    return group;
  }

  function select(seq) {
    selected = seq;
    const flow = store.flows.find((f) => f[SEQ] === seq);
    if (!flow) {
      detail.hidden = true;
      schedule();
      return;
    }
    detail.hidden = false;
    const head = el("div", { class: "jacws-detail-head" });
    head.append(swatch(flow[KIND]), el("b", {}, `#${flow[SEQ]} ${flow[KIND]}`), el("span", {}, ` ${flow[SOURCE]} → ${flow[TARGET]} · ${clock(flow[AT])}`));
    const close = el("button", { type: "button", class: "jacws-detail-close", title: "close" }, "✕");
    close.addEventListener("click", () => {
      selected = null;
      detail.hidden = true;
      schedule();
    });
    head.appendChild(close);
    const lines = [head];
    if (flow[ROUTE]) lines.push(el("div", {}, flow[ROUTE]));
    if (flow[CAUSE] !== null) {
      const cause = el("div", { class: "jacws-detail-cause" });
      const latency = flow[LATENCY] === null ? "" : `${millis(flow[LATENCY])} after `;
      const link = el("button", { type: "button", class: "jacws-link" }, `#${flow[CAUSE]}`);
      link.addEventListener("click", () => reveal(flow[CAUSE]));
      cause.append(el("span", {}, `caused by ${latency}`), link);
      lines.push(cause);
    }
    lines.push(el("pre", { class: "jacws-detail-json" }, pretty(flow[TEXT])));
    detail.replaceChildren(...lines);
    schedule();
  }

  function reveal(seq) {
    let index = visible.findIndex((f) => f[SEQ] === seq);
    if (index < 0 && store.flows.some((f) => f[SEQ] === seq)) {
      hidden.clear();
      chosen.clear();
      buildLegend();
      buildClients();
      refilter();
      index = visible.findIndex((f) => f[SEQ] === seq);
    }
    if (index < 0) return;
    setFollow(false);
    scrollTo(index * ROW - scroller.clientHeight / 2);
    select(seq);
  }

  scroller.addEventListener("scroll", () => {
    if (programmaticScroll) {
      programmaticScroll = false;
    } else if (follow && scroller.scrollTop + scroller.clientHeight < scroller.scrollHeight - ROW) {
      setFollow(false);  // the reader scrolled back: stop jumping to the newest message
    }
    schedule();
  });

  const onFlows = (what) => {
    if (what === "reset") {
      refilter();
      return;
    }
    const flows = store.flows;
    let start = flows.length;
    while (start > 0 && flows[start - 1][SEQ] > considered) start--;
    for (let i = start; i < flows.length; i++) if (passes(flows[i])) visible.push(flows[i]);
    considered = flows.length ? flows[flows.length - 1][SEQ] : considered;
    const oldest = flows.length ? flows[0][SEQ] : 0;
    let drop = 0;
    while (drop < visible.length && visible[drop][SEQ] < oldest) drop++;
    if (drop) {
      visible.splice(0, drop);
      if (!follow) scrollTo(scroller.scrollTop - drop * ROW);  // paused: the same rows stay in view
    }
    schedule(follow);
  };
  store.listeners.add(onFlows);
  const onLanes = () => {
    buildClients();
    schedule();
  };
  model.on("change:lanes", onLanes);
  model.on("change:total", () => schedule(follow));
  const resize = new ResizeObserver(() => schedule());
  resize.observe(scroller);

  buildLegend();
  buildClients();
  setFollow(true);
  refilter();
  return () => {
    store.listeners.delete(onFlows);
    model.off("change:lanes", onLanes);
    resize.disconnect();
  };
}

export default { initialize({ model }) { storeFor(model); }, render };
