"""The bot installed from its wheel, not from the checkout, works from any folder.

The wheel is built once per session from a copy of the source (so the checkout gets no
``build/``) and installed with ``--no-deps`` into a new virtual environment. That one
borrows the test environment's dependencies through a ``.pth`` line: a path line adds the
folder to ``sys.path`` but runs none of that folder's own ``.pth`` files, so the
editable install of the checkout is not picked up (checked below). Every command runs in
an empty folder with no ``INTAKE_*`` setting, where its ``var/`` must appear.

``-m install`` (not run by default) installs the wheel with its dependencies from the
package index into a bare environment, and trains the NLU model there.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.config import Settings
from bot.i18n import gettext, use_locale
from bot.i18n_check import catalog_codes
from bot.resources import FLOWS_DIR, SOURCE_DIR

from .serving import free_port

pytestmark = pytest.mark.slow

SOURCES = ("bot", "nlu", "flows", "locales", "pyproject.toml", "README.md", "build_hooks.py", "MANIFEST.in", "babel.cfg")
"""What the wheel is built from (the rest of the checkout, tests and var/, stays out)."""
JOURNEY = ["/voluntary_return", "oui", "Géorgie"]
"""In French, so that the compiled catalogs and the typed-country NLU are both needed."""


@dataclass
class Installed:
    venv: Path
    site_packages: Path

    def intake(self, *args: str, cwd: Path, stdin: str = "", timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.venv / "bin" / "intake"), *args], cwd=cwd, env=clean_env(), input=stdin,
                              text=True, capture_output=True, timeout=timeout)


def clean_env() -> dict[str, str]:
    """No checkout on the path and no INTAKE_* setting: as a new user would start."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_") and k != "PYTHONPATH"}
    return {**env, "INTAKE_LOG_LEVEL": "WARNING"}


def run(*args: str | Path, cwd: Path | None = None, timeout: float = 600) -> None:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=clean_env(), text=True, capture_output=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, args))}\n{done.stdout}\n{done.stderr}"


def site_packages(venv: Path) -> Path:
    found = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                           env=clean_env(), text=True, capture_output=True, check=True)
    return Path(found.stdout.strip())


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    ignore = shutil.ignore_patterns("__pycache__", "*.mo", "*.egg-info")
    for name in SOURCES:
        path = SOURCE_DIR / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=ignore)
        else:
            shutil.copy2(path, source / name)
    dist = tmp_path_factory.mktemp("dist")
    # With build isolation: the build needs setuptools>=68 and Babel, not the test env's.
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", dist, source)
    (built,) = dist.glob("intake_bot-*.whl")
    return built


@pytest.fixture(scope="session")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    venv = tmp_path_factory.mktemp("venv")
    run(sys.executable, "-m", "venv", "--without-pip", "--clear", venv)
    run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--quiet", "--no-deps", wheel)
    inside = site_packages(venv)
    borrowed = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (inside / "test-environment.pth").write_text("".join(f"{p}\n" for p in sorted(borrowed)))
    return Installed(venv, inside)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An empty folder to start in, with the test environment's NLU model (``make model``)
    already in its ``var/``, if there is one: training another takes 10–30 s."""
    work = tmp_path / "work"
    work.mkdir()
    model = Settings().nlu_model_path
    if model is not None and model.is_file():
        (work / "var" / "nlu").mkdir(parents=True)
        shutil.copyfile(model, work / "var" / "nlu" / "model.npz")  # fresh mtime: newer than the installed data
    return work


def test_the_wheel_carries_flows_compiled_catalogs_and_nlu_data(installed: Installed) -> None:
    shipped = installed.site_packages / "bot" / "shipped"
    assert sorted(p.name for p in (shipped / "flows").glob("*.yml")) == sorted(p.name for p in FLOWS_DIR.glob("*.yml"))
    assert (shipped / "flows" / "content" / "visa.yml").is_file()
    assert sorted(p.parent.parent.name for p in (shipped / "locales").glob("*/LC_MESSAGES/messages.mo")) == sorted(catalog_codes())
    assert not list(shipped.glob("locales/*/LC_MESSAGES/*.po"))
    assert len(list((installed.site_packages / "nlu" / "data").glob("*/*.yml"))) >= 18


def test_the_installed_package_is_the_one_imported(installed: Installed, tmp_path: Path) -> None:
    probe = ("import bot, bot.resources as r, numpy; "
             "print(bot.__file__); print(r.FLOWS_DIR); print(r.LOCALES_DIR); print(r.NLU_DATA_DIR); print(r.in_checkout())")
    done = subprocess.run([str(installed.venv / "bin" / "python"), "-c", probe], cwd=tmp_path, env=clean_env(),
                          text=True, capture_output=True, check=True)
    module, flows, locales, nlu_data, in_checkout = done.stdout.splitlines()
    for path in (module, flows, locales, nlu_data):
        assert Path(path).is_relative_to(installed.site_packages), path
    assert in_checkout == "False"


def test_flows_check_and_nlu_validate_work_from_any_folder(installed: Installed, folder: Path) -> None:
    flows = installed.intake("flows", "check", cwd=folder)
    assert flows.returncode == 0, flows.stderr
    assert f"{len(list(FLOWS_DIR.glob('*.yml')))} flows OK" in flows.stdout.splitlines()[-1]
    nlu = installed.intake("nlu", "validate", "--quiet", cwd=folder)
    assert nlu.returncode == 0, nlu.stderr
    assert "18 of 18 languages valid" in nlu.stdout
    i18n = installed.intake("i18n", "check", cwd=folder)
    assert i18n.returncode == 2 and "checkout" in i18n.stderr


def test_a_chat_in_french_keeps_its_data_in_the_current_folder(installed: Installed, folder: Path) -> None:
    done = installed.intake("chat", "--json", "--lang", "fr", cwd=folder, stdin="".join(f"{line}\n" for line in JOURNEY))
    assert done.returncode == 0, done.stderr
    replies = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(replies) == len(JOURNEY)
    expects = [next(r["custom"]["expects"]["field"] for r in reversed(turn) if r.get("custom", {}).get("expects"))
               for turn in replies]
    assert expects == ["consent.data_processing", "destination_country", "applicant.nationality"]
    with use_locale("fr"):  # what the checkout's French catalog says
        assert replies[1][-1]["text"] == gettext("Which country do you want to return to?") != (
            "Which country do you want to return to?")
    assert {"intake.db", "secret.key", "nlu"} <= {p.name for p in (folder / "var").iterdir()}
    assert not list(installed.site_packages.glob("**/var"))
    assert not list(installed.site_packages.glob("**/*.db"))


def test_serve_answers_from_any_folder(installed: Installed, folder: Path) -> None:
    port = free_port()
    server = subprocess.Popen([str(installed.venv / "bin" / "intake"), "serve", "--port", str(port)], cwd=folder,
                              env=clean_env(), text=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        body = healthz(port, server)
        assert "voluntary_return" in body["flows"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert b"<html" in response.read()  # the web chat page is package data too
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=20) == 0, server.stderr.read() if server.stderr else ""
        if server.stderr:
            server.stderr.close()
    assert (folder / "var" / "intake.db").is_file()


def healthz(port: int, server: subprocess.Popen[str], wait: float = 60) -> dict:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                return json.loads(response.read())
        except OSError:
            if server.poll() is not None:
                pytest.fail(server.stderr.read() if server.stderr else "the server exited")
            time.sleep(0.2)
    pytest.fail("the server did not answer /healthz")


@pytest.fixture(scope="session")
def installed_with_dependencies(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    venv = tmp_path_factory.mktemp("fresh-venv")
    run(sys.executable, "-m", "venv", "--clear", venv)
    run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", wheel, timeout=1800)
    yield Installed(venv, site_packages(venv))


@pytest.mark.install
def test_a_fresh_install_with_its_dependencies_trains_and_chats(installed_with_dependencies: Installed, tmp_path: Path) -> None:
    installed = installed_with_dependencies
    trained = installed.intake("nlu", "train", cwd=tmp_path, timeout=600)
    assert trained.returncode == 0, trained.stderr
    assert (tmp_path / "var" / "nlu" / "model.npz").is_file()
    assert installed.intake("flows", "check", cwd=tmp_path).returncode == 0
    done = installed.intake("chat", "--json", "--lang", "fr", cwd=tmp_path, stdin="".join(f"{line}\n" for line in JOURNEY))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[1])[-1]["custom"]["expects"]["field"] == "destination_country"
    port = free_port()
    server = subprocess.Popen([str(installed.venv / "bin" / "intake"), "serve", "--port", str(port)], cwd=tmp_path,
                              env=clean_env(), text=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert healthz(port, server)["status"] == "ok"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)
        if server.stderr:
            server.stderr.close()
