"""Client addresses and the networks of trusted proxies."""

from __future__ import annotations

import re

import pytest

from jacws.addresses import Networks, client_address


def test_networks_hold_addresses_and_ranges_of_both_families() -> None:
    proxies = Networks(["10.0.0.0/8", "192.168.1.7", "::1"])
    assert "10.200.3.4" in proxies and "192.168.1.7" in proxies and "::1" in proxies
    assert "192.168.1.8" not in proxies and "11.0.0.1" not in proxies and "not-an-ip" not in proxies
    assert not Networks(()) and "127.0.0.1" not in Networks(())
    assert "203.0.113.9" in Networks(["*"])


def test_a_mistyped_entry_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match=re.escape("'10.0.0.300' is not an IP address or network")):
        Networks(["10.0.0.300"])


def test_the_client_address_of_a_scope() -> None:
    assert client_address({"client": ("203.0.113.9", 5123)}) == "203.0.113.9"
    assert client_address({"client": None}) == "" and client_address({}) == ""
