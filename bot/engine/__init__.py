"""The channel-agnostic dialogue engine."""

from .engine import Engine
from .turn import Button, Expects, Inbound, Outbound

__all__ = ["Button", "Engine", "Expects", "Inbound", "Outbound"]
