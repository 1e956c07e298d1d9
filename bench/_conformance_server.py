"""The fixtures server of :mod:`bench.conformance`: an MCP SDK server with the tools,
resources and prompts the conformance suite's server scenarios call (``test_simple_text``,
``test://static-text``, ``test_simple_prompt``, ...), stateful, answering over SSE, so
the suite drives what the demo's stateless JSON endpoint cannot: sessions, streamed
results, progress and log notifications, and server-to-client requests (sampling,
elicitation) whose answers the client POSTs back, all through ``protect()``.

Written for this benchmark from the scenarios' expectations; the demo stays the demo.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import (
    AudioContent,
    Completion,
    EmbeddedResource,
    EmptyResult,
    ImageContent,
    SamplingMessage,
    SetLevelRequestParams,
    SubscribeRequestParams,
    TextContent,
    TextResourceContents,
    UnsubscribeRequestParams,
)
from pydantic import BaseModel, Field

from logto_guard.mcp import LogtoTokenVerifier, auth_settings

#: A 1x1 PNG and a tiny WAV file.
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0g"
    "AAAABJRU5ErkJggg=="
)
WAV = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="
#: Per-tool scopes, so the body-reading path of ``protect()`` runs on every tools/call.
TOOL_SCOPES = {"test_simple_text": ["read:products"], "test_sampling": ["read:products"]}


class Answer(BaseModel):
    """The elicitation form of ``test_elicitation``."""

    response: str = Field(description="your answer")


class Defaults(BaseModel):
    """SEP-1034: a default for every primitive type."""

    name: str = Field(default="John Doe", description="name")
    age: int = Field(default=30, description="age")
    score: float = Field(default=95.5, description="score")
    status: str = Field(
        default="active",
        description="status",
        json_schema_extra={"enum": ["active", "inactive", "pending"]},
    )
    verified: bool = Field(default=True, description="verified")


class Enums(BaseModel):
    """SEP-1330: the enum shapes of elicitation schemas."""

    untitledSingle: str = Field(json_schema_extra={"enum": ["active", "inactive"]})
    titledSingle: str = Field(
        json_schema_extra={
            "oneOf": [{"const": "low", "title": "Low"}, {"const": "high", "title": "High"}]
        }
    )
    untitledMulti: list[str] = Field(
        json_schema_extra={"items": {"type": "string", "enum": ["read", "write"]}}
    )
    titledMulti: list[str] = Field(
        json_schema_extra={
            "items": {"anyOf": [{"const": "bug", "title": "Bug"}, {"const": "doc", "title": "Doc"}]}
        }
    )
    legacyEnum: str = Field(
        json_schema_extra={"enum": ["s", "m"], "enumNames": ["Small", "Medium"]}
    )


def _tools(mcp: MCPServer[Any]) -> None:
    @mcp.tool()
    def test_simple_text() -> str:
        """Text."""
        return "This is a simple text response for testing."

    @mcp.tool()
    def test_image_content() -> list[ImageContent]:
        """An image."""
        return [ImageContent(data=PNG, mime_type="image/png")]

    @mcp.tool()
    def test_audio_content() -> list[AudioContent]:
        """Audio."""
        return [AudioContent(data=WAV, mime_type="audio/wav")]

    embedded = EmbeddedResource(
        type="resource",
        resource=TextResourceContents(
            uri="test://embedded-resource", mime_type="text/plain", text="Embedded."
        ),
    )

    @mcp.tool()
    def test_embedded_resource() -> list[EmbeddedResource]:
        """An embedded resource."""
        return [embedded]

    @mcp.tool()
    def test_multiple_content_types() -> list[TextContent | ImageContent | EmbeddedResource]:
        """Text, image and resource."""
        return [TextContent(text="Mixed:"), ImageContent(data=PNG, mime_type="image/png"), embedded]

    @mcp.tool()
    async def test_tool_with_logging(ctx: Context) -> str:
        """Three log notifications."""
        for step in ("started", "working", "done"):
            await ctx.info(f"tool {step}")
        return "logged"

    @mcp.tool()
    async def test_tool_with_progress(ctx: Context) -> str:
        """Three progress notifications."""
        for progress in (0, 50, 100):
            await ctx.report_progress(progress=progress, total=100, message=f"{progress}%")
        return "done"

    @mcp.tool()
    def test_error_handling() -> str:
        """Always fails."""
        raise RuntimeError("This tool always fails")

    @mcp.tool()
    async def test_sampling(prompt: str, ctx: Context) -> str:
        """Ask the client's model."""
        message = SamplingMessage(role="user", content=TextContent(text=prompt))
        result = await ctx.session.create_message(messages=[message], max_tokens=100)
        content = result.content
        return f"LLM response: {getattr(content, 'text', '')}"

    @mcp.tool()
    async def test_elicitation(message: str, ctx: Context) -> str:
        """Ask the user."""
        result = await ctx.elicit(message=message, schema=Answer)
        return f"action={result.action}"

    @mcp.tool()
    async def test_elicitation_sep1034_defaults(ctx: Context) -> str:
        """Ask with defaults."""
        result = await ctx.elicit(message="Your details", schema=Defaults)
        return f"action={result.action}"

    @mcp.tool()
    async def test_elicitation_sep1330_enums(ctx: Context) -> str:
        """Ask with enums."""
        result = await ctx.elicit(message="Pick values", schema=Enums)
        return f"action={result.action}"


def _resources_and_prompts(mcp: MCPServer[Any]) -> None:
    @mcp.resource("test://static-text")
    def static_text() -> str:
        """Text."""
        return "This is the content of the static text resource."

    @mcp.resource("test://static-binary", mime_type="image/png")
    def static_binary() -> bytes:
        """Bytes."""
        return base64.b64decode(PNG)

    @mcp.resource("test://template/{id}/data")
    def template(id: str) -> str:
        """A template."""
        return json.dumps({"id": id, "templateTest": True})

    @mcp.resource("test://watched-resource")
    def watched() -> str:
        """Subscribable."""
        return "watched"

    @mcp.prompt()
    def test_simple_prompt() -> str:
        """No arguments."""
        return "This is a simple prompt for testing."

    @mcp.prompt()
    def test_prompt_with_arguments(arg1: str, arg2: str) -> str:
        """Two arguments."""
        return f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"

    @mcp.prompt()
    def test_prompt_with_embedded_resource(resourceUri: str) -> list[Any]:
        """An embedded resource."""
        contents = TextResourceContents(uri=resourceUri, mime_type="text/plain", text="Embedded.")
        return [EmbeddedResource(type="resource", resource=contents), "Process it."]

    @mcp.prompt()
    def test_prompt_with_image() -> list[Any]:
        """An image."""
        return [ImageContent(data=PNG, mime_type="image/png"), "Describe it."]

    @mcp.completion()  # type: ignore[no-untyped-call, untyped-decorator]
    async def complete(ref: Any, argument: Any, context: Any) -> Completion:
        return Completion(values=[], total=0, has_more=False)

    async def empty(ctx: Any, params: Any) -> EmptyResult:
        return EmptyResult()

    # The SDK has no public registration for these legacy (<= 2025-11-25) methods.
    lowlevel = mcp._lowlevel_server
    lowlevel.add_request_handler("logging/setLevel", SetLevelRequestParams, empty)
    lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, empty)
    lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, empty)


def fixtures_app(verifier: LogtoTokenVerifier, *, guarded: bool) -> Any:
    """The fixtures server at ``/mcp`` (stateful, SSE): behind ``verifier.protect()``
    with :data:`TOOL_SCOPES` when ``guarded``, else on the SDK's plumbing alone."""
    mcp: MCPServer[Any] = MCPServer(
        "conformance-fixtures", token_verifier=verifier, auth=auth_settings(verifier)
    )
    _tools(mcp)
    _resources_and_prompts(mcp)
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=["127.0.0.1:*", "localhost:*"],
        allowed_origins=["http://127.0.0.1:*", "http://localhost:*"],
    )
    app = mcp.streamable_http_app(transport_security=security)
    return verifier.protect(app, path="/mcp", tool_scopes=TOOL_SCOPES) if guarded else app
