"""The server the dev issuer and the demo run on: uvicorn, an optional extra."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

SERVER_EXTRA_HINT = "pip install 'logto-guard[server]'"


def import_uvicorn(program: str) -> ModuleType | None:
    """``uvicorn``, or ``None`` after one line on stderr naming the extra to install.

    Called before anything is written, so a missing server leaves no state behind.
    """
    try:
        return importlib.import_module("uvicorn")
    except ImportError:
        print(f"{program} needs uvicorn to serve: {SERVER_EXTRA_HINT}", file=sys.stderr)
        return None
