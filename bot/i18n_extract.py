"""Babel extractor for flow YAML files: every text a flow shows becomes a msgid.

Registered as the ``intake_flows`` extraction method (see ``babel.cfg``). Translatable
texts are the flow's ``title`` and ``keywords`` (a ``|`` word list) and, in steps, ``say``,
``ask``, ``label``, ``help``, ``summary``, ``recap``, ``submit``, ``end`` and each choice's ``title``.
Line numbers come from the YAML node marks; comments name the flow, the step and the key.
Files under ``flows/content/`` hold facts, not texts, and are skipped.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from pathlib import PurePath
from typing import IO, Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

STEP_TEXTS = ("say", "ask", "label", "help", "summary", "recap", "submit", "end")

Extracted = tuple[int, str | None, str, list[str]]


def _items(node: Node | None) -> dict[str, Node]:
    if not isinstance(node, MappingNode):
        return {}
    return {k.value: v for k, v in node.value if isinstance(k, ScalarNode)}


def _text(node: Node | None) -> str | None:
    if isinstance(node, ScalarNode) and isinstance(node.value, str) and node.value.strip():
        return str(node.value)
    return None


def _sequence(node: Node | None) -> list[Node]:
    return list(node.value) if isinstance(node, SequenceNode) else []


def extract_flows(
    fileobj: IO[bytes],
    keywords: Collection[str],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[Extracted]:
    """Yield ``(lineno, funcname, message, comments)`` for each text of one flow file."""
    name = str(getattr(fileobj, "name", "") or "")
    parts = PurePath(name).parts
    if any(parts[i : i + 2] == ("flows", "content") for i in range(len(parts))):
        return
    root = yaml.compose(fileobj.read().decode(str(options.get("encoding", "utf-8"))))
    flow = _items(root)
    flow_id = _text(flow.get("id")) or PurePath(name).stem or "?"

    def found(node: Node, where: str) -> Iterator[Extracted]:
        text = _text(node)
        if text is not None:
            yield node.start_mark.line + 1, None, text, [f"flow {flow_id}, {where}"]

    if "title" in flow:
        yield from found(flow["title"], "title (the journey's menu button)")
    if "keywords" in flow:
        yield from found(flow["keywords"], "keywords: words that start it, separate with |")
    for step_node in _sequence(flow.get("steps")):
        step = _items(step_node)
        step_id = _text(step.get("id")) or "?"
        for key in STEP_TEXTS:
            if key in step:
                yield from found(step[key], f"step {step_id} ({key})")
        for choice_node in _sequence(step.get("choices")):
            choice = _items(choice_node)
            value = _text(choice.get("value")) or "?"
            if "title" in choice:
                yield from found(choice["title"], f"step {step_id}, choice {value} (a button)")
