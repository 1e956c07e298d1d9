"""The banner ``python -m demo_api`` prints once both servers listen: the three apps'
credentials, then shell lines that work when pasted (each block under a ``# N.`` heading)."""

from __future__ import annotations

import base64
import shlex

from logto_guard.dev_issuer import MANAGEMENT_API, IssuerState

READER, WRITER, ADMIN = "shopping-reader", "shopping-writer", "shopping-admin"
#: The MCP server's own app: it exchanges its callers' tokens (the reorder_product tool).
MCP_SERVER = "shopping-mcp"


def instructions(
    state: IssuerState,
    *,
    api_url: str,
    audience: str,
    endpoint: str,
    mcp_resource: str | None = None,
) -> str:
    """The banner: credentials, then curl lines that work when pasted into a shell."""
    lines = [
        "",
        f"Dev issuer (Logto-compatible): {endpoint}   token endpoint: {endpoint}/oidc/token",
        f"Shopping API: {api_url}   docs: {api_url}/docs   audience: {audience}",
        "",
    ]
    for name, grants in (
        (READER, "read:products"),
        (WRITER, "read:products write:products"),
        (ADMIN, f"all on the Management API {MANAGEMENT_API}"),
    ):
        app = state.find_app(name)
        assert app is not None
        lines.append(f"  {name}: App ID {app.app_id}   App Secret {app.app_secret}   ({grants})")
    writer = state.find_app(WRITER)
    assert writer is not None
    basic = base64.b64encode(f"{writer.app_id}:{writer.app_secret}".encode()).decode()
    product = shlex.quote('{"name": "Green tea", "price": 4.5}')
    lines += [
        "",
        "# 1. Get an access token (exactly as in Logto's M2M guide):",
        f"curl -s -X POST {endpoint}/oidc/token \\",
        f"  -H 'Authorization: Basic {basic}' \\",
        "  -H 'Content-Type: application/x-www-form-urlencoded' \\",
        "  --data-urlencode grant_type=client_credentials \\",
        f"  --data-urlencode resource={audience} \\",
        "  --data-urlencode 'scope=read:products write:products'",
        "",
        "# 2. Keep it and call the API:",
        f"TOKEN=$(curl -s -X POST {endpoint}/oidc/token -H 'Authorization: Basic {basic}'"
        f" --data-urlencode grant_type=client_credentials --data-urlencode resource={audience}"
        " --data-urlencode 'scope=read:products write:products'"
        " | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')",
        f'curl -s -X POST {api_url}/products -H "Authorization: Bearer $TOKEN"'
        f" -H 'Content-Type: application/json' -d {product}",
        f'curl -s {api_url}/products -H "Authorization: Bearer $TOKEN"',
    ]
    if mcp_resource:
        lines += mcp_instructions(endpoint=endpoint, basic=basic, mcp_resource=mcp_resource)
    lines += management_instructions(state, endpoint=endpoint)
    lines += ["", "Press Ctrl-C to stop."]
    return "\n".join(lines)


def mcp_instructions(*, endpoint: str, basic: str, mcp_resource: str) -> list[str]:
    """Banner lines for the MCP endpoint: a token for its resource, then a client snippet."""
    return [
        "",
        f"MCP server (streamable HTTP): {mcp_resource}   resource indicator: {mcp_resource}",
        "# 3. A token for the MCP resource (resource= is the MCP endpoint's URL):",
        f"MCP_TOKEN=$(curl -s -X POST {endpoint}/oidc/token -H 'Authorization: Basic {basic}'"
        f" --data-urlencode grant_type=client_credentials --data-urlencode resource={mcp_resource}"
        " --data-urlencode 'scope=read:products write:products'"
        " | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')",
        "# 4. Call the tools from Python (or: python -m demo_api.client mcp-tools):",
        "#   import anyio, httpx2, os",
        "#   from mcp import ClientSession",
        "#   from mcp.client.streamable_http import streamable_http_client",
        "#   async def main():",
        '#       auth = {"Authorization": "Bearer " + os.environ["MCP_TOKEN"]}',
        "#       async with httpx2.AsyncClient(headers=auth) as http, streamable_http_client(",
        f'#               "{mcp_resource}", http_client=http) as (read, write), \\',
        "#               ClientSession(read, write) as session:",
        "#           await session.initialize()",
        '#           print(await session.call_tool("list_products", {}))',
        "#   anyio.run(main)",
        "# 4b. Act for a user: log in as the dev user from an MCP client (MCP Inspector, or the",
        "#    SDK's OAuthClientProvider: authorization code + PKCE, auto-approved on loopback),",
        '#    then call_tool("reorder_product", {"product_id": 1}): the MCP server exchanges',
        f"#    your token for one to the REST API (app {MCP_SERVER}); it never passes yours on.",
    ]


def management_instructions(state: IssuerState, *, endpoint: str) -> list[str]:
    """Banner lines for the dev issuer's Management API stand-in (``GET /api/applications``,
    scope ``all``), called as Logto's own: a token for its resource, then the call."""
    admin = state.find_app(ADMIN)
    if admin is None:
        return []
    secret = shlex.quote(admin.app_secret)
    return [
        "",
        f"# 5. The Management API stand-in ({endpoint}/api, resource {MANAGEMENT_API}),"
        f" as {ADMIN}:",
        f"ADMIN_TOKEN=$(LOGTO_APP_SECRET={secret} logto-guard token --endpoint {endpoint}"
        f" --app-id {admin.app_id} --resource {MANAGEMENT_API} --scope all)",
        f'curl -s {endpoint}/api/applications -H "Authorization: Bearer $ADMIN_TOKEN"',
    ]
