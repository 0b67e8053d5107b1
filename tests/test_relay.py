"""The relay interface: wire form, origin filtering, the local relay, choosing a relay by URL."""

from __future__ import annotations

import pytest

from jacws.relays import LocalRelay, Relayed, decode_relayed, encode_relayed, open_relay
from jacws.relays.redis import RedisRelay


def test_the_wire_form_keeps_the_data_bytes_exactly() -> None:
    message = Relayed("channel", ("room", "hall"), b'{"type":"chat","n":1}\n', "abc")
    assert decode_relayed(encode_relayed(message)) == message


@pytest.mark.parametrize("payload", [b"no header", b'{"k":"nope","i":[],"o":"x"}\n{}', b"[1]\n{}", b'{"k":"user"}\n'])
def test_malformed_payloads_are_refused(payload: bytes) -> None:
    with pytest.raises(ValueError):
        decode_relayed(payload)


def test_a_relay_ignores_its_own_messages() -> None:
    relay = LocalRelay("me")
    got: list[Relayed] = []
    relay.bind(got.append)
    relay.received(Relayed("user", ("n::1",), b"{}", "me"))
    relay.received(Relayed("user", ("n::1",), b"{}", "other"))
    assert [m.origin for m in got] == ["other"]


def test_open_relay_picks_by_url() -> None:
    assert isinstance(open_relay(None), LocalRelay) and open_relay(None).status() is None
    assert isinstance(open_relay("redis://127.0.0.1:6379/0"), RedisRelay)
    with pytest.raises(ValueError, match="kafka"):
        open_relay("kafka://broker")
