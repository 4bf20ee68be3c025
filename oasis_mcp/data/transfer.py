"""Bounded HTTP transfers for ``oasis-mcp data update``.

Every answer is streamed (never read whole), and refused:

* past its size cap (:data:`oasis_mcp.data.sources.MAX_BYTES`) or when it announces more;
* past the update's deadline (``--deadline``, ``OASIS_UPDATE_DEADLINE``, default 5 minutes for the
  whole update: each download gets what is left of it);
* when it is slower than the minimum rate (``--min-rate``, ``OASIS_UPDATE_MIN_RATE``, default
  10 kB/s averaged over 30 s) — a server dripping bytes never holds the lock for ever;
* when it comes from, or is redirected to, a host that is not allowed
  (:class:`oasis_mcp.data.sources.HostPolicy`).

A watchdog thread enforces the deadline and the rate even while a read is blocked: it shuts the
socket down, so the read returns at once. On a terminal, a progress line (bytes, rate, ETA) is
drawn on stderr; nothing is drawn otherwise.
"""

from __future__ import annotations

import collections
import contextlib
import math
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

import httpx

from oasis_mcp.errors import DownloadError

DEADLINE_ENV = "OASIS_UPDATE_DEADLINE"
MIN_RATE_ENV = "OASIS_UPDATE_MIN_RATE"
DEFAULT_DEADLINE = 300.0
DEFAULT_MIN_RATE = 10_000.0  # bytes per second
DEFAULT_RATE_WINDOW = 30.0  # seconds over which the rate is averaged
_WATCH_EVERY = 0.2


class TransferError(DownloadError):
    """One transfer failed. ``reason``: status, too-large, deadline, too-slow, network."""

    def __init__(self, problem: str, reason: str, status: int | None = None) -> None:
        self.problem = problem
        self.reason = reason
        self.status = status
        if reason in ("deadline", "too-slow"):
            self.exit_code = 75  # EX_TEMPFAIL: try again later
        else:
            self.exit_code = 69  # EX_UNAVAILABLE
        super().__init__(problem)


def parse_duration(text: str | float) -> float:
    """Seconds from ``300``, ``10s``, ``5m``, ``1.5min``, ``1h``. Raises ValueError."""
    if isinstance(text, int | float):
        value = float(text)
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h)?\s*", text.lower())
        if match is None:
            raise ValueError(f"'{text}' is not a duration (e.g. 300, 90s, 5m, 1h)")
        value = float(match[1]) * {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, None: 1}[
            match[2]]
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"'{text}' is not a positive duration")
    return value


def parse_rate(text: str | float) -> float:
    """Bytes per second from ``10000``, ``10k``, ``10kB/s``, ``1M``; 0 disables. Raises
    ValueError."""
    if isinstance(text, int | float):
        value = float(text)
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([km]?)(?:i?b)?(?:/s)?\s*", text.lower())
        if match is None:
            raise ValueError(f"'{text}' is not a rate (e.g. 10k, 10kB/s, 1M, 0 to disable)")
        value = float(match[1]) * {"": 1, "k": 1_000, "m": 1_000_000}[match[2]]
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"'{text}' is not a rate")
    return value


def deadline_from(explicit: str | float | None) -> float:
    """The argument, else ``$OASIS_UPDATE_DEADLINE``, else 300 s."""
    if explicit is not None:
        return parse_duration(explicit)
    env = os.environ.get(DEADLINE_ENV, "").strip()
    if env:
        try:
            return parse_duration(env)
        except ValueError as exc:
            raise DownloadError(f"${DEADLINE_ENV}: {exc}") from None
    return DEFAULT_DEADLINE


def min_rate_from(explicit: str | float | None) -> float:
    if explicit is not None:
        return parse_rate(explicit)
    env = os.environ.get(MIN_RATE_ENV, "").strip()
    if env:
        try:
            return parse_rate(env)
        except ValueError as exc:
            raise DownloadError(f"${MIN_RATE_ENV}: {exc}") from None
    return DEFAULT_MIN_RATE


@dataclass(frozen=True)
class Deadline:
    """The moment the whole update must be over (``time.monotonic()`` clock)."""

    seconds: float
    at: float

    @classmethod
    def start(cls, seconds: float) -> Deadline:
        return cls(seconds, time.monotonic() + seconds)

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def describe(self) -> str:
        return f"the {_duration(self.seconds)} deadline of the update (--deadline, ${DEADLINE_ENV})"


@dataclass(frozen=True)
class Limits:
    deadline: Deadline
    min_rate: float = DEFAULT_MIN_RATE
    rate_window: float = DEFAULT_RATE_WINDOW
    timeout: float = 60.0  # connect and per-read timeout, never beyond the deadline
    progress: bool | None = None  # None: draw the progress line when stderr is a terminal


def stream(
    client: httpx.Client,
    url: str,
    write: Callable[[bytes], object],
    *,
    what: str,
    max_bytes: int,
    limits: Limits,
    headers: dict[str, str] | None = None,
) -> int:
    """GET ``url`` and pass its body to ``write`` chunk by chunk; return its size in bytes.

    Raises :class:`TransferError` (``problem`` says what went wrong, for a longer message built by
    the caller) or :class:`~oasis_mcp.data.sources.HostNotAllowed` from the client's hooks.
    """
    remaining = limits.deadline.remaining()
    if remaining <= 0:
        raise TransferError(f"{what} was not started: past {limits.deadline.describe()}",
                            "deadline")
    per_read = max(min(limits.timeout, remaining), 0.001)
    watch = _Watch(what, limits)
    try:
        with client.stream("GET", url, headers=headers, timeout=httpx.Timeout(per_read)) as resp:
            if resp.status_code != 200:
                raise TransferError(f"HTTP {resp.status_code} {resp.reason_phrase}", "status",
                                    resp.status_code)
            declared = content_length(resp)
            if declared is not None and declared > max_bytes:
                raise TransferError(f"it announces {declared:,} bytes, more than the "
                                    f"{max_bytes:,}-byte limit for {what}", "too-large")
            watch.begin(resp, declared)
            size = 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise TransferError(f"it is larger than the {max_bytes:,}-byte limit for "
                                        f"{what} (stopped reading at {size:,} bytes)", "too-large")
                watch.received = size
                write(chunk)
                watch.tick()
                if watch.reason is not None:
                    break
            watch.raise_if_stopped()
            if declared is not None and resp.num_bytes_downloaded != declared:
                raise TransferError(
                    f"truncated body: received {resp.num_bytes_downloaded:,} of the "
                    f"{declared:,} bytes announced by Content-Length", "network")
            return size
    except httpx.HTTPError as exc:
        watch.raise_if_stopped()
        raise TransferError(describe_http_error(exc), "network") from None
    finally:
        watch.end()


def content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("Content-Length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def describe_http_error(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__}); try again or raise --timeout"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the connection broke off, truncated body ({exc})"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({exc})"
    if isinstance(exc, httpx.TooManyRedirects):
        return f"too many redirects ({exc})"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class _Watch:
    """Watches one transfer from a thread: deadline, minimum rate, progress line."""

    def __init__(self, what: str, limits: Limits) -> None:
        self.what = what
        self.limits = limits
        self.received = 0
        self.total: int | None = None
        self.reason: str | None = None
        self.problem = ""
        self.started = time.monotonic()
        self._samples: collections.deque[tuple[float, int]] = collections.deque()
        self._sock: socket.socket | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        stream_: IO[str] = sys.stderr
        enabled = limits.progress
        if enabled is None:
            enabled = bool(getattr(stream_, "isatty", lambda: False)())
        self._progress = stream_ if enabled else None
        self._drawn = 0.0

    def begin(self, response: httpx.Response, declared: int | None) -> None:
        self.total = declared
        self.started = time.monotonic()
        network = response.extensions.get("network_stream")
        if network is not None:
            try:
                self._sock = network.get_extra_info("socket")
            except Exception:
                self._sock = None
        self._thread = threading.Thread(target=self._run, name="oasis-transfer-watch",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(_WATCH_EVERY):
            self._check(time.monotonic())
            if self.reason is not None:
                if self._sock is not None:
                    with contextlib.suppress(OSError):
                        self._sock.shutdown(socket.SHUT_RDWR)
                return

    def _check(self, now: float) -> None:
        limits = self.limits
        self._samples.append((now, self.received))
        window = limits.rate_window
        while len(self._samples) > 1 and self._samples[1][0] <= now - window:
            self._samples.popleft()
        if now >= limits.deadline.at:
            self.problem = (f"too slow: {self.what} had sent {self._so_far()} after "
                            f"{_duration(now - self.started)}, past {limits.deadline.describe()}")
            self.reason = "deadline"
        elif limits.min_rate > 0 and now - self.started >= window:
            t0, b0 = self._samples[0]
            if now - t0 >= window * 0.99:
                rate = (self.received - b0) / (now - t0)
                if rate < limits.min_rate:
                    self.problem = (
                        f"too slow: {self.what} sent {_bytes(rate)}/s over the last "
                        f"{_duration(now - t0)}, below the minimum of {_bytes(limits.min_rate)}/s "
                        f"(--min-rate, ${MIN_RATE_ENV}); {self._so_far()} received")
                    self.reason = "too-slow"

    def _so_far(self) -> str:
        if self.total:
            return f"{self.received:,} of {self.total:,} bytes"
        return f"{self.received:,} bytes"

    def tick(self) -> None:
        if self._progress is None:
            return
        now = time.monotonic()
        if now - self._drawn < 0.25:
            return
        self._drawn = now
        elapsed = max(now - self.started, 1e-6)
        rate = self.received / elapsed
        line = f"  {self.what}: {_bytes(self.received)}"
        if self.total:
            line += f" of {_bytes(self.total)} ({self.received / self.total:.0%})"
        line += f", {_bytes(rate)}/s"
        if self.total and rate > 0:
            line += f", ETA {_duration((self.total - self.received) / rate)}"
        self._progress.write("\r" + line.ljust(78)[:78])
        self._progress.flush()

    def raise_if_stopped(self) -> None:
        if self.reason is None and time.monotonic() >= self.limits.deadline.at:
            self._check(time.monotonic())
        if self.reason is not None:
            raise TransferError(self.problem, self.reason)

    def end(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
        if self._progress is not None and self._drawn:
            self._progress.write("\r" + " " * 78 + "\r")
            self._progress.flush()


def _bytes(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min"
