"""Every public module's ``__all__`` is sorted, complete and names only public homes."""

from __future__ import annotations
import __future__

import dataclasses
import importlib
import inspect
import types
import typing

import pytest

from .helpers import PUBLIC_MODULES

#: Modules that only re-export: ``__all__`` equals every public name they hold (httpx's rule).
REEXPORTS = [
    "logto_guard",
    "logto_guard.fastapi",
    "logto_guard.mcp",
    "logto_guard.fastmcp",
    "logto_guard.client",
    "logto_guard.testing",
    "logto_guard.signing",
    "logto_guard.lowlevel",
    "logto_guard.dev_issuer",
]
#: Modules holding their own implementation (and its imports): every public class and
#: function defined there is exported.
IMPLEMENTATIONS = ["logto_guard.asgi", "logto_guard.pytest_plugin"]


def test_every_public_module_is_in_one_of_the_lists() -> None:
    """A new public module cannot slip past these checks (or the docs'): the lists above
    are exactly the modules found in the package."""
    assert sorted(REEXPORTS + IMPLEMENTATIONS) == sorted(PUBLIC_MODULES)


#: Names served by a module ``__getattr__`` (loaded on first use), by module.
LAZY = {"logto_guard": {"LogtoGuard"}}
#: A re-exported name whose public home is another public module.
HOMES = {("logto_guard", "LogtoGuard"): "logto_guard.fastapi"}
OPTIONAL = {"logto_guard.mcp": "mcp", "logto_guard.fastmcp": "fastmcp"}


def load(name: str) -> types.ModuleType:
    if name in OPTIONAL:
        pytest.importorskip(OPTIONAL[name])
    return importlib.import_module(name)


def export_order(name: str) -> tuple[int, str]:
    # ruff's RUF022 order: CONSTANTS, then Classes, then functions.
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2), name


def held_names(module: types.ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if (not name.startswith("_") or name == "__version__")
        and not isinstance(value, types.ModuleType | __future__._Feature)
    } | LAZY.get(module.__name__, set())


@pytest.mark.parametrize("name", REEXPORTS + IMPLEMENTATIONS)
def test_all_is_sorted_and_names_what_the_module_has(name: str) -> None:
    module = load(name)
    assert module.__all__ == sorted(module.__all__, key=export_order)
    assert len(set(module.__all__)) == len(module.__all__)
    for exported in module.__all__:
        assert getattr(module, exported) is not None


@pytest.mark.parametrize("name", REEXPORTS)
def test_all_equals_the_public_names_of_a_reexporting_module(name: str) -> None:
    module = load(name)
    assert set(module.__all__) == held_names(module)


@pytest.mark.parametrize("name", IMPLEMENTATIONS)
def test_every_public_definition_of_an_implementation_module_is_exported(name: str) -> None:
    module = load(name)
    defined = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == name
    }
    assert defined <= set(module.__all__)


@pytest.mark.parametrize("name", REEXPORTS + IMPLEMENTATIONS)
def test_every_exported_class_and_function_says_its_public_home(name: str) -> None:
    module = load(name)
    for exported in module.__all__:
        value = getattr(module, exported)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__module__ == HOMES.get((name, exported), name), exported
            assert f"{value.__module__}.{value.__qualname__}" in repr(value) or inspect.isfunction(
                value
            )


@pytest.mark.parametrize("name", REEXPORTS + IMPLEMENTATIONS)
def test_type_hints_of_public_classes_still_resolve(name: str) -> None:
    """pydantic and FastAPI read hints through ``sys.modules[cls.__module__]``."""
    module = load(name)
    for exported in module.__all__:
        value = getattr(module, exported)
        if inspect.isclass(value):
            typing.get_type_hints(value)
        if dataclasses.is_dataclass(value):
            unresolved = [f.name for f in dataclasses.fields(value) if isinstance(f.type, str)]
            assert unresolved == [], exported


def test_pydantic_still_reads_auth_info() -> None:
    """An endpoint returning ``AuthInfo`` makes FastAPI build its schema with pydantic."""
    import pydantic

    from logto_guard import AuthInfo

    schema = pydantic.TypeAdapter(AuthInfo).json_schema()
    assert schema["properties"]["expires_at"]["format"] == "date-time"


def test_the_root_exports_only_what_users_need() -> None:
    import logto_guard

    gone = {"DEFAULT_ALGORITHMS", "ORGANIZATION_AUDIENCE_PREFIX", "JWKSCache"}
    gone |= {"TokenValidator", "TrustedKey"}
    assert gone.isdisjoint(logto_guard.__all__)
    for name in gone:
        with pytest.raises(AttributeError):
            getattr(logto_guard, name)


def test_the_fastmcp_verifier_is_renamed_with_a_deprecated_alias() -> None:
    fastmcp = load("logto_guard.fastmcp")
    mcp = load("logto_guard.mcp")
    with pytest.warns(DeprecationWarning, match="LogtoFastMCPVerifier"):
        alias = fastmcp.LogtoTokenVerifier
    assert alias is fastmcp.LogtoFastMCPVerifier
    assert alias is not mcp.LogtoTokenVerifier
    assert "LogtoTokenVerifier" not in fastmcp.__all__
