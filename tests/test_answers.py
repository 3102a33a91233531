"""Typed answers: what the applicant types or clicks → a value, or a clear message."""

from __future__ import annotations

import ast
import time
from datetime import date
from pathlib import Path
from typing import get_args

import pytest

import bot.answers
from bot.answers import ANSWER_TYPES, Choice, Invalid, Rules, Valid, display, validate
from bot.engine.flow import AskStep
from bot.i18n import supported_locales
from bot.i18n import use_locale

TODAY = date(2026, 3, 10)

PURPOSES = (
    Choice("work", "Work"),
    Choice("study", "Study"),
    Choice("family", "Family reunification"),
)
COUNTRY = Rules(
    "country",
    choices=(Choice("stateless", "Stateless"), Choice("unknown", "I don't know")),
)


def ok(rules: Rules, answer: str) -> Valid:
    result = validate(rules, answer, today=TODAY)
    assert isinstance(result, Valid), result
    return result


def bad(rules: Rules, answer: str) -> str:
    result = validate(rules, answer, today=TODAY)
    assert isinstance(result, Invalid), result
    assert result.message
    return result.message


def test_unknown_type_raises() -> None:
    with pytest.raises(ValueError):
        validate(Rules("colour"), "red", today=TODAY)
    with pytest.raises(ValueError):
        display(Rules("colour"), "red")


# --------------------------------------------------------------------------- text


def test_text_is_trimmed() -> None:
    assert ok(Rules("text"), "  Jan Peeters \n") == Valid("Jan Peeters", "Jan Peeters")


@pytest.mark.parametrize("answer", ["", "   ", "?!", "...", " - "])
def test_text_needs_letters_or_digits(answer: str) -> None:
    assert "letters or numbers" in bad(Rules("text"), answer)


def test_text_length_bounds() -> None:
    rules = Rules("text", min_length=2, max_length=5)
    assert ok(rules, "ab").value == "ab"
    assert ok(rules, " abcde ").value == "abcde"
    assert bad(rules, "a") == "Please type at least 2 characters."
    assert bad(rules, "abcdef") == "Please keep it to 5 characters at most (you typed 6)."


def test_text_max_length_singular() -> None:
    assert "1 character at most" in bad(Rules("text", max_length=1), "ab")


# --------------------------------------------------------------------------- choice


@pytest.mark.parametrize(
    ("answer", "value"),
    [
        ("work", "work"),  # button payload
        ("2", "study"),  # number of the option
        (" 3 ", "family"),
        ("STUDY", "study"),
        ("family reunification", "family"),
        ("Family re-unification!", "family"),
        ("famliy reunification", "family"),  # typo
    ],
)
def test_choice_single(answer: str, value: str) -> None:
    assert ok(Rules("choice", choices=PURPOSES), answer).value == value


@pytest.mark.parametrize("answer", ["", "0", "4", "holiday", "w"])
def test_choice_invalid_lists_options(answer: str) -> None:
    message = bad(Rules("choice", choices=PURPOSES), answer)
    assert "Work, Study, Family reunification" in message


def test_choice_display_in_english_and_french() -> None:
    rules = Rules("choice", choices=PURPOSES)
    assert ok(rules, "1").display == "Work"
    with use_locale("fr"):  # no French catalog yet: the English title is shown
        assert display(rules, "family") == "Family reunification"


def test_choice_ambiguous_typo_is_not_guessed() -> None:
    rules = Rules("choice", choices=(Choice("a", "Work permit A"), Choice("b", "Work permit B")))
    assert ok(rules, "work permit b").value == "b"
    assert ok(rules, "wrok permit B").value == "b"
    assert bad(rules, "work permit") == "Which one do you mean: Work permit A, Work permit B?"


@pytest.mark.parametrize(
    "answer",
    ["1, 3", "3,1", "1 3", "1 and 3", "family reunification, work", "work and famly reunification"],
)
def test_choice_multiple_keeps_choice_order(answer: str) -> None:
    result = ok(Rules("choice", choices=PURPOSES, multiple=True), answer)
    assert result.value == ["work", "family"]
    assert result.display == "Work, Family reunification"


def test_choice_multiple_french_and_dutch_conjunctions() -> None:
    rules = Rules("choice", choices=PURPOSES, multiple=True)
    with use_locale("fr"):
        assert ok(rules, "study et work").value == ["work", "study"]
    with use_locale("nl"):
        assert ok(rules, "2 en 1").value == ["work", "study"]


@pytest.mark.parametrize(("locale", "answer"), [("ar", "1، 3"), ("fa", "3 ، 1"), ("ps", "1؛3"), ("ti", "1፣ 3")])
def test_choice_multiple_arabic_and_ethiopic_commas(locale: str, answer: str) -> None:
    with use_locale(locale):
        assert ok(Rules("choice", choices=PURPOSES, multiple=True), answer).value == ["work", "family"]


def test_choice_multiple_single_value_and_payload() -> None:
    rules = Rules("choice", choices=PURPOSES, multiple=True)
    assert ok(rules, "study").value == ["study"]
    assert ok(rules, "work,study").value == ["work", "study"]


def test_choice_multiple_title_containing_a_conjunction() -> None:
    rules = Rules(
        "choice",
        choices=(Choice("online", "Apply en ligne"), Choice("desk", "At the desk")),
        multiple=True,
    )
    assert ok(rules, "Apply en ligne").value == ["online"]
    assert ok(rules, "2, apply en ligne").value == ["online", "desk"]


@pytest.mark.parametrize("answer", ["", "work, holiday", "1, 9", "and"])
def test_choice_multiple_invalid(answer: str) -> None:
    message = bad(Rules("choice", choices=PURPOSES, multiple=True), answer)
    assert "one or more" in message
    assert "Family reunification" in message


def test_choice_multiple_display() -> None:
    rules = Rules("choice", choices=PURPOSES, multiple=True)
    assert display(rules, ["study", "family"]) == "Study, Family reunification"


# --------------------------------------------------------------------------- yes / no


@pytest.mark.parametrize(
    "answer", ["yes", "Yes", "y", "YEAH", "yep", "ok", "Sure!", "correct", " yes please "]
)
def test_yes(answer: str) -> None:
    assert ok(Rules("yes_no"), answer) == Valid(True, "Yes")


@pytest.mark.parametrize("answer", ["no", "No.", "n", "nope", "not", "no thanks"])
def test_no(answer: str) -> None:
    assert ok(Rules("yes_no"), answer) == Valid(False, "No")


@pytest.mark.parametrize("answer", ["", "maybe", "yes no", "later", "?"])
def test_yes_no_invalid(answer: str) -> None:
    assert bad(Rules("yes_no"), answer) == "Please answer yes or no."


def test_yes_no_payloads_and_english_in_french() -> None:
    with use_locale("fr"):
        assert ok(Rules("yes_no"), "yes").value is True
        assert ok(Rules("yes_no"), "no").value is False
        assert ok(Rules("yes_no"), "OK").value is True
        assert ok(Rules("yes_no"), "oui").value is True
        assert ok(Rules("yes_no"), "Non").value is False
        assert display(Rules("yes_no"), True) == "Oui"


def test_consent_needs_a_clear_answer() -> None:
    rules = Rules("consent")
    assert ok(rules, "yes").value is True
    assert ok(rules, "I agree").value is True
    assert ok(rules, "no").value is False
    assert "agree" in bad(rules, "maybe")
    assert "agree" in bad(rules, "yes but")
    assert display(rules, False) == "No"


# --------------------------------------------------------------------------- date


@pytest.mark.parametrize(
    "answer",
    ["2026-12-01", "01/12/2026", "1/12/2026", "1.12.2026", "01-12-2026", "1 december 2026",
     "December 1, 2026", "1 Dec 2026", "01/12/26"],
)
def test_date_formats_are_day_first(answer: str) -> None:
    assert ok(Rules("date"), answer) == Valid("2026-12-01", "December 1, 2026")


def test_date_relative_to_today() -> None:
    assert ok(Rules("date"), "tomorrow").value == "2026-03-11"
    assert ok(Rules("date"), "today").value == "2026-03-10"


def test_date_two_digit_years() -> None:
    assert ok(Rules("date"), "15/06/85").value == "1985-06-15"
    assert ok(Rules("date"), "15/06/05").value == "2005-06-15"


def test_date_french() -> None:
    with use_locale("fr"):
        assert ok(Rules("date"), "1 décembre 2026") == Valid("2026-12-01", "1 décembre 2026")
        assert ok(Rules("date"), "1er décembre 2026").value == "2026-12-01"
        assert ok(Rules("date"), "demain").value == "2026-03-11"
        assert ok(Rules("date"), "01/12/2026").display == "1 décembre 2026"


def test_date_dutch() -> None:
    with use_locale("nl"):
        assert ok(Rules("date"), "1 december 2026") == Valid("2026-12-01", "1 december 2026")
        assert ok(Rules("date"), "morgen").value == "2026-03-11"


@pytest.mark.parametrize("answer", ["", "hello", "31/02/2026", "12/31/2026", "2026-13-01", "no"])
def test_date_invalid(answer: str) -> None:
    message = bad(Rules("date"), answer)
    assert "day/month/year" in message
    assert "10/03/2026" in message


def test_date_bounds() -> None:
    rules = Rules("date", min_date=date(2026, 3, 10), max_date=date(2026, 12, 31))
    assert ok(rules, "10/03/2026").value == "2026-03-10"
    assert ok(rules, "31/12/2026").value == "2026-12-31"
    message = "Please give a date between March 10, 2026 and December 31, 2026."
    assert bad(rules, "09/03/2026") == message
    assert bad(rules, "01/01/2027") == message


def test_date_single_bounds_in_french() -> None:
    with use_locale("fr"):
        after = Rules("date", min_date=date(2026, 3, 10))
        assert bad(after, "2026-03-09") == "Veuillez donner une date à partir du 10 mars 2026."
        before = Rules("date", max_date=date(2026, 3, 10))
        assert bad(before, "demain") == "Veuillez donner une date au plus tard le 10 mars 2026."


def test_date_display_follows_current_locale() -> None:
    rules = Rules("date")
    assert display(rules, "2026-12-01") == "December 1, 2026"
    with use_locale("fr"):
        assert display(rules, "2026-12-01") == "1 décembre 2026"
    with use_locale("nl"):
        assert display(rules, "2026-12-01") == "1 december 2026"


# --------------------------------------------------------------------------- number


@pytest.mark.parametrize(("answer", "value"), [("3", 3), (" 3 ", 3), ("+3", 3), ("3.0", 3)])
def test_number_integers(answer: str, value: int) -> None:
    result = ok(Rules("number"), answer)
    assert result.value == value
    assert isinstance(result.value, int)


def test_number_thousands() -> None:
    assert ok(Rules("number"), "1 000").value == 1000
    assert ok(Rules("number"), "1,000").value == 1000
    assert ok(Rules("number"), "1.234.567").value == 1234567


def test_number_decimals() -> None:
    rules = Rules("number", integer=False)
    assert ok(rules, "3,5") == Valid(3.5, "3.5")
    assert ok(rules, "3.5").value == 3.5
    assert ok(rules, "1.234,5").value == 1234.5
    assert ok(rules, "1,234.5").value == 1234.5
    assert ok(rules, "4").value == 4


def test_number_decimals_in_french() -> None:
    rules = Rules("number", integer=False)
    with use_locale("fr"):
        assert ok(rules, "3,5") == Valid(3.5, "3,5")
        assert ok(rules, "1.500").value == 1500
        assert display(rules, 1234.5) == "1\u202f234,5"


def test_number_must_be_whole_when_integer() -> None:
    assert "whole number" in bad(Rules("number"), "3,5")


@pytest.mark.parametrize("answer", ["", "three and a half", "3 children", "1 2", "1e5", "--3"])
def test_number_invalid(answer: str) -> None:
    assert bad(Rules("number"), answer) == "Please type a number using digits, for example 3."


def test_number_bounds() -> None:
    rules = Rules("number", min_value=0, max_value=20)
    assert ok(rules, "0").value == 0
    assert ok(rules, "20").value == 20
    assert bad(rules, "21") == "Please type a number between 0 and 20."
    assert bad(rules, "-1") == "Please type a number between 0 and 20."
    assert bad(rules, "many") == "Please type a number between 0 and 20."


def test_number_single_bounds() -> None:
    assert bad(Rules("number", min_value=18), "17") == "Please type a number that is 18 or more."
    assert bad(Rules("number", max_value=1500), "2000") == (
        "Please type a number that is 1,500 or less."
    )
    with use_locale("nl"):
        assert bad(Rules("number", max_value=1500), "2000") == (
            "Typ een getal van 1.500 of minder."
        )


# --------------------------------------------------------------------------- phone


@pytest.mark.parametrize(
    "answer",
    ["+32 470 12 34 56", "0470 12 34 56", "0032470123456", "0470/12.34.56", "+32470123456"],
)
def test_phone_belgian(answer: str) -> None:
    assert ok(Rules("phone"), answer) == Valid("+32470123456", "+32 470 12 34 56")


def test_phone_foreign_and_region() -> None:
    assert ok(Rules("phone"), "+33 6 12 34 56 78").value == "+33612345678"
    assert ok(Rules("phone", default_region="FR"), "06 12 34 56 78").value == "+33612345678"


@pytest.mark.parametrize("answer", ["", "12345", "call me", "0470 12", "+32 1", "1-800-FLOWERS"])
def test_phone_invalid_gives_example(answer: str) -> None:
    message = bad(Rules("phone"), answer)
    assert "country code" in message
    assert "+32 " in message


def test_phone_display() -> None:
    assert display(Rules("phone"), "+32470123456") == "+32 470 12 34 56"


# --------------------------------------------------------------------------- email


def test_email_normalised() -> None:
    result = ok(Rules("email"), "  Jan.Peeters@Example.COM ")
    assert result == Valid("Jan.Peeters@example.com", "Jan.Peeters@example.com")


@pytest.mark.parametrize(
    "answer", ["", "jan", "jan@", "a@b", "jan@@example.com", "jan peeters@x.be"]
)
def test_email_invalid(answer: str) -> None:
    assert "email address" in bad(Rules("email"), answer)


# --------------------------------------------------------------------------- country


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        ("Belgium", "BE"),
        ("belgique", "BE"),
        ("België", "BE"),
        ("belgie", "BE"),
        ("Morocco", "MA"),
        ("Maroc", "MA"),
        ("Marokko", "MA"),
        ("Marocco", "MA"),  # typo
        ("Afganistan", "AF"),  # typo
        ("BE", "BE"),
        ("ma", "MA"),
        ("MAR", "MA"),
        ("the Netherlands", "NL"),
        ("Holland", "NL"),
        ("l'Allemagne", "DE"),
        ("Duitsland", "DE"),
        ("RDC", "CD"),
        ("DR Congo", "CD"),
        ("Congo (Kinshasa)", "CD"),
        ("Congo-Brazzaville", "CG"),
        ("Ivory Coast", "CI"),
        ("cote d ivoire", "CI"),
        ("Turkey", "TR"),
        ("Türkiye", "TR"),
        ("Russia", "RU"),
        ("UK", "GB"),
        ("England", "GB"),
        ("USA", "US"),
        ("America", "US"),
        ("Burma", "MM"),
        ("Syrie", "SY"),
        ("Бельгия", "BE"),
        ("بلجيكا", "BE"),
        ("Niger", "NE"),
        ("Nigeria", "NG"),
        ("Kosovo", "XK"),
    ],
)
def test_country_names_codes_and_aliases(answer: str, code: str) -> None:
    assert ok(COUNTRY, answer).value == code


@pytest.mark.parametrize(
    ("answer", "value"),
    [
        ("stateless", "stateless"),
        ("Stateless", "stateless"),
        ("stateles", "stateless"),
        ("unknown", "unknown"),
        ("I dont know", "unknown"),
    ],
)
def test_country_extra_choices(answer: str, value: str) -> None:
    assert ok(COUNTRY, answer).value == value


def test_country_extra_choices_display() -> None:
    assert ok(COUNTRY, "unknown").display == "I don't know"
    assert display(COUNTRY, "stateless") == "Stateless"


@pytest.mark.parametrize("answer", ["Congo", "Korea"])
def test_country_ambiguous_asks_for_full_name(answer: str) -> None:
    assert "full name" in bad(COUNTRY, answer)


def test_country_ambiguous_lists_candidates() -> None:
    message = bad(COUNTRY, "Congo")
    assert "Congo - Kinshasa" in message
    assert "Congo - Brazzaville" in message


@pytest.mark.parametrize(
    "answer", ["", "xyzzy", "Atlantis", "Europe", "EU", "ZZ", "123", "Eurozone"]
)
def test_country_unknown(answer: str) -> None:
    message = bad(COUNTRY, answer)
    assert "full name" in message
    assert "Stateless, I don't know" in message


def test_country_without_extra_choices() -> None:
    rules = Rules("country")
    assert ok(rules, "Belgium").value == "BE"
    assert "You can also answer" not in bad(rules, "Atlantis")


def test_country_in_french() -> None:
    with use_locale("fr"):
        assert ok(COUNTRY, "Allemagne") == Valid("DE", "Allemagne")
        assert ok(COUNTRY, "Germany") == Valid("DE", "Allemagne")
        assert ok(COUNTRY, "Etats-Unis").value == "US"
        assert display(COUNTRY, "BE") == "Belgique"
        assert bad(COUNTRY, "Atlantis").startswith("Je n'ai pas trouvé ce pays")
        assert "Belgique" in bad(COUNTRY, "Atlantis")


def test_country_in_dutch() -> None:
    with use_locale("nl"):
        assert ok(COUNTRY, "Verenigd Koninkrijk") == Valid("GB", "Verenigd Koninkrijk")
        assert ok(COUNTRY, "marokko").display == "Marokko"
        assert display(COUNTRY, "CI") == "Ivoorkust"


def test_country_is_fast_after_warm_up() -> None:
    answers = ["Belgium", "Marocco", "RDC", "stateless", "BE", "Atlantis"]
    for answer in answers:
        validate(COUNTRY, answer, today=TODAY)
    rounds = 50
    start = time.perf_counter()
    for _ in range(rounds):
        for answer in answers:
            validate(COUNTRY, answer, today=TODAY)
    per_call = (time.perf_counter() - start) / (rounds * len(answers))
    assert per_call < 0.001


def test_answer_types_are_the_contract_of_expects() -> None:
    assert list(ANSWER_TYPES) == [
        "text", "choice", "yes_no", "date", "number", "phone", "email", "country", "consent"
    ]


def test_a_question_may_have_exactly_the_registered_types() -> None:
    assert get_args(AskStep.model_fields["type"].annotation) == tuple(ANSWER_TYPES)


def test_warm_up_samples_are_read_as_valid_answers_in_every_language() -> None:
    """A sample that fails early (an unknown word) would skip the data warm_up is for."""
    samples = {name: kind.warm_up_answer for name, kind in ANSWER_TYPES.items() if kind.warm_up_answer}
    assert set(samples) == {"country", "date", "phone", "yes_no"}
    for locale in supported_locales():
        with use_locale(locale):
            for name, sample in samples.items():
                assert isinstance(validate(Rules(name), sample, today=TODAY), Valid), (locale, name)


def test_answers_sit_below_the_engine() -> None:
    """bot.answers is used by the engine and uses only the catalogs (bot.i18n)."""
    package = Path(bot.answers.__file__).parent
    for module in package.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level > 1:
                names = [f"bot.{node.module or node.names[0].name}"]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                assert name == "bot.i18n" or not name.startswith("bot"), f"{module.name} imports {name}"
