"""A conversation's state, stored (encrypted) after every turn.

Step ids are the stable names of flow steps, never positions, so a flow file can gain or
reorder steps without breaking conversations that are in progress.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Mode(StrEnum):
    """A short side-dialogue that waits for one answer. The values are stored: never
    rename one (add a new one instead)."""

    LANGUAGE = "language"
    """The language picker is open: a language's name is the answer."""
    LANGUAGE_OFFER = "language_offer"
    """Asked whether to switch to the language the first sentence was written in."""
    FORGET = "forget"
    """Asked to confirm erasing everything."""
    RESTART = "restart"
    """Asked whether to continue the journey or start again."""
    EDIT_PICK = "edit_pick"
    """From the summary: which answer to change."""
    EDITING = "editing"
    """Answering again one question picked from the summary."""
    URGENT_OFFER = "urgent_offer"
    """Asked whether a danger-sounding answer is a call for help."""
    CASE_LOOKUP = "case_lookup"
    """Asked for the date of birth given in a case looked up by reference."""


@dataclass
class State:
    flow_id: str | None = None
    pending: str | None = None
    """The step waiting for the applicant: an ``ask`` or a ``summary``."""
    answers: dict[str, Any] = field(default_factory=dict)
    path: list[str] = field(default_factory=list)
    """Ask steps answered on the way here, in order: what ``back`` walks and what is sent."""
    attempts: int = 0
    mode: Mode | None = None
    selection: list[str] = field(default_factory=list)
    """Choices ticked so far on a multiple-choice question."""
    answered_at: dict[str, str] = field(default_factory=dict)
    kept: list[str] = field(default_factory=list)
    """Say steps shown on the way whose texts the recap repeats (``keep: true``)."""
    offered: list[list[Any]] = field(default_factory=list)
    """Choices computed for the pending question (``choices_from``): ``[value, data]`` pairs."""
    suspended: list[dict[str, Any]] = field(default_factory=list)
    """Journeys interrupted by another (safety, a person), resumed when it ends."""
    notices: list[str] = field(default_factory=list)
    """Messages for the applicant (reminders) waiting for a channel that cannot push."""
    lookups: list[float] = field(default_factory=list)
    """When this conversation looked up a case by reference (rate limit)."""
    link_tries: list[float] = field(default_factory=list)
    """When this conversation sent a wrong link code (/link, rate limit)."""
    language_settled: bool = False
    """The language was chosen, or the first typed message was checked for another one."""
    held_text: str | None = None
    """A message kept while the applicant says whether to switch to its language."""
    takeover: dict[str, Any] | None = None
    """A staff member answers in person: ``{"case", "until", "told"}``; the bot stays quiet."""
    replying_to: str | None = None
    """The case whose staff member wrote last: the applicant's next words answer it."""
    binding: dict[str, Any] | None = None
    """The conversation token's digest and whether it is bound (binding.py)."""
    device: str | None = None
    """The digest of the device key this conversation was linked to."""

    def to_dict(self) -> dict[str, Any]:
        """A shallow view for serialising at once (``asdict`` deep-copies every answer)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> State:
        if not data:
            return cls()
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        mode = known.get("mode")
        known["mode"] = Mode(mode) if mode in Mode._value2member_map_ else None
        return cls(**known)

    JOURNEY = ("flow_id", "pending", "answers", "path", "attempts", "selection", "answered_at", "kept", "offered")
    """What belongs to the journey in progress (and is set aside while another interrupts it)."""

    def leave_flow(self) -> None:
        """Forget the journey, every unfinished answer, and any journey it interrupted."""
        self._clear_journey()
        self.mode = None
        self.suspended = []

    def suspend(self) -> None:
        """Set the journey in progress aside, to be resumed by :meth:`resume`."""
        self.suspended.append({name: getattr(self, name) for name in self.JOURNEY})
        self._clear_journey()
        self.mode = None

    def resume(self) -> bool:
        """End the current journey and bring back the one it interrupted, if any."""
        self._clear_journey()
        self.mode = None
        if not self.suspended:
            return False
        for name, value in self.suspended.pop().items():
            setattr(self, name, value)
        return True

    def _clear_journey(self) -> None:
        self.flow_id = None
        self.pending = None
        self.answers = {}
        self.path = []
        self.attempts = 0
        self.selection = []
        self.answered_at = {}
        self.kept = []
        self.offered = []
