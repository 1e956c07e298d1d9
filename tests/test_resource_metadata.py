"""RFC 9728 building blocks: the metadata document, its well-known URL, the challenge."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from logto_guard import ConfigurationError
from logto_guard._core.resource_metadata import (
    metadata_document,
    metadata_path,
    metadata_url,
)


@pytest.mark.parametrize(
    ("resource", "url"),
    [
        (
            "https://shop.example/mcp",
            "https://shop.example/.well-known/oauth-protected-resource/mcp",
        ),
        (
            "https://shop.example/a/b/",
            "https://shop.example/.well-known/oauth-protected-resource/a/b",
        ),
        ("https://mcp.example.com", "https://mcp.example.com/.well-known/oauth-protected-resource"),
        (
            "https://mcp.example.com/",
            "https://mcp.example.com/.well-known/oauth-protected-resource",
        ),
        (
            "http://127.0.0.1:8000/mcp",
            "http://127.0.0.1:8000/.well-known/oauth-protected-resource/mcp",
        ),
    ],
)
def test_well_known_url_goes_between_host_and_path(resource: str, url: str) -> None:
    """RFC 9728 §3.1, terminating slash removed."""
    assert metadata_url(resource) == url
    assert metadata_path(resource) == urlsplit(url).path


def test_document_has_resource_issuers_scopes_and_header_method() -> None:
    document = metadata_document(
        "https://shop.example/mcp",
        ["https://t.logto.app/oidc", "https://auth.shop.example/oidc", "https://t.logto.app/oidc"],
        scopes_supported=["read:products", "write:products"],
    )
    assert document == {
        "resource": "https://shop.example/mcp",
        "authorization_servers": ["https://t.logto.app/oidc", "https://auth.shop.example/oidc"],
        "bearer_methods_supported": ["header"],
        "scopes_supported": ["read:products", "write:products"],
    }


def test_document_omits_empty_scopes_and_names_the_resource() -> None:
    document = metadata_document("https://x.example", ["https://t/oidc"], resource_name="Shop")
    assert "scopes_supported" not in document
    assert document["resource_name"] == "Shop"


@pytest.mark.parametrize(
    "resource", ["shop.example/mcp", "ftp://shop.example", "https://x/mcp?a=1", "https://x/#f"]
)
def test_unusable_resource_urls_are_configuration_errors(resource: str) -> None:
    with pytest.raises(ConfigurationError):
        metadata_url(resource)


def test_no_authorization_server_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        metadata_document("https://x.example/mcp", [])
