"""The plain (not encrypted) case columns the back office's access check reads, derived
from a draft when the case is created: nothing personal, only where the case came from
and whom the applicant agreed to share it with."""

from __future__ import annotations

from typing import Any

from ..cases.draft import CaseDraft

SHARE_PREFIX = "share_"
"""Consent scopes ``share_<organisation slug>`` (flows/voluntary_return.yml)."""


def shared_with(consent: dict[str, Any] | None) -> str:
    """``,iom,caritas,`` for the organisations agreed to (``""`` for none): delimited, so
    that ``LIKE '%,iom,%'`` finds one in SQL on every backend."""
    scopes = (consent or {}).get("scopes") or {}
    slugs = sorted(
        key[len(SHARE_PREFIX):].replace("_", "-")
        for key, agreed in scopes.items()
        if key.startswith(SHARE_PREFIX) and agreed is True
    )
    return f",{','.join(slugs)}," if slugs else ""


def access_columns(draft: CaseDraft) -> dict[str, Any]:
    """``origin_flow``, ``shared_with`` and ``submitted_org`` for a new case row."""
    return {
        "origin_flow": draft.answers.get("from_flow") or draft.flow_id,
        "shared_with": shared_with(draft.consent),
        "submitted_org": draft.submitted_org,
    }
