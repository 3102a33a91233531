"""Loading and checking flows: a broken flow stops start-up with file, step and reason."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..content import RUNTIME_FACTS, Content, Fact
from .flow import STEP_KINDS, Flow


class FlowError(ValueError):
    """A flow file that cannot be used; the message names file, step and reason."""


@dataclass(frozen=True)
class FlowSet:
    flows: dict[str, Flow]
    content: Content
    files: dict[str, Path]

    def by_intent(self, intent: str) -> Flow | None:
        for flow in self.flows.values():
            if flow.intent == intent:
                return flow
        return None

    def menu(self) -> list[Flow]:
        return sorted((f for f in self.flows.values() if f.menu), key=lambda f: f.menu_order)

    def with_keywords(self) -> list[Flow]:
        """Flows that typed words can start outside a journey (``/official`` is not in
        the menu, but "is this a scam?" should find it)."""
        return sorted((f for f in self.flows.values() if f.keywords), key=lambda f: f.menu_order)


def load_flows(
    folder: Path,
    content_folder: Path | None = None,
    runtime_facts: Mapping[str, Fact | None] | None = None,
) -> FlowSet:
    """The flows of ``folder`` with the facts of ``content/`` and the deployment facts
    (``runtime_facts``, from the settings; unset ones are left out of every text)."""
    content = Content.load(content_folder or folder / "content", runtime_facts)
    flows: dict[str, Flow] = {}
    files: dict[str, Path] = {}
    for path in sorted(folder.glob("*.yml")):
        flow = load_flow(path, content)
        if flow.id in flows:
            raise FlowError(f"{path.name}: flow id {flow.id!r} is also used in {files[flow.id].name}")
        intents = {f.intent: f.id for f in flows.values()}
        if flow.intent in intents:
            raise FlowError(f"{path.name}: intent {flow.intent!r} already starts {intents[flow.intent]!r}")
        flows[flow.id] = flow
        files[flow.id] = path
    if not flows:
        raise FlowError(f"{folder}: no flows (*.yml) found")
    return FlowSet(flows=flows, content=content, files=files)


def load_flow(path: Path, content: Content) -> Flow:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise FlowError(f"{path.name}:{where} not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise FlowError(f"{path.name}: a flow file must be a mapping with id and steps")
    try:
        raw = _resolve_fact_lists(raw, content)
    except KeyError as exc:
        raise FlowError(f"{path.name}: {exc.args[0]}") from None
    try:
        flow = Flow.model_validate(raw)
    except ValidationError as exc:
        raise FlowError(_explain(path, raw, exc)) from None
    for step in flow.steps:
        for fact in getattr(step, "facts", []) or []:
            if fact not in content:
                raise FlowError(f"{path.name}: step {step.id!r}: unknown fact {fact!r}")
    return flow


def _resolve_fact_lists(node: Any, content: Content) -> Any:
    """``in_fact: X`` / ``not_in_fact: X`` in a condition become ``in`` / ``not_in`` with
    the list held by content fact X, so lists such as the visa-free countries stay data.
    ``{configured: X}`` (a deployment fact, set or not in this deployment's settings)
    becomes a condition that always or never holds."""
    if isinstance(node, list):
        return [_resolve_fact_lists(item, content) for item in node]
    if not isinstance(node, dict):
        return node
    if "configured" in node:
        fact_id = node["configured"]
        if len(node) != 1:
            raise KeyError(f"configured: {fact_id!r} stands alone in its condition (combine with all / any / not)")
        if fact_id not in RUNTIME_FACTS:
            raise KeyError(f"configured: {fact_id!r} is not a deployment fact ({', '.join(RUNTIME_FACTS)})")
        return {"all": []} if content.configured(fact_id) else {"any": []}  # always / never holds
    resolved = {}
    for key, value in node.items():
        if key in ("in_fact", "not_in_fact"):
            if value not in content or not isinstance(content.get(value).value, list):
                raise KeyError(f"{key}: {value!r} is not a list fact in flows/content")
            resolved[key.removesuffix("_fact")] = list(content.get(value).value)
        else:
            resolved[key] = _resolve_fact_lists(value, content)
    return resolved


def _explain(path: Path, raw: dict[str, Any], exc: ValidationError) -> str:
    error = exc.errors()[0]
    loc = [str(x) for x in error["loc"]]
    parts = [path.name]
    if len(loc) >= 2 and loc[0] == "steps" and loc[1].isdigit():
        index = int(loc[1])
        steps = raw.get("steps") or []
        step = steps[index] if index < len(steps) else None
        step_id = step.get("id") if isinstance(step, dict) else None
        parts.append(f"step {step_id!r}" if step_id else f"step #{index + 1}")
        loc = loc[2:]
        if loc and loc[0] in STEP_KINDS:
            loc = loc[1:]  # the union's tag, not a real key
    loc = [x for x in loc if not x.startswith("function-")]
    if loc:
        parts.append(".".join(loc))
    parts.append(error["msg"].removeprefix("Value error, "))
    return ": ".join(parts)
