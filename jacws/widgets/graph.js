// jacws graph view: a user's graph with Cytoscape.js (bundled above, no CDN), and the latest walk over it.
// Redraws in place when the graph changes: positions of known nodes are kept, new ones are laid out.

const WIDE = 24;  // more nodes than this at one distance from the root: rings instead of rows

function css(el, name, fallback) {
  const value = getComputedStyle(el).getPropertyValue(name).trim();
  return value || fallback;
}

function make(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function style(el) {
  const fg = css(el, "--jp-ui-font-color1", "#222");
  const bg = css(el, "--jp-layout-color1", "#fff");
  const line = css(el, "--jp-border-color1", "#999");
  const accent = "#aa4499"; // the walker colour of the flow view
  return [
    { selector: "node", style: {
      label: "data(label)", "text-wrap": "wrap", "text-valign": "center", "text-halign": "center",
      "font-size": 10, "font-family": "monospace", color: fg, "background-color": bg, "border-width": 1,
      "border-color": line, shape: "round-rectangle", width: "label", height: "label", padding: 6,
      "min-zoomed-font-size": 6,  // zoomed far out (a big graph fitted), labels too small to read are not drawn
    } },
    { selector: "node[?root]", style: { "border-width": 3, "font-weight": "bold" } },
    { selector: "edge", style: {
      width: 1.2, "line-color": line, "target-arrow-color": line, "target-arrow-shape": "triangle",
      "curve-style": "bezier", label: "data(label)", "font-size": 8, color: fg, "text-rotation": "autorotate",
      "text-background-color": bg, "text-background-opacity": 1,
    } },
    { selector: "node.visited", style: { "border-color": accent, "border-width": 3 } },
    { selector: "node.reported", style: { "background-color": "#f3e0ef" } },
    { selector: "edge.walked", style: { "line-color": accent, "target-arrow-color": accent, width: 2.5 } },
    { selector: "node:selected", style: { "overlay-opacity": 0.15, "overlay-color": accent } },
  ];
}

function render({ model, el }) {
  const root = make("div", { class: "jacws-graph" });
  const bar = make("div", { class: "jacws-graph-bar" });
  const caption = make("span", { class: "jacws-graph-caption" });
  const fit = make("button", { type: "button", title: "fit the whole graph in view" }, "fit");
  const relayout = make("button", { type: "button", title: "lay the graph out again from its root" }, "lay out");
  bar.append(caption, fit, relayout);
  const canvas = make("div", { class: "jacws-graph-canvas" });
  const detail = make("div", { class: "jacws-graph-detail" }, "click a node for its fields and what the walk reported there");
  root.append(bar, canvas, detail);
  el.appendChild(root);

  const cy = cytoscape({
    container: canvas, style: style(el), minZoom: 0.05, maxZoom: 4,
    boxSelectionEnabled: false,
    layout: { name: "preset" },  // nothing laid out before the canvas is on the page and has a size
  });

  let pendingLayout = false;

  function levels() {
    // Nodes by their distance from the root (breadth first along edges either way); unreached ones last.
    const roots = cy.nodes("[?root]");
    const depth = new Map();
    let frontier = roots.length ? roots.toArray() : cy.nodes().roots().toArray().slice(0, 1);
    frontier.forEach((n) => depth.set(n.id(), 0));
    const rows = [frontier];
    while (frontier.length) {
      const next = [];
      for (const node of frontier) {
        for (const other of node.neighborhood("node").toArray()) {
          if (!depth.has(other.id())) {
            depth.set(other.id(), rows.length);
            next.push(other);
          }
        }
      }
      if (next.length) rows.push(next);
      frontier = next;
    }
    const rest = cy.nodes().filter((n) => !depth.has(n.id())).toArray();
    if (rest.length) rows.push(rest);
    return rows;
  }

  function radial(rows) {
    // A wide graph (hundreds of children on one node): rings around the root, each level on rings of its own,
    // as many nodes on a ring as fit its circumference, so a thousand nodes make a disc and not a line.
    const gap = 56;
    const positions = {};
    let radius = 0;
    rows.forEach((row, level) => {
      if (level === 0 && row.length === 1) {
        positions[row[0].id()] = { x: 0, y: 0 };
        return;
      }
      let placed = 0;
      while (placed < row.length) {
        radius += gap * 1.4;
        const room = Math.max(6, Math.floor((2 * Math.PI * radius) / gap));
        const ring = row.slice(placed, placed + room);
        ring.forEach((node, i) => {
          const angle = (2 * Math.PI * i) / ring.length - Math.PI / 2;
          positions[node.id()] = { x: radius * Math.cos(angle), y: radius * Math.sin(angle) };
        });
        placed += ring.length;
      }
    });
    cy.layout({ name: "preset", positions: (node) => positions[node.id()], animate: false, fit: true, padding: 20 }).run();
  }

  function layout() {
    const rows = levels();
    if (Math.max(...rows.map((row) => row.length)) > WIDE) {
      radial(rows);
    } else {
      const roots = cy.nodes("[?root]");
      cy.layout({
        name: "breadthfirst", directed: true, roots: roots.length ? roots : undefined, spacingFactor: 1.1,
        animate: false, fit: true, padding: 20,
      }).run();
    }
    if (cy.zoom() > 1.2) {  // a small graph: readable size, centred, not blown up
      cy.zoom(1.2);
      cy.center();
    }
  }

  function walkInfo() {
    const walk = model.get("walk") || {};
    const path = walk.path || [];
    const order = new Map();
    path.forEach((id, i) => order.set(id, [...(order.get(id) || []), i + 1]));
    return { walk, path, order };
  }

  function sync() {
    const nodes = model.get("graph_nodes");
    const edges = model.get("graph_edges");
    const { walk, path, order } = walkInfo();
    const known = new Set(cy.nodes().map((n) => n.id()));
    const wanted = new Set(nodes.map((n) => n.id));
    const wantedEdges = new Set(edges.map((e) => e.id));
    let added = false;
    cy.batch(() => {
      cy.elements().forEach((element) => {
        const id = element.id();
        if (!(element.isNode() ? wanted : wantedEdges).has(id)) element.remove();
      });
      for (const node of nodes) {
        const steps = order.get(node.id);
        const label = steps ? `${steps.join(",")} · ${node.label}` : node.label;
        const data = { ...node, label };
        const existing = cy.getElementById(node.id);
        if (existing.nonempty()) existing.data(data);
        else {
          cy.add({ group: "nodes", data });
          added = true;
        }
      }
      for (const edge of edges) {
        if (cy.getElementById(edge.id).empty()) cy.add({ group: "edges", data: edge });
      }
      cy.elements().removeClass("visited reported walked");
      path.forEach((id, i) => {
        const node = cy.getElementById(id);
        node.addClass("visited");
        if ((walk.reports || [])[i] && walk.reports[i].length) node.addClass("reported");
        if (i > 0) {  // how the walker got there: an edge from a node it visited before
          const earlier = new Set(path.slice(0, i));
          const into = node.incomers("edge").filter((edge) => earlier.has(edge.source().id()));
          if (into.nonempty()) into.last().addClass("walked");
        }
      });
    });
    if (added || known.size === 0) pendingLayout = true;
    if (pendingLayout && canvas.clientWidth > 0 && canvas.clientHeight > 0) {  // not before it is on the page
      pendingLayout = false;
      cy.resize();
      layout();
    }
    const walked = walk.walker ? ` · last walk: ${walk.walker}, ${path.length} visit${path.length === 1 ? "" : "s"}` : "";
    caption.textContent = `${nodes.length} node${nodes.length === 1 ? "" : "s"} · ${edges.length} edge${edges.length === 1 ? "" : "s"}${walked}`;
  }

  // Cytoscape remembers where its canvas is on the page and hears only the window's scrolling; JupyterLab scrolls
  // the notebook inside the page, after which a click or a wheel would land somewhere else in the graph (a drag
  // would not pan). Tell it again whenever the canvas moved since the pointer last came to it.
  let placed = "";
  const replace = () => {
    const box = canvas.getBoundingClientRect();
    const where = `${box.left},${box.top},${box.width},${box.height}`;
    if (where !== placed) {
      placed = where;
      cy.resize();
    }
  };
  for (const type of ["mouseenter", "mousedown", "wheel", "touchstart"]) {
    canvas.addEventListener(type, replace, { capture: true, passive: true });
  }

  cy.on("viewport", () => {  // the zoom and pan, readable from the page (tests, and a look in the inspector)
    canvas.dataset.zoom = cy.zoom().toFixed(3);
    canvas.dataset.pan = `${cy.pan().x.toFixed(0)},${cy.pan().y.toFixed(0)}`;
  });

  cy.on("tap", "node", (event) => {
    const node = event.target.data();
    const { walk, path } = walkInfo();
    detail.replaceChildren(make("b", {}, `${node.type} `), make("code", { title: "node id" }, node.id));
    detail.appendChild(make("pre", { class: "jacws-graph-json" }, pretty(node.fields)));
    path.forEach((id, i) => {
      if (id !== node.id) return;
      const said = (walk.reports || [])[i] || [];
      const text = said.length ? said.map(pretty).join("\n") : "nothing";
      detail.appendChild(make("div", {}, `visit ${i + 1} of ${walk.walker}: reported`));
      detail.appendChild(make("pre", { class: "jacws-graph-json" }, text));
    });
  });
  fit.addEventListener("click", () => cy.fit(undefined, 20));
  relayout.addEventListener("click", () => {
    pendingLayout = true;
    redraw();
  });

  const names = ["change:graph_nodes", "change:graph_edges", "change:walk"];
  let queued = false;
  const redraw = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      sync();
    });
  };
  for (const name of names) model.on(name, redraw);
  const resize = new ResizeObserver(() => {
    cy.resize();
    if (pendingLayout) redraw();
  });
  resize.observe(canvas);
  sync();
  return () => {
    for (const name of names) model.off(name, redraw);
    resize.disconnect();
    cy.destroy();
  };
}

export default { render };
