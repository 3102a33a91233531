"""Rasa's own web chat widget, ``rasa-webchat`` from npm, unchanged, against our socket.io channel.

Headless Chromium (Debian's, as in test_webchat_browser.py) opens a plain HTML page that
loads the widget's standalone bundle (``lib/index.js``, React included) from
``tests/rasa_webchat/node_modules`` and mounts it with ``WebChat.default(props, element)``,
the way its README embeds it with a ``<script>`` tag. Page, bundle and socket.io are served
by our real app on 127.0.0.1 (same origin: the channel's default CORS policy); every other
request the page makes (the widget's CSS imports a Google font) is blocked, so nothing
comes from the network.

The widget only renders what Rasa sends (``{text}`` or ``{text, quick_replies}``), so the
question being asked (``expects``) is not in its messages: the test reads it, and the
buttons' payloads, from what the engine answered each turn. The widget shows titles only.

``make test`` installs the widget (``npm ci --prefix tests/rasa_webchat``). Without it the
test fails, unless npm is not installed and CI is not true: then it is skipped. Chromium:
as in test_webchat_browser.py. A failing test leaves a screenshot in tests/artifacts/.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.app import create_app
from bot.channels.socketio import create_channel
from bot.engine import Engine, Inbound, Outbound
from bot.engine.loader import FlowSet

from .browser import CHROMIUM, TIMEOUT_MS, browser, page  # noqa: F401 (browser and page are fixtures)
from .chat import VOLUNTARY_RETURN, answer_by_field
from .serving import serving, services_for

IN_CI = os.environ.get("CI") == "true"
WIDGET_DIR = Path(__file__).resolve().parent / "rasa_webchat"
MODULE = WIDGET_DIR / "node_modules" / "rasa-webchat"
BUNDLE = MODULE / "lib" / "index.js"
VERSION = json.loads((WIDGET_DIR / "package.json").read_text())["dependencies"]["rasa-webchat"]
INSTALL = "`npm ci --prefix tests/rasa_webchat` (`make test` does)"

if not IN_CI and not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); CI=true makes this a failure",
                allow_module_level=True)
if not IN_CI and not BUNDLE.exists() and shutil.which("npm") is None:
    pytest.skip(f"npm is missing, so {BUNDLE.relative_to(WIDGET_DIR.parent.parent)} is too: install "
                f"npm, then run {INSTALL}; CI=true makes this a failure", allow_module_level=True)
if not IN_CI:
    pytest.importorskip("playwright", reason="playwright is not installed (pip install -e '.[test]')")

from playwright.async_api import Page, expect  # noqa: E402

PAGE_PATH = "/rasa-webchat/"
BUNDLE_PATH = "/rasa-webchat/index.js"

# The widget as a site embeds it (its README's <script> snippet, with our bundle instead of
# a CDN's). customMessageDelay: the widget holds each message back 0.8-3 s to look like
# typing; 0 keeps the test fast and changes nothing else.
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>rasa-webchat against the intake bot</title>
</head>
<body>
<div id="webchat"></div>
<script src="BUNDLE_PATH"></script>
<script>
WebChat.default({
  socketUrl: window.location.origin,
  socketPath: "/socket.io/",
  initPayload: "/start",
  customData: {language: "en"},
  embedded: true,
  title: "Immigration Office assistant",
  customMessageDelay: function () { return 0; }
}, document.getElementById("webchat"));
</script>
</body>
</html>
""".replace("BUNDLE_PATH", BUNDLE_PATH)


class Turns:
    """Spies on the engine: each turn's replies, so the test knows what is being asked."""

    def __init__(self, engine: Engine) -> None:
        self.handle = engine.handle
        self.count = 0
        self.total = 0  # replies sent so far, each one a message in the widget
        self.last: list[Outbound] = []
        self.changed = asyncio.Event()

    async def spy(self, inbound: Inbound, **kwargs: Any) -> list[Outbound]:
        replies = await self.handle(inbound, **kwargs)
        self.last = replies
        self.count += 1
        self.total += len(replies)
        self.changed.set()
        return replies

    async def after(self, count: int) -> None:
        """Wait until the engine has answered more than ``count`` turns."""
        async with asyncio.timeout(TIMEOUT_MS / 1000):
            while self.count <= count:
                self.changed.clear()
                await self.changed.wait()

    @property
    def field(self) -> str | None:
        for reply in reversed(self.last):
            if reply.expects:
                return reply.expects.field
        return None

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """(title, payload) of the last message's buttons: the widget shows only those."""
        return [(b.title, b.payload) for b in self.last[-1].buttons] if self.last else []


def require_widget() -> None:
    """The pinned widget must be installed: a failure, not a skip (CI, or npm is there)."""
    if not BUNDLE.exists():
        pytest.fail(f"{BUNDLE} is missing: run {INSTALL}", pytrace=False)
    installed = json.loads((MODULE / "package.json").read_text())["version"]
    if installed != VERSION:
        pytest.fail(f"rasa-webchat {installed} is installed but {VERSION} is pinned: run {INSTALL}",
                    pytrace=False)


@pytest.fixture
async def base_url(engine: Engine, flows: FlowSet) -> AsyncIterator[str]:
    """The app with the socket.io channel as ``intake serve`` builds it, plus the test page."""
    require_widget()
    services = services_for(engine, flows)
    app = create_app(services, [create_channel(services)])

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def bundle(request: web.Request) -> web.FileResponse:
        return web.FileResponse(BUNDLE)

    app.router.add_get(PAGE_PATH, page)
    app.router.add_get(BUNDLE_PATH, bundle)
    async with serving(app) as url:
        yield url


@pytest.fixture
def turns(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Turns:
    spy = Turns(engine)
    monkeypatch.setattr(engine, "handle", spy.spy)
    return spy


# --- driving the widget ------------------------------------------------------------------


def messages(page: Page) -> Any:
    """The bot's messages in the widget."""
    return page.locator("#rw-messages .rw-response")


def replies(page: Page) -> Any:
    """The quick-reply buttons the widget shows (those of its last message)."""
    return page.locator("#rw-messages .rw-replies .rw-reply")


async def turn(page: Page, turns: Turns, action: Callable[[], Awaitable[Any]]) -> None:
    """Do ``action`` and wait until the widget shows the engine's replies, buttons included."""
    count = turns.count
    await action()
    await turns.after(count)
    await expect(messages(page)).to_have_count(turns.total)
    await expect(replies(page)).to_have_count(len(turns.buttons))
    if turns.buttons:
        await expect(replies(page)).to_have_text([title for title, _ in turns.buttons])


async def open_widget(page: Page, turns: Turns) -> None:
    """Open the page: the widget connects, asks for a session and sends its initPayload."""
    await turn(page, turns, lambda: page.goto(PAGE_PATH))
    await expect(messages(page).last).to_contain_text("automated assistant")


async def click(page: Page, turns: Turns, title: str) -> None:
    button = replies(page).filter(has_text=re.compile(f"^{re.escape(title)}$"))
    await turn(page, turns, button.click)
    await expect(page.locator("#rw-messages .rw-client").last).to_have_text(title)


async def type_message(page: Page, turns: Turns, text: str) -> None:
    box = page.locator(".rw-sender .rw-new-message")
    await box.fill(text)
    await turn(page, turns, page.locator(".rw-sender .rw-send").click)
    await expect(page.locator("#rw-messages .rw-client").last).to_have_text(text)
    await expect(box).to_have_value("")


async def answer(page: Page, turns: Turns, value: str) -> None:
    """Click the quick reply for ``value`` (its payload or title) when there is one, else type it."""
    titles = [title for title, payload in turns.buttons if value in (payload, title)]
    if titles:
        await click(page, turns, titles[0])
    else:
        await type_message(page, turns, value)


# --- the tests -------------------------------------------------------------------------


async def test_the_rasa_webchat_widget_completes_the_voluntary_return_journey(
    page: Page, turns: Turns, engine: Engine
) -> None:
    await open_widget(page, turns)
    assert ("Return to my country", "/voluntary_return") in turns.buttons
    await answer(page, turns, "/voluntary_return")
    assert turns.field == "consent.data_processing"

    async def send(value: str) -> None:
        await answer(page, turns, value)

    await answer_by_field(lambda: turns.field, send, VOLUNTARY_RETURN)

    # The summary, one line per answer (the widget renders Markdown: see as_markdown),
    # then the case.
    await expect(messages(page).last).to_contain_text("Nino Beridze")
    summary = await messages(page).last.inner_text()
    answers = [line for line in summary.splitlines() if line.startswith("•")]
    assert len(answers) == summary.count("•") >= 10
    assert [payload for _, payload in turns.buttons] == ["/confirm", "/edit"]
    await answer(page, turns, "/confirm")
    done = messages(page).filter(has_text="Your reference is VR-")
    await expect(done).to_have_count(1)
    reference = re.search(r"Your reference is (VR-[A-Z0-9]+)", await done.inner_text())
    assert reference is not None

    cases = await engine.store.cases()
    assert [c.reference for c in cases] == [reference.group(1)]
    case = cases[0]
    assert case.kind == "voluntary_return" and case.status == "submitted"
    assert case.channel == "socketio" and case.language == "en"
    assert case.applicant.name == "Nino Beridze"
    assert case.applicant.nationality == "GE" and case.applicant.phone == "+32470123456"
    assert case.household.adults == 2 and case.household.children == 1
    assert case.answers["destination_country"] == "GE"
    assert case.answers["departure_from"] == "2027-01-15"
    assert case.answers["reintegration_interest"] == ["housing", "job_training"]
    assert case.answers["health_details"] == "needs insulin every day"
    assert case.consent is not None and case.consent.scopes == {
        "data_processing": True, "health_details": True,
        "share_fedasil": True, "share_iom": True, "share_caritas": False,
    }
    # One conversation: the session id the widget got from session_confirm and keeps.
    session = json.loads(await page.evaluate("() => localStorage.getItem('chat_session')"))
    assert session["session_id"]
    async with engine.store.engine.connect() as conn:
        rows = await conn.exec_driver_sql("SELECT channel, sender_key FROM conversations")
        senders = [(row[0], row[1]) for row in rows]
    assert senders == [("socketio", engine.store.sender_key("socketio", session["session_id"]))]


async def test_after_a_reload_the_widget_continues_the_same_conversation(
    page: Page, turns: Turns, engine: Engine
) -> None:
    await open_widget(page, turns)
    await answer(page, turns, "/voluntary_return")
    await answer(page, turns, VOLUNTARY_RETURN["consent.data_processing"])
    assert turns.field == "destination_country"
    shown = await messages(page).all_inner_texts()
    before = turns.count

    # The widget keeps its session id and messages, and asks for the same session again:
    # session_confirm with that id tells it not to send its initPayload a second time.
    async with page.expect_console_message(lambda m: m.text.startswith("session_confirm:")):
        await page.reload()
    await expect(messages(page)).to_have_count(len(shown))
    assert await messages(page).all_inner_texts() == shown
    assert turns.count == before

    await answer(page, turns, VOLUNTARY_RETURN["destination_country"])
    assert turns.count == before + 1 and turns.field == "applicant.nationality"
    async with engine.store.engine.connect() as conn:
        rows = await conn.exec_driver_sql("SELECT count(*) FROM conversations")
        assert rows.scalar() == 1
