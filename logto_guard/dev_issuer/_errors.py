"""Errors of the dev issuer: OAuth error responses and unusable state files.

::

    DevIssuerError
    ├── OAuthError    an RFC 6749 §5.2 error answered by the token endpoint, Logto's body shape
    └── StateError    the state file cannot be read (corrupt, wrong version): never overwritten
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class DevIssuerError(Exception):
    """Base class of the dev issuer's exceptions."""


class OAuthError(DevIssuerError):
    """An OAuth error the token endpoint answers with, shaped like Logto's.

    Attributes:
        status_code: the HTTP status (400, 401 or 403).
        error: the RFC 6749 error code, e.g. ``"invalid_target"``.
        description: the ``error_description`` (also Logto's ``message``).
        headers: extra response headers, e.g. ``WWW-Authenticate`` on a Basic auth failure.
        message: Logto's ``message`` when it differs from the description.
    """

    def __init__(
        self,
        error: str,
        description: str,
        *,
        status_code: int = 400,
        headers: Mapping[str, str] | None = None,
        message: str | None = None,
    ) -> None:
        self.error = error
        self.message = message or description
        self.description = description
        self.status_code = status_code
        self.headers = dict(headers or {})
        super().__init__(f"{error}: {description}")

    def body(self) -> dict[str, Any]:
        """The JSON body Logto sends: ``code``, ``message``, ``error``, ``error_description``."""
        return {
            "code": f"oidc.{self.error}",
            "message": self.message,
            "error": self.error,
            "error_description": self.description,
        }


class StateError(DevIssuerError, ValueError):
    """The state file exists but cannot be used; it is left untouched for inspection.

    Attributes:
        path: the offending file.
    """

    def __init__(self, path: object, reason: str) -> None:
        self.path = path
        super().__init__(
            f"dev issuer state file {path} is unusable ({reason}); "
            "fix it or delete it to start from a fresh state"
        )
