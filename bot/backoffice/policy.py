"""The one access check of the back office: who may do what to which case.

``can(user, action, case)`` answers for one case; ``visible_cases(user)`` is the same rule
as a SQL condition, for lists and searches, so that a list, a search, a detail page and a
typed-in address all agree (``tests/test_backoffice_policy.py`` checks they do).

Roles: ``admin`` everything; ``caseworker`` the case kinds its organisation handles, under
each kind's rule (models.KindAccess); ``partner`` the cases its organisation submitted by
assisted intake, plus those whose applicant agreed to share with it; ``auditor`` reads the
audit log, no case. A call-back is seen as the kind of the journey it came from.

Appointments (slots.py): ``manage_slots`` (create and remove slots) is the admin's. The
registration desk works the bookings: ``see_bookings`` (the day view, the waiting list),
``mark_attendance``, ``cancel_booking`` and, on a case, ``offer_slot``. Besides admins, a
caseworker has them only when its organisation handles ``protection_appointment`` cases
under the ``always`` rule (the Immigration Office's registration by default): an
organisation that sees some of those cases for another purpose (Fedasil, for reception,
the vulnerable ones) neither reads the whole day's bookings nor books, cancels or marks
attendance. Partners and auditors have none of them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol

from sqlalchemy import Text, and_, cast, false, or_, true
from sqlalchemy.sql.elements import ColumnElement

from ..cases.kinds import KINDS
from ..store.models import CaseRow
from ..store.staff import Staff

CALLBACK = "human_callback"
VULNERABILITY_FLAGS = ("unaccompanied_minor", "no_shelter_with_children", "no_shelter", "urgent_health")
"""Flags that share a case with the kind's ``vulnerable`` organisations (Fedasil reception)."""

# ``assisted_intake``: run a journey on behalf of an applicant (assisted.py); the cases it
# creates carry the staff member's organisation, which is how a partner then sees them.
CASE_ACTIONS = frozenset({"view", "change_status", "assign", "record_step", "note", "message", "offer_slot",
                          "take_over", "acknowledge"})
"""Actions on one case: allowed only where the case is visible too. ``acknowledge``: say
that one is on an urgent case's alert (partners see alerts but do not acknowledge them:
that is for the offices that answer)."""
DESK_ACTIONS = frozenset({"see_bookings", "mark_attendance", "cancel_booking", "offer_slot"})
"""The registration desk's: a caseworker needs ``registration_desk`` too."""
REGISTRATION = "protection_appointment"
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(
        CASE_ACTIONS | DESK_ACTIONS
        | {"list_cases", "read_audit", "manage_users", "manage_orgs", "manage_tokens", "manage_slots",
           "manage_webhooks", "profile", "assisted_intake", "second_factor", "dashboard"}
    ),
    "caseworker": frozenset(CASE_ACTIONS | DESK_ACTIONS | {"list_cases", "profile", "assisted_intake", "dashboard"}),
    # A partner's dashboard counts only its own cases (visible_cases), like its list.
    "partner": frozenset({"view", "note", "list_cases", "profile", "assisted_intake", "dashboard"}),
    "auditor": frozenset({"read_audit", "profile"}),
}
ACTIONS = frozenset().union(*ROLE_ACTIONS.values())

_FLOW_KIND = {flow: kind.name for kind in KINDS.values() for flow in kind.flows}
_OTHER_FLOWS = tuple(sorted(flow for flow, kind in _FLOW_KIND.items() if kind != CALLBACK))


class CaseFacts(Protocol):
    """What the check reads of a case: plain columns only (a ``CaseRow`` has them)."""

    kind: str
    origin_flow: str | None
    shared_with: str
    submitted_org: str | None
    flags: list[str]


def effective_kind(case: CaseFacts) -> str:
    """A call-back counts as the kind of the journey it came from."""
    if case.kind == CALLBACK:
        origin = _FLOW_KIND.get(case.origin_flow or "")
        if origin is not None and origin != CALLBACK:
            return origin
    return case.kind


def _shared(case: CaseFacts, organisation: str) -> bool:
    return f",{organisation}," in (case.shared_with or "")


def _rule_holds(user: Staff, rule: str, case: CaseFacts) -> bool:
    if rule == "always":
        return True
    if rule == "shared":
        return _shared(case, user.organisation)
    if rule == "vulnerable":
        return any(flag in VULNERABILITY_FLAGS for flag in case.flags or ())
    if rule == "on_duty":
        return user.on_duty
    return False


def can_see(user: Staff, case: CaseFacts) -> bool:
    if user.disabled:
        return False
    if user.role == "admin":
        return True
    if user.role == "caseworker":
        kind = effective_kind(case)
        return any(k == kind and _rule_holds(user, rule, case) for k, rule in user.kind_rules)
    if user.role == "partner":
        return case.submitted_org == user.organisation or _shared(case, user.organisation)
    return False


def registration_desk(user: Staff) -> bool:
    """Whether the user works the registration appointments (see the module's doc)."""
    if user.disabled:
        return False
    return user.role == "admin" or (
        user.role == "caseworker" and (REGISTRATION, "always") in tuple(user.kind_rules)
    )


def can(user: Staff, action: str, case: CaseFacts | None = None) -> bool:
    """May ``user`` do ``action`` (to ``case``, for the actions on one case)?"""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if user.disabled or action not in ROLE_ACTIONS.get(user.role, frozenset()):
        return False
    if action in DESK_ACTIONS and not registration_desk(user):
        return False
    if action == "offer_slot" and case is not None and case.kind != REGISTRATION:
        return False
    if action in CASE_ACTIONS:
        return case is not None and can_see(user, case)
    return True


# --- the same rules in SQL ------------------------------------------------------------


def _kind_clause(kind: str) -> ColumnElement[bool]:
    if kind == CALLBACK:
        return and_(
            CaseRow.kind == CALLBACK,
            or_(CaseRow.origin_flow.is_(None), CaseRow.origin_flow.not_in(_OTHER_FLOWS)),
        )
    flows = KINDS[kind].flows if kind in KINDS else ()
    return or_(
        CaseRow.kind == kind,
        and_(CaseRow.kind == CALLBACK, CaseRow.origin_flow.in_(flows)) if flows else false(),
    )


def _shared_clause(organisation: str) -> ColumnElement[bool]:
    return CaseRow.shared_with.like(f"%,{organisation},%")


def _rule_clause(user: Staff, rule: str) -> ColumnElement[bool]:
    if rule == "always":
        return true()
    if rule == "shared":
        return _shared_clause(user.organisation)
    if rule == "vulnerable":
        flags = cast(CaseRow.flags, Text)
        return or_(*(flags.like(f'%"{flag}"%') for flag in VULNERABILITY_FLAGS))
    if rule == "on_duty":
        return true() if user.on_duty else false()
    return false()


def visible_cases(user: Staff) -> ColumnElement[bool]:
    """``can_see`` as a WHERE condition on ``cases``."""
    if user.disabled:
        return false()
    if user.role == "admin":
        return true()
    if user.role == "caseworker":
        clauses = [and_(_kind_clause(kind), _rule_clause(user, rule)) for kind, rule in user.kind_rules]
        return or_(false(), *clauses)
    if user.role == "partner":
        return or_(CaseRow.submitted_org == user.organisation, _shared_clause(user.organisation))
    return false()


# --- an organisation as a whole (its webhooks) ------------------------------------------


def organisation_members(
    organisation: str, organisation_id: int, kind_rules: tuple[tuple[str, str], ...]
) -> tuple[Staff, Staff]:
    """What an organisation as a whole may see, as two of its members: a caseworker (its
    case kinds under their rules; not on duty, so ``on_duty`` cases stay with the people
    on duty) and a partner (what it submitted or was shared with)."""
    caseworker = Staff(
        id=0, email=f"organisation:{organisation}", role="caseworker", organisation=organisation,
        organisation_id=organisation_id, on_duty=False, language=None, disabled=False, kind_rules=kind_rules,
    )
    return caseworker, replace(caseworker, role="partner")


def organisation_can_see(
    organisation: str, organisation_id: int, kind_rules: tuple[tuple[str, str], ...], case: CaseFacts
) -> bool:
    """May the organisation (a webhook of it) hear of ``case``? The same rules as its staff."""
    return any(can_see(member, case) for member in organisation_members(organisation, organisation_id, kind_rules))


def notes_visible_to(user: Staff) -> Any:
    """Which organisations' notes ``user`` reads: a partner only its own (None: all)."""
    return user.organisation_id if user.role == "partner" else None
