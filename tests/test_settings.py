"""Settings: defaults, changes by name, environment variables, and the generated secret."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from jacws.settings import Limits, Settings, load_or_create_secret


def test_defaults_follow_the_protocol_limits() -> None:
    settings = Settings()
    assert (settings.host, settings.port, settings.db, settings.policy) == ("127.0.0.1", 8000, None, "open")
    assert settings.limits == Limits()
    assert (Limits().max_frame_bytes, Limits().max_ids, Limits().max_backlog_messages) == (1 << 20, 1000, 1000)
    assert (Limits().max_backlog_bytes, Limits().rate_per_second, Limits().rate_burst) == (8 << 20, 1000, 2000)


def test_with_changes_takes_limits_by_name() -> None:
    changed = Settings().with_changes(port=0, max_backlog_messages=5, rate_burst=7)
    assert changed.port == 0 and changed.limits.max_backlog_messages == 5 and changed.limits.rate_burst == 7
    assert Settings().limits.max_backlog_messages == 1000  # the original is unchanged


def test_environment_variables_are_read_once_and_overrides_win() -> None:
    env = {
        "JACWS_PORT": "9001",
        "JACWS_DB": "x.db",
        "JACWS_TOKEN_LIFETIME": "60",
        "JACWS_RATE_PER_SECOND": "1e6",
        "JACWS_MAX_BACKLOG_MESSAGES": "50",
        "JACWS_POLICY": "authenticated",
    }
    settings = Settings.from_env(env, port=9002, db=None)
    assert settings.port == 9002 and settings.db == "x.db" and settings.token_lifetime == 60
    assert settings.limits.rate_per_second == 1e6 and settings.limits.max_backlog_messages == 50
    assert settings.policy == "authenticated"


def test_trusted_proxies_come_from_a_comma_separated_variable() -> None:
    settings = Settings.from_env({"JACWS_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1,"})
    assert settings.trusted_proxies == ("10.0.0.0/8", "127.0.0.1")
    assert Settings().trusted_proxies == () and Settings().limits.max_connections_per_address == 256


def test_a_file_database_keeps_its_secret_beside_it_owner_only(tmp_path: Path) -> None:
    db = str(tmp_path / "app.db")
    secret, origin = load_or_create_secret(db)
    assert origin.startswith("generated and stored in") and len(secret) >= 32
    assert oct(os.stat(db + ".secret").st_mode & 0o777) == "0o600"
    again, origin_again = load_or_create_secret(db)
    assert again == secret and origin_again.startswith("read from")


def test_an_in_memory_store_gets_a_fresh_secret_each_run() -> None:
    first, origin = load_or_create_secret(None)
    second, _ = load_or_create_secret(":memory:")
    assert first != second and origin == "generated for this run"


def test_a_sqlite_url_keeps_its_secret_beside_the_file_too(tmp_path: Path) -> None:
    secret, origin = load_or_create_secret(f"sqlite:///{tmp_path / 'url.db'}")
    assert origin == f"generated and stored in {tmp_path / 'url.db.secret'}"
    assert load_or_create_secret(str(tmp_path / "url.db"))[0] == secret


def test_a_secret_file_named_by_the_environment_is_read_and_checked(tmp_path: Path) -> None:
    good, short = tmp_path / "good.secret", tmp_path / "short.secret"
    good.write_text("s" * 40 + "\n")
    short.write_text("changeme\n")
    assert Settings.from_env({"JACWS_SECRET_FILE": str(good)}).secret == "s" * 40
    assert Settings.from_env({"JACWS_SECRET_FILE": str(good), "JACWS_SECRET": "e" * 32}).secret == "e" * 32
    with pytest.raises(ValueError, match=re.escape(f"the token secret (read from {short}) has 8 bytes")):
        Settings.from_env({"JACWS_SECRET_FILE": str(short)})
    with pytest.raises(ValueError, match=r"cannot read the token secret from .*missing: No such file"):
        Settings.from_env({"JACWS_SECRET_FILE": str(tmp_path / "missing")})


def test_a_stored_secret_that_is_too_short_is_refused_naming_its_file(tmp_path: Path) -> None:
    (tmp_path / "old.db.secret").write_text("changeme")
    with pytest.raises(ValueError, match=re.escape("old.db.secret) has 8 bytes")):
        load_or_create_secret(str(tmp_path / "old.db"))
