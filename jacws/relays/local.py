"""The in-process relay: one process only, nothing to publish (no Redis code is imported)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import Relay

__all__ = ["LocalRelay"]


class LocalRelay(Relay):
    """One process only: nothing to publish, nothing to receive."""

    async def start(self) -> None:
        """Nothing to start."""

    def publish(self, kind: str, ids: Sequence[str], data: bytes) -> None:
        """Nothing to publish: the hub already delivered locally."""

    async def stop(self) -> None:
        """Nothing to stop."""

    def status(self) -> dict[str, Any] | None:
        """No relay state to report."""
        return None
