"""The staff commands on a real database: users and organisations."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.cli import main
from bot.store.crypto import generate_key


def test_users_and_orgs_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("INTAKE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'staff.db'}")
    monkeypatch.setenv("INTAKE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INTAKE_SECRET_KEYS", generate_key())
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert main(["users", "add", "Admin@Example.be", "--role", "admin", "--org", "immigration-office",
                 "--password-stdin"]) == 0
    assert main(["orgs", "add", "caritas", "Caritas International"]) == 0
    capsys.readouterr()
    assert main(["users", "list"]) == 0
    assert "admin@example.be" in capsys.readouterr().out
    assert main(["orgs", "list"]) == 0
    assert "caritas" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert main(["users", "add", "x@example.be", "--role", "admin", "--org", "nowhere", "--password-stdin"]) == 2
    assert main(["users", "disable", "admin@example.be"]) == 0
