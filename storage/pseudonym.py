"""Stable pseudonyms: what logs and the audit log keep instead of identities."""

from __future__ import annotations

import hashlib


def pseudonym(key: str) -> str:
    """A short stable stand-in for an identity key or `person:<id>` (`p:3f9a…`), safe to keep."""
    return "p:" + hashlib.sha256(key.encode()).hexdigest()[:12]


def person_pseudonym(person_id: int | None) -> str:
    return pseudonym(f"person:{person_id}") if person_id is not None else "cli"
