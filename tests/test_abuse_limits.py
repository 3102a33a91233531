"""Abuse limits: address groups, trusted proxies, counts in memory and in Redis, the
per-address caps on REST and socket.io, and the /case_status guess budgets."""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

import aiohttp
import pytest

from bot.app import create_app
from bot.channels import addresses
from bot.channels.abuse import AddressLimits
from bot.channels.rest import RestChannel
from bot.engine import Engine, Inbound
from bot.engine.desks import WRONG_GUESSES_PER_REFERENCE
from bot.engine.loader import FlowSet
from bot.limits import MemoryLimits, RedisLimits

from .serving import serving, services_for
from .test_case_status import case_with_birth_date

REDIS_URL = "redis://127.0.0.1:6379/15"
WEBHOOK = "/webhooks/rest/webhook"


def test_an_ipv6_client_is_grouped_by_its_64_and_ipv4_by_its_address() -> None:
    one = addresses.group(ipaddress.ip_address("2001:db8:1:2:aaaa::1"))
    other = addresses.group(ipaddress.ip_address("2001:db8:1:2:ffff::9"))
    assert one == other == "2001:db8:1:2::/64"
    assert addresses.group(ipaddress.ip_address("2001:db8:1:3::1")) != one
    assert addresses.group(ipaddress.ip_address("192.0.2.7")) == "192.0.2.7"


@pytest.mark.parametrize(("peer", "forwarded", "client"), [
    ("192.0.2.7", "198.51.100.1", "192.0.2.7"),  # an untrusted peer cannot claim another address
    ("10.0.0.2", "198.51.100.1", "198.51.100.1"),  # our proxy says who it is
    ("10.0.0.2", "203.0.113.9, 198.51.100.1, 10.0.0.3", "198.51.100.1"),  # read from the right
    ("10.0.0.2", "", "10.0.0.2"),
    ("10.0.0.2", "garbage, 10.0.0.3", "10.0.0.3"),
    ("::ffff:192.0.2.7", "198.51.100.1", "192.0.2.7"),
])
def test_x_forwarded_for_is_believed_only_from_trusted_proxies(peer: str, forwarded: str, client: str) -> None:
    trusted = addresses.trusted_networks(["10.0.0.0/8"])
    got = addresses.client_address(peer, {"X-Forwarded-For": forwarded}, trusted)
    assert str(got) == client


def test_a_malformed_trusted_proxy_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="INTAKE_TRUSTED_PROXIES"):
        addresses.trusted_networks(["10.0.0.0/8", "not-a-network"])


async def test_memory_limits_count_per_window() -> None:
    now = [1000.0]
    limits = MemoryLimits(clock=lambda: now[0])
    assert [await limits.hit("k", 2, 60) for _ in range(3)] == [0.0, 0.0, 20.0]
    assert await limits.used("k", 60) == 3 and await limits.used("other", 60) == 0
    now[0] = 1020.0  # the next window
    assert await limits.hit("k", 2, 60) == 0.0


async def test_redis_limits_are_shared_between_workers() -> None:
    key = f"test-{uuid.uuid4().hex}"
    one, two = RedisLimits(REDIS_URL), RedisLimits(REDIS_URL)
    try:
        try:
            await one.client.ping()
        except Exception:
            pytest.skip("no Redis on 127.0.0.1:6379")
        assert await one.hit(key, 2, 60) == 0 and await two.hit(key, 2, 60) == 0
        assert await one.hit(key, 2, 60) > 0  # the third, counted across both
        assert await two.used(key, 60) == 3
    finally:
        await one.close()
        await two.close()


async def test_unreachable_redis_lets_requests_through() -> None:
    limits = RedisLimits("redis://127.0.0.1:1/0")
    try:
        assert await limits.hit("k", 1, 60) == 0 and await limits.hit("k", 1, 60) == 0
        assert await limits.used("k", 60) == 0
    finally:
        await limits.close()


async def _post(session: aiohttp.ClientSession, url: str, sender: str, **headers: str) -> tuple[int, Any]:
    async with session.post(url + WEBHOOK, json={"sender": sender, "message": "/start"}, headers=headers) as r:
        return r.status, await r.json()


async def test_rest_caps_new_conversations_per_address_not_per_sender(engine: Engine, flows: FlowSet) -> None:
    limits = AddressLimits(MemoryLimits(), trusted=addresses.trusted_networks(["127.0.0.1"]),
                           messages_per_minute=1000, new_conversations_per_hour=3)
    channel = RestChannel(engine, address_limits=limits)
    async with serving(create_app(services_for(engine, flows), [channel])) as url, aiohttp.ClientSession() as http:
        senders = [uuid.uuid4().hex for _ in range(4)]
        for sender in senders[:3]:
            assert (await _post(http, url, sender, **{"X-Forwarded-For": "198.51.100.1"}))[0] == 200
        status, body = await _post(http, url, senders[3], **{"X-Forwarded-For": "198.51.100.1"})
        assert status == 429 and "this address" in body["error"]
        # Known conversations go on; another address is not affected.
        assert (await _post(http, url, senders[0], **{"X-Forwarded-For": "198.51.100.1"}))[0] == 200
        assert (await _post(http, url, senders[3], **{"X-Forwarded-For": "198.51.100.2"}))[0] == 200


async def test_rest_limits_messages_per_address(engine: Engine, flows: FlowSet) -> None:
    limits = AddressLimits(MemoryLimits(), messages_per_minute=2, new_conversations_per_hour=100)
    channel = RestChannel(engine, address_limits=limits)
    async with serving(create_app(services_for(engine, flows), [channel])) as url, aiohttp.ClientSession() as http:
        statuses = [(await _post(http, url, uuid.uuid4().hex))[0] for _ in range(3)]
        assert statuses == [200, 200, 429]


async def test_a_new_sender_does_not_buy_new_birth_date_guesses(engine: Engine) -> None:
    reference = await case_with_birth_date(engine)

    async def guess(sender: str, origin: str, birth: str = "01/01/1990") -> str:
        await engine.handle(Inbound(channel="rest", sender_id=sender, text=f"/case_status {reference}", origin=origin))
        replies = await engine.handle(Inbound(channel="rest", sender_id=sender, text=birth, origin=origin))
        return replies[0].text

    for n in range(WRONG_GUESSES_PER_REFERENCE):
        assert "could not find" in await guess(f"guesser-{n}-{uuid.uuid4().hex}", f"198.51.100.{n}")
    assert "Too many attempts" in await guess(uuid.uuid4().hex, "198.51.100.99")
    # Only that reference is blocked: others are still looked up (one attacker does not lock everyone out).
    await engine.handle(Inbound(channel="rest", sender_id="x" * 20 + "a1b2c3d4", text="/case_status VR-2345AB", origin="o"))
    replies = await engine.handle(Inbound(channel="rest", sender_id="x" * 20 + "a1b2c3d4", text="01/01/1990", origin="o"))
    assert "could not find" in replies[0].text


async def test_lookups_are_limited_per_address(engine: Engine) -> None:
    from bot.cases.references import ALPHABET
    from bot.engine.desks import LOOKUPS_PER_ADDRESS

    texts = []
    for n in range(LOOKUPS_PER_ADDRESS + 1):
        sender = uuid.uuid4().hex
        reference = f"VR-2345A{ALPHABET[n % len(ALPHABET)]}"
        await engine.handle(Inbound(channel="rest", sender_id=sender, text=f"/case_status {reference}", origin="shelter"))
        texts.append((await engine.handle(Inbound(channel="rest", sender_id=sender, text="01/01/1990", origin="shelter")))[0].text)
    assert all("could not find" in t for t in texts[:-1]) and "Too many attempts" in texts[-1]


def test_the_settings_read_the_proxies_and_redis_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.config import Settings

    monkeypatch.setenv("INTAKE_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8")
    monkeypatch.setenv("INTAKE_REDIS_URL", REDIS_URL)
    settings = Settings()
    assert settings.trusted_proxies == ["127.0.0.1", "10.0.0.0/8"] and settings.redis_url == REDIS_URL
    assert len(addresses.trusted_networks(settings.trusted_proxies)) == 2
