"""What a guarded FastAPI app tells OpenAPI and Swagger UI: scopes, refusals, login."""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA_NAME = "LogtoGuardError"

#: The JSON body of every refusal (see the error table in the README).
ERROR_SCHEMA: dict[str, Any] = {
    "title": ERROR_SCHEMA_NAME,
    "type": "object",
    "properties": {
        "detail": {"type": "string", "description": "what failed, e.g. 'token expired'"},
        "error": {
            "type": "string",
            "enum": ["invalid_request", "invalid_token", "insufficient_scope"],
            "description": "the RFC 6750 error code; absent without credentials and on 503",
        },
    },
    "required": ["detail"],
}

_CHALLENGE = {
    "WWW-Authenticate": {
        "description": "the RFC 6750 challenge (realm, error, error_description, scope)",
        "schema": {"type": "string"},
    }
}
_RETRY_AFTER = {
    "Retry-After": {"description": "seconds before keys may be back", "schema": {"type": "integer"}}
}
_REFUSALS: dict[str, tuple[str, dict[str, Any]]] = {
    "400": ("Malformed Authorization header (error: invalid_request)", _CHALLENGE),
    "401": ("No access token, or an invalid one (error: invalid_token)", _CHALLENGE),
    "403": ("The token lacks a scope this route requires (error: insufficient_scope)", _CHALLENGE),
    "503": ("The tenant's signing keys cannot be fetched right now", _RETRY_AFTER),
}


def used_scopes(schema: dict[str, Any], scheme_name: str) -> list[str]:
    """Every scope an operation of ``schema`` requires from ``scheme_name``, in order."""
    used: dict[str, None] = {}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for requirement in operation.get("security", []):
                used.update(dict.fromkeys(requirement.get(scheme_name, [])))
    return list(used)


def document_guard(schema: dict[str, Any], scheme_name: str) -> None:
    """Complete ``schema`` in place: the scheme lists every scope routes use, and every
    operation guarded by ``scheme_name`` declares the refusals it can answer with."""
    scheme = schema.get("components", {}).get("securitySchemes", {}).get(scheme_name)
    if scheme is not None:
        documented = scheme["flows"]["clientCredentials"].setdefault("scopes", {})
        for scope in used_scopes(schema, scheme_name):
            documented.setdefault(scope, scope)
    reference = {"$ref": f"#/components/schemas/{ERROR_SCHEMA_NAME}"}
    guarded = False
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            requirements = [r for r in operation.get("security", []) if scheme_name in r]
            if not requirements:
                continue
            guarded = True
            responses = operation.setdefault("responses", {})
            for status, (description, headers) in _REFUSALS.items():
                if status == "403" and not any(r[scheme_name] for r in requirements):
                    continue  # no scope to lack
                responses.setdefault(
                    status,
                    {
                        "description": description,
                        "headers": headers,
                        "content": {"application/json": {"schema": reference}},
                    },
                )
    if guarded:
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas.setdefault(ERROR_SCHEMA_NAME, ERROR_SCHEMA)


def default_description(audience: str) -> str:
    """The OpenAPI description of a guard's scheme for ``audience``."""
    # Swagger UI's Authorize dialog labels its fields client_id and client_secret: say
    # what Logto's Console calls them.
    return (
        f"Logto access token for {audience}. In Authorize, client_id is the M2M app's"
        " App ID and client_secret its App Secret (Logto Console: Applications)."
    )
