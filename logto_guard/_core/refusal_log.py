"""The refusal log line: reason and description always, public evidence rate-limited."""

from __future__ import annotations

import logging
from collections.abc import Callable

from .errors import AuthError

logger = logging.getLogger("logto_guard")
#: At most one detailed refusal line (expected and received values) per kind per window.
DETAIL_LOG_INTERVAL = 10.0


class RefusalLog:
    """Logs refusals at INFO; the detailed form (:attr:`AuthError.log_detail`) at most once
    per (reason, description) every :data:`DETAIL_LOG_INTERVAL` seconds of ``clock``."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._detailed_at: dict[tuple[str, str], float] = {}  # few kinds: fixed descriptions

    def __call__(self, exc: AuthError) -> None:
        if not logger.isEnabledFor(logging.INFO):
            return
        # The reason code, the fixed description and public evidence only: never the token.
        detail = exc.log_detail
        if detail is not None:
            kind, now = (exc.reason, exc.description), self._clock()
            last = self._detailed_at.get(kind)
            if last is None or not 0 <= now - last < DETAIL_LOG_INTERVAL:
                self._detailed_at[kind] = now
                logger.info(
                    "request refused: reason=%s (%s): %s", exc.reason, exc.description, detail
                )
                return
        logger.info("request refused: reason=%s (%s)", exc.reason, exc.description)
