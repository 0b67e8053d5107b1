"""Passwords (argon2) and tokens (JWT, HS256 only, with expiry and revocation)."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import argon2
import email_validator
import jwt

from .errors import InvalidToken

__all__ = [
    "Claims",
    "PasswordHasher",
    "RevocationCache",
    "RevocationStore",
    "Revocations",
    "TokenIssuer",
    "bearer_token",
    "check_secret",
    "email_problem",
    "is_valid_email",
    "password_problem",
    "new_secret",
]

ALGORITHM = "HS256"

MIN_PASSWORD = 8
"""Characters a password has at least."""

MAX_EMAIL = 254
"""Characters an email address has at most (RFC 5321's path limit)."""

MAX_PASSWORD = 1024
"""Characters a password has at most (hashing longer ones would be work for nothing)."""
_BEARER = re.compile(r"\s*bearer\s+(\S+)\s*", re.IGNORECASE)


MIN_SECRET_BYTES = 32
"""Bytes a token secret has at least: a shorter one can be found from a single token, offline."""


def new_secret() -> str:
    """A fresh random signing secret (256 bits)."""
    return secrets.token_urlsafe(32)


def check_secret(secret: str, origin: str = "") -> str:
    """``secret`` itself when it is long enough to sign tokens with.

    Raises:
        ValueError: it has fewer than MIN_SECRET_BYTES bytes, saying where it came from and how to make one.
    """
    size = len(secret.encode())
    if size < MIN_SECRET_BYTES:
        source = f" ({origin})" if origin else ""
        raise ValueError(
            f"the token secret{source} has {size} bytes; it needs at least {MIN_SECRET_BYTES}, or anyone holding "
            "one token can find it offline and sign tokens for any user. Make one with: "
            'python -c "import secrets; print(secrets.token_urlsafe(32))"'
        )
    return secret


def email_problem(email: object) -> str | None:
    """What is wrong with an email address to register, or None (checked by the email-validator library:
    syntax, no control, markup or direction-changing characters, a real domain; nothing is looked up)."""
    if not isinstance(email, str):
        return "must be an email address"
    if len(email) > MAX_EMAIL:
        return f"must be an email address of at most {MAX_EMAIL} characters"
    try:
        email_validator.validate_email(email, check_deliverability=False)
    except email_validator.EmailNotValidError as error:
        return f"must be an email address: {error}"
    return None


def is_valid_email(email: object) -> bool:
    """Whether ``email`` may be registered (:func:`email_problem` finds nothing)."""
    return email_problem(email) is None


def password_problem(password: object) -> str | None:
    """What is wrong with a new password, or None: a string of MIN_PASSWORD to MAX_PASSWORD characters."""
    if not isinstance(password, str):
        return "must be a string"
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        return f"must be {MIN_PASSWORD} to {MAX_PASSWORD} characters"
    return None


def bearer_token(value: str | None) -> str | None:
    """The JWT in ``"Bearer <jwt>"``, ``"bearer <jwt>"`` or a raw ``"<jwt>"``; None if empty."""
    if not value or not value.strip():
        return None
    match = _BEARER.fullmatch(value)
    return match.group(1) if match else value.strip()


class PasswordHasher:
    """argon2id password hashing."""

    def __init__(self) -> None:
        self._hasher = argon2.PasswordHasher()

    def hash(self, password: str) -> str:
        """Hash a password for storage."""
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        """Whether ``password`` matches ``password_hash``."""
        try:
            return self._hasher.verify(password_hash, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False


class Revocations(Protocol):
    """Where revoked token ids are kept (the store, or a :class:`RevocationCache` over it)."""

    def revoke_token(self, jti: str, expires_at: float) -> None: ...

    def is_revoked(self, jti: str) -> bool: ...


class RevocationStore(Revocations, Protocol):
    """A store that can also list recent revocations (for the cache to follow other processes)."""

    def revocations_since(self, since: float) -> list[tuple[str, float, float]]: ...


class RevocationCache:
    """Revoked token ids held in memory, following the store that every process shares.

    ``is_revoked`` is a dict lookup (no store round trip per connect or request);
    :meth:`refresh` picks up revocations made by other processes and returns them, so
    their open sockets can be turned anonymous too. A revocation is dropped once its token
    has expired anyway (the token is refused for that), so memory follows the live tokens.

    Args:
        store: where revocations are kept.
        lifetime: the longest a token lives; a revocation heard without its expiry is kept that long.
        overlap: seconds re-read at each refresh, for revocations committed late.
        clock: unix seconds.
    """

    def __init__(
        self,
        store: RevocationStore,
        lifetime: float = 12 * 3600,
        overlap: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.lifetime = lifetime
        self.overlap = overlap
        self.clock = clock
        self._revoked: dict[str, float] = {}  # jti -> when its token expires
        self._since = 0.0
        self._prune_above = 1024
        self.refresh()

    def __len__(self) -> int:
        return len(self._revoked)

    def revoke_token(self, jti: str, expires_at: float) -> None:
        """Revoke in the store and here at once."""
        self.store.revoke_token(jti, expires_at)
        self._note(jti, expires_at)

    def is_revoked(self, jti: str) -> bool:
        """Whether ``jti`` is known to be revoked."""
        return jti in self._revoked

    def add(self, jti: str) -> None:
        """Note a revocation heard from another process (its token expires within ``lifetime``)."""
        self._note(jti, self.clock() + self.lifetime)

    def refresh(self) -> list[str]:
        """Read revocations made since the last refresh; return the ones new here. Drops expired ones."""
        rows = self.store.revocations_since(self._since - self.overlap)
        fresh = [jti for jti, _, _ in rows if jti not in self._revoked]
        for jti, _, expires_at in rows:
            self._revoked[jti] = expires_at
        if rows:
            self._since = max(self._since, max(at for _, at, _ in rows))
        self.prune()
        return fresh

    def prune(self) -> int:
        """Drop the revocations of tokens that have expired; return how many."""
        now = self.clock()
        expired = [jti for jti, expires_at in self._revoked.items() if expires_at < now]
        for jti in expired:
            del self._revoked[jti]
        self._prune_above = max(1024, 2 * len(self._revoked))
        return len(expired)

    def _note(self, jti: str, expires_at: float) -> None:
        self._revoked[jti] = expires_at
        if len(self._revoked) > self._prune_above:
            self.prune()


@dataclass(frozen=True, slots=True)
class Claims:
    """What a valid token says: who, their root, and when it expires."""

    user_id: str
    email: str
    root_id: str
    jti: str
    expires_at: float


class TokenIssuer:
    """Issues and verifies HS256 JWTs signed with the server's secret.

    Args:
        secret: the signing secret.
        revocations: where revoked token ids are kept.
        lifetime: seconds a token is valid for.
    """

    def __init__(self, secret: str, revocations: Revocations, lifetime: float = 12 * 3600) -> None:
        self._secret = check_secret(secret)
        self._revocations = revocations
        self.lifetime = lifetime

    def issue(self, user_id: str, email: str, root_id: str) -> str:
        """A new token for this user."""
        now = time.time()
        payload = {
            "sub": user_id,
            "email": email,
            "root_id": root_id,
            "jti": secrets.token_hex(16),
            "iat": int(now),
            "exp": now + self.lifetime,
        }
        return jwt.encode(payload, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str | None) -> Claims:
        """The claims of a valid, unexpired, unrevoked token.

        Raises:
            InvalidToken: the token is missing, malformed, forged, expired or revoked.
        """
        if not token:
            raise InvalidToken("no token")
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                options={"require": ["exp", "sub", "jti", "root_id"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("token expired") from None
        except jwt.PyJWTError:
            raise InvalidToken("invalid token") from None
        claims = Claims(
            str(payload["sub"]),
            str(payload.get("email", "")),
            str(payload["root_id"]),
            str(payload["jti"]),
            float(payload["exp"]),
        )
        if self._revocations.is_revoked(claims.jti):
            raise InvalidToken("token revoked")
        return claims

    def revoke(self, claims: Claims) -> None:
        """Revoke a token; it is refused from now on."""
        self._revocations.revoke_token(claims.jti, claims.expires_at)
