"""Search and possible duplicates through blind indexes: names, dates of birth and phones
are found without ever being stored in clear; the access check filters every result;
erasure and lookup-key rotation keep the index true."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, text, true
from sqlalchemy.engine import make_url

from bot.cases.references import normalise
from bot.engine.loader import FlowSet
from bot.store.case_search import MARKER, CaseSearch, ensure_search_index, reindex
from bot.store.crypto import Cipher, generate_key, generate_lookup_key
from bot.store.keys import rehash
from bot.store.models import AuditEntry, CaseRow, CaseSearchTerm, KeyCheck
from bot.store.search_index import (
    WordKeys,
    applicant_values,
    birth_date,
    fold,
    latin,
    name_words,
    parse_query,
    phone_number,
)
from bot.store.staff import StaffDirectory
from bot.store.store import Store

from .backoffice_cases import make_case, make_user
from .backoffice_http import backoffice, client, page_csrf, sign_in
from .conftest import START, Clock

NINO = {"name": "Nino Beridze", "date_of_birth": "1990-05-17", "phone": "+32470123456"}


# --- normalisation ------------------------------------------------------------------------


def test_names_are_folded_into_words_without_accents_or_case() -> None:
    assert fold("ÉLODIE") == "elodie"
    assert fold("ﬁlippo") == "filippo"  # NFKC: the ligature is two letters
    assert name_words("  Nguyễn  VĂN-Anh ") == ["nguyen", "van", "anh"]
    assert name_words("مُحَمَّد") == ["محمد"]  # the short vowels are marks, not letters


@pytest.mark.parametrize("spellings", [
    ("Мухаммад", "محمد", "Muhammad", "Mohammed", "Mohamed"),
    ("Ахмед", "احمد", "Ahmed"),
    ("Фатима", "فاطمة", "Fatima"),
    ("Юсуф", "يوسف", "Yusuf"),
    ("Халид", "خالد", "Khalid"),
])
def test_one_name_in_several_scripts_meets_in_its_sound_key(spellings: tuple[str, ...]) -> None:
    keys = {WordKeys.of(name_words(s)[0]).sound for s in spellings}
    assert len(keys) == 1, keys


@pytest.mark.parametrize("cyrillic, latin_spelling", [
    ("Ибрагим", "Ibrahim"), ("Магомед", "Mohammed"), ("Гасан", "Hasan"), ("Гусейн", "Hussein"),
    ("Георгий", "Giorgi"), ("Ольга", "Olga"),
])
def test_a_cyrillic_g_meets_the_h_it_often_stands_for_and_the_g_it_is(cyrillic: str, latin_spelling: str) -> None:
    """Russian writes the h of Arabic and Turkic names as г; the word keeps its g key too."""
    assert WordKeys.of(latin_spelling.casefold()).sound in WordKeys.of(name_words(cyrillic)[0]).sounds
    assert WordKeys.of(name_words(cyrillic)[0]).sound == WordKeys.of(latin(name_words(cyrillic)[0])).sound


def test_the_latin_form_is_anyascii_s_transliteration() -> None:
    assert WordKeys.of("беридзе").latin == "beridze"
    assert WordKeys.of("müller").latin == "muller"
    assert WordKeys.of("ali").sound == WordKeys.of("علي").sound == "l"
    assert WordKeys.of("aia").sound == "aia"  # no consonant: the word itself


def test_dates_and_phones_are_normalised() -> None:
    assert birth_date("1990-05-17") == "1990-05-17"
    assert birth_date("1990-05-17T00:00:00") == "1990-05-17"
    assert birth_date("17 May") is None
    assert phone_number("0470 12 34 56") == "+32470123456"
    assert phone_number("+32 (470) 12-34-56") == "+32470123456"
    assert phone_number("12") is None
    assert list(applicant_values(NINO)) == [
        ("name", "nino"), ("name_sound", "n"), ("name", "beridze"), ("name_sound", "brds"),
        ("dob", "1990-05-17"), ("phone", "+32470123456"),
    ]
    assert ("name_latin", "beridze") in list(applicant_values({"name": "Беридзе"}))


def test_one_search_box_reads_names_dates_phones_and_references() -> None:
    q = parse_query("Beridze 17/05/1990 +32 470 12 34 56", reference_of=normalise)
    assert [w.folded for w in q.words] == ["beridze"]
    assert (q.dob, q.phone, q.reference) == ("1990-05-17", "+32470123456", None)
    assert parse_query("17.05.1990").dob == "1990-05-17"
    assert parse_query("vr-7k3m9q", reference_of=normalise).reference == "VR-7K3M9Q"
    assert parse_query("31/02/1990").unreadable == ("date",)
    assert parse_query("  ").empty
    assert parse_query("Nino 0470123456").kinds() == ["name", "phone"]


# --- the store -----------------------------------------------------------------------------


async def _cases(store: Store) -> dict[str, str]:
    made = {
        "nino": await make_case(store, START, "voluntary_return", "voluntary_return", sender="a", applicant=NINO),
        "cyrillic": await make_case(store, START, "voluntary_return", "voluntary_return", sender="b",
                                    applicant={"name": "Беридзе Нино", "date_of_birth": "1990-05-17"}),
        "other": await make_case(store, START, "visa_question", "visa_info", sender="c",
                                 applicant={"name": "Muhammad Ali", "phone": "+32470999888"}),
        "arabic": await make_case(store, START, "visa_question", "visa_info", sender="d",
                                  applicant={"name": "محمد علي", "date_of_birth": "1988-01-02"}),
    }
    return {k: c.reference for k, c in made.items()}


async def _found(store: Store, typed: str) -> dict[str, str]:
    results, _ = await CaseSearch(store).search(true(), parse_query(typed, reference_of=normalise))
    return {hit.line.reference: hit.match for hit in results}


async def test_search_by_name_in_any_order_and_script_by_date_and_phone(store: Store) -> None:
    refs = await _cases(store)
    assert await _found(store, "nino beridze") == {refs["nino"]: "exact", refs["cyrillic"]: "transliterated"}
    assert await _found(store, "BERIDZE Nino") == {refs["nino"]: "exact", refs["cyrillic"]: "transliterated"}
    assert set(await _found(store, "Нино")) == {refs["nino"], refs["cyrillic"]}
    found = await _found(store, "Muhammad")
    assert found[refs["other"]] == "exact" and found[refs["arabic"]] == "similar"
    assert list(found)[0] == refs["other"]  # the exact match first
    assert await _found(store, "17/05/1990") == {refs["nino"]: "exact", refs["cyrillic"]: "exact"}
    assert await _found(store, "beridze 1990-05-17 0470 12 34 56") == {refs["nino"]: "exact"}
    assert await _found(store, "Beridze 1991-05-17") == {}
    assert await _found(store, refs["other"].lower()) == {refs["other"]: "exact"}
    assert await _found(store, "nobody") == {}


async def test_a_name_written_in_russian_is_found_as_staff_spell_it(store: Store) -> None:
    ibrahim = await make_case(store, START, "voluntary_return", "voluntary_return", sender="e",
                              applicant={"name": "Ибрагим Магомедов"})
    assert await _found(store, "Ibrahim") == {ibrahim.reference: "similar"}
    assert await _found(store, "Ибрагим") == {ibrahim.reference: "exact"}
    assert await _found(store, "Ibragim") == {ibrahim.reference: "transliterated"}


async def test_no_name_date_or_phone_is_stored_in_clear(store: Store, tmp_path: Path) -> None:
    await _cases(store)
    secrets = ["Nino", "Beridze", "beridze", "nino", "1990-05-17", "470123456", "Беридзе", "беридзе", "mhmd", "brds"]
    async with store.reading() as session:
        count = await session.scalar(select(func.count()).select_from(CaseSearchTerm))
        assert count and count >= 10
        tables = [t for t in (await session.execute(text(
            "SELECT name FROM sqlite_master WHERE type='table'" if store.dialect == "sqlite"
            else "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ))).scalars()]
        for table in tables:
            for row in (await session.execute(text(f'SELECT * FROM "{table}"'))).all():
                dumped = repr(tuple(row))
                assert not [s for s in secrets if s in dumped], (table, dumped[:200])
    if store.dialect == "sqlite":
        await store.close()
        folder = Path(make_url(str(store.engine.url)).database or "").parent
        for path in folder.glob("intake.db*"):
            raw = path.read_bytes()
            for secret in secrets:
                assert secret.encode() not in raw, (path.name, secret)


async def test_erasure_removes_the_index_rows(store: Store, clock: Clock) -> None:
    refs = await _cases(store)
    assert await store.erase_case(refs["nino"], START, actor="cli", reason="asked by letter") == "erased"
    assert await _found(store, "beridze") == {refs["cyrillic"]: "transliterated"}
    async with store.turn("rest", "b", START) as turn:  # the applicant of the Cyrillic case: /forget
        await turn.erase(START)
    assert await _found(store, "beridze") == {}
    async with store.reading() as session:
        orphans = await session.scalar(
            select(func.count()).select_from(CaseSearchTerm).where(~CaseSearchTerm.case_id.in_(select(CaseRow.id)))
        )
        assert orphans == 0


async def test_a_new_lookup_key_rekeys_the_index(store: Store) -> None:
    refs = await _cases(store)
    async with store.reading() as session:
        before = set((await session.scalars(select(CaseSearchTerm.digest))).all())
    new = _same_ring_new_lookup(store.cipher)
    done = await rehash(store, new)
    assert done["cases_indexed"] == 4
    async with store.reading() as session:
        after = set((await session.scalars(select(CaseSearchTerm.digest))).all())
        assert await session.scalar(select(KeyCheck.fingerprint).where(KeyCheck.name == MARKER)) is not None
    assert before and after and not before & after
    assert await _found(store, "beridze") == {}  # the old key finds nothing any more
    rekeyed = Store(store.engine, new)
    assert set(await _found(rekeyed, "beridze")) == {refs["nino"], refs["cyrillic"]}
    assert await ensure_search_index(rekeyed) is None  # the marker says: built with this key


def _same_ring_new_lookup(cipher: Cipher) -> Cipher:
    """The same encryption keys (so the cases decrypt), another lookup key."""
    clone = Cipher([generate_key()], generate_lookup_key())
    clone._fernet = cipher._fernet
    return clone


async def test_a_database_without_its_index_gets_it_at_start(store: Store) -> None:
    refs = await _cases(store)
    async with store.locks.writer(), store._sessions() as session, session.begin():
        await session.execute(delete(CaseSearchTerm))  # as after the migration that adds the table
    assert await _found(store, "beridze") == {}
    assert await ensure_search_index(store) == 4
    assert await ensure_search_index(store) is None
    assert set(await _found(store, "beridze")) == {refs["nino"], refs["cyrillic"]}
    assert await reindex(store, batch=1) == 4  # in batches, again: the same rows
    assert set(await _found(store, "beridze")) == {refs["nino"], refs["cyrillic"]}


async def test_possible_duplicates_share_a_phone_or_a_date_of_birth_and_two_name_words(store: Store) -> None:
    refs = await _cases(store)
    same_phone = await make_case(store, START, "protection_appointment", "protection_appointment", sender="e",
                                 applicant={"name": "Someone Else", "phone": "+32470123456"})
    named_only = await make_case(store, START, "voluntary_return", "voluntary_return", sender="f",
                                 applicant={"name": "Nino Beridze"})
    search = CaseSearch(store)
    nino_id = (await store.case(refs["nino"])).id  # type: ignore[union-attr]
    found = {d.line.reference: d.reasons for d in await search.duplicates(true(), nino_id)}
    assert found == {refs["cyrillic"]: ("name_and_date_of_birth",), same_phone.reference: ("phone",)}
    assert named_only.reference not in found  # a name alone is not enough
    arabic_id = (await store.case(refs["arabic"])).id  # type: ignore[union-attr]
    assert await search.duplicates(true(), arabic_id) == []  # same name as "other", no date or phone in common


# --- over HTTP, with the access check -----------------------------------------------------


@pytest.fixture
async def site(store: Store, flows: FlowSet, clock: Clock) -> AsyncIterator[tuple[str, dict[str, str]]]:
    d = StaffDirectory(store)
    for email, org in (("io@example.org", "immigration-office"), ("fedasil@example.org", "fedasil")):
        await make_user(d, email, "caseworker", org, START)
    refs = await _cases(store)
    async with backoffice(store, flows, clock) as base:
        yield base, refs


async def _search(session, typed: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    token = await page_csrf(session, "/backoffice/search")
    async with session.post("/backoffice/search", data={"q": typed, "csrf_token": token}) as response:
        return response.status, await response.text()


async def test_a_caseworker_finds_only_the_cases_they_may_see(site, store: Store) -> None:  # type: ignore[no-untyped-def]
    base, refs = site
    async with client(base) as session:
        await sign_in(session, "io@example.org")
        status, page = await _search(session, "Nino Beridze")
        assert status == 200 and refs["nino"] not in page and refs["cyrillic"] not in page
        assert "Found: 0" in page
        status, page = await _search(session, refs["nino"])  # not by its reference either
        assert refs["nino"] not in page.split("<h2>", 1)[1]
        status, page = await _search(session, "Muhammad")  # a visa question: theirs
        assert refs["other"] in page and refs["arabic"] in page
    async with client(base) as session:
        await sign_in(session, "fedasil@example.org")
        status, page = await _search(session, "beridze nino")
        assert refs["nino"] in page and refs["cyrillic"] in page
        assert "Nino" not in page.split("</form>", 1)[1].replace('value="beridze nino"', "")
    async with store.reading() as session:
        details = (await session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "search"))).all()
    assert "by=name;found=0" in details and "by=name;found=2" in details
    assert not [d for d in details if "beridze" in d.lower() or "nino" in d.lower() or refs["nino"] in d]


async def test_the_case_page_lists_possible_duplicates_the_user_may_see(site) -> None:  # type: ignore[no-untyped-def]
    base, refs = site
    async with client(base) as session:
        await sign_in(session, "fedasil@example.org")
        async with session.get(f"/backoffice/cases/{refs['nino']}") as response:
            page = await response.text()
        assert "Possible duplicates" in page and f'href="/backoffice/cases/{refs["cyrillic"]}"' in page
        assert "same date of birth and name" in page


async def test_a_search_needs_something_readable_and_a_csrf_token(site) -> None:  # type: ignore[no-untyped-def]
    base, _ = site
    async with client(base) as session:
        await sign_in(session, "fedasil@example.org")
        status, page = await _search(session, "31/02/1990")
        assert status == 400 and "That date does not exist" in page
        status, page = await _search(session, "   ")
        assert status == 400
        async with session.post("/backoffice/search", data={"q": "nino"}) as response:
            assert response.status == 403
        async with session.get("/backoffice/cases") as response:
            assert 'action="/backoffice/search"' in await response.text()  # the box on the list


def test_reindex_command_and_the_index_built_by_itself_after_the_migration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A database migrated before the index existed (its cases unindexed, no marker) gets
    the index from the first command that opens it; ``intake cases reindex`` builds it again."""
    import asyncio
    import json

    from bot.cli import main

    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    key = generate_key()
    monkeypatch.setenv("INTAKE_DATABASE_URL", url)
    monkeypatch.setenv("INTAKE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INTAKE_SECRET_KEYS", key)
    assert main(["slots", "list"]) == 0  # migrated, the lookup key recorded

    async def before_the_index() -> None:
        store = Store.connect(url, Cipher([key]))
        await make_case(store, START, "voluntary_return", "voluntary_return", sender="x", applicant=NINO)
        async with store.locks.writer(), store._sessions() as session, session.begin():
            await session.execute(delete(CaseSearchTerm))
            await session.execute(delete(KeyCheck).where(KeyCheck.name == MARKER))
        await store.close()

    async def found() -> dict[str, str]:
        store = Store.connect(url, Cipher([key]))
        try:
            return await _found(store, "beridze")
        finally:
            await store.close()

    asyncio.run(before_the_index())
    assert asyncio.run(found()) == {}
    capsys.readouterr()
    assert main(["slots", "list"]) == 0  # any command that opens the database
    assert len(asyncio.run(found())) == 1
    assert main(["cases", "reindex", "--batch", "1"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"cases_indexed": 1}
    assert len(asyncio.run(found())) == 1
