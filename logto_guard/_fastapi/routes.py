"""Startup check of a FastAPI guard's ``organization=`` path parameter against its routes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.routing import APIRoute

from .._core.errors import ConfigurationError


def _depends_on(dependant: Any, uses: Callable[[object], bool]) -> bool:
    stack = [dependant]
    while stack:
        current = stack.pop()
        if uses(current.call):
            return True
        stack.extend(current.dependencies)
    return False


def check_organization_parameter(
    routes: list[Any], parameter: str, uses: Callable[[object], bool]
) -> None:
    """Raise when a route guarded by ``uses`` has no path parameter ``parameter``.

    Raises:
        ConfigurationError: naming the routes and the parameter (a misspelt
            ``organization=`` would otherwise refuse every request of those routes).
    """
    lacking = [
        route.path
        for route in routes
        if isinstance(route, APIRoute)
        and parameter not in route.param_convertors
        and _depends_on(route.dependant, uses)
    ]
    if lacking:
        raise ConfigurationError(
            f"organization={parameter!r} is not a path parameter of {', '.join(lacking)}: "
            "name the route's parameter (e.g. organization='org_id' for /orgs/{org_id}/...), "
            "or pass a function of the request"
        )
