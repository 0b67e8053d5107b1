"""Password hashing and JWTs: issue, verify, expiry, forgery, revocation."""

from __future__ import annotations

import jwt
import pytest

from jacws.auth import PasswordHasher, TokenIssuer, bearer_token, is_valid_email, new_secret
from jacws.errors import InvalidToken
from jacws.store import SQLiteStore

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
