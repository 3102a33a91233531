"""The case list's order and pages on every backend: "urgent first" read as runs of one
priority each, and a count that stops early still says whether there is a next page."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import true

from bot.store.casework import CaseFilter, Casework, count_stopped
from bot.store.store import Store

from .backoffice_cases import make_case
from .conftest import START

PRIORITY_ORDER = {"urgent": 0, "high": 1}


async def test_urgent_first_pages_are_the_whole_order_cut_in_pages(store: Store) -> None:
    made = []
    for i in range(23):
        priority = ("urgent", "high", "normal", "normal")[i % 4] if i % 7 else "high"
        case = await make_case(store, START + timedelta(minutes=37 * i % 101), "visa_question", "visa_info",
                               sender=f"s{i}", priority=priority)
        made.append(case)
    expected = [c.reference for c in sorted(
        made, key=lambda c: (PRIORITY_ORDER.get(c.priority, 2), -c.created_at.timestamp(), c.id))]
    work = Casework(store)
    pages = []
    for page in range(1, 6):
        lines, total = await work.cases(true(), CaseFilter(page=page, per_page=5, status=None))
        assert total == 23
        pages += [line.reference for line in lines]
    assert pages == expected
    newest = [c.reference for c in sorted(made, key=lambda c: (-c.created_at.timestamp(), c.id))]
    lines, _ = await work.cases(true(), CaseFilter(sort="newest", page=2, per_page=5))
    assert [line.reference for line in lines] == newest[5:10]


async def test_a_stopped_count_still_shows_the_next_page(store: Store) -> None:
    for i in range(12):
        await make_case(store, START + timedelta(minutes=i), "visa_question", "visa_info", sender=f"c{i}")
    work = Casework(store)
    f = CaseFilter(per_page=3, count_limit=5)
    lines, total = await work.cases(true(), f)
    assert len(lines) == 3 and total == 5 and count_stopped(f, total)  # "5+"
    f = CaseFilter(per_page=3, page=3, count_limit=5)
    lines, total = await work.cases(true(), f)
    assert len(lines) == 3 and total == 10 and count_stopped(f, total)  # past this page: a page 4 exists
    f = CaseFilter(per_page=3, count_limit=None)
    assert (await work.cases(true(), f))[1] == 12 and not count_stopped(f, 12)
    f = CaseFilter(per_page=3, page=4, count_limit=20)
    lines, total = await work.cases(true(), f)
    assert len(lines) == 3 and total == 12 and not count_stopped(f, total)
