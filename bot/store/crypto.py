"""Encryption at rest for personal data, and keyed hashes for looking it up.

Personal fields are Fernet tokens (AES-128-CBC + HMAC-SHA256) under a key ring: the first
key encrypts, every key decrypts, so keys can be rotated. Sender ids are looked up by a
keyed hash (HMAC-SHA256 with a key derived from the first secret), so the database never
holds a Telegram id or phone number in clear.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class Cipher:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        self._lookup_key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"intake-lookup"
        ).derive(base64.urlsafe_b64decode(keys[0].encode()))

    def encrypt(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def decrypt(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken as exc:
            raise ValueError("cannot decrypt: wrong INTAKE_SECRET_KEYS for this database") from exc

    def encrypt_json(self, value: Any) -> bytes:
        return self.encrypt(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())

    def decrypt_json(self, token: bytes) -> Any:
        return json.loads(self.decrypt(token))

    def lookup_hash(self, *parts: str) -> str:
        message = "\x1f".join(parts).encode()
        return hmac.new(self._lookup_key, message, hashlib.sha256).hexdigest()


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
