"""Evidence for people: values from a token made safe to print, times and durations.

What ``logto-guard inspect`` prints comes through here (the claim rules describe what they
saw with it): a hostile token cannot drive the terminal.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

_SHOW_LIMIT = 120
#: Deeper nesting is shown as a placeholder, the same on every Python version.
_SHOW_DEPTH = 100


def _deeper_than(value: object, limit: int) -> bool:
    """True when lists and dicts nest more than ``limit`` levels (iterative: no recursion)."""
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, list | dict):
            if depth >= limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def show(value: object, limit: int = _SHOW_LIMIT) -> str:
    """``value`` for a terminal: plain printable strings as is, anything else as JSON.

    Control and format characters are escaped and the result is cut at ``limit``.
    """
    if isinstance(value, str) and value and value.isprintable() and '"' not in value:
        text = value
    elif _deeper_than(value, _SHOW_DEPTH):
        # Decided here, not by catching RecursionError: Python 3.13's C encoder recurses
        # far deeper than 3.12's, so the interpreter's limit gave different answers.
        text = f"<{type(value).__name__} too deep to show>"
    else:
        try:
            text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), default=repr)
        except (ValueError, RecursionError):
            text = f"<{type(value).__name__} too deep to show>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def duration(seconds: float) -> str:
    """``seconds`` in the two largest units: ``59m 12s``, ``3m``, ``2h 5m``, ``4d 1h``."""
    remaining = int(abs(seconds))
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, remaining = divmod(remaining, size)
        if count or (parts and len(parts) < 2):
            parts.append(f"{count}{unit}")
        if len(parts) == 2:
            break
    while len(parts) > 1 and parts[-1].startswith("0"):
        parts.pop()
    return " ".join(parts) or "0s"


def utc(value: float) -> str:
    """``value`` (seconds since the epoch) as ``2026-11-25T21:34:41Z``."""
    return datetime.fromtimestamp(value, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
