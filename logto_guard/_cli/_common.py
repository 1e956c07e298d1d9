"""What both commands share: exit statuses, the usage error, the injected streams."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TextIO

import httpx

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
DEFAULT_SECRET_ENV = "LOGTO_APP_SECRET"  # noqa: S105 (a variable name, not a secret)


class UsageError(Exception):
    """Bad arguments found after parsing (exit status 2; the message is safe to print)."""


@dataclass(frozen=True)
class IO:
    """The streams, environment, prompt, HTTP client and clock a run uses (tests inject them)."""

    stdin: TextIO
    stdout: TextIO
    stderr: TextIO
    environ: Mapping[str, str]
    prompt: Callable[[str], str]
    http_client: httpx.AsyncClient | None
    clock: Callable[[], float]
