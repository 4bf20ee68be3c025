"""Streamable HTTP front end of the OASIS MCP server, as a reusable ASGI app.

``create_http_app()`` returns a Starlette app that serves:

* MCP streamable HTTP at exactly ``/mcp`` (``/mcp/`` answers too, without a redirect);
* ``GET /health``: a cheap JSON status (no data loading, no token needed).

Every route checks the ``Host`` header (DNS-rebinding protection) and, when present, the
``Origin`` header against allow-lists; ``/mcp`` also requires ``Authorization: Bearer <token>``
when a token is configured (``OASIS_MCP_TOKEN``). The MCP session manager runs in the app's
lifespan.

To serve MCP from another ASGI app (FastAPI, Gradio), use :func:`mount_mcp` on that app, or
:func:`build_mcp_endpoint` and wire its ``routes()`` and ``lifespan()`` yourself::

    app = FastAPI()
    endpoint = mount_mcp(app, server)     # adds /mcp, /mcp/, /health and wraps app's lifespan
    gr.mount_gradio_app(app, blocks, path="/")

Allow-list entries: ``host``, ``host:port`` or ``host:*`` for hosts (an entry without a port, or
with ``:*``, accepts any port; IPv6 in brackets: ``[::1]:*``), ``scheme://host[:port|:*]`` for
origins, and ``*`` to accept anything (behind a reverse proxy that already checks hosts).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import hmac
import ipaddress
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from oasis_mcp import __version__
from oasis_mcp.http_limits import ClientLimiter, HttpLimits

if TYPE_CHECKING:
    from mcp.server import MCPServer
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

log = logging.getLogger(__name__)

TOKEN_ENV = "OASIS_MCP_TOKEN"
ALLOWED_HOSTS_ENV = "OASIS_MCP_ALLOWED_HOSTS"
ALLOWED_ORIGINS_ENV = "OASIS_MCP_ALLOWED_ORIGINS"

MCP_PATH = "/mcp"
HEALTH_PATH = "/health"

DEFAULT_ALLOWED_HOSTS: tuple[str, ...] = ("127.0.0.1:*", "localhost:*", "[::1]:*")
DEFAULT_ALLOWED_ORIGINS: tuple[str, ...] = (
    "http://127.0.0.1:*",
    "http://localhost:*",
    "http://[::1]:*",
)
_WILDCARD_BIND = {"", "0.0.0.0", "::", "[::]"}
_MAX_ECHO = 120  # characters of a rejected header value echoed back in error bodies


# --- allow-lists ---------------------------------------------------------------------------


def split_env_list(value: str | None) -> list[str]:
    """Items of a comma-separated environment variable, stripped, empty ones dropped."""
    if not value:
        return []
    return [item.strip() for item in value.split(",") if item.strip()]


def _split_host_port(value: str) -> tuple[str, str | None]:
    """``"Example.org:8000"`` → ``("example.org", "8000")``; ``"[::1]:*"`` → ``("[::1]", "*")``."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end == -1:
            return value, None
        host, rest = value[: end + 1], value[end + 1 :]
        if rest.startswith(":"):
            return host, rest[1:]
        return (host, None) if not rest else (value, None)
    if value.count(":") == 1:
        host, port = value.split(":")
        return host, port
    return value, None


def host_header_for(bind_host: str) -> str | None:
    """The ``Host`` allow-list entry matching a bind address, or None for wildcard binds."""
    bind_host = bind_host.strip()
    if bind_host in _WILDCARD_BIND:
        return None
    try:
        if ipaddress.ip_address(bind_host.strip("[]")).version == 6:
            return f"[{bind_host.strip('[]')}]:*"
    except ValueError:
        pass
    return f"{bind_host}:*"


@dataclass(frozen=True)
class _HostPattern:
    host: str
    port: str | None  # None or "*" = any port

    @classmethod
    def parse(cls, entry: str) -> _HostPattern:
        host, port = _split_host_port(entry)
        return cls(host, port)

    def matches(self, host: str, port: str | None) -> bool:
        if host != self.host:
            return False
        return self.port in (None, "*") or self.port == port


@dataclass(frozen=True)
class _OriginPattern:
    scheme: str
    host: str
    port: str | None  # None or "*" = any port
    raw: str

    @classmethod
    def parse(cls, entry: str) -> _OriginPattern:
        entry = entry.strip().lower().rstrip("/")
        scheme, sep, rest = entry.partition("://")
        if not sep:
            return cls("", entry, None, entry)
        host, port = _split_host_port(rest)
        return cls(scheme, host, port, entry)

    def matches(self, origin: str) -> bool:
        if not self.scheme:  # e.g. "null"
            return origin == self.raw
        scheme, sep, rest = origin.partition("://")
        if not sep or scheme != self.scheme:
            return False
        host, port = _split_host_port(rest)
        if host != self.host:
            return False
        return self.port in (None, "*") or self.port == port


# JSON-RPC codes of HTTP refusals (server-defined range): 401 -> -32001, the others -32000.
_REJECTION_CODES = {401: -32001}
PROTECTED_RESOURCE_PATH = "/.well-known/oauth-protected-resource"
# Where OAuth clients (mcp-remote 0.15) fall back to dynamic client registration when the
# metadata names no authorization server: answered with an RFC 7591 error that says what to do,
# which such clients print, instead of a bare 404.
REGISTER_PATH = "/register"


@dataclass(frozen=True)
class Rejection:
    """Why a request was refused; ``response()`` builds the HTTP answer."""

    status: int
    error: str
    message: str
    headers: Mapping[str, str] = field(default_factory=dict)

    def response(self) -> Response:
        """A JSON-RPC error body (``id: null``, as the SDK's own HTTP refusals): MCP clients show
        ``error.message``; ``error.data.reason`` is the machine-readable cause."""
        return JSONResponse(
            {
                "jsonrpc": "2.0",
                "id": None,
                "error": {
                    "code": _REJECTION_CODES.get(self.status, -32000),
                    "message": self.message,
                    "data": {"reason": self.error, "status": self.status},
                },
            },
            status_code=self.status,
            headers=dict(self.headers),
        )


@dataclass(frozen=True)
class AccessPolicy:
    """Host/Origin allow-lists and the optional bearer token. Build it with :meth:`build`."""

    allowed_hosts: tuple[str, ...]
    allowed_origins: tuple[str, ...]
    token: str | None = field(default=None, repr=False)
    _host_patterns: tuple[_HostPattern, ...] = field(init=False, repr=False, compare=False)
    _origin_patterns: tuple[_OriginPattern, ...] = field(init=False, repr=False, compare=False)
    _token_digest: bytes | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        hosts = tuple(_HostPattern.parse(h) for h in self.allowed_hosts if h.strip() != "*")
        origins = tuple(_OriginPattern.parse(o) for o in self.allowed_origins if o.strip() != "*")
        object.__setattr__(self, "_host_patterns", hosts)
        object.__setattr__(self, "_origin_patterns", origins)
        digest = hashlib.sha256(self.token.encode()).digest() if self.token else None
        object.__setattr__(self, "_token_digest", digest)

    @classmethod
    def build(
        cls,
        *,
        allowed_hosts: Iterable[str] | None = None,
        allowed_origins: Iterable[str] | None = None,
        token: str | None = None,
        bind_host: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> AccessPolicy:
        """Defaults (loopback names, any port) + the bind host + ``$OASIS_MCP_ALLOWED_HOSTS`` +
        ``allowed_hosts``; same for origins. ``token=None`` reads ``$OASIS_MCP_TOKEN``; an empty
        token (argument or variable) means no authentication."""
        env = os.environ if environ is None else environ
        hosts = list(DEFAULT_ALLOWED_HOSTS)
        if bind_host is not None and (entry := host_header_for(bind_host)):
            hosts.append(entry)
        hosts += split_env_list(env.get(ALLOWED_HOSTS_ENV))
        hosts += [h.strip() for h in allowed_hosts or () if h.strip()]
        origins = list(DEFAULT_ALLOWED_ORIGINS)
        origins += split_env_list(env.get(ALLOWED_ORIGINS_ENV))
        origins += [o.strip() for o in allowed_origins or () if o.strip()]
        if token is None:
            token = env.get(TOKEN_ENV, "")
        token = token.strip() or None
        return cls(tuple(dict.fromkeys(hosts)), tuple(dict.fromkeys(origins)), token)

    @property
    def auth_required(self) -> bool:
        return self._token_digest is not None

    @property
    def any_host(self) -> bool:
        return any(h.strip() == "*" for h in self.allowed_hosts)

    def host_allowed(self, host_header: str | None) -> bool:
        if self.any_host:
            return True
        if not host_header:
            return False
        host, port = _split_host_port(host_header)
        return any(p.matches(host, port) for p in self._host_patterns)

    def origin_allowed(self, origin: str | None) -> bool:
        if origin is None:  # non-browser clients send no Origin
            return True
        if any(o.strip() == "*" for o in self.allowed_origins):
            return True
        origin = origin.strip().lower().rstrip("/")
        return any(p.matches(origin) for p in self._origin_patterns)

    def token_valid(self, authorization: str | None) -> bool:
        if self._token_digest is None:
            return True
        scheme, _, credentials = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            return False
        given = hashlib.sha256(credentials.strip().encode()).digest()
        return hmac.compare_digest(given, self._token_digest)

    def check(self, headers: Headers, *, require_token: bool) -> Rejection | None:
        """The first failed check (Host, then Origin, then token), or None."""
        host = headers.get("host")
        if not self.host_allowed(host):
            shown = (host or "")[:_MAX_ECHO]
            return Rejection(
                421,
                "host_not_allowed",
                f"Host header {shown!r} is not allowed (DNS-rebinding protection). If this "
                f"server is meant to answer under that name, start it with --allowed-host "
                f"<host[:port]> or add it to ${ALLOWED_HOSTS_ENV}.",
            )
        origin = headers.get("origin")
        if not self.origin_allowed(origin):
            shown = (origin or "")[:_MAX_ECHO]
            return Rejection(
                403,
                "origin_not_allowed",
                f"Origin {shown!r} is not allowed. Start the server with --allowed-origin "
                f"<scheme://host[:port]> or add it to ${ALLOWED_ORIGINS_ENV}.",
            )
        if require_token and not self.token_valid(headers.get("authorization")):
            return self.unauthorized(headers)
        return None

    def unauthorized(self, headers: Headers) -> Rejection:
        """401 saying how to pass the token. The challenge points at the protected-resource
        metadata (RFC 9728), which names no authorization server: clients such as mcp-remote
        then know there is no OAuth flow to start and report the error instead."""
        given = headers.get("authorization") is not None
        challenge = 'Bearer realm="oasis-mcp"'
        if given:
            challenge += ', error="invalid_token", error_description="the bearer token is wrong"'
        host = headers.get("host")
        if host:
            scheme = headers.get("x-forwarded-proto", "http").split(",")[0].strip() or "http"
            challenge += f', resource_metadata="{scheme}://{host}{PROTECTED_RESOURCE_PATH}"'
        how = (
            "send the header 'Authorization: Bearer <token>', where <token> is the value of "
            f"${TOKEN_ENV} on the server (e.g. mcp-remote: --header \"Authorization:Bearer "
            "<token>\"; the Python SDK: an httpx client with that header). This server does "
            "not use OAuth."
        )
        return Rejection(
            401,
            "invalid_token" if given else "missing_token",
            ("The bearer token is wrong: " if given else "This server requires a token: ") + how,
            {"WWW-Authenticate": challenge},
        )


class AccessGuard:
    """ASGI middleware enforcing an :class:`AccessPolicy` on HTTP and WebSocket requests.

    ``require_token=False`` keeps the Host/Origin checks but lets requests through without a
    token (used for ``/health``). Lifespan events pass through untouched.
    """

    def __init__(self, app: ASGIApp, policy: AccessPolicy, *, require_token: bool = True) -> None:
        self.app = app
        self.policy = policy
        self.require_token = require_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        rejection = self.policy.check(Headers(scope=scope), require_token=self.require_token)
        if rejection is None:
            await self.app(scope, receive, send)
            return
        level = logging.INFO if rejection.status == 401 else logging.WARNING
        log.log(level, "refused %s %s: %s", scope.get("method", "WS"), scope.get("path"),
                rejection.error)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await rejection.response()(scope, receive, send)


# --- the MCP endpoint ----------------------------------------------------------------------

HealthInfo = Callable[[], Mapping[str, Any]]


def _default_health_info(server: MCPServer) -> HealthInfo:
    """Extra /health fields from the server, if it offers a cheap ``health_info()`` hook."""
    hook = getattr(server, "health_info", None)

    def info() -> Mapping[str, Any]:
        if callable(hook):
            try:
                return dict(hook())
            except Exception:  # /health must answer even if the hook is broken
                log.exception("health_info() failed")
                return {"data": "unavailable"}
        return {}

    return info


@dataclass
class MCPHttpEndpoint:
    """The pieces needed to serve an MCPServer over streamable HTTP inside any ASGI app.

    * ``mcp_app``: the guarded ASGI app answering MCP requests at whatever path it is routed to;
    * ``health_app``: the ``/health`` ASGI app (Host/Origin checked, no token);
    * ``routes(path, health_path)``: Starlette routes for both (``path`` and ``path + "/"``);
    * ``lifespan()``: async context manager that runs the MCP session manager. Enter it exactly
      once, in the host app's lifespan; requests to ``mcp_app`` fail before it is entered.
    """

    server: MCPServer
    policy: AccessPolicy
    session_manager: StreamableHTTPSessionManager
    mcp_app: ASGIApp
    health_app: ASGIApp
    extra_routes: list[BaseRoute]
    limits: HttpLimits = field(default_factory=HttpLimits)
    limiter: ClientLimiter | None = None

    def routes(
        self, path: str = MCP_PATH, health_path: str | None = HEALTH_PATH
    ) -> list[BaseRoute]:
        path = "/" + path.strip("/")
        routes: list[BaseRoute] = [
            Route(path, endpoint=self.mcp_app, name="mcp"),
            Route(path + "/", endpoint=self.mcp_app, name="mcp_slash"),
        ]
        if health_path:
            routes.append(Route(health_path, endpoint=self.health_app, name="health"))
        metadata = _protected_resource_app(self.policy, path)
        routes += [
            Route(PROTECTED_RESOURCE_PATH, endpoint=metadata, name="protected_resource"),
            Route(PROTECTED_RESOURCE_PATH + path, endpoint=metadata, name="protected_resource_mcp"),
            Route(REGISTER_PATH, endpoint=_no_oauth_registration(self.policy), name="register"),
        ]
        return routes + self.extra_routes

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        async with self.session_manager.run():
            yield


def build_mcp_endpoint(
    server: MCPServer | None = None,
    *,
    allowed_hosts: Iterable[str] | None = None,
    allowed_origins: Iterable[str] | None = None,
    token: str | None = None,
    bind_host: str | None = None,
    stateless: bool | None = None,
    json_response: bool = True,
    health_info: HealthInfo | None = None,
    limits: HttpLimits | None = None,
) -> MCPHttpEndpoint:
    """Wire ``server`` (default: ``oasis_mcp.server.create_server()``) for streamable HTTP.

    ``allowed_hosts``/``allowed_origins`` add to the loopback defaults and the environment
    variables; ``token=None`` reads ``$OASIS_MCP_TOKEN`` (``""`` disables authentication).
    ``json_response`` (default True): a POST is answered with one JSON body instead of an SSE
    stream. The tools send no progress or log notifications while they run, so a stream buys
    nothing, and JSON halves the server's CPU per call for sessions that use the ``initialize``
    handshake (measured with ``benchmarks/bench_server.py``); every conforming client accepts
    both. Pass False for SSE. ``stateless`` serves each request without a session (any
    replica can answer any request); ``limits`` (default: :meth:`HttpLimits.build`, i.e. the
    ``$OASIS_MCP_*`` variables) bounds sessions and request rates per client; an explicit
    ``stateless`` wins over ``limits.stateless``.
    """
    from mcp.server.transport_security import TransportSecuritySettings

    if server is None:
        from oasis_mcp.server import create_server

        server = create_server()
    policy = AccessPolicy.build(
        allowed_hosts=allowed_hosts, allowed_origins=allowed_origins, token=token,
        bind_host=bind_host,
    )
    # Host/Origin are checked by AccessGuard (clear JSON errors, one policy for every route);
    # the SDK keeps its own Content-Type check.
    limits = limits or HttpLimits.build()
    if stateless is not None and stateless != limits.stateless:
        limits = dataclasses.replace(limits, stateless=stateless)
    sdk_app = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=limits.stateless,
        json_response=json_response,
        session_idle_timeout=limits.session_idle_timeout,
        max_sessions=limits.max_sessions,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    session_manager = server.session_manager
    # Keep the server's own custom routes (if any), guarded like /health.
    extra: list[BaseRoute] = []
    for route in sdk_app.routes:
        if isinstance(route, Route) and route.path == MCP_PATH:
            continue
        if isinstance(route, Route) and route.path == HEALTH_PATH:
            continue  # ours wins
        if isinstance(route, Route) and route.path.startswith(PROTECTED_RESOURCE_PATH):
            continue
        extra.append(route)

    details = health_info or _default_health_info(server)

    async def health(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        response: Response
        if scope["method"] not in ("GET", "HEAD"):
            response = JSONResponse(
                {"error": "method_not_allowed", "message": "Use GET."},
                status_code=405,
                headers={"Allow": "GET, HEAD"},
            )
        else:
            body: dict[str, Any] = {
                "status": "ok",
                "name": server.name,
                "version": __version__,
                "mcp_path": MCP_PATH,
                "auth": "bearer" if policy.auth_required else "none",
            }
            body["mode"] = "stateless" if limits.stateless else "sessions"
            if limiter is not None and not limits.stateless:
                body["sessions"] = limiter.open_sessions()
            body.update(details())
            response = JSONResponse(body, headers={"Cache-Control": "no-store"})
        await response(scope, receive, send)

    # The limiter is outermost: refused token guesses count against the client's rate too.
    limiter = ClientLimiter(
        AccessGuard(session_manager.handle_request, policy, require_token=True),
        limits,
        session_manager,
    )
    return MCPHttpEndpoint(
        server=server,
        policy=policy,
        session_manager=session_manager,
        mcp_app=limiter,
        health_app=AccessGuard(health, policy, require_token=False),
        extra_routes=extra,
        limits=limits,
        limiter=limiter,
    )


def token_help() -> str:
    return (
        "This server does not use OAuth: send the header 'Authorization: Bearer <token>', where "
        f"<token> is the value of ${TOKEN_ENV} on the server (mcp-remote: --header "
        "\"Authorization:Bearer <token>\")."
    )


def _no_oauth_registration(policy: AccessPolicy) -> ASGIApp:
    async def register(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        log.info("refused OAuth client registration (the server uses a static bearer token)")
        body = {"error": "invalid_client_metadata", "error_description": token_help()}
        await JSONResponse(body, status_code=400, headers={"Cache-Control": "no-store"})(
            scope, receive, send
        )

    return AccessGuard(register, policy, require_token=False)


def _protected_resource_app(policy: AccessPolicy, mcp_path: str) -> ASGIApp:
    """OAuth protected-resource metadata (RFC 9728) for the MCP endpoint: bearer tokens in the
    ``Authorization`` header, and no authorization server (the token is set by the operator)."""

    async def metadata(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = Headers(scope=scope)
        scheme = headers.get("x-forwarded-proto", "http").split(",")[0].strip() or "http"
        host = headers.get("host", "127.0.0.1")
        body = {
            "resource": f"{scheme}://{host}{mcp_path}",
            "resource_name": "OASIS MCP server",
            "bearer_methods_supported": ["header"],
            "authorization_servers": [],
            "oasis_auth": (
                f"static bearer token (the value of ${TOKEN_ENV} on the server), sent as "
                "'Authorization: Bearer <token>'; no OAuth"
                if policy.auth_required else "none"
            ),
        }
        await JSONResponse(body, headers={"Cache-Control": "no-store"})(scope, receive, send)

    return AccessGuard(metadata, policy, require_token=False)


def create_http_app(
    server: MCPServer | None = None,
    *,
    allowed_hosts: Iterable[str] | None = None,
    allowed_origins: Iterable[str] | None = None,
    token: str | None = None,
    bind_host: str | None = None,
    stateless: bool | None = None,
    json_response: bool = True,
    health_info: HealthInfo | None = None,
    limits: HttpLimits | None = None,
) -> Starlette:
    """A Starlette app serving MCP at ``/mcp`` (and ``/mcp/``) and ``GET /health``.

    The MCP session manager runs in the app's lifespan (uvicorn runs it; with
    ``httpx.ASGITransport`` or a mount, enter ``app.router.lifespan_context(app)`` yourself).
    The :class:`MCPHttpEndpoint` is available as ``app.state.mcp_endpoint``.
    """
    endpoint = build_mcp_endpoint(
        server, allowed_hosts=allowed_hosts, allowed_origins=allowed_origins, token=token,
        bind_host=bind_host, stateless=stateless, json_response=json_response,
        health_info=health_info, limits=limits,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with endpoint.lifespan():
            yield

    app = Starlette(routes=endpoint.routes(), lifespan=lifespan)
    app.state.mcp_endpoint = endpoint
    return app


def mount_mcp(
    app: Starlette,
    server: MCPServer | None = None,
    *,
    path: str = MCP_PATH,
    health_path: str | None = HEALTH_PATH,
    wrap_lifespan: bool = True,
    **options: Any,
) -> MCPHttpEndpoint:
    """Add the MCP routes to an existing Starlette/FastAPI app (before its other routes, so a
    catch-all mount such as Gradio's at ``/`` does not shadow them).

    With ``wrap_lifespan`` (default) the app's lifespan is wrapped so that the MCP session
    manager starts before it and stops after it; otherwise enter ``endpoint.lifespan()`` in
    your own lifespan. ``options`` are those of :func:`build_mcp_endpoint`.
    """
    endpoint = build_mcp_endpoint(server, **options)
    app.router.routes[0:0] = endpoint.routes(path, health_path)
    if wrap_lifespan:
        inner = app.router.lifespan_context

        @contextlib.asynccontextmanager
        async def lifespan(outer_app: Any) -> AsyncIterator[Any]:
            async with endpoint.lifespan(), inner(outer_app) as state:
                yield state

        app.router.lifespan_context = lifespan
    app.state.mcp_endpoint = endpoint
    return endpoint
