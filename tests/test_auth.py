"""Password hashing and JWTs: issue, verify, expiry, forgery, revocation."""

from __future__ import annotations

import jwt
import pytest

from jacws.auth import (
    MIN_SECRET_BYTES,
    PasswordHasher,
    RevocationCache,
    TokenIssuer,
    bearer_token,
    is_valid_email,
    new_secret,
)
from jacws.errors import InvalidToken
from jacws.stores import SQLiteStore

ROOT = "n::" + "ab" * 12


def issuer(lifetime: float = 60, secret: str | None = None) -> TokenIssuer:
    return TokenIssuer(secret or new_secret(), SQLiteStore(), lifetime)


def test_password_hashes_are_argon2_and_verify() -> None:
    hasher = PasswordHasher()
    hashed = hasher.hash("correct horse")
    assert hashed.startswith("$argon2id$") and "correct horse" not in hashed
    assert hasher.verify(hashed, "correct horse")
    assert not hasher.verify(hashed, "wrong")
    assert not hasher.verify("not a hash", "x")


def test_issued_tokens_verify_to_their_claims() -> None:
    tokens = issuer()
    claims = tokens.verify(tokens.issue("u1", "a@example.com", ROOT))
    assert (claims.user_id, claims.email, claims.root_id) == ("u1", "a@example.com", ROOT)
    assert jwt.get_unverified_header(tokens.issue("u1", "a@example.com", ROOT))["alg"] == "HS256"


def test_expired_forged_unsigned_and_revoked_tokens_are_refused() -> None:
    tokens = issuer()
    expired = issuer(lifetime=-10)
    with pytest.raises(InvalidToken, match="expired"):
        expired.verify(expired.issue("u", "e", ROOT))
    good = tokens.issue("u", "e", ROOT)
    payload = jwt.decode(good, options={"verify_signature": False})
    with pytest.raises(InvalidToken):
        tokens.verify(jwt.encode(payload, new_secret(), algorithm="HS256"))
    with pytest.raises(InvalidToken):
        tokens.verify(jwt.encode(payload, None, algorithm="none"))
    with pytest.raises(InvalidToken):
        tokens.verify("garbage")
    with pytest.raises(InvalidToken):
        tokens.verify(None)
    tokens.revoke(tokens.verify(good))
    with pytest.raises(InvalidToken, match="revoked"):
        tokens.verify(good)


def test_bearer_prefixes_are_optional_and_case_insensitive() -> None:
    assert bearer_token("Bearer abc") == bearer_token("bearer abc") == bearer_token("abc") == "abc"
    assert bearer_token("") is None and bearer_token(None) is None and bearer_token("  ") is None


def test_email_check() -> None:
    assert is_valid_email("a@b.co") and not is_valid_email("a@b") and not is_valid_email(3)


@pytest.mark.parametrize("secret", ["", "changeme", "x" * (MIN_SECRET_BYTES - 1), "é" * 15])
def test_a_secret_shorter_than_32_bytes_is_refused_saying_how_to_make_one(secret: str) -> None:
    # "changeme" was found offline from one token with a word list, then used to sign another user's token.
    with pytest.raises(ValueError, match=f"has {len(secret.encode())} bytes; it needs at least 32") as refused:
        TokenIssuer(secret, SQLiteStore())
    assert "secrets.token_urlsafe(32)" in str(refused.value)


def test_a_32_byte_secret_and_every_generated_one_are_taken() -> None:
    TokenIssuer("y" * MIN_SECRET_BYTES, SQLiteStore())
    assert len(new_secret().encode()) >= MIN_SECRET_BYTES


def test_revocations_are_forgotten_once_their_tokens_have_expired() -> None:
    now = [1_000_000.0]
    store = SQLiteStore()
    cache = RevocationCache(store, lifetime=60, clock=lambda: now[0])
    cache.revoke_token("short", now[0] + 10)
    cache.revoke_token("long", now[0] + 50)
    cache.add("heard-elsewhere")  # from another process, expiry unknown: kept for a token's lifetime
    assert len(cache) == 3 and cache.is_revoked("short")
    now[0] += 20
    cache.refresh()
    assert len(cache) == 2 and not cache.is_revoked("short") and cache.is_revoked("long")
    now[0] += 41
    cache.refresh()
    assert len(cache) == 0


def test_revocations_are_pruned_as_they_come_even_without_a_refresh() -> None:
    now = [0.0]
    cache = RevocationCache(SQLiteStore(), lifetime=1, clock=lambda: now[0])
    for n in range(5000):
        now[0] = n  # each revocation outlives the one before by a second: at most one is live
        cache.add(f"t{n}")
    assert len(cache) <= 1025
