"""The app's only way to the data: the official MCP client, connected in process to our server.

:class:`MCPBridge` runs one :class:`mcp.Client` session on a private event loop in a daemon thread,
so that Gradio's synchronous handlers (and its worker threads) can call tools with a plain function
call. Every call is timed and returned as a :class:`ToolOutcome`; tool errors (``is_error``) and
transport failures become outcomes with a user-facing message, never exceptions.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from mcp import Client
    from mcp.server import MCPServer

log = logging.getLogger(__name__)

T = TypeVar("T")
DEFAULT_TIMEOUT = 60.0
_ERROR_PREFIX = re.compile(r"^Error executing tool [\w-]+: ")


@dataclass(frozen=True)
class ToolOutcome:
    """The result of one tool call, as the app uses it."""

    name: str
    arguments: dict[str, Any]
    ok: bool
    data: dict[str, Any] | None
    """The tool's structured content (None on error)."""
    error: str = ""
    """What went wrong, worded for a user (empty when ``ok``)."""
    duration_ms: float = 0.0
    text: str = field(default="", repr=False)

    def describe(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.arguments.items())
        return f"{self.name}({args})"


def friendly_error(message: str) -> str:
    """The server's error text without the SDK's "Error executing tool x:" prefix."""
    return _ERROR_PREFIX.sub("", message.strip()) or "The tool failed without a message."


class MCPBridge:
    """A long-lived in-process MCP client session, callable from any thread."""

    def __init__(
        self, server_factory: Callable[[], MCPServer], *, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self._factory = server_factory
        self._timeout = timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Client | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._startup_error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._tools: list[dict[str, Any]] | None = None
        self._lock = threading.Lock()

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> MCPBridge:
        """Connect (idempotent). Raises if the server cannot be built or the handshake fails."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="mcp-bridge", daemon=True)
                self._thread.start()
        if not self._ready.wait(self._timeout):
            raise TimeoutError("the MCP server did not answer the handshake in time")
        if self._startup_error is not None:
            raise RuntimeError(f"cannot start the MCP server: {self._startup_error}")
        return self

    def close(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> MCPBridge:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        from mcp import Client

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            server = self._factory()
            async with Client(server) as client:
                self._client = client
                self._ready.set()
                await self._stop.wait()
        except BaseException as exc:  # surfaced to start(); the thread then ends
            self._startup_error = exc
            log.exception("MCP bridge stopped")
        finally:
            self._client = None
            self._ready.set()

    def _submit(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        if self._client is None or self._loop is None:
            coro.close()
            raise RuntimeError("the MCP client is not connected")
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout or self._timeout)

    # -- MCP calls ----------------------------------------------------------------------------

    def call(self, name: str, arguments: dict[str, Any] | None = None) -> ToolOutcome:
        """Call a tool; never raises (failures come back as ``ok=False`` outcomes)."""
        return self.call_many([(name, arguments)])[0]

    def call_many(
        self, calls: Sequence[tuple[str, dict[str, Any] | None]]
    ) -> list[ToolOutcome]:
        """Several tool calls sent together on the client's loop (one hand-over between threads
        instead of one per call: what a view of many calls, such as a profile, waits on).
        Outcomes come back in order; none raises."""
        if not calls:
            return []
        started = time.perf_counter()
        try:
            self.start()
            client = self._client
            assert client is not None

            async def run_all() -> list[ToolOutcome]:
                return list(await asyncio.gather(*(self._call(client, name, dict(args or {}))
                                                   for name, args in calls)))

            return self._submit(run_all())
        except Exception as exc:  # transport failure: still friendly outcomes
            elapsed = (time.perf_counter() - started) * 1000
            log.warning("tool calls %s failed: %s", [name for name, _ in calls], exc)
            return [ToolOutcome(name, dict(args or {}), False, None, _transport_message(exc),
                                elapsed) for name, args in calls]

    async def _call(self, client: Client, name: str, args: dict[str, Any]) -> ToolOutcome:
        started = time.perf_counter()
        try:
            result = await client.call_tool(name, args)
        except Exception as exc:  # validation or transport failure: a friendly outcome
            elapsed = (time.perf_counter() - started) * 1000
            log.warning("tool %s failed: %s", name, exc)
            return ToolOutcome(name, args, False, None, _transport_message(exc), elapsed)
        elapsed = (time.perf_counter() - started) * 1000
        text = "".join(getattr(block, "text", "") for block in result.content)
        if result.is_error:
            log.info("tool %s returned an error in %.1f ms", name, elapsed)
            return ToolOutcome(name, args, False, None, friendly_error(text), elapsed, text)
        data = result.structured_content
        if data is None and text:
            try:
                data = json.loads(text)
            except ValueError:
                data = None
        log.info("tool %s answered in %.1f ms", name, elapsed)
        return ToolOutcome(name, args, True, data if isinstance(data, dict) else None, "",
                           elapsed, text)

    def tools(self) -> list[dict[str, Any]]:
        """The server's tools as plain dicts (name, description, inputSchema), cached."""
        if self._tools is None:
            self.start()
            client = self._client
            assert client is not None
            listing = self._submit(client.list_tools())
            self._tools = [
                {
                    "name": tool.name,
                    "description": tool.description or "",
                    "input_schema": tool.input_schema,
                }
                for tool in listing.tools
            ]
        return self._tools

    def read_resource(self, uri: str) -> str:
        """The text of a resource (raises on failure: callers decide what to show)."""
        self.start()
        client = self._client
        assert client is not None
        result = self._submit(client.read_resource(uri))
        return "".join(getattr(part, "text", "") or "" for part in result.contents)

    def resource_json(self, uri: str) -> dict[str, Any] | None:
        """A JSON resource as a dict, or None when it cannot be read."""
        try:
            data = json.loads(self.read_resource(uri))
        except Exception as exc:
            log.warning("resource %s unavailable: %s", uri, exc)
            return None
        return data if isinstance(data, dict) else None


def _transport_message(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "The server took too long to answer; please try again."
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return f"The request could not be completed ({first[:200]})."
