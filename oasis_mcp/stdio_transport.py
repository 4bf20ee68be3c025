"""The stdio transport, to the letter of JSON-RPC 2.0 and MCP.

Differences from the SDK's ``stdio_server()`` (which this replaces for ``oasis-mcp serve``):

* every request read before stdin closes is answered before the process exits: on EOF the
  server keeps running until the last pending response is written (bounded by
  :data:`DRAIN_TIMEOUT`), so a one-shot pipeline ``printf '...' | oasis-mcp serve`` gets all
  its answers;
* a line that is not JSON gets a *parse error* (``-32700``), and JSON that is not a valid
  JSON-RPC message (no ``"jsonrpc": "2.0"``, params that are not an object, a method that is not
  a string...) gets an *invalid request* (``-32600``) with the request's id when it has one;
  the SDK drops both silently;
* a batch (a JSON array) is answered with an array when the negotiated protocol version allows
  batches (``2025-03-26``, the only one that does) and refused with one *invalid request* error
  otherwise (batching was removed in ``2025-06-18``; the 2026 protocol has none).

As in the SDK, while serving, file descriptor 0 points at the null device and 1 at stderr, and
the protocol uses private duplicates, so stray output from handlers or child processes cannot
corrupt the wire; both are restored on exit.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sys
from collections.abc import AsyncIterable
from typing import Any

import anyio
import mcp_types as types
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.shared.message import SessionMessage

log = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
BATCH_VERSIONS = frozenset({"2025-03-26"})
DRAIN_TIMEOUT = 300.0  # seconds to finish answering after EOF
_MAX_ECHO = 80

JSON = dict[str, Any]


def error_message(id_: object, code: int, message: str) -> JSON:
    return {"jsonrpc": "2.0", "id": id_, "error": {"code": code, "message": message}}


def _usable_id(value: object) -> str | int | None:
    if isinstance(value, bool):
        return None
    return value if isinstance(value, str | int) else None


def describe_invalid(obj: object) -> str:
    """Why a JSON value is not a JSON-RPC 2.0 message, in one sentence."""
    if not isinstance(obj, dict):
        return f"a JSON-RPC message is a JSON object, not {type(obj).__name__}"
    if obj.get("jsonrpc") != "2.0":
        return "the member \"jsonrpc\": \"2.0\" is missing or wrong"
    if "method" in obj:
        if not isinstance(obj["method"], str):
            return "\"method\" must be a string"
        if "params" in obj and not isinstance(obj["params"], dict):
            return "MCP \"params\" must be an object (by-name), not " + type(obj["params"]).__name__
        if "id" in obj and _usable_id(obj["id"]) is None:
            return "\"id\" must be a string or an integer"
    elif "result" not in obj and "error" not in obj:
        return "it is neither a request (no \"method\") nor a response (no \"result\"/\"error\")"
    return "it does not match the JSON-RPC message schema"


class StdioBridge:
    """Moves lines between the client and the server's streams, answering what the SDK drops."""

    def __init__(
        self,
        to_server: MemoryObjectSendStream[SessionMessage | Exception],
        from_server: MemoryObjectReceiveStream[SessionMessage],
        write_line: Any,
    ) -> None:
        self.to_server = to_server
        self.from_server = from_server
        self.write_line = write_line  # async (str) -> None
        self.pending: set[str | int] = set()
        self.drained = anyio.Event()
        self.drained.set()
        self.version: str | None = None
        self._initialize_ids: set[str | int] = set()
        self._batches: list[tuple[list[str | int], dict[str | int, JSON], list[JSON]]] = []
        self._write_lock = anyio.Lock()

    # -- client -> server ---------------------------------------------------------------------

    def _parse(self, obj: object) -> tuple[types.JSONRPCMessage | None, JSON | None]:
        """(message, None) for a valid message, (None, error response) otherwise."""
        try:
            message = types.jsonrpc_message_adapter.validate_python(obj, by_name=False)
        except Exception:
            id_ = _usable_id(obj.get("id")) if isinstance(obj, dict) else None
            reason = describe_invalid(obj)
            return None, error_message(id_, INVALID_REQUEST, f"Invalid Request: {reason}.")
        return message, None

    def _track(self, message: types.JSONRPCMessage) -> None:
        if isinstance(message, types.JSONRPCRequest):
            self.pending.add(message.id)
            self.drained = anyio.Event() if self.drained.is_set() else self.drained
            if message.method == "initialize":
                self._initialize_ids.add(message.id)

    async def feed(self, line: str) -> None:
        text = line.strip()
        if not text:
            return
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            shown = text[:_MAX_ECHO] + ("..." if len(text) > _MAX_ECHO else "")
            log.info("stdio: parse error on %r", shown)
            await self._write(error_message(None, PARSE_ERROR, f"Parse error: {exc.msg} "
                                            f"(line {exc.lineno}, column {exc.colno})."))
            return
        if isinstance(obj, list):
            await self._feed_batch(obj)
            return
        message, error = self._parse(obj)
        if error is not None:
            log.info("stdio: invalid request: %s", error["error"]["message"])
            await self._write(error)
            return
        assert message is not None
        self._track(message)
        await self.to_server.send(SessionMessage(message))

    async def _feed_batch(self, items: list[Any]) -> None:
        if self.version not in BATCH_VERSIONS:
            version = self.version or "not negotiated yet"
            await self._write(error_message(
                None, INVALID_REQUEST,
                f"Invalid Request: JSON-RPC batches are not supported in protocol version "
                f"{version} (only 2025-03-26 had them); send one message per line.",
            ))
            return
        if not items:
            await self._write(error_message(None, INVALID_REQUEST,
                                            "Invalid Request: empty batch."))
            return
        messages: list[types.JSONRPCMessage] = []
        errors: list[JSON] = []
        ids: list[str | int] = []
        for item in items:
            message, error = self._parse(item)
            if error is not None:
                errors.append(error)
                continue
            assert message is not None
            messages.append(message)
            if isinstance(message, types.JSONRPCRequest):
                ids.append(message.id)
        if ids:
            self._batches.append((ids, {}, errors))
        elif errors:
            await self._write_raw(_compact(errors))
        for message in messages:
            self._track(message)
            await self.to_server.send(SessionMessage(message))

    async def read_all(self, lines: AsyncIterable[str]) -> None:
        """Feed every line, then wait (bounded) for the answers before closing the server."""
        try:
            async for line in lines:
                await self.feed(line)
            if self.pending:
                log.info("stdin closed: finishing %d request(s) in flight", len(self.pending))
                with anyio.move_on_after(DRAIN_TIMEOUT) as scope:
                    await self.drained.wait()
                if scope.cancelled_caught:
                    log.warning("gave up waiting for %d request(s) after %.0f s",
                                len(self.pending), DRAIN_TIMEOUT)
        finally:
            await self.to_server.aclose()

    # -- server -> client ---------------------------------------------------------------------

    async def write_all(self) -> None:
        async with self.from_server:
            async for session_message in self.from_server:
                message = session_message.message
                payload: JSON = message.model_dump(by_alias=True, exclude_unset=True, mode="json")
                id_ = payload.get("id")
                is_answer = ("result" in payload or "error" in payload) and id_ is not None
                if is_answer and id_ in self._initialize_ids:
                    self._initialize_ids.discard(id_)
                    result = payload.get("result") or {}
                    if isinstance(result, dict) and isinstance(result.get("protocolVersion"), str):
                        self.version = result["protocolVersion"]
                if is_answer and await self._collect(id_, payload):
                    pass
                else:
                    await self._write(payload)
                if is_answer and id_ in self.pending:
                    self.pending.discard(id_)
                    if not self.pending:
                        self.drained.set()

    async def _collect(self, id_: Any, payload: JSON) -> bool:
        """Keep a batch member's answer; write the batch's array once it is complete."""
        for i, (ids, answers, errors) in enumerate(self._batches):
            if id_ in ids and id_ not in answers:
                answers[id_] = payload
                if len(answers) == len(ids):
                    del self._batches[i]
                    await self._write_raw(_compact(errors + [answers[k] for k in ids]))
                return True
        return False

    async def _write(self, payload: JSON) -> None:
        await self._write_raw(_compact(payload))

    async def _write_raw(self, text: str) -> None:
        async with self._write_lock:
            await self.write_line(text)


# --- file descriptors --------------------------------------------------------------------------


@contextlib.contextmanager
def _claimed_stdio() -> Any:
    """(binary stdin, binary stdout) on private duplicates; fd 0 -> /dev/null, fd 1 -> stderr."""
    try:
        sys.stdin.buffer.fileno(), sys.stdout.buffer.fileno()
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        yield sys.stdin.buffer, sys.stdout.buffer  # not real descriptors (tests, embedding)
        return
    sys.stdout.flush()
    private_in = _dup_above_std(0)
    private_out = _dup_above_std(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    try:
        with os.fdopen(private_in, "rb", closefd=False) as raw_in, \
                os.fdopen(private_out, "wb", closefd=False) as raw_out:
            yield raw_in, raw_out
    finally:
        with contextlib.suppress(OSError):
            os.dup2(private_in, 0)
        with contextlib.suppress(OSError):
            os.dup2(private_out, 1)
        for fd in (private_in, private_out):
            with contextlib.suppress(OSError):
                os.close(fd)


def _dup_above_std(fd: int) -> int:
    if sys.platform == "win32":  # pragma: no cover
        return os.dup(fd)
    import fcntl

    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)


async def serve_stdio(server: Any) -> None:
    """Serve ``server`` (an MCPServer) over this process's stdin/stdout until stdin closes
    and every request read has been answered."""
    lowlevel = server._lowlevel_server  # the SDK's own run_stdio_async uses it the same way
    to_server, server_reads = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    server_writes, from_server = anyio.create_memory_object_stream[SessionMessage](0)
    with _claimed_stdio() as (raw_in, raw_out):
        text_in = anyio.wrap_file(io.TextIOWrapper(raw_in, encoding="utf-8", errors="replace"))
        out = anyio.wrap_file(raw_out)

        async def write_line(text: str) -> None:
            await out.write(text.encode("utf-8") + b"\n")
            await out.flush()

        bridge = StdioBridge(to_server, from_server, write_line)
        async with anyio.create_task_group() as tg:
            tg.start_soon(bridge.read_all, text_in)
            tg.start_soon(bridge.write_all)
            async with server_writes:
                await lowlevel.run(
                    server_reads, server_writes, lowlevel.create_initialization_options()
                )


def _compact(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
