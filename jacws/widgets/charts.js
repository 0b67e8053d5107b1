// jacws live numbers: a tile per metric (its value now and a sparkline of the last minute), the
// largest channels with their members, and a running load's figures. Redrawn once per reading.

const SERIES = ["connections", "messages_in_per_s", "messages_out_per_s", "walker_p50_ms", "walker_p99_ms",
  "largest_backlog", "delivered_per_s", "load_p50_ms", "load_p99_ms"];
const at = (name) => SERIES.indexOf(name) + 1;  // a reading is [time, ...SERIES]

const TILES = [
  { title: "connections", lines: ["connections"], unit: "" },
  { title: "messages in / s", lines: ["messages_in_per_s"], unit: "" },
  { title: "messages out / s", lines: ["messages_out_per_s"], unit: "" },
  { title: "walker latency p50 · p99", lines: ["walker_p50_ms", "walker_p99_ms"], unit: "ms" },
  { title: "largest send backlog", lines: ["largest_backlog"], unit: "msgs" },
];
const LOAD_TILES = [
  { title: "load: delivered / s", lines: ["delivered_per_s"], unit: "" },
  { title: "load: latency p50 · p99", lines: ["load_p50_ms", "load_p99_ms"], unit: "ms" },
];

function make(tag, attrs = {}, text = "") {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value);
  if (text) el.textContent = text;
  return el;
}

function svg(tag, attrs = {}) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value);
  return el;
}

function number(value, unit) {
  if (value === null || value === undefined) return "–";
  const text = value >= 10000 ? `${(value / 1000).toFixed(1)}k` : value >= 100 ? value.toFixed(0) : `${+value.toFixed(2)}`;
  return unit ? `${text} ${unit}` : text;
}

function spark(rows, lines, width = 150, height = 34) {
  const chart = svg("svg", { class: "jacws-spark", viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none" });
  const values = lines.flatMap((name) => rows.map((row) => row[at(name)]).filter((v) => v !== null && v !== undefined));
  const top = Math.max(1, ...values);
  const first = rows.length ? rows[0][0] : 0;
  const last = rows.length ? rows[rows.length - 1][0] : 1;
  const span = Math.max(1, last - first);
  lines.forEach((name, i) => {
    const points = rows
      .filter((row) => row[at(name)] !== null && row[at(name)] !== undefined)
      .map((row) => `${(((row[0] - first) / span) * (width - 2) + 1).toFixed(1)},${(height - 2 - (row[at(name)] / top) * (height - 4)).toFixed(1)}`);
    if (points.length) chart.appendChild(svg("polyline", { points: points.join(" "), class: `jacws-spark-line l${i}` }));
  });
  return chart;
}

function tile(rows, spec) {
  const box = make("div", { class: "jacws-tile" });
  const newest = rows.length ? rows[rows.length - 1] : null;
  const values = spec.lines.map((name) => (newest ? newest[at(name)] : null));
  const known = values.some((v) => v !== null && v !== undefined);
  const now = known ? values.map((v) => number(v, "")).join(" · ") + (spec.unit ? ` ${spec.unit}` : "") : "–";
  box.append(make("div", { class: "jacws-tile-title" }, spec.title),
    make("div", { class: "jacws-tile-value" }, now),
    spark(rows, spec.lines));
  return box;
}

function render({ model, el }) {
  const root = make("div", { class: "jacws-charts" });
  el.appendChild(root);
  function draw() {
    const rows = model.get("samples") || [];
    const latest = model.get("latest") || {};
    const tiles = make("div", { class: "jacws-tiles" });
    for (const spec of TILES) tiles.appendChild(tile(rows, spec));
    const channels = Object.entries(latest.channels || {}).slice(0, 5);
    const most = Math.max(1, ...channels.map(([, n]) => n));
    const members = make("div", { class: "jacws-tile jacws-channels" });
    const count = latest.channel_count ?? 0;
    members.appendChild(make("div", { class: "jacws-tile-title" }, `channel members (${count} channel${count === 1 ? "" : "s"})`));
    for (const [channel, count] of channels) {
      const row = make("div", { class: "jacws-chart-bar-row", title: channel });
      const bar = make("span", { class: "jacws-chart-bar" });
      bar.style.width = `${Math.max(2, (count / most) * 100)}%`;
      row.append(make("span", { class: "jacws-chart-bar-name" }, channel.length > 14 ? `${channel.slice(0, 6)}…${channel.slice(-6)}` : channel),
        make("span", { class: "jacws-chart-bar-track" }), make("span", { class: "jacws-chart-bar-count" }, String(count)));
      row.children[1].appendChild(bar);
      members.appendChild(row);
    }
    tiles.appendChild(members);
    const load = latest.load;
    if (load) {
      for (const spec of LOAD_TILES) tiles.appendChild(tile(rows, spec));
      const closed = Object.entries(latest.closed_by_server || {}).map(([code, n]) => `${n} × ${code}`).join(", ");
      const lost = load.lost === undefined ? "at the end" : String(load.lost);
      const facts = make("div", { class: "jacws-tile jacws-load-facts" });
      facts.append(make("div", { class: "jacws-tile-title" }, `load: ${load.phase}`),
        make("div", {}, `${load.connected ?? 0}/${load.clients ?? 0} clients · published ${load.published ?? 0}`),
        make("div", {}, `delivered ${load.delivered ?? 0} · lost ${lost}`),
        make("div", {}, `server closes: ${closed || "none"}`));
      tiles.appendChild(facts);
    }
    root.replaceChildren(tiles);
  }
  model.on("change:latest", draw);
  draw();
  return () => model.off("change:latest", draw);
}

export default { render };
