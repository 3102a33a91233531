"""Exports of the case list, streamed: the cases a filter selects within the caller's
reach, read and decrypted a batch at a time (keyset pages, so memory stays flat however
many cases there are), written as CSV or NDJSON while they are read. Used by the back
office's export button and by the staff API's ``/api/v1/cases/export``.

CSV cells that a spreadsheet would run as a formula (starting with = + - @, a tab or a
carriage return) get a leading apostrophe (OWASP's advice against CSV injection)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from sqlalchemy.sql.elements import ColumnElement

from ..cases.model import Case
from ..store.casework import CaseFilter, CaseKey
from .framework import BackOffice

EXPORT_BATCH = 200
"""Cases read (and decrypted) at a time by an export."""
FORMATS = ("csv", "ndjson")
CSV_COLUMNS = (
    "reference", "kind", "status", "priority", "outcome", "language", "channel", "created_at", "updated_at",
    "assignee", "flags", "applicant_name", "applicant_date_of_birth", "applicant_nationality", "applicant_phone",
    "applicant_email", "applicant_preferred_contact", "household_adults", "household_children", "appointment_starts_at",
    "answers",
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EXPORT_CONTENT = {
    "text/csv": {"type": "string", "description": "one line per case: " + ", ".join(CSV_COLUMNS)},
    "application/x-ndjson": {"type": "string", "description": "one case record (JSON) per line"},
}
"""The media types of an export and what they hold (for the OpenAPI description)."""


def neutralise(value: Any) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_row(case: Case, outcome: str | None, assignee: str | None) -> list[str]:
    a, h = case.applicant, case.household
    values = (
        case.reference, case.kind, case.status, case.priority, outcome, case.language, case.channel,
        case.created_at.isoformat(), case.updated_at.isoformat(), assignee, ";".join(case.flags),
        a.name, a.date_of_birth, a.nationality, a.phone, a.email, a.preferred_contact, h.adults, h.children,
        (case.appointment or {}).get("starts_at"),
        json.dumps(case.answers, ensure_ascii=False, sort_keys=True, default=str) if case.answers else "",
    )
    return [neutralise(v) for v in values]


async def stream_cases(
    request: web.Request, bo: BackOffice, visible: ColumnElement[bool], f: CaseFilter, fmt: str, *,
    newest_first: bool = True, headers: Mapping[str, str] | None = None,
) -> tuple[web.StreamResponse, int]:
    """Write the export to the client as it is read; the response and how many cases."""
    stamp = bo.clock().strftime("%Y%m%d-%H%M")
    response = web.StreamResponse(headers={
        **(headers or {}),
        "Content-Type": "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson",
        "Content-Disposition": f'attachment; filename="cases-{stamp}.{fmt}"',
    })
    await response.prepare(request)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if fmt == "csv":
        writer.writerow(CSV_COLUMNS)
    key: CaseKey | None = None
    count = 0
    while True:
        rows = await bo.work.after(visible, f, key, EXPORT_BATCH, newest_first=newest_first)
        for row, assignee in rows:
            case = bo.store.to_case(row)
            if fmt == "csv":
                writer.writerow(csv_row(case, row.outcome, assignee))
            else:
                record = {**case.model_dump(mode="json"), "outcome": row.outcome, "assignee": assignee}
                buffer.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += len(rows)
        if buffer.tell():
            await response.write(buffer.getvalue().encode())
            buffer.seek(0)
            buffer.truncate()
        if len(rows) < EXPORT_BATCH:
            break
        key = CaseKey(rows[-1][0].created_at, rows[-1][0].id)
    await response.write_eof()
    return response, count
