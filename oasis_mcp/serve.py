"""``oasis-mcp serve``: run the MCP server over stdio (default) or streamable HTTP.

Start-up cost matters for desktop clients, which spawn the server on every launch: this module
imports only the standard library at module level; the HTTP stack (uvicorn, the ASGI app) is
imported only for ``--transport http``. Logs go to stderr; on stdio, stdout carries protocol
messages only.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import os
import socket
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from oasis_mcp import __version__

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from oasis_mcp.http_limits import HttpLimits

log = logging.getLogger(__name__)

TOKEN_ENV = "OASIS_MCP_TOKEN"  # same name as oasis_mcp.http_app.TOKEN_ENV (not imported: cost)
TRUSTED_PROXIES_ENV = "OASIS_MCP_TRUSTED_PROXIES"
DEFAULT_TRUSTED_PROXIES = "127.0.0.1"  # a reverse proxy on this machine (uvicorn's default)
EXIT_USAGE = 2


class ServeError(Exception):
    """A start-up problem the user can fix; the message is one line, shown as is."""


def run(
    transport: str = "stdio",
    host: str = "127.0.0.1",
    port: int = 8000,
    allowed_hosts: Sequence[str] | None = None,
    allowed_origins: Sequence[str] | None = None,
    data_dir: str | None = None,
    refresh_every: str | None = None,
    *,
    stateless: bool | None = None,
    max_sessions: int | None = None,
    max_sessions_per_client: int | None = None,
    session_idle_timeout: float | None = None,
    rate_limit: float | None = None,
    rate_burst: int | None = None,
    trusted_proxies: str | None = None,
) -> int:
    """Serve until the client disconnects (stdio) or the process is interrupted (HTTP).

    ``refresh_every`` (else ``$OASIS_REFRESH_EVERY``; HTTP only) runs ``data update`` that often.
    Returns the process exit code; start-up problems (bad port, busy port, unknown host) print
    one line on stderr and return a non-zero code instead of raising.
    """
    _ensure_stderr_logging()
    try:
        _refresh.seconds = _refresh_seconds(transport, refresh_every)
        if transport == "stdio":
            return _run_stdio(data_dir)
        if transport == "http":
            limits = _http_limits(
                stateless=stateless, max_sessions=max_sessions,
                max_sessions_per_client=max_sessions_per_client,
                session_idle_timeout=session_idle_timeout, rate_limit=rate_limit,
                rate_burst=rate_burst,
            )
            proxies = trusted_proxies or os.environ.get(TRUSTED_PROXIES_ENV, "").strip()
            return _run_http(
                host, port, allowed_hosts, allowed_origins, data_dir, limits,
                proxies or DEFAULT_TRUSTED_PROXIES,
            )
        raise ServeError(f"unknown transport {transport!r} (choose stdio or http)")
    except ServeError as exc:
        print(f"oasis-mcp: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


REFRESH_ENV = "OASIS_REFRESH_EVERY"  # = oasis_mcp.data_state.REFRESH_ENV


def _refresh_seconds(transport: str, flag: str | None) -> float | None:
    """The background update period (``--refresh-every`` or ``$OASIS_REFRESH_EVERY``), HTTP only:
    a stdio server lives as long as its client's session."""
    value = flag if flag is not None else os.environ.get(REFRESH_ENV, "").strip() or None
    if value is None or value.lower() in ("0", "off", "none", "never"):
        return None
    if transport != "http":
        if flag is not None:
            raise ServeError("--refresh-every applies to --transport http only (a stdio server "
                             "lives as long as its client's session; run `oasis-mcp data update`)")
        log.info("%s is set but ignored on stdio", REFRESH_ENV)
        return None
    from oasis_mcp.data_state import parse_duration

    try:
        return parse_duration(value)
    except ValueError as exc:
        where = "--refresh-every" if flag is not None else REFRESH_ENV
        raise ServeError(f"{where}: {exc}") from None


class _Refresh:
    """The background update period ``run()`` resolved, for the server it creates (kept here
    rather than passed down, to leave the HTTP start-up functions' signatures alone)."""

    seconds: float | None = None


_refresh = _Refresh()


def _start_refresh(server: MCPServer) -> None:
    """Start the background ``data update`` of the server's data state, if asked for."""
    state = getattr(server, "state", None)
    if _refresh.seconds is not None and state is not None:
        state.data.start_auto_update(_refresh.seconds)


def _http_limits(**given: Any) -> HttpLimits:
    from oasis_mcp.http_limits import HttpLimits, LimitsError

    try:
        return HttpLimits.build(**given)
    except LimitsError as exc:
        raise ServeError(str(exc)) from None


def _ensure_stderr_logging() -> None:
    """Log to stderr when nobody configured logging (``run()`` called without the CLI)."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            level=logging.INFO,
            stream=sys.stderr,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )


def _create_server(data_dir: str | None) -> MCPServer:
    # Anything a module prints while the server is built must not reach stdout.
    with contextlib.redirect_stdout(sys.stderr):
        from oasis_mcp.server import create_server

        server = create_server(data_dir=data_dir)
    _start_refresh(server)  # --refresh-every (HTTP only)
    return server


def _describe_data_dir(data_dir: str | None) -> str:
    from oasis_mcp import config

    path = config.data_dir(data_dir)
    where = f"{path} (from {config.data_dir_source(data_dir)})"
    if not path.is_dir():
        log.warning(
            "data directory %s does not exist: data tools will fail until you run "
            "`oasis-mcp data update` or point %s/--data-dir at the SSMSI files",
            where, config.DATA_DIR_ENV,
        )
    else:
        from oasis_mcp.data.update_state import update_status

        status = update_status(path)  # an interrupted or failed `data update`
        if status:
            log.warning("%s", status)
    return where


# --- stdio ---------------------------------------------------------------------------------


def _run_stdio(data_dir: str | None) -> int:
    server = _create_server(data_dir)
    log.info(
        "oasis-mcp %s serving MCP over stdio; data: %s", __version__, _describe_data_dir(data_dir)
    )
    # While serving, the SDK points file descriptor 1 at stderr and writes the protocol to a
    # private duplicate, so stray writes (print, C code, child processes) miss the wire. Text
    # that sits in sys.stdout's buffer would still be flushed to the real stdout at exit: flush
    # it line by line while serving, and retire stdout for good once the session is over.
    with contextlib.suppress(AttributeError, ValueError, OSError):
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    try:
        import anyio

        from oasis_mcp.stdio_transport import serve_stdio

        anyio.run(serve_stdio, server)
    finally:
        _retire_stdout()
    log.info("stdin closed, exiting")
    return 0


def _retire_stdout() -> None:
    """Send whatever is still written to stdout (buffers flushed at exit) to stderr."""
    with contextlib.suppress(AttributeError, ValueError, OSError):
        os.dup2(sys.stderr.fileno(), 1)
    with contextlib.suppress(AttributeError, ValueError, OSError):
        sys.stdout.flush()
    sys.stdout = sys.stderr


# --- HTTP ----------------------------------------------------------------------------------


def _run_http(
    host: str,
    port: int,
    allowed_hosts: Sequence[str] | None,
    allowed_origins: Sequence[str] | None,
    data_dir: str | None,
    limits: HttpLimits,
    trusted_proxies: str,
) -> int:
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise ServeError(f"--port must be between 1 and 65535 (0 = any free port), got {port}")
    host = host.strip()
    sock = bind_socket(host, port)
    try:
        return _serve_http_on(
            sock, host, allowed_hosts, allowed_origins, data_dir, limits, trusted_proxies
        )
    finally:
        sock.close()


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind (not yet listen) a TCP socket, turning OS errors into one-line :class:`ServeError`."""
    bare = host.strip("[]")
    try:
        infos = socket.getaddrinfo(
            bare or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise ServeError(f"cannot resolve --host {host!r}: {exc.strerror}") from None
    family, socktype, proto, _, address = infos[0]
    sock = socket.socket(family, socktype, proto)
    try:
        if os.name != "nt":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        where = f"{host}:{port}"
        if exc.errno == errno.EADDRINUSE:
            message = f"cannot listen on {where}: the port is already in use (pick another --port)"
        elif exc.errno == errno.EACCES:
            message = (
                f"cannot listen on {where}: permission denied "
                "(ports below 1024 need privileges)"
            )
        elif exc.errno == errno.EADDRNOTAVAIL:
            message = f"cannot listen on {where}: {host!r} is not an address of this machine"
        else:
            message = f"cannot listen on {where}: {exc.strerror or exc}"
        raise ServeError(message) from None
    return sock


def _is_loopback(sock: socket.socket) -> bool:
    try:
        return ipaddress.ip_address(sock.getsockname()[0]).is_loopback
    except ValueError:
        return False


def _serve_http_on(
    sock: socket.socket,
    host: str,
    allowed_hosts: Sequence[str] | None,
    allowed_origins: Sequence[str] | None,
    data_dir: str | None,
    limits: HttpLimits,
    trusted_proxies: str,
) -> int:
    import uvicorn

    from oasis_mcp.http_app import MCP_PATH, create_http_app

    server = _create_server(data_dir)
    app = create_http_app(
        server, allowed_hosts=allowed_hosts, allowed_origins=allowed_origins, bind_host=host,
        limits=limits,
    )
    endpoint = app.state.mcp_endpoint
    bound_host, bound_port = sock.getsockname()[:2]
    shown_host = f"[{bound_host}]" if ":" in bound_host else bound_host
    if not endpoint.policy.auth_required and not _is_loopback(sock):
        log.warning(
            "listening on %s without a token: anyone who can reach this address can use the "
            "server; set %s to require 'Authorization: Bearer <token>'",
            shown_host, TOKEN_ENV,
        )
    if endpoint.policy.any_host:
        log.warning("Host checking is disabled ('*' in the allowed hosts)")
    log.info("data: %s", _describe_data_dir(data_dir))
    log.info("HTTP limits: %s; client addresses from X-Forwarded-For of %s",
             limits.describe(), trusted_proxies)
    log.info(
        "oasis-mcp %s serving MCP over streamable HTTP at http://%s:%d%s (health: /health, "
        "auth: %s)",
        __version__, shown_host, bound_port, MCP_PATH,
        "bearer token" if endpoint.policy.auth_required else "none",
    )
    config = uvicorn.Config(
        app,
        host=bound_host,
        port=bound_port,
        log_config=None,  # uvicorn's default config sends access logs to stdout
        access_log=log.isEnabledFor(logging.DEBUG),
        lifespan="on",
        timeout_graceful_shutdown=3,  # open SSE streams would otherwise delay Ctrl-C
        server_header=False,
        proxy_headers=True,
        forwarded_allow_ips=trusted_proxies,
    )
    uvicorn.Server(config).run(sockets=[sock])
    return 0
