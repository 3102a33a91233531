"""Our own web chat page: the files of ``webchat/``, which talk to the REST channel.

``GET /`` is the page, ``GET /webchat/{name}`` its scripts, styles and images, and
``GET /webchat/languages.json`` the language picker's list with the page's own texts in
every language. Everything is served under a strict Content-Security-Policy. It handles
no turns; it has a channel's shape (mount, start, stop) so the app wires it the same way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp import web

from ..i18n import gettext, is_rtl, native_name, supported_locales, use_locale

WEBCHAT_DIR = Path(__file__).resolve().parent / "webchat"
STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
}
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def page_strings() -> dict[str, str]:
    """The chat page's own texts, in the locale of the caller's ``use_locale``."""
    return {
        # TRANSLATORS: web chat page title and heading.
        "title": gettext("Immigration Office assistant"),
        "language": gettext("Language"),
        "placeholder": gettext("Type your message"),
        # TRANSLATORS: web chat button that sends the typed message (a verb).
        "send": gettext("Send"),
        # TRANSLATORS: web chat, read out by screen readers before the applicant's own messages.
        "you": gettext("You"),
        # TRANSLATORS: web chat, read out by screen readers before the bot's messages.
        "bot": gettext("Assistant"),
        "offline": gettext(
            "We could not reach the service. Please check your connection and try again."
        ),
        "rate_limited": gettext(
            "You are sending messages too fast. Please wait {seconds} seconds and try again."
        ),
        "too_long": gettext("Your message is too long. Please make it shorter."),
        "failed": gettext("Sorry, something went wrong on our side. Please try again in a moment."),
        # TRANSLATORS: web chat button: a new, empty conversation.
        "restart": gettext("Start over"),
        # TRANSLATORS: web chat button for shared phones: removes the conversation and
        # everything else the chat kept in this browser.
        "clear": gettext("Clear this device"),
        "cleared": gettext("Nothing of this conversation is kept on this device any more."),
        "moved": gettext(
            "This conversation is open in another window or device, so it cannot continue "
            "here. Please start a new conversation."
        ),
    }


class WebChatPage:
    name = "webchat"

    def __init__(self, webchat_dir: Path = WEBCHAT_DIR) -> None:
        self.webchat_dir = webchat_dir
        self._languages: bytes | None = None

    def mount(self, app: web.Application) -> None:
        router = app.router
        router.add_get("/", self.index)
        # Registered before the static route, so it wins over /webchat/{name}.
        router.add_get("/webchat/languages.json", self.languages)
        router.add_get("/webchat/{name}", self.static)

    async def start(self) -> None:
        """Nothing to start: the page is files."""

    async def stop(self) -> None:
        """Nothing in flight to finish."""

    async def index(self, request: web.Request) -> web.StreamResponse:
        return self._file("index.html")

    async def static(self, request: web.Request) -> web.StreamResponse:
        return self._file(request.match_info["name"])

    def _file(self, name: str) -> web.StreamResponse:
        suffix = Path(name).suffix.lower()
        if "/" in name or "\\" in name or name.startswith(".") or suffix not in STATIC_TYPES:
            raise web.HTTPNotFound()
        path = self.webchat_dir / name
        if not path.is_file():
            raise web.HTTPNotFound()
        # Revalidate every time (ETag / Last-Modified make that cheap), so a deploy shows at once.
        headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache",
                   "Content-Type": STATIC_TYPES[suffix]}
        return web.FileResponse(path, headers=headers)

    async def languages(self, request: web.Request) -> web.Response:
        """The language picker's list, and the page's own texts in every language."""
        if self._languages is None:
            entries = []
            for code in supported_locales():
                with use_locale(code):
                    strings = page_strings()
                entries.append({
                    "code": code,
                    "name": native_name(code),
                    "dir": "rtl" if is_rtl(code) else "ltr",
                    "strings": strings,
                })
            self._languages = json.dumps({"languages": entries}, ensure_ascii=False).encode()
        return web.Response(
            body=self._languages,
            content_type="application/json",
            charset="utf-8",
            headers={**SECURITY_HEADERS, "Cache-Control": "public, max-age=300"},
        )


def create_channel(services: Any) -> WebChatPage:
    """The web chat page (always on; it needs no configuration)."""
    return WebChatPage()
