"""The embedded NLU: data, validation, training, parsing, entities, the Rasa fallback.

One model is trained per session on the small fixture set in tests/fixtures/nlu (five
languages), so the module runs in seconds; the full data set is measured by
``intake nlu eval`` and ``make bench``, not here.
"""

from __future__ import annotations

import asyncio
import json
import os
import textwrap
import time
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from aiohttp import web

from nlu import langid
from nlu.data import INTENTS, LanguageData, load, load_text, parse_annotations
from nlu.entities import EntityExtractor, dates
from nlu.model import FALLBACK, NLUModel, train
from nlu.service import EmbeddedNLU, RasaNLU, load_nlu
from nlu.validate import check

FIXTURES = Path(__file__).parent / "fixtures" / "nlu"
WEDNESDAY = date(2025, 3, 12)
OURS = ("en", "fr", "nl", "de", "ar", "fa", "ps", "ti", "tr", "ku", "ru", "uk", "ka", "ro", "pt_BR", "es", "so", "sq")


@pytest.fixture(scope="session")
def model() -> NLUModel:
    return train(load(FIXTURES))


@pytest.fixture(scope="session")
def model_file(model: NLUModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("nlu") / "model.npz"
    model.save(path)
    return path


# -- data -----------------------------------------------------------------------------------


def test_annotations_in_all_of_rasas_forms() -> None:
    text, entities = parse_annotations(
        'from [Syria](country:SY) to [Belgium](country) and [Sakartvelo]{"entity": "country", "value": "GE"}'
    )
    assert text == "from Syria to Belgium and Sakartvelo"
    assert [(e.entity, e.value, text[e.start:e.end]) for e in entities] == [
        ("country", "SY", "Syria"), ("country", "Belgium", "Belgium"), ("country", "GE", "Sakartvelo")]
    assert parse_annotations("[broken]{not json}") is None


def test_loading_examples_entities_and_synonyms() -> None:
    data = load(FIXTURES)
    assert set(data.languages) == {"en", "fr", "es", "ar", "ku"}
    en = data.languages["en"]
    assert en.synonyms["Sakartvelo"] == "GE" and en.synonyms["afghan"] == "AF"
    back = next(e for e in en.examples if e.text == "i wanna go back to Georgia")
    assert back.intent == "voluntary_return"
    assert [(e.entity, e.value, back.text[e.start:e.end]) for e in back.entities] == [("country", "GE", "Georgia")]
    assert back.line > 0 and back.source.endswith("en/nlu.yml")
    speak = next(e for e in en.examples if e.text == "speak Arabic please")
    assert speak.entities[0].entity == "language" and speak.entities[0].value == "ar"
    assert not data.problems


def _write(root: Path, lang: str, body: str) -> None:
    (root / lang).mkdir(parents=True, exist_ok=True)
    (root / lang / "nlu.yml").write_text(textwrap.dedent(body), encoding="utf-8")


def _complete(n: int = 2, extra: str = "") -> str:
    blocks = ['version: "3.1"', "nlu:"]
    for intent in INTENTS:
        blocks.append(f"- intent: {intent}\n  examples: |\n" + "".join(
            f"    - {intent} example {i}\n" for i in range(n)))
    return "\n".join(blocks) + "\n" + extra


def _kinds(root: Path, min_examples: int = 2) -> set[str]:
    return {p.kind for p in check(load(root), min_examples=min_examples) if p.error}


def test_validate_accepts_complete_data(tmp_path: Path) -> None:
    _write(tmp_path, "en", _complete())
    assert _kinds(tmp_path) == set()


def test_validate_catches_each_kind_of_error(tmp_path: Path) -> None:
    cases = {
        "unknown_intent": _complete(extra="- intent: book_flight\n  examples: |\n    - a flight\n    - a plane\n"),
        "duplicate": _complete(extra="- intent: greet\n  examples: |\n    - Deny Example 0\n"),
        "empty_intent": _complete().replace("    - help example 0\n    - help example 1\n", ""),
        "missing_intent": _complete().replace("- intent: privacy", "- intent: privacy_gone"),
        "too_few": _complete(n=1),
        "yaml": _complete() + "- intent: [unclosed\n",
        "format": _complete().replace("    - affirm example 0", "    affirm example 0"),
        "annotation": _complete(extra='- intent: visa_info\n  examples: |\n    - visa for [x]{"entity": "planet"}\n'),
    }
    for kind, body in cases.items():
        root = tmp_path / kind
        _write(root, "en", body)
        assert kind in _kinds(root), kind


def test_validate_command_prints_a_table_and_fails_on_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    _write(tmp_path, "en", _complete(n=20))
    _write(tmp_path, "fr", _complete(n=3))
    assert main(["nlu", "validate", "--data", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "lang" in out and "URGENT" in out and "failing: fr, nl, de" in out
    assert "no training data for de" in out
    assert "intent greet has 3 examples, fewer than 20" in out
    assert main(["nlu", "validate", "--data", str(tmp_path), "--lang", "en", "--quiet"]) == 0


# -- training and parsing ------------------------------------------------------------------------

SAMPLES = ["I want to go back to Georgia", "je veux demander l'asile", "ayúdenme me están pegando",
           "asdf qwerty", "status of VR-7K3M9Q", "ez dixwazim vegerim welatê xwe", "بدي ارجع ع سوريا"]


def test_training_is_deterministic(model: NLUModel) -> None:
    again = train(load(FIXTURES))
    assert again.fingerprint == model.fingerprint
    assert again.urgent_threshold == model.urgent_threshold
    np.testing.assert_array_equal(again.intent_probabilities(SAMPLES), model.intent_probabilities(SAMPLES))
    assert [again.parse(t, today=WEDNESDAY) for t in SAMPLES] == [model.parse(t, today=WEDNESDAY) for t in SAMPLES]


def test_saved_model_parses_the_same(model: NLUModel, model_file: Path) -> None:
    loaded = NLUModel.load(model_file)
    assert [loaded.parse(t, today=WEDNESDAY) for t in SAMPLES] == [model.parse(t, today=WEDNESDAY) for t in SAMPLES]


def test_parse_has_rasas_shape(model: NLUModel) -> None:
    result = model.parse("I want to go back to Sakartvelo", today=WEDNESDAY)
    assert set(result) == {"text", "language", "intent", "intent_ranking", "entities"}
    assert result["text"] == "I want to go back to Sakartvelo"
    assert result["language"]["code"] == "en" and 0 <= result["language"]["confidence"] <= 1
    assert result["intent"]["name"] == "voluntary_return"
    ranking = result["intent_ranking"]
    assert ranking[0] == result["intent"]
    assert [r["confidence"] for r in ranking] == sorted((r["confidence"] for r in ranking), reverse=True)
    assert {r["name"] for r in ranking} <= set(INTENTS)
    assert result["entities"] == [{"entity": "country", "value": "GE", "start": 21, "end": 31,
                                   "extractor": "gazetteer", "confidence": 1.0}]
    json.dumps(result)  # plain JSON types only
    assert model.parse("   ")["intent"] == {"name": None, "confidence": 0.0}


def test_urgent_help_wins_at_a_lower_threshold_and_doubt_falls_back(model: NLUModel) -> None:
    classes = model.intent_model.classes
    p = np.full(len(classes), 0.0)
    p[classes.index("greet")] = 1 - model.urgent_threshold
    p[classes.index("urgent_help")] = model.urgent_threshold
    assert model.decide(p)[0] == "urgent_help"
    flat = np.full(len(classes), 1 / len(classes))
    flat[classes.index("urgent_help")] = 0.0
    assert model.decide(flat / flat.sum()) == (FALLBACK, model.config.fallback_threshold)
    assert model.urgent_threshold <= 0.5


def test_language_identification_knows_kurmanji_and_arabizi(model: NLUModel) -> None:
    text = "ez dixwazim vegerim welatê xwe"
    assert langid.identify(text, OURS).code != "ku"  # CLD2 alone reads Kurmanji as something else
    assert langid.identify(text, OURS, model=model.language_model).code == "ku"
    assert model.parse(text)["language"]["code"] == "ku"
    arabizi = langid.identify("baddi arja3 3a bladi", OURS, model=model.language_model)
    assert arabizi.code == "ar" and arabizi.confidence > 0.5  # CLD2 alone: Afar, "reliably"
    identifier = langid.LanguageIdentifier(model.language_model)
    assert identifier.clearly_in("Ich möchte nach Hause zurückkehren", OURS) == "de"  # CLD2 still counts


# -- entities ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language", "value"),
    [
        ("I want to go back to Sakartvelo", "en", "GE"),
        ("je suis afghan", "fr", "AF"),
        ("soy eritreo y necesito visa", "es", "ER"),
        ("انا سوري واحتاج حماية", "ar", "SY"),
        ("ez ji Sûriyê reviyam", "ku", "SY"),
        ("ich will in die Türkei zurück", "de", "TR"),
        ("хочу вернуться в Грузию", "ru", "GE"),
        ("მინდა საქართველოში დაბრუნება", "ka", "GE"),
        ("I come from Afganistan", "en", "AF"),  # a typo
    ],
)
def test_countries_from_names_native_names_and_nationality_words(
    model: NLUModel, text: str, language: str, value: str
) -> None:
    found = [e for e in model.entities.extract(text, language, today=WEDNESDAY) if e["entity"] == "country"]
    assert [e["value"] for e in found] == [value]
    assert text[found[0]["start"]:found[0]["end"]].casefold() in text.casefold()


def test_language_names_become_our_codes(model: NLUModel) -> None:
    result = model.parse("speak Arabic please", today=WEDNESDAY)
    assert [(e["entity"], e["value"]) for e in result["entities"]] == [("language", "ar")]
    assert [(e["entity"], e["value"]) for e in model.entities.extract("habla inglés por favor", "es")] == [
        ("language", "en")]


@pytest.mark.parametrize(
    ("text", "language", "value"),
    [
        ("I can't come next Tuesday", "en", "2025-03-18"),
        ("I came last Friday", "en", "2025-03-07"),
        ("je ne peux pas venir mardi prochain", "fr", "2025-03-18"),
        ("no puedo ir el jueves", "es", "2025-03-13"),
        ("ich kann am Montag nicht kommen", "de", "2025-03-17"),
        ("ما بقدر اجي يوم الثلاثاء", "ar", "2025-03-18"),
        ("я не смогу прийти в среду", "ru", "2025-03-19"),
        ("tomorrow", "en", "2025-03-13"),
        ("demain", "fr", "2025-03-13"),
        ("born on 12/03/1990", "en", "1990-03-12"),
        ("le 3 mars 2025", "fr", "2025-03-03"),
        ("on 2025-04-01", "en", "2025-04-01"),
    ],
)
def test_dates_including_relative_weekdays(text: str, language: str, value: str) -> None:
    found = dates(text, language, WEDNESDAY)
    assert [s.value for s in found] == [value], text


def test_phone_numbers_and_references(model: NLUModel) -> None:
    entities = model.entities.extract("call me on 0470 12 34 56 about vr 7k3m9q or +32 2 793 80 00", "en",
                                      today=WEDNESDAY)
    assert [(e["entity"], e["value"]) for e in entities] == [
        ("phone", "+32470123456"), ("case_reference", "VR-7K3M9Q"), ("phone", "+3227938000")]
    assert [e["value"] for e in model.entities.extract("status of PA-ABCDEF", "en")] == ["PA-ABCDEF"]
    assert model.entities.extract("tell us please", "en") == []


def test_extractor_without_training_data_uses_babel_names() -> None:
    extractor = EntityExtractor()
    assert [e["value"] for e in extractor.extract("retour en Syrie", "fr")] == ["SY"]


# -- the service and the Rasa backend ---------------------------------------------------------------


async def _fake_rasa(behaviour: str) -> tuple[web.AppRunner, str]:
    async def parse(request: web.Request) -> web.Response:
        body = await request.json()
        if behaviour == "error":
            return web.Response(status=500)
        if behaviour == "slow":
            await asyncio.sleep(1)
        return web.json_response({
            "text": body["text"], "intent": {"name": "greet", "confidence": 0.99},
            "intent_ranking": [{"name": "greet", "confidence": 0.99}], "entities": []})

    app = web.Application()
    app.router.add_post("/model/parse", parse)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def test_rasa_backend_answers_when_it_is_up(model: NLUModel) -> None:
    runner, url = await _fake_rasa("ok")
    nlu = RasaNLU(url, EmbeddedNLU(model), timeout=1.0)
    try:
        result = await nlu.parse("call me on 0470 12 34 56")
    finally:
        await nlu.close()
        await runner.cleanup()
    assert result["intent"]["name"] == "greet"  # Rasa's
    assert result["language"]["code"] == "en"  # ours
    assert [e["entity"] for e in result["entities"]] == ["phone"]  # ours, where Rasa found none


@pytest.mark.parametrize("behaviour", ["error", "slow", "down"])
async def test_rasa_backend_falls_back_to_the_embedded_model(model: NLUModel, behaviour: str) -> None:
    runner, url = await _fake_rasa(behaviour)
    if behaviour == "down":
        await runner.cleanup()
    nlu = RasaNLU(url, EmbeddedNLU(model), timeout=0.3, retry_after=60)
    try:
        started = time.perf_counter()
        first = await nlu.parse("I want to go back to Georgia")
        second = await nlu.parse("I want to go back to Georgia")  # the server is left alone for a while
        assert time.perf_counter() - started < 1.5
    finally:
        await nlu.close()
        if behaviour != "down":
            await runner.cleanup()
    assert first["intent"]["name"] == second["intent"]["name"] == "voluntary_return"


async def test_load_nlu_trains_when_the_model_is_missing_or_stale(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    for lang in ("en", "fr"):
        (data / lang).mkdir(parents=True)
        (data / lang / "nlu.yml").write_bytes((FIXTURES / lang / "nlu.yml").read_bytes())
    settings = SimpleNamespace(nlu_model_path=tmp_path / "model.npz", nlu_url="", timezone="Europe/Brussels")
    caplog.set_level("INFO", logger="nlu.service")
    nlu = load_nlu(settings, data_dir=data)
    assert "is missing: training it" in caplog.text
    assert (await nlu.parse("je veux rentrer chez moi"))["intent"]["name"] == "voluntary_return"
    assert nlu.language_identifier().model is not None

    caplog.clear()
    load_nlu(settings, data_dir=data)
    assert "training" not in caplog.text

    future = time.time() + 10
    os.utime(data / "fr" / "nlu.yml", (future, future))
    load_nlu(settings, data_dir=data)
    assert "older than the training data" in caplog.text

    rasa = load_nlu(SimpleNamespace(**{**vars(settings), "nlu_url": "http://127.0.0.1:9"}), data_dir=data)
    assert isinstance(rasa, RasaNLU) and rasa.url == "http://127.0.0.1:9/model/parse"
    await rasa.close()


# -- the command line ------------------------------------------------------------------------


def test_cli_parse_reads_one_message_per_line(
    model_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    from bot.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO("I want to go back to Georgia\nstatus of VR-7K3M9Q\n\n"))
    assert main(["nlu", "parse", "--model", str(model_file)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    parsed = [json.loads(line) for line in lines]
    assert parsed[0]["intent"]["name"] == "voluntary_return"
    assert parsed[1]["entities"][0]["value"] == "VR-7K3M9Q"
    assert parsed[2]["intent"]["name"] is None

    assert main(["nlu", "parse", "--model", str(model_file), "je veux demander l'asile"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert one["language"]["code"] == "fr" and one["intent"]["name"] == "protection_registration"


def test_cli_train_writes_the_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    path = tmp_path / "m.npz"
    assert main(["nlu", "train", "--data", str(FIXTURES), "--model", str(path)]) == 0
    assert "trained on" in capsys.readouterr().out
    assert NLUModel.load(path).trained.examples == len(load(FIXTURES).examples)


def test_loading_text_with_a_list_of_examples() -> None:
    lang = LanguageData("en")
    load_text('version: "3.1"\nnlu:\n- intent: greet\n  examples:\n  - text: hello\n  - hi\n', lang)
    assert [e.text for e in lang.examples] == ["hello", "hi"] and not lang.problems


def test_arabizi_digits_are_read_as_letters_but_numbers_stay_numbers() -> None:
    from nlu.text import for_intent

    assert for_intent("bdi 7imaye, ma b2dar erja3") == for_intent("bdi himaye, ma bdar erjaa")
    assert for_intent("ana 3ayez arga3") == "ana aayez argaa"
    assert for_intent("15 x 7 = ?") == "15 x 7 = ?"
    assert "vrref" in for_intent("status of VR-7K3M9Q")
