// jacws flow view: a live sequence diagram drawn as SVG (no imports, no CDN).
const SVG = "http://www.w3.org/2000/svg";
const LANE = 150;
const ROW = 24;
const TOP = 46;
const COLORS = {
  channel: "#0d6efd", user: "#6f42c1", client: "#198754", walker: "#fd7e14",
  change_user: "#20c997", connection: "#6c757d", response: "#198754", error: "#dc3545", notify: "#0dcaf0",
};

function node(name, attrs, text) {
  const el = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  if (text !== undefined) el.textContent = text;
  return el;
}

function draw(model, root) {
  const lanes = model.get("lanes");
  const flows = model.get("flows");
  const x = (lane) => 20 + LANE / 2 + lanes.indexOf(lane) * LANE;
  const width = 40 + lanes.length * LANE + 160;  // room for self-arrow labels on the last lane
  const height = TOP + 10 + flows.length * ROW;
  const svg = node("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "jacws-flow-svg" });
  const defs = node("defs", {});
  for (const [kind, color] of Object.entries(COLORS)) {
    const marker = node("marker", { id: `jacws-arrow-${kind}`, markerWidth: 8, markerHeight: 8, refX: 7, refY: 4, orient: "auto" });
    marker.appendChild(node("path", { d: "M0,0 L8,4 L0,8 z", fill: color }));
    defs.appendChild(marker);
  }
  svg.appendChild(defs);
  lanes.forEach((lane) => {
    svg.appendChild(node("text", { x: x(lane), y: 18, "text-anchor": "middle", class: "jacws-lane" }, lane));
    svg.appendChild(node("line", { x1: x(lane), y1: 26, x2: x(lane), y2: height, class: "jacws-lifeline" }));
  });
  flows.forEach((flow, index) => {
    const y = TOP + index * ROW;
    const color = COLORS[flow.kind] || "#333";
    const x1 = x(flow.source);
    const x2 = x(flow.target);
    const group = node("g", { class: "jacws-flow", "data-kind": flow.kind });
    if (x1 === x2) {
      group.appendChild(node("path", { d: `M${x1},${y - 6} h24 v12 h-22`, fill: "none", stroke: color, "marker-end": `url(#jacws-arrow-${flow.kind})` }));
    } else {
      const end = x2 > x1 ? x2 - 4 : x2 + 4;
      group.appendChild(node("line", { x1, y1: y, x2: end, y2: y, stroke: color, "stroke-width": 1.5, "marker-end": `url(#jacws-arrow-${flow.kind})` }));
    }
    const label = flow.route && flow.route !== "notify" ? `${flow.label} (${flow.route})` : flow.label;
    group.appendChild(node("text", { x: (x1 + x2) / 2 + (x1 === x2 ? 30 : 0), y: y - 4, "text-anchor": x1 === x2 ? "start" : "middle", fill: color, class: "jacws-label" }, label));
    group.appendChild(node("title", {}, `${flow.source} → ${flow.target}: ${label}`));
    svg.appendChild(group);
  });
  const caption = node("div", { class: "jacws-flow-caption" });
  const shown = flows.length;
  caption.textContent = `${model.get("total")} messages; the latest ${shown} shown`;
  root.replaceChildren(caption, svg);
  root.scrollTop = root.scrollHeight;
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "jacws-flow";
  el.appendChild(root);
  let queued = false;
  const redraw = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; draw(model, root); });
  };
  model.on("change:flows", redraw);
  model.on("change:lanes", redraw);
  draw(model, root);
}

export default { render };
