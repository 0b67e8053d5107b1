"""The store interface: users, token revocations and every user's graph, whatever keeps them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import orjson

from ..graph_session import EdgeRecord, NodeRecord
from ..protocol import encode

__all__ = ["Store", "User", "context_from_json", "context_to_json"]


@dataclass(frozen=True, slots=True)
class User:
    """A registered user. ``root_id`` is the ``n::`` form of the user's root node id."""

    id: str
    email: str
    password_hash: str
    root_id: str


class Store(ABC):
    """Users, token revocations and every user's graph."""

    @abstractmethod
    def create_user(self, email: str, password_hash: str) -> User:
        """Register a user with a new root node.

        Raises:
            UserExists: the email is taken (compared case-insensitively).
        """

    @abstractmethod
    def get_user_by_email(self, email: str) -> User | None:
        """The user with this email, or None."""

    @abstractmethod
    def revoke_token(self, jti: str, expires_at: float) -> None:
        """Remember a revoked token id until it would have expired anyway."""

    @abstractmethod
    def is_revoked(self, jti: str) -> bool:
        """Whether a token id was revoked."""

    @abstractmethod
    def revocations_since(self, since: float) -> list[tuple[str, float, float]]:
        """Token ids revoked after ``since`` (unix seconds), with when they were revoked and when they expire."""

    @abstractmethod
    def load_node(self, node_id: str) -> NodeRecord | None:
        """A node by id, or None."""

    @abstractmethod
    def load_out_edges(self, root_id: str, node_id: str) -> list[EdgeRecord]:
        """The edges of ``root_id``'s graph leaving ``node_id``, oldest first."""

    @abstractmethod
    def load_graph(self, root_id: str) -> tuple[list[NodeRecord], list[EdgeRecord]]:
        """Every node and edge of ``root_id``'s graph (the root included), edges oldest first."""

    @abstractmethod
    def save_graph(
        self,
        nodes: list[NodeRecord],
        edges: list[EdgeRecord],
        deleted_nodes: list[str],
        deleted_edges: list[str],
    ) -> None:
        """Write nodes and edges (insert or replace) and delete others, atomically."""

    @abstractmethod
    def user_count(self) -> int:
        """How many users are registered."""

    def close(self) -> None:  # noqa: B027 - optional for backends without resources
        """Release the store's resources."""


def context_to_json(context: dict[str, Any]) -> bytes:
    """An archetype's field values as stored (UTF-8 JSON)."""
    return encode(context)


def context_from_json(blob: bytes | str) -> dict[str, Any]:
    """Stored field values back as a dict (an empty one if the stored value is not an object)."""
    value = orjson.loads(blob)
    return value if isinstance(value, dict) else {}
