"""Key rotation: a new encryption key first, re-encryption online, a new lookup key, and
a server refusing a lookup key the database was not written with."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select

from bot.engine import Engine
from bot.engine.loader import FlowSet
from bot.store.crypto import Cipher, derive_lookup_key, generate_key, generate_lookup_key
from bot.store.keys import ENCRYPTED, LookupKeyChanged, reencrypt, rehash, verify_lookup_key
from bot.store.models import Base
from bot.store.store import Store

from .chat import VOLUNTARY_RETURN, Chat
from .conftest import Clock


def test_the_default_lookup_key_hashes_as_before() -> None:
    """Upgrading changes no hash: without INTAKE_LOOKUP_KEY the key is derived from the
    first encryption key exactly as it was."""
    key = generate_key()
    before = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"intake-lookup").derive(
        base64.urlsafe_b64decode(key.encode())
    )
    expected = hmac.new(before, "telegram\x1f4242".encode(), hashlib.sha256).hexdigest()
    assert Cipher([key]).lookup_hash("telegram", "4242") == expected
    assert Cipher([generate_key(), key], derive_lookup_key(key)).lookup_hash("telegram", "4242") == expected


def test_every_encrypted_column_is_rotated() -> None:
    columns = {
        (table.name, column.name)
        for table in Base.metadata.tables.values() for column in table.columns if column.name.endswith("_enc")
    }
    assert columns == {(model.__tablename__, c) for model, cs in ENCRYPTED for c in cs}


def test_a_malformed_lookup_key_is_refused() -> None:
    with pytest.raises(ValueError, match="lookup key"):
        Cipher([generate_key()], "short")


async def _all_tokens(store: Store) -> list[bytes]:
    tokens: list[bytes] = []
    async with store._reads() as session:
        for model, columns in ENCRYPTED:
            for row in (await session.execute(select(*(getattr(model, c) for c in columns)))).all():
                tokens += [value for value in row if value is not None]
    return tokens


async def test_rotation_in_the_middle_of_a_journey(db_url: str, flows: FlowSet, clock: Clock) -> None:
    old, new = generate_key(), generate_key()
    lookup = derive_lookup_key(old)  # pinned before rotating, as docs/PRIVACY.md says

    def engine_with(store: Store) -> Engine:
        return Engine(store, flows, clock=clock, idle_timeout=timedelta(hours=24))

    first = Store.connect(db_url, Cipher([old]))
    await verify_lookup_key(first)
    chat = Chat(engine_with(first))
    await chat.say("/voluntary_return")
    await chat.answer_until(VOLUNTARY_RETURN)
    await chat.say("/confirm")
    [case] = await first.cases()
    await chat.say("/voluntary_return")
    await chat.answer_until(VOLUNTARY_RETURN, stop_at="household.adults")
    await first.close()

    # The new key first everywhere, then re-encryption while the applicant goes on.
    ring = Store.connect(db_url, Cipher([new, old], lookup))
    await verify_lookup_key(ring)
    chat.engine = engine_with(ring)
    others = [Chat(chat.engine, sender=f"other-{i}") for i in range(3)]
    counts, *_ = await asyncio.gather(
        reencrypt(ring, batch=2), chat.say("2"), *(other.say("/voluntary_return") for other in others)
    )
    assert counts["cases"] == 1 and counts["conversations"] >= 1
    await ring.close()

    # The old key removed: everything still reads, and the applicant is still themself.
    only_new = Store.connect(db_url, Cipher([new], lookup))
    await verify_lookup_key(only_new)
    for token in await _all_tokens(only_new):
        Fernet(new.encode()).decrypt(token)
        with pytest.raises(InvalidToken):
            Fernet(old.encode()).decrypt(token)
    chat.engine = engine_with(only_new)
    assert chat.field == "household.children"
    await chat.say("1")
    assert chat.field == "travel_document"
    await chat.say("/my_data")
    assert case.reference in chat.text and "Nino Beridze" in chat.text

    # A new lookup key (servers stopped): every hash re-computed, the applicant found again.
    lookup2 = generate_lookup_key()
    moved = await rehash(only_new, Cipher([new], lookup2))
    assert moved["cases_unlinked"] == 0 and moved["conversations"] == 4
    with pytest.raises(LookupKeyChanged):
        await verify_lookup_key(only_new)  # a server still on the old lookup key refuses to start
    await only_new.close()
    after = Store.connect(db_url, Cipher([new], lookup2))
    await verify_lookup_key(after)
    chat.engine = engine_with(after)
    await chat.say("/forget")
    await chat.say("yes")
    assert "withdrawn" in chat.text  # /forget still reaches the case sent before both rotations
    assert await after.case(case.reference) is None
    await after.close()


async def test_a_changed_lookup_key_is_refused_at_start(sqlite_url: str) -> None:
    key = generate_key()
    store = Store.connect(sqlite_url, Cipher([key]))
    await verify_lookup_key(store)
    await store.close()
    careless = Store.connect(sqlite_url, Cipher([generate_key(), key]))  # a new key first, nothing pinned
    with pytest.raises(LookupKeyChanged, match="INTAKE_LOOKUP_KEY"):
        await verify_lookup_key(careless)
    await careless.close()


def test_keys_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    old = generate_key()
    monkeypatch.setenv("INTAKE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("INTAKE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INTAKE_SECRET_KEYS", old)
    assert main(["keys", "generate"]) == 0
    lines = capsys.readouterr().out.splitlines()
    new, lookup2 = (line.split(":", 1)[1].strip() for line in lines)
    Fernet(new.encode())
    assert main(["keys", "show-lookup-key"]) == 0
    pinned = capsys.readouterr().out.strip()
    assert pinned == derive_lookup_key(old)
    assert main(["slots", "list"]) == 0  # the database is made and its lookup key recorded
    capsys.readouterr()
    monkeypatch.setenv("INTAKE_SECRET_KEYS", f"{new},{old}")
    assert main(["slots", "list"]) == 2  # a new key first without pinning the lookup key
    assert "another lookup key" in capsys.readouterr().err
    monkeypatch.setenv("INTAKE_LOOKUP_KEY", pinned)
    assert main(["keys", "rotate"]) == 0
    assert '"reencrypted"' in capsys.readouterr().out
    # "=": a key may start with "-" (URL-safe base64), which argparse would take for an option
    assert main(["keys", "rotate", f"--new-lookup-key={lookup2}"]) == 0
    assert '"rehashed"' in capsys.readouterr().out
    monkeypatch.setenv("INTAKE_LOOKUP_KEY", lookup2)
    monkeypatch.setenv("INTAKE_SECRET_KEYS", new)
    assert main(["slots", "list"]) == 0


def test_production_refuses_a_generated_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    monkeypatch.setenv("INTAKE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("INTAKE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("INTAKE_SECRET_KEYS", raising=False)
    monkeypatch.setenv("INTAKE_ENV", "production")
    assert main(["slots", "list"]) == 2
    assert "INTAKE_SECRET_KEYS is not set" in capsys.readouterr().err
    assert not (tmp_path / "secret.key").exists()
    monkeypatch.setenv("INTAKE_ENV", "development")
    assert main(["slots", "list"]) == 0  # make run: a key file next to the database
    assert (tmp_path / "secret.key").exists()
