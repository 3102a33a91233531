"""Searching cases by name, date of birth, phone or reference, and a case's possible
duplicates, through the blind indexes (bot/store/search_index.py): the values themselves
are never stored in clear, and the access check (policy.visible_cases) filters every
result in SQL, as on the case list.

The search form is posted (never a GET): what staff type stays out of addresses, browser
history, Referer headers and access logs. Each search is audited with what kinds of
criteria were given and how many cases were found, never the values.
"""

from __future__ import annotations

from aiohttp import web

from ..cases.references import normalise
from ..i18n import S_
from ..store.case_search import CaseSearch, Duplicate
from ..store.search_index import parse_query
from ..store.staff import Staff
from . import policy
from .framework import BACKOFFICE, FORM, PREFIX, STAFF, Route, guarded, render

MATCH_TITLES = {
    "exact": S_("Exact"),
    "transliterated": S_("Same in Latin letters"),
    "similar": S_("Similar spelling"),
}
DUPLICATE_REASONS = {
    "phone": S_("same phone number"),
    "name_and_date_of_birth": S_("same date of birth and name"),
}
UNREADABLE = {
    "date": S_("That date does not exist. Write a date of birth as 17/05/1990 or 1990-05-17."),
    "phone": S_("That is not a possible phone number. Write it with its country code, e.g. +32 470 12 34 56."),
}


def searcher(request: web.Request) -> CaseSearch:
    return CaseSearch(request.app[BACKOFFICE].store)


@guarded("list_cases")
async def search_page(request: web.Request) -> web.StreamResponse:
    return render(request, "search.html", _context())


@guarded("list_cases")
async def search(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    user: Staff = request[STAFF]
    typed = str(request[FORM].get("q", ""))[:200]
    query = parse_query(typed, reference_of=normalise)
    problems = [UNREADABLE[kind] for kind in dict.fromkeys(query.unreadable)]
    if query.empty and not problems:
        problems = [S_("Type a name, a date of birth, a phone number or a case reference.")]
    if problems:
        return render(request, "search.html", _context(typed, problems=problems), status=400)
    found, total = await searcher(request).search(policy.visible_cases(user), query)
    await bo.staff.audit(user, "search", bo.clock(), detail=f"by={'+'.join(query.kinds())};found={total}")
    return render(request, "search.html", _context(typed, found=found, total=total, searched=True))


def _context(typed: str = "", **more: object) -> dict[str, object]:
    return {"typed": typed, "found": [], "total": 0, "searched": False, "problems": [],
            "match_titles": MATCH_TITLES, **more}


async def duplicates(request: web.Request, case_id: str) -> list[Duplicate]:
    """The possible duplicates of a case the user may see (for the case page)."""
    return await searcher(request).duplicates(policy.visible_cases(request[STAFF]), case_id)


ROUTES: tuple[Route, ...] = (
    ("GET", f"{PREFIX}/search", search_page),
    ("POST", f"{PREFIX}/search", search),
)
