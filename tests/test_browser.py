"""The browser client page in headless Chromium: an anonymous page and a page logged in through
change_user exchange channel, client and user messages and walker calls."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from jacws.protocol import PUBLIC_ROOT_ID
from jacws.server import Server

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
WAIT = 15_000  # milliseconds for every expectation on the page


def open_page(browser: Browser, url: str, errors: list[str]) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
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


def test_two_pages_exchange_every_kind_of_message(chromium: Browser, server: Server) -> None:
    errors: list[str] = []
    guest = open_page(chromium, server.url + "/?channel_id=lobby", errors)
    guest.get_by_test_id("connect").click()
    expect(guest.get_by_test_id("root-id")).to_have_text(PUBLIC_ROOT_ID, timeout=WAIT)
    expect(guest.get_by_test_id("channel-id")).to_have_text("lobby")
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

    # channel: the chat view of both pages
    guest.get_by_test_id("chat-text").fill("hello from the guest")
    guest.get_by_test_id("chat-send").click()
    expect(member.get_by_test_id("chat")).to_contain_text("guest: hello from the guest", timeout=WAIT)
    expect(guest.get_by_test_id("chat")).to_contain_text("guest: hello from the guest", timeout=WAIT)

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
    member.get_by_test_id("chat-walker").click()
    expect(guest.get_by_test_id("chat")).to_contain_text("string", timeout=WAIT)

    guest.get_by_test_id("walker-name").select_option("long_task")
    guest.locator("[data-testid=field-delay]").fill("0.01")
    guest.get_by_test_id("send-walker").click()
    expect(guest.get_by_test_id("inbox")).to_contain_text('"reports":["done"]', timeout=WAIT)
    expect(guest.get_by_test_id("inbox")).to_contain_text('"progress":"100%"')
    expect(guest.get_by_test_id("walker-rtt")).to_contain_text("round trip")

    member.screenshot(path=str(ARTIFACTS / "browser-member.png"), full_page=True)

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
