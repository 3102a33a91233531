"""Encryption at rest for personal data, and keyed hashes for looking it up.

Personal fields are Fernet tokens (AES-128-CBC + HMAC-SHA256) under a key ring: the first
key encrypts, every key decrypts, so keys can be rotated (``intake keys rotate``). Sender
ids are looked up by a keyed hash (HMAC-SHA256), so the database never holds a Telegram id
or phone number in clear.

The lookup key is separate from the encryption keys: putting a new encryption key first
must not change any hash, or every applicant would get a new, empty conversation. It is
``INTAKE_LOOKUP_KEY`` when set; otherwise it is derived from the first encryption key, as
it always was, so existing databases keep working. Before putting a new key first, pin
the lookup key (``intake keys show-lookup-key`` prints the one in use); see docs/PRIVACY.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .. import json_codec

LOOKUP_CHECK = b"intake-lookup-key-check"
"""What the stored fingerprint of the lookup key is a hash of (see ``Store.verify_lookup_key``)."""


def derive_lookup_key(first_key: str) -> str:
    """The lookup key of a ring without ``INTAKE_LOOKUP_KEY``: derived from its first key,
    exactly as before the lookup key could be set (so the hashes do not change)."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"intake-lookup").derive(
        base64.urlsafe_b64decode(first_key.encode())
    )
    return base64.urlsafe_b64encode(raw).decode()


def generate_lookup_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def _lookup_bytes(key: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(key.strip().encode())
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ValueError("a lookup key is 32 bytes in URL-safe base64 (intake keys generate makes one)")
    return raw


class Cipher:
    def __init__(self, keys: list[str], lookup_key: str | None = None) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        self._lookup_key = _lookup_bytes(lookup_key or derive_lookup_key(keys[0]))

    def rotate(self, token: bytes) -> bytes:
        """The token re-encrypted under the first key (any key of the ring may have made it)."""
        try:
            return self._fernet.rotate(token)
        except InvalidToken as exc:
            raise ValueError("cannot decrypt: wrong INTAKE_SECRET_KEYS for this database") from exc

    def lookup_fingerprint(self) -> str:
        """A hash that tells whether two processes use the same lookup key (stored, so a
        changed key is refused instead of silently starting new conversations)."""
        return hmac.new(self._lookup_key, LOOKUP_CHECK, hashlib.sha256).hexdigest()

    def encrypt(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def decrypt(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken as exc:
            raise ValueError("cannot decrypt: wrong INTAKE_SECRET_KEYS for this database") from exc

    def encrypt_json(self, value: Any) -> bytes:
        return self.encrypt(json_codec.dumps(value))

    def decrypt_json(self, token: bytes) -> Any:
        return json_codec.loads(self.decrypt(token))

    def lookup_hash(self, *parts: str) -> str:
        return hmac.digest(self._lookup_key, "\x1f".join(parts).encode(), "sha256").hex()


def generate_key() -> str:
    return Fernet.generate_key().decode()


def load_or_create_key_file(path: Path) -> list[str]:
    """The development key ring: one key in a file created on first use (mode 0600).

    The file appears atomically (written aside, then hard-linked), so two processes
    starting at once agree on one key.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        aside = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(generate_key() + "\n")
        try:
            os.link(aside, path)
        except FileExistsError:
            pass
        finally:
            aside.unlink()
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]
