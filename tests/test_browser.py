"""The browser client page in headless Chromium: an anonymous page and a page logged in through
change_user exchange channel, client and user messages and walker calls; the layout fills a wide
window and stacks without overflow in a narrow one."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from jacws.protocol import PUBLIC_ROOT_ID
from jacws.server import Server
from jacws.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
WAIT = 15_000  # milliseconds for every expectation on the page
WIDE = {"width": 1400, "height": 900}


def open_page(browser: Browser, url: str, errors: list[str], viewport: dict[str, int] = WIDE) -> Page:
    page = browser.new_context(viewport=viewport).new_page()
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    expect(page.get_by_test_id("walker-name")).to_contain_text("send_chat_to_group", timeout=WAIT)
    return page


def send_form(page: Page, tab: str, fields: dict[str, str], button: str) -> None:
    page.locator("#tabs button", has_text=tab).first.click()
    for test_id, value in fields.items():
        page.get_by_test_id(test_id).fill(value)
    page.get_by_test_id(button).click()


def connect_anonymously(page: Page) -> str:
    """Connects the page, and returns its chat signature: "guest-" and the start of its client id."""
    page.get_by_test_id("connect").click()
    expect(page.get_by_test_id("root-id")).to_have_text(PUBLIC_ROOT_ID, timeout=WAIT)
    client_id = page.get_by_test_id("client-id").inner_text()
    return "guest-" + client_id.split(":")[-1][:4]


def run_long_task(page: Page) -> None:
    page.locator("#tabs button", has_text="walker").first.click()
    page.get_by_test_id("walker-name").select_option("long_task")
    page.locator("[data-testid=field-delay]").fill("0.05")
    page.get_by_test_id("send-walker").click()
    expect(page.get_by_test_id("walker-rtt")).to_have_text(re.compile(r"round trip \d+\.\d ms"), timeout=WAIT)


def chat(page: Page, text: str) -> None:
    page.get_by_test_id("chat-text").fill(text)
    page.get_by_test_id("chat-send").click()


def chat_line(page: Page, author: str, text: str) -> None:
    """Waits for one chat line that shows this author and this text."""
    line = page.get_by_test_id("chat").locator("li", has_text=text)
    expect(line.locator(".author")).to_have_text(author, timeout=WAIT)


def test_two_pages_exchange_every_kind_of_message(chromium: Browser, server: Server) -> None:
    errors: list[str] = []
    guest = open_page(chromium, server.url + "/?channel_id=lobby", errors)
    guest_author = connect_anonymously(guest)
    expect(guest.get_by_test_id("channel-id")).to_have_text("lobby")
    expect(guest.get_by_test_id("chat-author")).to_have_text(guest_author)
    expect(guest.get_by_test_id("state")).to_contain_text("open · anonymous")

    member = open_page(chromium, server.url + "/?channel_id=lobby", errors)
    member.get_by_test_id("email").fill("browser@example.com")
    member.get_by_test_id("password").fill("browser-pass")
    member.get_by_test_id("register").click()
    expect(member.get_by_test_id("auth-status")).to_contain_text("registered", timeout=WAIT)
    member.get_by_test_id("login").click()
    expect(member.get_by_test_id("auth-status")).to_contain_text("sent change_user", timeout=WAIT)
    expect(member.get_by_test_id("state")).to_contain_text("open · browser@example.com", timeout=WAIT)
    member_root = member.get_by_test_id("root-id").inner_text()
    assert member_root.startswith("n::") and member_root != PUBLIC_ROOT_ID

    # channel: the chat sends the typed text signed by its author, and both pages show both
    chat(guest, "hello from the guest")
    chat_line(member, f"{guest_author}:", "hello from the guest")
    chat_line(guest, f"{guest_author}:", "hello from the guest")
    expect(member.get_by_test_id("chat-author")).to_have_text("browser@example.com")
    chat(member, "welcome, guest")
    chat_line(guest, "browser@example.com:", "welcome, guest")
    chat_line(member, "browser@example.com:", "welcome, guest")
    frame = '{"type":"chat","data":{"message":"welcome, guest","author":"browser@example.com"}}'
    expect(guest.get_by_test_id("inbox")).to_contain_text(frame)

    # client: the member writes to the guest's client id
    guest_client = guest.get_by_test_id("client-id").inner_text()
    send_form(member, "client", {"client-ids": guest_client, "client-data": '{"type": "dm", "text": "just you"}'},
              "send-client")  # fmt: skip
    expect(guest.get_by_test_id("inbox")).to_contain_text('"text":"just you"', timeout=WAIT)
    expect(member.get_by_test_id("inbox")).not_to_contain_text('"text":"just you"')

    # user: the guest writes to the member's root
    send_form(guest, "user", {"user-ids": member_root, "user-data": '{"type": "note", "text": "to the user"}'},
              "send-user")  # fmt: skip
    expect(member.get_by_test_id("inbox")).to_contain_text('"text":"to the user"', timeout=WAIT)

    # walkers: the seed's send_chat_to_group needs a login; the guest is refused, the member is served
    guest.locator("#tabs button", has_text="walker").first.click()
    guest.get_by_test_id("walker-name").select_option("send_chat_to_group")
    guest.locator("[data-testid=field-channel_id]").fill("lobby")
    guest.get_by_test_id("send-walker").click()
    expect(guest.get_by_test_id("inbox")).to_contain_text('"code":"auth_required"', timeout=WAIT)
    expect(member.get_by_test_id("chat-walker")).to_have_text("run send_chat_to_group")
    member.get_by_test_id("chat-walker").click()  # the seed's walker: a fixed "string", no author
    chat_line(guest, "no author", "string")
    chat(guest, "that was the seed's walker")
    chat_line(member, f"{guest_author}:", "that was the seed's walker")
    chat(member, "and this one is signed")
    chat_line(guest, "browser@example.com:", "and this one is signed")
    chat(guest, "can I run walkers without logging in?")
    chat_line(member, f"{guest_author}:", "can I run walkers without logging in?")
    chat(member, "long_task, yes: it has auth = False")
    chat(member, "its progress shows in the inbox")
    chat_line(guest, "browser@example.com:", "its progress shows in the inbox")
    texts = ["hello from the guest", "welcome, guest", "string", "that was the seed's walker", "and this one is signed"]
    texts += ["can I run walkers without logging in?", "long_task, yes: it has auth = False"]
    texts += ["its progress shows in the inbox"]
    for page in (guest, member):  # every line once, in the order sent
        expect(page.get_by_test_id("chat").locator(".text")).to_have_text(texts, timeout=WAIT)

    run_long_task(guest)
    expect(guest.get_by_test_id("inbox")).to_contain_text('"reports":["done"]', timeout=WAIT)
    expect(guest.get_by_test_id("inbox")).to_contain_text('"progress":"100%"')
    run_long_task(member)

    member.screenshot(path=str(ARTIFACTS / "browser-member.png"))  # the README's picture: docs/browser.png

    # log out: the token is revoked, and the open socket turns anonymous
    member.get_by_test_id("logout").click()
    expect(member.get_by_test_id("root-id")).to_have_text(PUBLIC_ROOT_ID, timeout=WAIT)
    expect(member.get_by_test_id("auth-status")).to_contain_text("token is revoked")

    guest.screenshot(path=str(ARTIFACTS / "browser-guest.png"), full_page=True)
    assert errors == []  # no script errors in either page


def test_the_page_uses_only_relative_urls() -> None:
    page = (ROOT / "jacws" / "static" / "index.html").read_text()
    script = (ROOT / "jacws" / "static" / "app.js").read_text()
    for text in (page, script):
        assert "http://" not in text and "https://" not in text and "//cdn" not in text
    assert 'new URL("websocket", location.href)' in script


def box(page: Page, selector: str) -> dict[str, float]:
    return page.locator(selector).first.evaluate(
        "e => { const r = e.getBoundingClientRect(); return {left: r.left, right: r.right, top: r.top, "
        "bottom: r.bottom, width: r.width, height: r.height}; }"
    )


def test_a_wide_window_is_filled_and_nothing_squeezed(chromium: Browser, server: Server) -> None:
    errors: list[str] = []
    page = open_page(chromium, server.url + "/?channel_id=wide", errors)
    connect_anonymously(page)
    run_long_task(page)

    # the chat input takes most of its row
    assert box(page, "#chat-text")["width"] >= 0.6 * box(page, "#chat-form")["width"]

    # the panels of the top row span the window, with no empty column between or after them
    content = page.evaluate(
        "(() => { const m = document.querySelector('main'), s = getComputedStyle(m), r = m.getBoundingClientRect();"
        " return {left: r.left + parseFloat(s.paddingLeft), right: r.right - parseFloat(s.paddingRight)}; })()"
    )
    panels = [box(page, f"#{id_}") for id_ in ("connect-panel", "send-panel", "chat-panel", "inbox-panel")]
    top = min(panel["top"] for panel in panels)
    row = sorted((panel for panel in panels if panel["top"] < top + 5), key=lambda panel: panel["left"])
    assert len(row) >= 3
    assert row[0]["left"] - content["left"] < 40 and content["right"] - row[-1]["right"] < 40
    assert all(right["left"] - left["right"] < 40 for left, right in itertools.pairwise(row))
    # and reach the bottom of the window
    assert max(panel["bottom"] for panel in panels) > WIDE["height"] - 40

    # the round-trip time and its unit stay on one line
    rtt = page.get_by_test_id("walker-rtt")
    assert rtt.evaluate("e => e.getClientRects().length") == 1
    assert rtt.evaluate("e => e.getBoundingClientRect().height < 2 * parseFloat(getComputedStyle(e).fontSize)")
    page.screenshot(path=str(ARTIFACTS / "browser-wide.png"))
    assert errors == []


@pytest.mark.parametrize("width", [390, 800])
def test_a_narrow_window_stacks_the_panels_without_overflow(chromium: Browser, server: Server, width: int) -> None:
    errors: list[str] = []
    page = open_page(chromium, server.url + "/?channel_id=narrow", errors, {"width": width, "height": 900})
    author = connect_anonymously(page)
    run_long_task(page)
    chat(page, "a-long-unbroken-word-" * 8)
    chat_line(page, f"{author}:", "a-long-unbroken-word-")

    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert box(page, "#chat-text")["width"] >= 0.6 * box(page, "#chat-form")["width"]
    assert page.get_by_test_id("walker-rtt").evaluate("e => e.getClientRects().length") == 1
    # every control and text is inside the window, and no button cuts its label
    outside = page.evaluate(
        """width => [...document.querySelectorAll("main *")].filter((e) => {
            const r = e.getBoundingClientRect(), cut = e.tagName === "BUTTON" && e.scrollWidth > e.clientWidth;
            return e.getClientRects().length && (r.left < 0 || r.right > width || cut);
        }).map((e) => e.outerHTML.slice(0, 80))""",
        width,
    )
    assert outside == []
    if width < 700:  # one column: the panels stack
        lefts = {
            round(box(page, f"#{id_}")["left"]) for id_ in ("connect-panel", "send-panel", "chat-panel", "inbox-panel")
        }
        assert len(lefts) == 1
    page.screenshot(path=str(ARTIFACTS / f"browser-{width}.png"), full_page=True)
    assert errors == []


def test_a_page_of_another_origin_in_a_real_browser_reaches_nothing(chromium: Browser, server: Server) -> None:
    # The attacker's page: served by another server (another origin), in the same headless Chromium.
    with Server(Settings(port=0)) as elsewhere:
        page = chromium.new_context().new_page()
        page.goto(elsewhere.url + "/")
        outcome = page.evaluate(
            """async (target) => {
                const socket = await new Promise((resolve) => {
                    const ws = new WebSocket(target.ws);
                    ws.onopen = () => resolve("opened");
                    ws.onclose = (event) => resolve("closed " + event.code);
                });
                const body = JSON.stringify({email: "drive-by@example.com", password: "s3cret-pass"});
                const simple = await fetch(target.http + "/user/register", {
                    method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body,
                }).then((r) => r.type, (e) => "failed");
                const json = await fetch(target.http + "/user/register", {
                    method: "POST", headers: {"Content-Type": "application/json"}, body,
                }).then((r) => r.status, (e) => "failed");
                return {socket, simple, json};
            }""",
            {"ws": server.ws_url, "http": server.url},
        )
        page.context.close()
    assert outcome == {"socket": "closed 1006", "simple": "opaque", "json": "failed"}, outcome
    with httpx.Client(base_url=server.url, timeout=5) as http:  # nothing was registered by the page
        login = http.post("/user/login", json={"email": "drive-by@example.com", "password": "s3cret-pass"})
        assert login.status_code == 400


def test_a_walker_that_takes_files_gets_a_file_picker_and_runs_over_rest(chromium: Browser, server: Server) -> None:
    errors: list[str] = []
    page = open_page(chromium, server.url, errors)
    connect_anonymously(page)
    page.locator("#tabs button", has_text="walker").first.click()
    walker = page.get_by_test_id("walker-name")
    expect(walker.locator("option[value=t_uploads]")).to_have_text("t_uploads (files, REST)")
    walker.select_option("t_uploads")
    picker = page.locator("[data-testid=field-files]")
    expect(picker).to_have_attribute("type", "file")
    expect(picker).to_have_attribute("multiple", "")
    expect(page.locator("#walker-response")).to_be_hidden()  # a REST call always answers
    picker.set_input_files(
        [
            {"name": "one.txt", "mimeType": "text/plain", "buffer": b"first file"},
            {"name": "two.txt", "mimeType": "text/plain", "buffer": b"second file"},
        ]
    )
    page.locator("[data-testid=field-tag]").fill("picked")
    page.get_by_test_id("send-walker").click()
    expect(page.get_by_test_id("walker-rtt")).to_have_text(re.compile(r"\d+ ms over REST"), timeout=WAIT)
    inbox = page.get_by_test_id("inbox")
    expect(inbox).to_contain_text('{"name":"one.txt","bytes":"first file"},{"name":"two.txt"', timeout=WAIT)
    expect(inbox).to_contain_text('"picked"')
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-file-walker.png"))
    walker.select_option("t_echo")  # back to a socket walker: text fields and the response box again
    expect(page.locator("#walker-response")).to_be_visible()
    assert errors == []
