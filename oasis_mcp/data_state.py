"""The data the server serves, kept fresh without a restart.

A :class:`Snapshot` is one loaded edition: its dataset and query index, which edition it is, the
identity of its files on disk and when it was loaded. Snapshots are immutable; :class:`DataState`
holds the current one and swaps it for a new one in a single assignment, so a request that took a
snapshot at its start reads one edition to its end, whatever is installed meanwhile.

Which edition is served by default:

* when the data directory has a ``manifest.json`` (written by ``oasis-mcp data update`` after the
  files are in place: the update's commit point) and the edition it names is on disk, that one;
* otherwise the newest complete edition found by file name (a directory filled by hand).

Freshness: before answering, at most once per ``check_interval`` seconds (default 1), the state
compares a cheap signature (``stat`` of the directory, of ``manifest.json`` and of the served files)
with the last one. When it changed, a background thread works out which edition should be served
and, if it is another one (or the same files rewritten), loads it and swaps it in; requests keep
being answered from the previous snapshot until then. Files written less than ``settle`` seconds ago
are not read in a directory without a manifest (a copy may still be running). A new edition that
fails to load leaves the last good one in place, with a warning in answers and in ``/health``; the
same files are not read again until they change. Temp files of an update (``.oasis-tmp-*.part``) and
any file without an official SSMSI name are never read.

Older editions on request: :meth:`DataState.snapshot` takes an edition id or data year and loads
that edition (a few are kept), checked against its files on every use.

Background refresh (``serve --refresh-every``): :meth:`DataState.start_auto_update` runs
:func:`oasis_mcp.data.download.update` periodically in a thread; when it installs an edition, the
state switches to it at once; when it fails, the last good edition stays and ``/health`` says why.

Only the standard library is imported here at module level: the dataset and query layers (pandas,
numpy) are imported on the first load.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oasis_mcp import config
from oasis_mcp.data.editions import Edition, discover_editions, served_edition
from oasis_mcp.data.manifest import MANIFEST_NAME
from oasis_mcp.errors import DataNotFoundError, OasisError

if TYPE_CHECKING:
    from oasis_mcp.query import DataIndex

log = logging.getLogger(__name__)

CHECK_INTERVAL = 1.0
"""Seconds between two freshness checks (a few ``stat`` calls) of the data directory."""
SETTLE_SECONDS = 2.0
"""In a directory without a manifest, files modified more recently than this are not read yet."""
OLDER_KEPT = 2
"""Older editions kept loaded for requests that name them."""
REFRESH_ENV = "OASIS_REFRESH_EVERY"
"""``serve --transport http`` runs ``data update`` this often (e.g. ``24h``); unset: never."""
CURRENT_ALIASES = frozenset({"latest", "newest", "current", "default", "last"})

FileStat = tuple[int, int, int] | None  # (inode, size, mtime_ns), None when absent
FilesKey = tuple[str, FileStat, FileStat]  # (edition id, departmental file, regional file)


class EditionNotFoundError(OasisError):
    """An edition was asked for that is not installed; the message lists those that are."""


@dataclass(frozen=True)
class Snapshot:
    """One loaded edition, never modified: what a request reads from start to end."""

    index: DataIndex
    edition: Edition
    key: FilesKey
    loaded_at: str  # UTC, ISO 8601
    chosen_by: str  # "manifest", "newest" (by file name) or "request" (an older edition asked)

    @property
    def id(self) -> str:
        return self.edition.id

    @property
    def paths(self) -> tuple[Path, ...]:
        return tuple(p for p in (self.edition.department_file, self.edition.region_file) if p)


def files_key(edition: Edition) -> FilesKey:
    return (edition.id, _stat(edition.department_file), _stat(edition.region_file))


def parse_duration(text: str) -> float:
    """Seconds in ``text``: a number of seconds, or amounts with units s/m/h/d ("24h", "1h30m",
    "90s", "1d"). Raises ValueError with the accepted forms."""
    value = text.strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", value):
        seconds = float(value)
    elif value and re.fullmatch(r"(\d+(\.\d+)?[smhd])+", value):
        units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
        seconds = sum(float(n) * units[u] for n, _, u in
                      re.findall(r"(\d+(\.\d+)?)([smhd])", value))
    else:
        raise ValueError(
            f"{text!r} is not a duration: use seconds (3600) or amounts with units s, m, h, d "
            "(e.g. 24h, 30m, 1h30m, 1d)"
        )
    if seconds < 1:
        raise ValueError(f"{text!r} is too short: the refresh period must be at least 1 second")
    return seconds


class DataState:
    """The current snapshot, the freshness checks, older editions and the background refresh.

    Thread-safe. ``data_dir`` is resolved on every check (``config.data_dir``), so a directory that
    appears after start-up is found.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        check_interval: float = CHECK_INTERVAL,
        settle: float = SETTLE_SECONDS,
    ) -> None:
        self.data_dir = data_dir
        self.check_interval = check_interval
        self.settle = settle
        self._current: Snapshot | None = None
        self._older: OrderedDict[str, Snapshot] = OrderedDict()
        self._load_lock = threading.Lock()  # one load at a time
        self._state = threading.Condition()  # guards the fields below
        self._signature: tuple[object, ...] | None = None
        self._next_check = 0.0
        self._checked_at: str | None = None
        self._reloading = False
        self._again = False
        self._problem: str | None = None  # why a newer edition is not served (for answers)
        self._failed: tuple[FilesKey, str] | None = None  # files that failed, and why
        self._first_failure: tuple[tuple[object, ...], OasisError] | None = None
        self._update_thread: threading.Thread | None = None
        self._update_stop = threading.Event()
        self._update_every: float | None = None
        self._update_status: dict[str, Any] | None = None

    # -- the snapshot a request reads --------------------------------------------------------

    @property
    def current(self) -> Snapshot | None:
        """The current snapshot, if one is loaded (never loads, never checks)."""
        return self._current

    def ready(self) -> Snapshot | None:
        """The current snapshot when no freshness check is due (no I/O at all), else None."""
        snap = self._current
        if snap is not None and time.monotonic() < self._next_check:
            return snap
        return None

    def snapshot(self, edition: str | None = None, fresh: bool = False) -> Snapshot:
        """The snapshot to answer from: the current one (checked for freshness, loaded on first
        use), or the edition named by ``edition`` (an edition id or data year).

        ``fresh``: check now whatever the interval, and wait (a few seconds at most) for a
        reload that this check or an earlier one started.
        Raises :class:`DataNotFoundError`, :class:`~oasis_mcp.errors.DataFileError` (no edition
        loads) or :class:`EditionNotFoundError`.
        """
        snap = self._current
        if snap is None:
            snap = self._first_load()
        else:
            self._check(force=fresh)
            if fresh:
                self.wait_reloaded(timeout=10.0)
            snap = self._current or snap
        if edition is None or edition.strip().lower() in CURRENT_ALIASES:
            return snap
        return self._edition(edition.strip(), snap)

    def notes(self, snap: Snapshot) -> list[str]:
        """What an answer read from ``snap`` must say about the data: an older edition asked
        for, or a newer one that could not be loaded."""
        out = []
        current = self._current
        if current is not None and snap.id != current.id:
            out.append(
                f"Answered from edition {snap.id} as requested ({snap.edition.label}); the "
                f"server's default edition is {current.id}."
            )
        problem = self._problem
        if problem:
            out.append(problem)
        return out

    def available(self) -> list[Edition]:
        """Editions installed in the data directory, newest first (reads the directory)."""
        return discover_editions(config.data_dir(self.data_dir))

    # -- freshness ---------------------------------------------------------------------------

    def poll(self) -> None:
        """The rate-limited freshness check, for callers that answer without data (``/health``):
        starts a background reload when the directory changed. Never loads a first edition."""
        if self._current is not None:
            self._check(force=False)

    def check_now(self, wait: bool = True, timeout: float = 30.0) -> Snapshot | None:
        """Check the directory now (whatever the interval); with ``wait``, until any reload ends."""
        if self._current is None:
            try:
                self._first_load()
            except OasisError:
                return None
        self._check(force=True)  # also after a first load that raced with an install
        if wait:
            self.wait_reloaded(timeout)
        return self._current

    def wait_reloaded(self, timeout: float = 30.0) -> bool:
        """Wait until no background reload runs; False on timeout."""
        with self._state:
            return self._state.wait_for(lambda: not self._reloading, timeout=timeout)

    def _signature_now(self, directory: Path) -> tuple[object, ...]:
        """What the cheap check compares: the directory, its manifest, the served files."""
        snap = self._current
        if snap is None:
            return (*_head(directory), None)
        served = (_stat(snap.edition.department_file), _stat(snap.edition.region_file))
        return (*_head(directory), served)  # same shape as (*head, key[1:]) after a load

    def _check(self, force: bool) -> None:
        now = time.monotonic()
        with self._state:
            if not force and now < self._next_check:
                return
            self._next_check = now + self.check_interval
        signature = self._signature_now(config.data_dir(self.data_dir))
        with self._state:
            self._checked_at = _utc_now()
            if signature == self._signature:
                return
            self._signature = signature
            # Flagged in the same step, so that a waiter never misses the reload.
            if self._reloading:
                self._again = True
                return
            self._reloading = True
        threading.Thread(target=self._reload_loop, name="oasis-data-reload", daemon=True).start()

    def _reload_loop(self) -> None:
        while True:
            try:
                self._reload()
            except Exception:  # never let the thread die with the flag set
                log.exception("reloading the data failed")
            with self._state:  # one step: a check flagging "again" now is never lost
                if not self._again:
                    self._reloading = False
                    self._state.notify_all()
                    return
                self._again = False

    def _reload(self) -> None:
        """Serve the edition the directory now calls for, if it is not the one served."""
        current = self._current
        assert current is not None
        directory = config.data_dir(self.data_dir)
        head = _head(directory)  # before reading: a change from now on is seen by the next check
        editions = discover_editions(directory)
        if not editions:
            self._problem = (
                f"The data files of edition {current.id} are no longer in the data directory and "
                f"no other edition is installed; still answering from edition {current.id} "
                f"loaded at {current.loaded_at}. Run `oasis-mcp data update`."
            )
            log.warning("%s", self._problem)
            return
        self._forget_gone_editions(editions)
        target, chosen_by = served_edition(directory, editions)
        key = files_key(target)
        if key == current.key:
            self._problem = None  # e.g. a failed edition was removed again
            return
        failed = self._failed
        if failed is not None and failed[0] == key:
            return  # the same broken files: the warning stands
        if chosen_by == "newest" and self._too_recent(target):
            log.info("edition %s was written less than %.0f s ago; loading it shortly",
                     target.id, self.settle)
            with self._state:
                self._signature = None  # look again at the next check
                self._next_check = time.monotonic() + self.settle
            return
        try:
            snap = self._load(target, chosen_by)
        except (OasisError, OSError) as exc:
            reason = str(exc)
            self._failed = (key, reason)
            self._problem = (
                f"Edition {target.id} is installed but could not be loaded ({reason}); still "
                f"answering from the last good edition {current.id}."
            )
            log.warning("%s", self._problem)
            return
        self._swap(snap, previous=current, head=head)

    def _forget_gone_editions(self, editions: list[Edition]) -> None:
        """Drop older editions whose files were removed or rewritten since they were loaded."""
        on_disk = {e.id: files_key(e) for e in editions}
        with self._state:
            for gone in [k for k, snap in self._older.items() if on_disk.get(k) != snap.key]:
                del self._older[gone]

    def _too_recent(self, edition: Edition) -> bool:
        now = time.time()
        for path in (edition.department_file, edition.region_file):
            if path is None:
                continue
            try:
                if now - path.stat().st_mtime < self.settle:
                    return True
            except OSError:
                return False
        return False

    def _swap(self, snap: Snapshot, previous: Snapshot | None, head: tuple[object, ...]) -> None:
        with self._state:
            self._current = snap
            self._problem = None
            self._failed = None
            self._older.pop(snap.id, None)
            if self._signature is not None:  # None: files changed while loading, look again
                self._signature = (*head, snap.key[1:])
        if previous is not None and previous.id != snap.id:
            log.info("now serving edition %s (was %s)", snap.id, previous.id)
        elif previous is not None:
            log.info("reloaded edition %s (its files changed)", snap.id)

    # -- loading -----------------------------------------------------------------------------

    def _load(self, edition: Edition, chosen_by: str) -> Snapshot:
        from oasis_mcp.data.dataset import load_dataset
        from oasis_mcp.query import build_index

        with self._load_lock:
            key = files_key(edition)
            dataset = load_dataset(self.data_dir, edition=edition.id)
            index = build_index(dataset)
            if files_key(edition) != key:  # rewritten while we read it: look again soon
                with self._state:
                    self._signature = None
            return Snapshot(index, edition, key, _utc_now(), chosen_by)

    def _first_load(self) -> Snapshot:
        """Load the default edition; when it fails, the next older one that loads (with a
        warning). Failures are remembered until the directory changes."""
        with self._load_lock:
            if self._current is not None:
                return self._current
            directory = config.data_dir(self.data_dir)
            head = _head(directory)
            signature = (*head, tuple(_stat(p) for p in sorted(_listing(directory))))
            remembered = self._first_failure
            if remembered is not None and remembered[0] == signature:
                raise remembered[1]
            editions = discover_editions(directory)
            if not editions:
                from oasis_mcp.data.dataset import missing_data_error

                raise missing_data_error(self.data_dir)
            target, chosen_by = served_edition(directory, editions)
            failures: list[tuple[Edition, OasisError]] = []
            for edition in [target, *(e for e in editions if e is not target)]:
                try:
                    snap = self._load_unlocked(edition, chosen_by if edition is target else
                                               "fallback")
                except OasisError as exc:
                    log.warning("edition %s could not be loaded: %s", edition.id, exc)
                    failures.append((edition, exc))
                    continue
                problem = None
                if failures:
                    bad, why = failures[0]
                    problem = (f"Edition {bad.id} is installed but could not be loaded ({why}); "
                               f"answering from the older edition {snap.id}.")
                    self._failed = (files_key(bad), str(why))
                with self._state:
                    self._current = snap
                    self._problem = problem
                    self._first_failure = None
                    self._signature = (*head, snap.key[1:])
                    self._next_check = time.monotonic() + self.check_interval
                log.info("serving edition %s from %s (%s)", snap.id, directory, chosen_by)
                return snap
            first = failures[0][1]
            self._first_failure = (signature, first)
            raise first

    def _load_unlocked(self, edition: Edition, chosen_by: str) -> Snapshot:
        from oasis_mcp.data.dataset import load_dataset
        from oasis_mcp.query import build_index

        key = files_key(edition)
        try:
            dataset = load_dataset(self.data_dir, edition=edition.id)
        except OSError as exc:  # a file vanished between the listing and the read
            raise DataNotFoundError(f"edition {edition.id} could not be read: {exc}") from None
        return Snapshot(build_index(dataset), edition, key, _utc_now(), chosen_by)

    # -- older editions ----------------------------------------------------------------------

    def _edition(self, wanted: str, current: Snapshot) -> Snapshot:
        if wanted in (current.id, str(current.edition.data_year)):
            return current
        editions = self.available()
        chosen = next((e for e in editions if e.id == wanted), None) or next(
            (e for e in editions if str(e.data_year) == wanted), None)
        if chosen is None:
            raise EditionNotFoundError(self._unknown_edition(wanted, editions, current))
        if chosen.id == current.id:
            return current
        key = files_key(chosen)
        with self._state:
            hit = self._older.get(chosen.id)
            if hit is not None and hit.key == key:
                self._older.move_to_end(chosen.id)
                return hit
        snap = self._load(chosen, "request")
        with self._state:
            self._older[chosen.id] = snap
            self._older.move_to_end(chosen.id)
            while len(self._older) > OLDER_KEPT:
                self._older.popitem(last=False)
        log.info("loaded the older edition %s on request", chosen.id)
        return snap

    @staticmethod
    def _unknown_edition(wanted: str, editions: list[Edition], current: Snapshot) -> str:
        shown = wanted if len(wanted) <= 60 else wanted[:57] + "..."
        listed = "; ".join(
            f"{e.id} ({e.data_year} data{', served by default' if e.id == current.id else ''})"
            for e in editions
        ) or current.id
        return (
            f"No edition '{shown}' is installed. Installed editions: {listed}. Pass an edition id "
            f"or its data year (e.g. '{current.edition.data_year}'), or omit edition for the "
            "default one."
        )

    # -- background refresh ------------------------------------------------------------------

    def start_auto_update(
        self, every: float, run_update: Callable[[], Any] | None = None
    ) -> None:
        """Run ``data update`` every ``every`` seconds in a daemon thread (at once when no data
        is installed), then switch to what it installed. ``run_update`` replaces
        :func:`oasis_mcp.data.download.update` (tests)."""
        if self._update_thread is not None:
            raise RuntimeError("the background refresh is already running")
        self._update_every = every
        self._update_stop.clear()

        def loop() -> None:
            try:
                delay = every if self.available() else 0.0  # no data yet: update at once
            except OSError:
                delay = 0.0
            while not self._update_stop.wait(delay):
                self.update_now(run_update)
                delay = every

        self._update_thread = threading.Thread(target=loop, name="oasis-data-update",
                                               daemon=True)
        self._update_thread.start()
        log.info("background data update every %s", _describe_seconds(every))

    def stop_auto_update(self, timeout: float = 10.0) -> None:
        self._update_stop.set()
        thread, self._update_thread = self._update_thread, None
        if thread is not None:
            thread.join(timeout)

    def update_now(self, run_update: Callable[[], Any] | None = None) -> dict[str, Any]:
        """One ``data update`` (the same checks as the command), then a freshness check. Never
        raises: a failure is logged and kept for ``/health``; the last good edition stays."""
        started = _utc_now()
        status: dict[str, Any]
        try:
            if run_update is None:
                from oasis_mcp.data.download import update

                result = update(data_dir=self.data_dir)
            else:
                result = run_update()
        except OasisError as exc:
            status = {"at": started, "ok": False, "error": str(exc)}
            log.warning("background data update failed (still serving the last good edition): "
                        "%s", exc)
        except Exception as exc:
            status = {"at": started, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
            log.exception("background data update failed unexpectedly")
        else:
            status = {"at": started, "ok": True, "status": getattr(result, "status", None),
                      "edition": getattr(result, "edition", None)}
            log.info("background data update: %s %s", status["status"], status["edition"])
        with self._state:
            self._update_status = status
        self.check_now(wait=True)
        return status

    # -- /health -----------------------------------------------------------------------------

    def health(self) -> dict[str, object]:
        """What ``/health`` says about the data (never loads an edition; may start a reload)."""
        try:
            self.poll()
        except Exception:  # /health answers whatever happens
            log.exception("freshness check from /health failed")
        snap = self._current
        with self._state:
            info: dict[str, object] = {
                "loaded": snap is not None,
                "edition": snap.id if snap else None,
                "edition_label": snap.edition.label if snap else None,
                "chosen_by": snap.chosen_by if snap else None,
                "loaded_at": snap.loaded_at if snap else None,
                "checked_at": self._checked_at,
                "reloading": self._reloading,
                "warning": self._problem,
                "older_editions_loaded": list(self._older),
            }
            if self._update_every is not None:
                info["auto_update"] = {"every_seconds": self._update_every,
                                       "last": self._update_status}
        return info


def _head(directory: Path) -> tuple[object, ...]:
    return (str(directory), _stat(directory), _stat(directory / MANIFEST_NAME))


def _listing(directory: Path) -> list[Path]:
    try:
        return [p for p in directory.iterdir() if p.name.startswith("donnee-")]
    except OSError:
        return []


def _stat(path: Path | None) -> FileStat:
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _utc_now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _describe_seconds(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
