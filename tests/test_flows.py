"""Flows are checked when loaded: a broken one is refused with file, step and reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from bot.resources import FLOWS_DIR
from bot.engine.loader import FlowError, load_flows

GOOD = {
    "id": "demo",
    "intent": "visa_info",
    "case_kind": "human_callback",
    "title": "Demo",
    "steps": [
        {"id": "ask_name", "ask": "Name?", "type": "text", "field": "applicant.name", "label": "Name"},
        {"id": "kids", "ask": "Children?", "type": "number", "field": "children", "label": "Children", "min": 0},
        {"id": "route", "branch": [{"when": {"field": "children", "gt": 0}, "goto": "bye"}]},
        {"id": "check", "summary": "Check:"},
        {"id": "send", "submit": "Sent: {reference}"},
        {"id": "bye", "end": "Bye"},
    ],
}


def flows_dir(tmp_path: Path, flow: dict) -> Path:
    folder = tmp_path / "flows"
    shutil.copytree(FLOWS_DIR / "content", folder / "content")
    (folder / "demo.yml").write_text(yaml.safe_dump(flow, sort_keys=False))
    return folder


def broken(path: list, value: object) -> dict:
    flow = yaml.safe_load(yaml.safe_dump(GOOD))
    node = flow
    for key in path[:-1]:
        node = node[key]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return flow


def test_the_shipped_flows_load() -> None:
    flows = load_flows(FLOWS_DIR)
    assert "voluntary_return" in flows.flows
    assert flows.by_intent("voluntary_return") is flows.flows["voluntary_return"]


def test_a_good_flow_loads(tmp_path: Path) -> None:
    assert load_flows(flows_dir(tmp_path, GOOD)).flows["demo"].case_kind == "human_callback"


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (["steps", 1, "type"], "integer", "demo.yml: step 'kids': type: Input should be 'text', 'choice'"),
        (["steps", 0, "label"], None, "demo.yml: step 'ask_name': label: Field required"),
        (["steps", 2, "branch", 0, "goto"], "nowhere", "demo.yml: step 'route': goes to unknown step 'nowhere'"),
        (["steps", 2, "branch", 0, "when", "field"], "age", "demo.yml: step 'route': condition on unknown field 'age'"),
        (["steps", 1, "id"], "ask_name", "demo.yml: step id 'ask_name' is used twice"),
        (["steps", 1, "min"], "today", "demo.yml: step 'kids': min of a number question must be a number"),
        (["steps", 3], {"id": "odd", "say": "x", "end": "y"}, "demo.yml: step 'odd': a step needs exactly one of"),
        (["steps", 0, "facts"], ["no_such_fact"], "demo.yml: step 'ask_name': unknown fact 'no_such_fact'"),
        (["steps", 0, "colour"], "blue", "demo.yml: step 'ask_name': colour: Extra inputs are not permitted"),
        (["intent"], "go_home", "demo.yml: intent: Input should be 'greet'"),
        (["case_kind"], "asylum_claim", "demo.yml: case_kind: case kind 'asylum_claim' is not registered"),
    ],
)
def test_a_broken_flow_is_refused_with_file_step_and_reason(tmp_path: Path, path: list, value: object, expected: str) -> None:
    with pytest.raises(FlowError) as error:
        load_flows(flows_dir(tmp_path, broken(path, value)))
    assert str(error.value).startswith(expected), str(error.value)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    folder = flows_dir(tmp_path, GOOD)
    (folder / "demo.yml").write_text("id: demo\nsteps:\n  - id: [unclosed\n")
    with pytest.raises(FlowError, match=r"demo.yml: line \d+ not valid YAML"):
        load_flows(folder)


def test_flows_check_prints_one_line_per_flow(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flows", "check"]) == 0
    out = capsys.readouterr().out
    assert "voluntary_return.yml: voluntary_return → case voluntary_return:" in out
    assert "urgent_help.yml: urgent_help → case urgent_safety:" in out
    files = sorted(FLOWS_DIR.glob("*.yml"))
    assert f"{len(files)} flows OK" in out


def test_flows_check_refuses_a_flow_whose_case_kind_is_not_registered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INTAKE_FLOWS_DIR", str(flows_dir(tmp_path, broken(["case_kind"], "return_request"))))
    assert main(["flows", "check"]) == 2
    assert "case kind 'return_request' is not registered" in capsys.readouterr().err


def test_flows_check_fails_on_a_broken_flow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("INTAKE_FLOWS_DIR", str(flows_dir(tmp_path, broken(["steps", 1, "type"], "integer"))))
    assert main(["flows", "check"]) == 2
    assert "error: demo.yml: step 'kids': type" in capsys.readouterr().err
