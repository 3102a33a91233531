"""Case kinds live in one registry (bot/cases/kinds.py); everything else derives from it."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from bot.cases import kinds
from bot.cases.model import Case
from bot.cases.references import PATTERN, new_reference, normalise
from bot.engine.loader import FlowSet


def test_the_registry_and_the_shipped_flows_agree(flows: FlowSet) -> None:
    produced: dict[str, set[str]] = {}
    for flow in flows.flows.values():
        produced.setdefault(flow.case_kind, set()).add(flow.id)
    for kind in kinds.KINDS.values():
        assert set(kind.flows) == produced.get(kind.name, set()), kind.name


@pytest.mark.parametrize("name", kinds.KIND_NAMES)
def test_references_start_with_the_kinds_prefix_and_read_back(name: str) -> None:
    reference = new_reference(name)
    assert reference.startswith(kinds.get(name).prefix + "-")
    assert PATTERN.match(reference)
    assert normalise(reference.lower().replace("-", " ")) == reference


def test_an_unknown_prefix_is_not_a_reference() -> None:
    assert normalise("ZZ-7K3M9Q") is None
    with pytest.raises(KeyError, match="unknown case kind"):
        new_reference("asylum_claim")


def test_the_case_record_takes_registered_kinds_only() -> None:
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    fields = dict(id="1", reference="VR-7K3M9Q", status="submitted", language="en", channel="rest",
                  flow_id="x", created_at=now, updated_at=now)
    assert Case(kind="voluntary_return", **fields).kind == "voluntary_return"
    with pytest.raises(ValidationError):
        Case(kind="asylum_claim", **fields)
    assert Case.model_json_schema()["properties"]["kind"]["enum"] == list(kinds.KIND_NAMES)


def test_every_kind_can_be_closed_and_has_a_first_answer_target() -> None:
    for kind in kinds.KINDS.values():
        assert kind.outcomes and kind.default_priority in kinds.PRIORITIES
        assert kind.first_answer.hours or kind.first_answer.working_days
        assert kind.outcome(kind.outcomes[0].id) is kind.outcomes[0]
