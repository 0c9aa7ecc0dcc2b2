"""API keys and roles.

A key is a random secret (`nb_…`) shown once when created; the store keeps only its SHA-256
digest (a fast hash is enough for a 256-bit random secret — there is nothing to guess).
A request sends it as `Authorization: Bearer <key>` or as the HTTP Basic username (how
Segment clients send their write key). Each route needs a scope; each role has scopes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets

from nextbest.store.base import ApiKey, Store

ROLES = ("channel", "agent", "marketer", "data-scientist", "auditor", "admin")

READS = frozenset(
    {"read-decisions", "read-profiles", "read-config", "read-models", "read-quarantine"}
)
#: role → what it may do
SCOPES: dict[str, frozenset[str]] = {
    "channel": frozenset({"decide", "outcomes", "ingest", "write-consents"}),
    "agent": frozenset(
        {
            "decide",
            "outcomes",
            "read-decisions",
            "read-profiles",
            "write-profiles",
            "write-consents",
            "read-config",
        }
    ),
    "marketer": frozenset({"read-config", "reload-config", "read-models", "read-decisions"}),
    "data-scientist": frozenset({"read-config", "read-models", "read-decisions"}),
    "auditor": READS,
    "admin": READS
    | {
        "decide",
        "outcomes",
        "ingest",
        "write-profiles",
        "write-consents",
        "reload-config",
        "privacy",
        "identity",
    },
}


class AuthError(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(store: Store, role: str, name: str, now: float) -> tuple[ApiKey, str]:
    """A new key for `role`; returns the record and the secret (shown once, never stored)."""
    if role not in SCOPES:
        raise ValueError(f"unknown role `{role}` (one of: {', '.join(ROLES)})")
    secret = "nb_" + secrets.token_urlsafe(32)
    key = ApiKey(key_id="key_" + secrets.token_hex(6), name=name, role=role, created_ts=now)
    store.add_key(key, digest(secret))
    return key, secret


def secret_from(header: str | None) -> str | None:
    """The key in an `Authorization` header: Bearer, or the Basic username."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[0] or None
    return None


def authorize(store: Store, header: str | None, scope: str) -> ApiKey:
    """The key allowed to do `scope`; AuthError 401 (no valid key) or 403 (not its role)."""
    secret = secret_from(header)
    if secret is None:
        raise AuthError(401, "send an API key: `Authorization: Bearer <key>`")
    key = store.find_key(digest(secret))
    if key is None or key.revoked_ts is not None:
        raise AuthError(401, "unknown or revoked API key")
    if scope not in SCOPES.get(key.role, frozenset()):
        raise AuthError(403, f"role `{key.role}` may not {scope.replace('-', ' ')}")
    return key
