"""Every answer carries the security headers, and every malformed body is a clear 4xx."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.app import Services, create_app
from bot.channels.rest import RestChannel
from bot.channels.webchat_page import WebChatPage
from bot.config import Settings
from bot.engine import Engine
from bot.engine.loader import FlowSet

from .serving import serving

WEBHOOK = "/webhooks/rest/webhook"
SENDER = "3f2a9c1e-7b4d-4e0a-9f6c-2d8b1a5e7c30"


@contextlib.asynccontextmanager
async def served(engine: Engine, flows: FlowSet, **settings: Any) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    services = Services(settings=Settings(**settings), store=engine.store, flows=flows, engine=engine)
    app = create_app(services, [WebChatPage(), RestChannel(engine)])
    async with serving(app) as url, aiohttp.ClientSession() as session:
        yield url, session


@pytest.mark.parametrize("raw", [
    b"[" * 60_000,  # RecursionError in the JSON parser, once
    b'{"sender": ' * 20_000,
    b"\xff\xfe{}",  # not UTF-8
    b'{"sender": "' + SENDER.encode() + b'", "message": "\\ud800"',  # cut short
    b"1e999999",
    b"NaN",
    b"null",
    b'"just a string"',
    b'{"sender": "' + SENDER.encode() + b'", "message": "hi", "metadata": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    b'{"sender": "' + SENDER.encode() + b'", "message": "hi", "metadata": {"message_id": "a\\u0000b"}}',
    b'{"sender": "' + SENDER.encode() + b'", "message": "hi", "metadata": {"conversation_token": {"$ne": 1}}}',
])
async def test_every_malformed_body_is_a_clear_4xx(engine: Engine, flows: FlowSet, raw: bytes) -> None:
    async with served(engine, flows) as (url, http):
        async with http.post(url + WEBHOOK, data=raw, headers={"Content-Type": "application/json"}) as response:
            assert 400 <= response.status < 500
            assert isinstance((await response.json())["error"], str)


async def test_security_headers_are_on_every_answer_json_and_errors_included(engine: Engine, flows: FlowSet) -> None:
    async with served(engine, flows) as (url, http):
        answers = [
            http.get(url + "/"),
            http.get(url + "/healthz"),
            http.get(url + "/no-such-page"),
            http.post(url + WEBHOOK, json={"sender": SENDER, "message": "/start"}),
            http.post(url + WEBHOOK, data=b"[", headers={"Content-Type": "application/json"}),
        ]
        for answer in answers:
            async with answer as response:
                headers = response.headers
                assert headers["X-Content-Type-Options"] == "nosniff", response.url
                assert headers["Referrer-Policy"] == "no-referrer"
                assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
                assert "Strict-Transport-Security" not in headers  # plain http, no proxy


async def test_hsts_when_the_public_address_is_https(engine: Engine, flows: FlowSet) -> None:
    async with served(engine, flows, public_url="https://chat.example.be") as (url, http):
        async with http.get(url + "/healthz") as response:
            assert response.headers["Strict-Transport-Security"].startswith("max-age=")


async def test_hsts_when_a_trusted_proxy_says_the_request_came_over_https(engine: Engine, flows: FlowSet) -> None:
    async with served(engine, flows, trusted_proxies=["127.0.0.1"]) as (url, http):
        async with http.get(url + "/healthz", headers={"X-Forwarded-Proto": "https"}) as response:
            assert "Strict-Transport-Security" in response.headers
    async with served(engine, flows) as (url, http):  # an untrusted peer cannot say so
        async with http.get(url + "/healthz", headers={"X-Forwarded-Proto": "https"}) as response:
            assert "Strict-Transport-Security" not in response.headers
