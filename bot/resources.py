"""Where the read-only files the bot ships with are: its flows, its catalogs, its NLU data.

In a checkout (the tests, ``make run``, ``pip install -e .``) they are the repository's own
top-level folders: ``flows/``, ``locales/`` and ``nlu/data/``. A wheel carries them inside
the packages: ``bot/shipped/flows``, ``bot/shipped/locales`` (compiled ``.mo`` catalogs
only) and ``nlu/data``, put there when the wheel is built (``build_hooks.py``). Nothing
here is ever written to: what the bot writes (database, NLU model, development key) goes
to its data folder, ``INTAKE_DATA_DIR`` (:mod:`bot.config`).
"""

from __future__ import annotations

from pathlib import Path

from nlu.data import default_data_dir

PACKAGE_DIR = Path(__file__).resolve().parent
SHIPPED_DIR = PACKAGE_DIR / "shipped"
"""The data folder inside an installed wheel (absent from a checkout)."""
SOURCE_DIR = PACKAGE_DIR.parent
"""The repository root in a checkout; in an installed wheel, ``site-packages``."""


def _shipped(name: str) -> Path:
    packaged = SHIPPED_DIR / name
    return packaged if packaged.is_dir() else SOURCE_DIR / name


FLOWS_DIR = _shipped("flows")
"""The flows (and their facts, ``content/``) used unless ``INTAKE_FLOWS_DIR`` says otherwise."""
LOCALES_DIR = _shipped("locales")
"""``<lang>/LC_MESSAGES/messages.po`` in a checkout, ``messages.mo`` when installed."""
NLU_DATA_DIR = default_data_dir()
"""The NLU training data, ``<lang>/*.yml``: package data of ``nlu``, so the same place in a
checkout and installed (defined by ``nlu`` itself, which never imports ``bot``)."""


def in_checkout() -> bool:
    """Whether the bot runs from its source tree, where the developer tools (``babel.cfg``,
    the ``.po`` catalogs) are; an installed wheel has only what the service needs."""
    return not SHIPPED_DIR.is_dir() and (SOURCE_DIR / "babel.cfg").is_file()
