"""Times as run records store them: ISO-8601 UTC to the second (a leaf: runners need it without the store)."""
from __future__ import annotations

from datetime import datetime, timezone


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
