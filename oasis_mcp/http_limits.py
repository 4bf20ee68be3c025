"""Fair use of the HTTP endpoint: per-client rate limit and bounded sessions per client.

One client (one address) must never take the server from the others. :class:`ClientLimiter` is
an ASGI middleware in front of the MCP session manager that

* refuses a client that sends more than ``rate_limit`` requests per second (token bucket with
  ``rate_burst`` tokens) with ``429`` and ``Retry-After``;
* keeps at most ``max_sessions_per_client`` sessions per client address: when a client at its
  limit opens another one, its session idle for the longest time (no request in flight) is closed
  to make room; if none is idle the new one is refused with ``429`` and ``Retry-After``;
* refuses a new session with ``503`` and ``Retry-After`` when the replica holds
  ``max_sessions`` sessions (the SDK's own limit, set to the same number, stays as a backstop).

The client address is the TCP peer, or the ``X-Forwarded-For`` address set by a trusted reverse
proxy (uvicorn's ``forwarded_allow_ips``: ``--trusted-proxy``). Stateless mode has no sessions:
only the rate limit applies there. Bodies are JSON-RPC errors (``id: null``) with a message
saying what happened and when to retry.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

log = logging.getLogger(__name__)

STATELESS_ENV = "OASIS_MCP_STATELESS"
MAX_SESSIONS_ENV = "OASIS_MCP_MAX_SESSIONS"
MAX_SESSIONS_PER_CLIENT_ENV = "OASIS_MCP_MAX_SESSIONS_PER_CLIENT"
SESSION_IDLE_TIMEOUT_ENV = "OASIS_MCP_SESSION_IDLE_TIMEOUT"
RATE_LIMIT_ENV = "OASIS_MCP_RATE_LIMIT"
RATE_BURST_ENV = "OASIS_MCP_RATE_BURST"

SESSION_HEADER = b"mcp-session-id"
# JSON-RPC server-defined error codes (the -32000..-32099 range) used in HTTP refusals.
RATE_LIMITED = -32029
SERVER_BUSY = -32030
MAX_TRACKED_CLIENTS = 10_000  # token buckets kept (least recently seen dropped first)


class LimitsError(ValueError):
    """A bad limit setting (flag or environment variable); the message says which and why."""


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class HttpLimits:
    """The HTTP limits of one replica. Defaults are safe for a public, token-less endpoint."""

    stateless: bool = False
    max_sessions: int = 1000
    max_sessions_per_client: int = 32
    session_idle_timeout: float = 600.0
    rate_limit: float = 50.0  # requests per second per client; 0 = no limit
    rate_burst: int = 100

    def __post_init__(self) -> None:
        checks: list[tuple[bool, str]] = [
            (self.max_sessions >= 1, f"--max-sessions must be at least 1, got {self.max_sessions}"),
            (
                1 <= self.max_sessions_per_client <= self.max_sessions,
                "--max-sessions-per-client must be between 1 and --max-sessions "
                f"({self.max_sessions}), got {self.max_sessions_per_client}",
            ),
            (
                math.isfinite(self.session_idle_timeout) and self.session_idle_timeout > 0,
                f"--session-idle-timeout must be a positive number of seconds, got "
                f"{self.session_idle_timeout}",
            ),
            (
                math.isfinite(self.rate_limit) and self.rate_limit >= 0,
                f"--rate-limit must be >= 0 requests per second (0 = off), got {self.rate_limit}",
            ),
            (self.rate_burst >= 1, f"--rate-burst must be at least 1, got {self.rate_burst}"),
        ]
        for ok, message in checks:
            if not ok:
                raise LimitsError(message)

    @classmethod
    def build(
        cls, environ: Mapping[str, str] | None = None, **given: Any
    ) -> HttpLimits:
        """Arguments that are not None win over ``$OASIS_MCP_*`` variables, which win over the
        defaults; a variable that is not a number is an error naming it."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        specs: list[tuple[str, str, type]] = [
            ("max_sessions", MAX_SESSIONS_ENV, int),
            ("max_sessions_per_client", MAX_SESSIONS_PER_CLIENT_ENV, int),
            ("session_idle_timeout", SESSION_IDLE_TIMEOUT_ENV, float),
            ("rate_limit", RATE_LIMIT_ENV, float),
            ("rate_burst", RATE_BURST_ENV, int),
        ]
        for name, var, kind in specs:
            if given.get(name) is not None:
                values[name] = kind(given[name])
            elif env.get(var, "").strip():
                try:
                    values[name] = kind(env[var].strip())
                except ValueError:
                    raise LimitsError(
                        f"${var} must be a{'n integer' if kind is int else ' number'}, "
                        f"got {env[var][:40]!r}"
                    ) from None
        if given.get("stateless") is not None:
            values["stateless"] = bool(given["stateless"])
        else:
            values["stateless"] = _truthy(env.get(STATELESS_ENV))
        if "max_sessions_per_client" not in values and "max_sessions" in values:
            values["max_sessions_per_client"] = min(
                cls.max_sessions_per_client, values["max_sessions"]
            )
        if "rate_burst" not in values and "rate_limit" in values:
            values["rate_burst"] = max(cls.rate_burst, math.ceil(2 * values["rate_limit"]))
        return cls(**values)

    def describe(self) -> str:
        rate = "off" if not self.rate_limit else f"{self.rate_limit:g}/s (burst {self.rate_burst})"
        if self.stateless:
            return f"stateless; rate limit per client {rate}"
        return (
            f"sessions: at most {self.max_sessions}, {self.max_sessions_per_client} per client, "
            f"closed after {self.session_idle_timeout:g} s idle; rate limit per client {rate}"
        )


def refusal(status: int, code: int, message: str, retry_after: float, reason: str) -> Message:
    """The body and headers of a refusal (a JSON-RPC error with no id)."""
    body = {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": code, "message": message,
                  "data": {"reason": reason, "retry_after": math.ceil(retry_after)}},
    }
    return {
        "status": status,
        "body": json.dumps(body).encode(),
        "headers": [
            (b"content-type", b"application/json"),
            (b"retry-after", str(max(1, math.ceil(retry_after))).encode()),
        ],
    }


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class _Session:
    client: str
    last_active: float
    in_flight: int = 0


@dataclass
class LimiterStats:
    rate_limited: int = 0
    sessions_refused: int = 0
    sessions_evicted: int = 0


@dataclass
class ClientLimiter:
    """ASGI middleware enforcing :class:`HttpLimits` in front of the session manager."""

    app: ASGIApp
    limits: HttpLimits
    manager: StreamableHTTPSessionManager | None = None
    clock: Any = time.monotonic
    stats: LimiterStats = field(default_factory=LimiterStats)
    _buckets: OrderedDict[str, _Bucket] = field(default_factory=OrderedDict)
    _sessions: dict[str, _Session] = field(default_factory=dict)
    _opening: dict[str, int] = field(default_factory=dict)  # admitted, not yet answered

    # -- helpers ------------------------------------------------------------------------------

    @staticmethod
    def client_of(scope: Scope) -> str:
        client = scope.get("client")
        return str(client[0]) if client else "unknown"

    def _take_token(self, client: str) -> float:
        """0 if the request may go, else the seconds until the next token."""
        rate = self.limits.rate_limit
        if not rate:
            return 0.0
        now = self.clock()
        bucket = self._buckets.pop(client, None)
        if bucket is None:
            bucket = _Bucket(float(self.limits.rate_burst), now)
        else:
            bucket.tokens = min(
                float(self.limits.rate_burst), bucket.tokens + (now - bucket.stamp) * rate
            )
            bucket.stamp = now
        self._buckets[client] = bucket  # most recently seen last
        while len(self._buckets) > MAX_TRACKED_CLIENTS:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / rate

    def _live(self) -> dict[str, Any] | None:
        """The session manager's open sessions (id -> transport), if it exposes them."""
        if self.manager is None:
            return None
        live = getattr(self.manager, "_server_instances", None)
        return live if isinstance(live, dict) else None

    def _prune(self) -> None:
        live = self._live()
        if live is None:
            return
        for sid in [s for s in self._sessions if s not in live]:
            del self._sessions[sid]

    def open_sessions(self, client: str | None = None) -> int:
        self._prune()
        if client is None:
            live = self._live()
            return len(live) if live is not None else len(self._sessions)
        return sum(1 for s in self._sessions.values() if s.client == client)

    async def _close(self, sid: str) -> None:
        self._sessions.pop(sid, None)
        live = self._live()
        transport = live.get(sid) if live is not None else None
        if transport is None:
            return
        discard = getattr(self.manager, "_discard_session", None)
        if callable(discard):
            await discard(sid, transport)
        else:  # pragma: no cover - other SDK versions
            live.pop(sid, None)  # type: ignore[union-attr]
            await transport.terminate()

    async def _admit(self, client: str) -> Message | None:
        """Room for a new session of ``client`` (closing its oldest idle one), or a refusal."""
        self._prune()
        mine = sorted(
            ((sid, s) for sid, s in self._sessions.items() if s.client == client),
            key=lambda item: item[1].last_active,
        )
        opening = self._opening.get(client, 0)
        if len(mine) + opening >= self.limits.max_sessions_per_client:
            idle = [sid for sid, s in mine if s.in_flight == 0]
            if not idle:
                self.stats.sessions_refused += 1
                return refusal(
                    429, RATE_LIMITED,
                    f"Too many open sessions from your address "
                    f"({self.limits.max_sessions_per_client}, all busy). Close one (HTTP DELETE "
                    "with its Mcp-Session-Id) or retry later.",
                    5, "too_many_sessions_for_client",
                )
            excess = len(mine) + opening - self.limits.max_sessions_per_client + 1
            for sid in idle[:excess]:
                log.info("closing idle session %s of %s (per-client limit)", sid[:12], client)
                self.stats.sessions_evicted += 1
                await self._close(sid)
        if self.open_sessions() + sum(self._opening.values()) >= self.limits.max_sessions:
            self.stats.sessions_refused += 1
            return refusal(
                503, SERVER_BUSY,
                f"This server is full ({self.limits.max_sessions} open sessions). Retry later, "
                "or use another replica.",
                10, "server_full",
            )
        return None

    # -- ASGI -----------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = self.client_of(scope)
        wait = self._take_token(client)
        if wait:
            self.stats.rate_limited += 1
            if self.stats.rate_limited % 1000 == 1:
                log.warning("rate limit: refusing requests from %s (%d refused so far)",
                            client, self.stats.rate_limited)
            await _send(send, refusal(
                429, RATE_LIMITED,
                f"Too many requests from your address (limit {self.limits.rate_limit:g} per "
                f"second). Retry after {math.ceil(wait)} s.",
                wait, "rate_limited",
            ))
            return
        if self.limits.stateless:
            await self.app(scope, receive, send)
            return
        sid = _header(scope, SESSION_HEADER)
        if sid is not None:
            await self._serve_in_session(sid, scope, receive, send)
            return
        if scope.get("method") == "POST" and not _header(scope, b"mcp-protocol-version"):
            # Only a legacy `initialize` opens a session (2026-protocol requests carry the
            # protocol header and are served without one).
            refused = await self._admit(client)
            if refused is not None:
                await _send(send, refused)
                return
            self._opening[client] = self._opening.get(client, 0) + 1
            try:
                await self.app(scope, receive, self._watch_new_session(client, send))
            finally:
                left = self._opening.get(client, 1) - 1
                if left > 0:
                    self._opening[client] = left
                else:
                    self._opening.pop(client, None)
            return
        await self.app(scope, receive, send)

    async def _serve_in_session(self, sid: str, scope: Scope, receive: Receive, send: Send) -> None:
        session = self._sessions.get(sid)
        if session is not None:
            session.in_flight += 1
            session.last_active = self.clock()
        try:
            await self.app(scope, receive, send)
        finally:
            if session is not None:
                session.in_flight -= 1
                session.last_active = self.clock()

    def _watch_new_session(self, client: str, send: Send) -> Send:
        async def watched(message: Message) -> None:
            if message["type"] == "http.response.start" and message.get("status", 500) < 400:
                for key, value in message.get("headers", ()):
                    if key.lower() == SESSION_HEADER:
                        self._sessions[value.decode("latin-1")] = _Session(client, self.clock())
                        break
            await send(message)

        return watched


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _send(send: Send, message: Message) -> None:
    await send({"type": "http.response.start", "status": message["status"],
                "headers": message["headers"]})
    await send({"type": "http.response.body", "body": message["body"]})
