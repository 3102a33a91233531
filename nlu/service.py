"""The NLU as the engine sees it: ``await nlu.parse(text, language_hint)`` → Rasa's parse shape.

:func:`load_nlu` loads the trained embedded model (training it first when the model file
is missing, older than the training data or trained on other data) and, when
``INTAKE_NLU_URL`` is set, puts a Rasa server's ``/model/parse`` in front of it, falling
back to the embedded model whenever that server is slow, down or answers nonsense.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
import time
from collections import OrderedDict
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from . import langid
from .data import data_files, default_data_dir, load
from .entities import warm_up
from .model import NLUModel, train

log = logging.getLogger(__name__)

Parse = dict[str, Any]


class NLU(Protocol):
    async def parse(self, text: str, language_hint: str | None = None) -> Parse: ...

    async def intent(self, text: str, language_hint: str | None = None) -> tuple[str | None, float]: ...

    async def close(self) -> None: ...

    def language_identifier(self) -> langid.LanguageIdentifier: ...


PARSE_CACHE_SIZE = 4096
"""Parses kept per process: people type the same short things ("yes", "help", "hello")."""


class EmbeddedNLU:
    """The trained model, in process. A parse takes a few tenths of a millisecond, so it
    runs inline on the event loop; the parses of recent texts are kept (a parse depends
    only on the text, the hint and the day), so a text seen before costs a lookup."""

    name = "embedded"

    def __init__(self, model: NLUModel, timezone: str = "Europe/Brussels") -> None:
        self.model = model
        self._zone = ZoneInfo(timezone)
        self._parses: OrderedDict[tuple[str, str | None, date], Parse] = OrderedDict()

    def today(self) -> date:
        return datetime.now(self._zone).date()

    def parse_sync(self, text: str, language_hint: str | None = None) -> Parse:
        key = (text, language_hint, self.today())
        parses = self._parses
        found = parses.get(key)
        if found is None:
            found = parses[key] = self.model.parse(text, language_hint, today=key[2])
            if len(parses) > PARSE_CACHE_SIZE:
                parses.popitem(last=False)
        else:
            parses.move_to_end(key)
        return copy.deepcopy(found)  # callers may change what they get

    async def parse(self, text: str, language_hint: str | None = None) -> Parse:
        return self.parse_sync(text, language_hint)

    async def intent(self, text: str, language_hint: str | None = None) -> tuple[str | None, float]:
        """Only the intent and its confidence: half the cost of a parse (no language, no
        entities); from a recent parse of the same text when there is one."""
        found = self._parses.get((text, language_hint, self.today()))
        if found is not None:
            return found["intent"]["name"], found["intent"]["confidence"]
        return self.model.intent(text)

    def language_identifier(self) -> langid.LanguageIdentifier:
        """CLD2 together with this model's n-gram language model."""
        return langid.LanguageIdentifier(self.model.language_model)

    async def close(self) -> None:
        return None


class RasaNLU:
    """A Rasa server's ``POST /model/parse``, with the embedded model as fallback.

    Rasa's answer has no ``language``: ours is added; entities our extractors find
    (dates, phones, references…) where Rasa found none are added too. After a failure
    the server is left alone for ``retry_after`` seconds, so a dead server costs one
    timeout, not one per message.
    """

    name = "rasa"

    def __init__(self, url: str, fallback: EmbeddedNLU, *, timeout: float = 2.0, retry_after: float = 30.0) -> None:
        base = url.rstrip("/")
        self.url = base if base.endswith("/model/parse") else base + "/model/parse"
        self.fallback = fallback
        self.timeout = timeout
        self.retry_after = retry_after
        self._down_until = 0.0
        self._session: Any = None

    async def intent(self, text: str, language_hint: str | None = None) -> tuple[str | None, float]:
        parse = await self.parse(text, language_hint)
        return parse["intent"]["name"], float(parse["intent"]["confidence"] or 0.0)

    async def parse(self, text: str, language_hint: str | None = None) -> Parse:
        ours = self.fallback.parse_sync(text, language_hint)
        if time.monotonic() < self._down_until or not text.strip():
            return ours
        try:
            theirs = await self._post(text)
        except Exception as exc:  # noqa: BLE001 - any failure means: use ours
            self._down_until = time.monotonic() + self.retry_after
            log.warning("Rasa NLU at %s unavailable (%s): using the embedded model for %.0f s",
                        self.url, type(exc).__name__, self.retry_after)
            return ours
        return merge(theirs, ours)

    async def _post(self, text: str) -> Parse:
        import aiohttp

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        async with self._session.post(self.url, json={"text": text}) as response:
            response.raise_for_status()
            body = await response.json(content_type=None)
        intent = body.get("intent") if isinstance(body, dict) else None
        if not isinstance(intent, dict) or "name" not in intent:
            raise ValueError("not a parse result")
        return body  # type: ignore[no-any-return]

    def language_identifier(self) -> langid.LanguageIdentifier:
        return self.fallback.language_identifier()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def merge(theirs: Parse, ours: Parse) -> Parse:
    """Rasa's intent and entities, our language, and our entities where Rasa has none."""
    result = dict(theirs)
    result["text"] = ours["text"]
    result.setdefault("language", ours["language"])
    result.setdefault("intent_ranking", [theirs["intent"]])
    entities = list(theirs.get("entities") or [])
    for entity in ours["entities"]:
        clash = any(
            e.get("entity") == entity["entity"]
            or not (entity["end"] <= int(e.get("start", 0)) or entity["start"] >= int(e.get("end", 0)))
            for e in entities
        )
        if not clash:
            entities.append(entity)
    result["entities"] = sorted(entities, key=lambda e: int(e.get("start", 0)))
    result["backend"] = "rasa"
    return result


# -- loading -------------------------------------------------------------------------------


def model_is_stale(model_path: Path, data_dir: Path) -> bool:
    if not model_path.exists():
        return True
    newest = max((p.stat().st_mtime for p in data_files(data_dir)), default=0.0)
    return model_path.stat().st_mtime < newest


def load_model(model_path: Path, data_dir: Path | None = None, *, retrain: bool = True) -> NLUModel:
    """The model at ``model_path``, trained (and saved) first when it is missing or
    older than the data (``retrain``)."""
    data_dir = data_dir or default_data_dir()
    if retrain and model_is_stale(model_path, data_dir):
        why = "missing" if not model_path.exists() else "older than the training data"
        log.info("NLU model %s is %s: training it from %s", model_path, why, data_dir)
        model = train_and_save(model_path, data_dir)
        return model
    try:
        return NLUModel.load(model_path)
    except (OSError, ValueError, KeyError) as exc:
        if not retrain:
            raise
        log.warning("NLU model %s unreadable (%s): training it again", model_path, exc)
        return train_and_save(model_path, data_dir)


def train_and_save(model_path: Path, data_dir: Path | None = None) -> NLUModel:
    data = load(data_dir or default_data_dir())
    for problem in data.problems:
        log.warning("NLU data: %s", problem)
    model = train(data)
    model.save(model_path)
    log.info("NLU model trained on %d examples in %d languages in %.1f s: %s", model.trained.examples,
             len(model.trained.languages), model.trained.seconds, model_path)
    return model


def default_model_path() -> Path:
    """Where the model goes without settings: where ``bot.config`` puts it, in the data
    folder (``INTAKE_DATA_DIR``, default ``./var``), never inside the installed package."""
    return Path(os.environ.get("INTAKE_DATA_DIR") or Path.cwd() / "var") / "nlu" / "model.npz"


def load_nlu(settings: Any = None, *, data_dir: Path | None = None) -> NLU:
    """The NLU the engine calls: embedded, or Rasa with the embedded model as fallback.

    ``settings`` is ``bot.config.Settings`` (``nlu_url``, ``nlu_model_path``,
    ``timezone``)."""
    model_path = Path(getattr(settings, "nlu_model_path", None) or default_model_path())
    started = time.perf_counter()
    model = load_model(model_path, data_dir)
    log.info("NLU model ready in %.2f s (%d intents, %d languages)", time.perf_counter() - started,
             len(model.intent_model.classes), len(model.language_model.languages))
    threading.Thread(target=warm_up, name="nlu-warm-up", daemon=True).start()
    embedded = EmbeddedNLU(model, getattr(settings, "timezone", "Europe/Brussels"))
    url = getattr(settings, "nlu_url", "") or ""
    if url:
        log.info("NLU: Rasa server at %s, embedded model as fallback", url)
        return RasaNLU(url, embedded)
    return embedded
