"""End to end in a real browser: JupyterLab in headless Chromium runs every tutorial and uses its playground."""

from __future__ import annotations

import itertools
import json
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urljoin

import pytest
from conftest import JAC
from jupyter import KERNEL_BUSY, JupyterLab, append_and_run
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
NOTEBOOK_IDLE = """(name) => {
  const widget = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = widget && widget.sessionContext && widget.sessionContext.session
    && widget.sessionContext.session.kernel;
  return !!kernel && kernel.status === "idle" && widget.context.path.endsWith(name);
}"""
ALL_CELLS_RAN = """() => {
  const widget = window.jupyterapp.shell.currentWidget;
  const kernel = widget.sessionContext.session && widget.sessionContext.session.kernel;
  const cells = widget.content.model.sharedModel.cells.filter((cell) => cell.cell_type === "code");
  return !!kernel && kernel.status === "idle" && cells.every((cell) => cell.execution_count !== null);
}"""
CELL_ERRORS = """() => window.jupyterapp.shell.currentWidget.content.model.sharedModel.cells
  .flatMap((cell) => (cell.outputs || []).filter((o) => o.output_type === "error"))
  .map((o) => o.ename + ": " + o.evalue)"""
CELL_STATES = """() => {
  const widget = window.jupyterapp.shell.currentWidget;
  const kernel = widget.sessionContext.session && widget.sessionContext.session.kernel;
  return [kernel && kernel.status, widget.content.model.sharedModel.cells
    .filter((cell) => cell.cell_type === "code").map((cell) => cell.execution_count)];
}"""
FLOW_HEAD = (".jacws-flow-lanes", ".jacws-flow-legend", ".jacws-flow-caption")
FLOW_HEAD_IN_VIEW = """() => {
  // Scrolled to (again): JupyterLab may scroll back to the active cell once it has run.
  const flow = document.querySelector(".jacws-flow");
  const inView = [".jacws-flow-lanes", ".jacws-flow-legend", ".jacws-flow-caption"].every((part) => {
    const box = flow.querySelector(part).getBoundingClientRect();
    return box.height > 0 && box.top >= 0 && box.bottom <= window.innerHeight;
  });
  if (!inView) flow.scrollIntoView({ block: "start" });
  return inView;
}"""
EVERY_CARD_OPEN = """() => {
  const states = [...document.querySelectorAll(".jacws-card .jacws-state")].map((el) => el.textContent);
  return states.length > 0 && states.every((state) => state === "open");
}"""
TICKS = """import gc
from jacws.widgets import Playground

_play = [o for o in gc.get_objects() if isinstance(o, Playground)][-1]
_sender = _play.cards[0].client
for _n in range(100):
    _sender.channel([_sender.channel_id], {"type": "tick", "n": _n})
_sender.wait_for(lambda m: m.get("n") == 99, timeout=30)"""
NOTEBOOKS = [
    pytest.param(path.name, id=path.stem, marks=[pytest.mark.jac] if "_jac" in path.stem else [])
    for path in sorted((ROOT / "notebooks").glob("*.ipynb"))
    if "Playground(" in path.read_text() and (JAC or "_jac" not in path.stem)
]
SIZES = [(1280, 800), (1600, 1000)]


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    """JupyterLab on 127.0.0.1 serving a copy of the notebooks (and the examples they read)."""
    home = tmp_path_factory.mktemp("jupyter")
    shutil.copytree(ROOT / "notebooks", home / "notebooks")
    shutil.copytree(ROOT / "examples", home / "examples", ignore=shutil.ignore_patterns("node_modules"))
    # As on Binder: the kernel's server.browser_url() then points through jupyter-server-proxy.
    lab = JupyterLab(home, home / "notebooks", {"JUPYTERHUB_SERVICE_PREFIX": "/"})
    yield lab
    lab.stop()


def run_command(page: Page, command: str) -> None:
    page.evaluate(f"() => window.jupyterapp.commands.execute({json.dumps(command)})")


def select_last_cell(page: Page) -> None:
    page.evaluate(
        "() => { const nb = window.jupyterapp.shell.currentWidget.content;"
        " nb.activeCellIndex = nb.widgets.length - 1; }"
    )


def run_new_cell(page: Page, source: str) -> None:
    """Append a code cell and run it in the notebook's kernel; return when every cell has run."""
    append_and_run(page, source)
    page.wait_for_function(ALL_CELLS_RAN, timeout=60_000)


def open_notebook(page: Page, lab: JupyterLab, notebook: str) -> list[str]:
    """Open a notebook with the file browser showing, Run All, wait for every cell; return the console errors."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(lab.url(notebook))
    page.wait_for_function(NOTEBOOK_IDLE, arg=notebook, timeout=60_000)
    expect(page.locator(".jp-FileBrowser")).to_be_visible()  # the file browser is open, as a new user has it
    run_command(page, "notebook:run-all-cells")
    try:
        page.wait_for_function(ALL_CELLS_RAN, timeout=90_000)
    except PlaywrightTimeout:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "jupyterlab-stuck.png"), full_page=True)
        pytest.fail(f"Run All did not finish: {page.evaluate(CELL_STATES)}; console errors: {errors}")
    assert page.evaluate(CELL_ERRORS) == []
    return errors


def check_layout(page: Page, name: str, size: tuple[int, int]) -> None:
    """Every tab title whole, the flow view's lane names, legend and caption in view; screenshots saved."""
    clipped = page.evaluate(
        """() => [...document.querySelectorAll('.jacws-card .jacws-tab, .jacws-card .jacws-chip')]
          .filter((el) => el.scrollWidth > el.clientWidth + 1).map((el) => el.textContent)"""
    )
    assert clipped == [], f"cut titles at {size}: {clipped}"
    flow = page.locator(".jacws-flow").first
    try:
        page.wait_for_function(FLOW_HEAD_IN_VIEW, timeout=5_000)
    except PlaywrightTimeout:
        boxes = {part: flow.locator(part).bounding_box() for part in FLOW_HEAD}
        pytest.fail(f"the flow view's head is out of view at {size}: {boxes}")
    lanes = flow.locator(".jacws-lane").all_inner_texts()
    assert "server" in lanes and len(lanes) >= 3, lanes
    drawn = flow.locator(".jacws-row").count()
    assert 0 < drawn < 60, f"{drawn} rows drawn: only those in view (and a few around) should be"
    ARTIFACTS.mkdir(exist_ok=True)
    stem = f"jupyterlab-{name[:2]}-{size[0]}x{size[1]}"
    page.screenshot(path=str(ARTIFACTS / f"{stem}-flow.png"))
    page.locator(".jacws-card").first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"{stem}-cards.png"))


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_after_run_all_the_playground_is_live_whole_and_readable(
    notebook: str, jupyterlab: JupyterLab, chromium: Browser
) -> None:
    context = chromium.new_context(viewport={"width": SIZES[0][0], "height": SIZES[0][1]})
    try:
        page = context.new_page()
        errors = open_notebook(page, jupyterlab, notebook)
        cards = page.locator(".jacws-card")
        try:  # alive after Run All (the last state changes reach the page a display tick later)
            page.wait_for_function(EVERY_CARD_OPEN, timeout=5_000)
        except PlaywrightTimeout:
            pytest.fail(f"not every card is open: {cards.locator('.jacws-state').all_inner_texts()}")

        # A channel message sent from the first card's form reaches every card on that channel, as a channel message.
        channels = [card.locator(".jacws-id code").nth(2).text_content() or "" for card in cards.all()]
        first = cards.first
        first.get_by_role("tab", name="message").click()
        first.get_by_role("radio", name="channel").click()
        text = f"hello from chromium {secrets.token_hex(3)}"
        first.locator("textarea").fill(json.dumps({"type": "chat", "data": {"message": text}}))
        started = time.monotonic()
        first.get_by_role("button", name="send to channel").click()
        assert all(channels), channels  # (text_content: JupyterLab does not render cells out of view)
        for card, channel in zip(cards.all(), channels, strict=True):
            if channel == channels[0]:
                arrived = card.locator(".jacws-entry.jacws-in.k-channel", has_text=text).first
                try:
                    expect(arrived).to_be_attached(timeout=2_000)
                except AssertionError:
                    name = card.locator(".jacws-card-name").text_content()
                    pytest.fail(f"{name} on {channel} (of {channels}) did not show the channel message")
        assert time.monotonic() - started < 4  # the 2 s bound, plus Playwright's own overhead per card
        expect(page.locator(".jacws-flow-svg")).to_contain_text("chat · channel")

        run_new_cell(page, TICKS)  # 100 more messages: the lane names must stay in view
        expect(page.locator(".jacws-flow-caption").first).to_contain_text("messages", timeout=10_000)
        for size in SIZES:
            page.set_viewport_size({"width": size[0], "height": size[1]})
            check_layout(page, notebook, size)
        assert errors == [], errors
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"jupyterlab-{notebook[:2]}-failed.png"), full_page=True)
        raise
    finally:
        context.close()


WAITING_CELLS = {
    "wait_for": 'call = worker.walker("long_task", steps=20, delay=0.2)\n'
    'worker.wait_for(lambda m: m.get("status") == "completed", timeout=30)',
    "sleep": 'import time\n\ncall = worker.walker("long_task", steps=20, delay=0.2)\ntime.sleep(4)',
}
PROGRESS_SAMPLE = """() => {
  const card = document.querySelectorAll(".jacws-card")[0];
  const label = card.querySelector(".jacws-progress-label");
  const count = card.querySelector(".jacws-count").textContent.match(/(\\d+) received/);
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const received = count ? Number(count[1]) : 0;
  return { progress: label ? label.textContent : "", received, busy: kernel.status !== "idle" };
}"""


@pytest.mark.parametrize("waiting", sorted(WAITING_CELLS))
def test_the_progress_bar_moves_while_the_cell_still_runs(
    waiting: str, jupyterlab: JupyterLab, chromium: Browser
) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        open_notebook(page, jupyterlab, "04_progress.ipynb")
        append_and_run(page, WAITING_CELLS[waiting])
        page.wait_for_function(KERNEL_BUSY, timeout=10_000)
        samples = []
        while True:  # sampled from the page while the cell is still running
            sample = page.evaluate(PROGRESS_SAMPLE)
            if not sample["busy"]:
                break
            samples.append(sample)
            if len(samples) == 12:
                page.locator(".jacws-card").first.scroll_into_view_if_needed()
                page.screenshot(path=str(ARTIFACTS / f"jupyterlab-progress-mid-cell-{waiting}.png"))
            page.wait_for_timeout(100)
        values = {s["progress"] for s in samples}
        rises = sum(1 for a, b in itertools.pairwise(samples) if b["received"] > a["received"])
        assert len(values) >= 5, f"the bar showed {sorted(values)} while the cell ran"
        assert rises >= 5, f"the card's message count rose {rises} times while the cell ran"
    finally:
        context.close()


def test_the_flow_view_and_a_card_answer_clicks(jupyterlab: JupyterLab, chromium: Browser) -> None:
    context = chromium.new_context(viewport={"width": 1600, "height": 1000})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    try:
        page = context.new_page()
        open_notebook(page, jupyterlab, "01_quickstart.ipynb")
        flow = page.locator(".jacws-flow").first
        flow.scroll_into_view_if_needed()
        # Click an answer: the whole message, its time, its latency and the send that caused it.
        flow.locator(".jacws-row[data-kind='response']").first.click()
        detail = flow.locator(".jacws-flow-detail")
        expect(detail).to_be_visible()
        expect(detail).to_contain_text("caused by")
        expect(detail.locator("pre")).to_contain_text('"reports"')
        detail.locator(".jacws-link").click()  # jumps to the cause, drawn as the selected row
        expect(flow.locator(".jacws-selected")).to_have_count(1)
        expect(flow.locator(".jacws-flow-follow")).to_have_text("follow newest")
        # The legend filters by kind, the chips by client.
        channel_rows = flow.locator(".jacws-row[data-kind='channel']")
        assert channel_rows.count() > 0
        flow.locator(".jacws-chip[data-kind='channel']").click()
        expect(channel_rows).to_have_count(0)
        flow.locator(".jacws-chip[data-kind='channel']").click()
        assert channel_rows.count() > 0
        flow.locator(".jacws-client-chip[data-lane='guest-1'], .jacws-client-chip[data-lane^='guest']").first.click()
        expect(flow.locator(".jacws-row[data-kind='walker']")).to_have_count(0)  # alice's walker call: not the guest's
        # A card: copy an id, expand a timeline entry.
        card = page.locator(".jacws-card").first
        card.scroll_into_view_if_needed()
        client_id = card.locator(".jacws-id code").first.inner_text()
        card.locator(".jacws-id").first.get_by_role("button", name="copy client_id").click()
        expect(card.locator(".jacws-id").first.locator(".jacws-copy")).to_have_text("copied")
        assert page.evaluate("() => navigator.clipboard.readText()") == client_id
        entry = card.locator(".jacws-entry.k-response").first
        entry.click()
        expect(entry.locator("pre")).to_be_visible()
        expect(entry.locator("pre")).to_contain_text('"status": 200')
        card.get_by_role("tab", name="walker").click()
        expect(card.locator(".jacws-curl")).to_contain_text("curl -X POST http://127.0.0.1:")
        expect(card.locator(".jacws-frame")).to_contain_text('"type":"walker","walker":"greet"')
    finally:
        context.close()


def check_export(page: Page, lab: JupyterLab) -> None:
    """The quickstart's session drawn by JupyterLab's Mermaid, its test passed, the export bar writing a file."""
    page.evaluate(  # JupyterLab renders a cell's outputs once it comes into view
        """() => { const nb = window.jupyterapp.shell.currentWidget.content;
          const i = nb.widgets.findIndex((c) => c.model.sharedModel.getSource().includes("quickstart_session.md"));
          nb.activeCellIndex = i; return nb.scrollToItem(i, "start"); }"""
    )
    diagram = page.locator(".jp-RenderedMermaid img").first  # JupyterLab draws it as an SVG image
    expect(diagram).to_be_attached(timeout=30_000)
    diagram.scroll_into_view_if_needed()
    svg = unquote(diagram.get_attribute("src") or "")
    assert svg.startswith("data:image/svg+xml"), svg[:80]
    assert "alice@example.com" in svg and "walker greet" in svg and "chat · channel lobby" in svg
    page.screenshot(path=str(ARTIFACTS / "jupyterlab-quickstart-mermaid.png"))
    expect(page.locator(".jp-OutputArea-output", has_text="1 passed").first).to_be_attached()
    bar = page.locator(".jacws-export").first
    bar.scroll_into_view_if_needed()
    bar.locator("select").select_option(label="frames (.jsonl)")
    bar.get_by_role("button", name="export").click()
    expect(bar).to_contain_text("wrote session.jsonl", timeout=10_000)
    assert (lab.root / "session.jsonl").stat().st_size > 0
    page.screenshot(path=str(ARTIFACTS / "jupyterlab-quickstart-export.png"))


def test_the_quickstart_links_the_browser_client_through_the_proxy(jupyterlab: JupyterLab, chromium: Browser) -> None:
    context = chromium.new_context(viewport={"width": 1600, "height": 1000})
    try:
        page = context.new_page()
        open_notebook(page, jupyterlab, "01_quickstart.ipynb")
        check_export(page, jupyterlab)
        guest = page.locator(".jacws-card").nth(2)
        link = page.get_by_role("link", name="open the browser client")
        href = link.get_attribute("href")
        assert href is not None and href.startswith("/proxy/"), href
        proxied = context.new_page()
        proxied.goto(urljoin(page.url, href))
        expect(proxied.get_by_test_id("walker-name")).to_contain_text("greet", timeout=15_000)
        proxied.get_by_test_id("connect").click()
        expect(proxied.get_by_test_id("channel-id")).to_have_text("lobby", timeout=15_000)
        proxied.get_by_test_id("chat-text").fill("through the proxy")
        proxied.get_by_test_id("chat-send").click()
        expect(guest).to_contain_text("through the proxy", timeout=15_000)  # reached a card in the notebook
        proxied.close()
        run_command(page, "application:toggle-left-area")
        page.locator(".jacws-flow").first.scroll_into_view_if_needed()
        page.evaluate("() => document.querySelector('.jacws-flow').scrollIntoView()")
        page.screenshot(path=str(ARTIFACTS / "jupyterlab-playground.png"))  # the README's picture

        # The panel's stop button ends it: every card says so.
        page.locator(".jacws-server-panel").get_by_role("button", name="stop server").click()
        expect(guest.locator(".jacws-state")).to_have_text("closed (code 1001)", timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "jupyterlab-stopped.png"))
    finally:
        context.close()


def test_the_graph_notebook_draws_each_users_graph(jupyterlab: JupyterLab, chromium: Browser) -> None:
    context = chromium.new_context(viewport={"width": 1600, "height": 1000})
    try:
        page = context.new_page()
        errors = open_notebook(page, jupyterlab, "05_graph.ipynb")
        graph = page.locator(".jacws-graph").first
        expect(graph.locator(".jacws-graph-caption")).to_contain_text("3 nodes · 2 edges · last walk:", timeout=10_000)
        expect(graph.locator(".jacws-graph-canvas canvas").first).to_be_attached()
        graph.scroll_into_view_if_needed()
        box = graph.locator(".jacws-graph-canvas").bounding_box()
        assert box is not None and box["height"] > 300
        run_new_cell(page, 'alice.walker("read_all").result()')  # the walk drawn: three nodes numbered in order
        expect(graph.locator(".jacws-graph-caption")).to_contain_text("last walk: read_all, 3 visits", timeout=5_000)
        graph.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "jupyterlab-graph.png"))
        # A thousand nodes: laid out and drawn (the caption is written after the layout) within 2 s of showing.
        run_new_cell(page, BIG_GRAPH)
        big = page.locator(".jacws-graph").last
        expect(big.locator(".jacws-graph-caption")).to_have_text("1001 nodes · 1000 edges", timeout=30_000)
        run_new_cell(page, "GraphView(carol)")
        shown = time.monotonic()
        newest = page.locator(".jacws-graph").last
        expect(newest.locator(".jacws-graph-caption")).to_have_text("1001 nodes · 1000 edges", timeout=10_000)
        assert time.monotonic() - shown < 2.0
        canvas = newest.locator(".jacws-graph-canvas")
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        assert box is not None
        fitted = float(canvas.get_attribute("data-zoom") or 0)
        middle = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.move(*middle)
        # Cytoscape takes a wheel for the page's until the page has not scrolled for a quarter of a second (its
        # debounce); a user pauses over the graph before zooming, so does this test.
        page.wait_for_timeout(400)
        for _ in range(10):  # ten notches of a mouse wheel (Cytoscape sizes its steps from the wheel's own)
            page.mouse.wheel(0, -100)
            page.wait_for_function("([el, z]) => Number(el.dataset.zoom) > z", arg=[canvas.element_handle(), fitted])
        zoomed = float(canvas.get_attribute("data-zoom") or 0)
        assert zoomed > fitted * 1.4, f"zoom {fitted} -> {zoomed} after wheeling over the canvas"
        panned = canvas.get_attribute("data-pan")
        corner = (box["x"] + 12, box["y"] + 12)  # a drag on the background (a corner: the graph is centred) pans
        page.mouse.move(*corner)
        page.mouse.down()
        page.mouse.move(corner[0] + 150, corner[1] + 60, steps=8)
        page.mouse.up()
        assert canvas.get_attribute("data-pan") != panned
        page.screenshot(path=str(ARTIFACTS / "jupyterlab-graph-1000.png"))
        assert errors == [], errors
    finally:
        context.close()


BIG_GRAPH = """from jacws.widgets import GraphView


class Item(Node):
    n: int = 0


class grow(Walker):
    count: int = 1000

    class __specs__:
        methods = ["websocket"]

    @on_entry(Root)
    def add(self, here: Root) -> None:
        for n in range(self.count):
            here.connect(Item(n=n))


carol = server.client(user="carol@example.com")
carol.walker("grow").result(timeout=60)
GraphView(carol)"""

TILE_VALUE = """(title) => {
  const tile = [...document.querySelectorAll(".jacws-tile")]
    .find((t) => t.querySelector(".jacws-tile-title").textContent === title);
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const facts = document.querySelector(".jacws-load-facts");
  return { value: tile ? tile.querySelector(".jacws-tile-value").textContent : null, busy: kernel.status !== "idle",
    phase: facts ? facts.querySelector(".jacws-tile-title").textContent : "" };
}"""


def moving(value: str | None) -> bool:
    """Whether a "messages out / s" tile shows the load's rate (10 clients x 100/s: 1,000, give or take)."""
    if value is None or not value[:1].isdigit():  # "-": no reading yet
        return False
    number = float(value.rstrip("k")) * (1000 if value.endswith("k") else 1)
    return number >= 500


def test_the_load_notebook_charts_move_while_a_load_runs(jupyterlab: JupyterLab, chromium: Browser) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        errors = open_notebook(page, jupyterlab, "08_load.ipynb")
        panel = page.locator(".jacws-server-panel").first
        panel.scroll_into_view_if_needed()
        expect(panel.locator(".jacws-load-facts")).to_contain_text("load: done", timeout=10_000)
        expect(panel.locator(".jacws-load-facts")).to_contain_text("lost 0")
        expect(panel.locator(".jacws-load-facts")).to_contain_text("server closes: 1 \u00d7 1008")
        titles = panel.locator(".jacws-tile-title").all_inner_texts()
        for title in ("connections", "messages in / s", "messages out / s", "walker latency p50 · p99"):
            assert title in titles, titles
        clipped = page.evaluate(
            """() => [...document.querySelectorAll('.jacws-tile-title, .jacws-tile-value, .jacws-load-facts div')]
              .filter((el) => el.scrollWidth > el.clientWidth + 1).map((el) => el.textContent)"""
        )
        assert clipped == [], f"cut tile text: {clipped}"
        # A new load from a cell: the charts show its messages while the cell is still running.
        append_and_run(page, 'server.load(clients=10, channel_id="more", rate=100, seconds=4).wait()')
        seen = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            sample = page.evaluate(TILE_VALUE, "messages out / s")
            seen.append(sample)
            if sample["busy"] and sample["phase"] == "load: publishing" and moving(sample["value"]):
                break
            page.wait_for_timeout(200)
        assert any(s["busy"] and s["phase"] == "load: publishing" and moving(s["value"]) for s in seen), seen
        panel.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "jupyterlab-load-charts.png"))
        page.wait_for_function(ALL_CELLS_RAN, timeout=60_000)
        assert errors == [], errors
    finally:
        context.close()


def test_a_card_joins_a_channel_and_asks_who_is_there(jupyterlab: JupyterLab, chromium: Browser) -> None:
    context = chromium.new_context(viewport={"width": SIZES[0][0], "height": SIZES[0][1]})
    try:
        page = context.new_page()
        open_notebook(page, jupyterlab, "09_realtime.ipynb")
        card = page.locator(".jacws-card").first
        card.scroll_into_view_if_needed()
        card.get_by_role("tab", name="connection").click()
        card.get_by_label("channel ids").fill("games, extra")
        card.get_by_role("button", name="join").click()
        status = card.locator(".jacws-status")
        expect(status).to_have_text("on channels: lobby, games, extra", timeout=5_000)
        card.get_by_role("button", name="who is here?").click()
        expect(status).to_contain_text("on games: alice@A", timeout=5_000)
        card.scroll_into_view_if_needed()
        ARTIFACTS.mkdir(exist_ok=True)
        card.screenshot(path=str(ARTIFACTS / "jupyterlab-09-card-channels.png"))
        card.get_by_role("button", name="leave").click()
        expect(status).to_have_text("on channels: lobby", timeout=5_000)
    finally:
        context.close()


FILE_WALKER_CELL = """
from jacws import UploadFile


class count_bytes(Walker):
    upload: UploadFile
    note: str = ""

    class __specs__:
        methods = ["post"]
        auth = False

    @on_entry(Root)
    async def count(self, here: Root) -> None:
        self.report({"file": self.upload.filename, "bytes": len(await self.upload.read()), "note": self.note})


Playground(server, [guest])
"""


def test_a_card_picks_files_for_a_walker_that_takes_them(jupyterlab: JupyterLab, chromium: Browser) -> None:
    context = chromium.new_context(viewport={"width": SIZES[0][0], "height": SIZES[0][1]})
    try:
        page = context.new_page()
        open_notebook(page, jupyterlab, "01_quickstart.ipynb")
        run_new_cell(page, FILE_WALKER_CELL)
        card = page.locator(".jacws-card").last
        card.scroll_into_view_if_needed()
        walker = card.get_by_label("walker", exact=True)
        expect(walker.locator("option[value=count_bytes]")).to_have_text("count_bytes (files, REST)")
        walker.select_option("count_bytes")
        picker = card.get_by_label("upload")
        expect(picker).to_have_attribute("type", "file")
        picker.set_input_files({"name": "data.csv", "mimeType": "text/csv", "buffer": b"a,b\n1,2\n"})
        card.get_by_label("note").fill("from the card")
        expect(card.locator(".jacws-curl")).to_contain_text("-F 'upload=@data.csv' -F 'note=from the card'")
        card.get_by_role("button", name="run walker").click()
        status = card.locator(".jacws-status")
        expect(status).to_have_text(
            'count_bytes over REST answered: [{"file":"data.csv","bytes":8,"note":"from the card"}]', timeout=10_000
        )
        ARTIFACTS.mkdir(exist_ok=True)
        card.screenshot(path=str(ARTIFACTS / "jupyterlab-01-card-files.png"))
    finally:
        context.close()
