"""The ids a client sees for Jac nodes and edges, and Jac values made plain JSON."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from ..protocol import normalize_node_id

_ROOT_MARK = "6a616377"  # "jacw": the last 8 hex digits of a jacws user's Jac root UUID


def root_uuid(root_id: str) -> uuid.UUID:
    """The UUID of the Jac root of the jacws user ``root_id`` (``n::<24 hex>``)."""
    return uuid.UUID(normalize_node_id(root_id)[3:] + _ROOT_MARK)


def jacws_root_id(anchor_id: uuid.UUID) -> str | None:
    """The jacws root id of a Jac root UUID made by :func:`root_uuid`, else None."""
    text = anchor_id.hex
    return "n::" + text[:24] if text.endswith(_ROOT_MARK) else None


def public_id(archetype: Any) -> str:
    """The id a client sees: ``n::<24 hex>`` for a user's root, else ``n::``/``e::`` and jaclang's ``jid``.

    ``&(id)`` in a Jac walker takes any of these forms, and the bare hex.
    """
    anchor = archetype.__jac__
    root_id = jacws_root_id(anchor.id)
    if root_id is not None:
        return root_id
    kind = type(anchor).__name__
    prefix = "e::" if kind == "EdgeAnchor" else "n::" if kind == "NodeAnchor" else ""
    return prefix + str(anchor.id.hex)


@dataclasses.dataclass(frozen=True)
class RootRef:
    """What ``&(id)`` gives for another user's root: a name for ``socket.notify_users``, no graph.

    The seed's ``send_chat_to_user`` needs no more, and another user's graph stays out of reach
    (a real root would let ``grant`` or a traversal in).
    """

    root_id: str


def to_json(value: Any) -> Any:
    """``value`` with Jac archetypes made plain: nodes and edges as ``{"id", "context"}``."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, RootRef):
        return {"id": value.root_id, "context": {}}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json(v) for v in value]
    if hasattr(value, "__jac__") and dataclasses.is_dataclass(value):
        context = {
            f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value) if not f.name.startswith("_")
        }
        return {"id": public_id(value), "context": context}
    return value
