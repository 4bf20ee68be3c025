"""``oasis-mcp data update``: download the newest SSMSI edition, validate it, install it atomically.

Steps (all under a lock file, ``.oasis-update.lock``, so two updates never interleave):

1. Ask the data.gouv.fr API (``OASIS_DATAGOUV_API`` or ``api_url`` overrides the URL) for the
   dataset's resources and pick the newest edition's departmental and regional CSV files by their
   official names. If the API is unreachable or answers garbage, use pinned URLs of the 2025 edition
   (``OASIS_DATAGOUV_FALLBACK_URLS`` or ``fallback_urls`` override them).
2. Stream each file into a temp file (``.oasis-tmp-*.part``) in the target directory, with a
   timeout, a size cap, a check against ``Content-Length`` and, when the API gives one, its
   checksum.
3. Validate both files with the parser, check that they form one edition (same years and
   indicators) with :func:`~oasis_mcp.data.dataset.build_dataset`.
4. Only then move them into place with ``os.replace`` (regional file first, so that a crash in
   between never leaves a departmental file without its regional twin being loaded), write
   ``manifest.json`` atomically, and remove the files of the previous edition that the previous
   manifest listed (and only those, and only when their content is still what was installed).

Any failure before step 4 leaves the directory exactly as it was (temp files are removed) and raises
:class:`~oasis_mcp.errors.DownloadError` saying which URL failed, how, and that the previous data is
still in use. A failure during step 4 puts the previous files back.

Decisions:

* **Regional file missing.** When the newest edition's regional file is not listed or answers
  404/410 while the departmental file is fine, the departmental file is installed alone: the data
  layer then aggregates regions from departments and marks them ``derived`` (the "Mis en cause"
  aggregates as upper bounds). The summary says so. If the same edition's regional file was already
  installed (from an earlier update) and is intact, it is kept. Any other failure of the regional
  file (500, truncated, invalid) fails the whole update: it is likely transient, and installing half
  an edition would hide that.
* **Never downgrade.** When the source offers an edition older than the newest one already in the
  directory (e.g. the API is down and the pinned fallback is older than what is installed), nothing
  is downloaded and the result says the installed edition is kept.
* **Up to date.** When the downloaded files have the sha256 of the installed ones, nothing is
  rewritten (files and manifest stay byte for byte).
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import hashlib
import logging
import os
import ssl
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import httpx

from oasis_mcp import __version__, config
from oasis_mcp.data import datagouv, referential, sources
from oasis_mcp.data.datagouv import (
    ApiError,
    Checksum,
    EditionResources,
    Resource,
    file_name_from_url,
)
from oasis_mcp.data.dataset import build_dataset
from oasis_mcp.data.editions import Edition, FileLevel, discover_editions, is_commune_file_name
from oasis_mcp.data.manifest import (
    STATE_NAME,
    TEMP_PREFIX,
    TEMP_SUFFIX,
    KeptEdition,
    Manifest,
    ManifestFile,
    ManifestLevel,
    Referential,
    UpdateState,
    manifest_path,
    public_mode,
    read_manifest,
    read_state,
    write_manifest,
    write_state,
)
from oasis_mcp.data.parsing import ParsedFile, read_ssmsi_file
from oasis_mcp.data.plausibility import check_edition
from oasis_mcp.data.sources import HostNotAllowed, HostPolicy
from oasis_mcp.data.transfer import (
    DEFAULT_RATE_WINDOW,
    Deadline,
    Limits,
    TransferError,
    deadline_from,
    min_rate_from,
    stream,
)
from oasis_mcp.data.update_state import LOCK_NAME, update_in_progress, update_status
from oasis_mcp.data.update_state import try_lock as _try_lock
from oasis_mcp.data.update_state import unlock as _unlock
from oasis_mcp.errors import DataFileError, DownloadError

if TYPE_CHECKING:
    from oasis_mcp.data.commune_file import CommuneTable

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 60.0
DEFAULT_LOCK_TIMEOUT = 30.0
#: Older editions kept beside the current one (their files stay listed in the manifest).
DEFAULT_KEEP_PREVIOUS = 1
_MISSING_STATUSES = (404, 410)

#: Exit codes of ``oasis-mcp data update`` (sysexits.h values), by kind of failure.
EXIT_FAILED = 1  # anything else
EXIT_INVALID = 65  # EX_DATAERR: the source offers an invalid, incomplete or implausible edition
EXIT_UNAVAILABLE = 69  # EX_UNAVAILABLE: the source cannot be reached or answers an HTTP error
EXIT_CANNOT_WRITE = 73  # EX_CANTCREAT: the data directory cannot be written (permissions, space)
EXIT_TRY_LATER = 75  # EX_TEMPFAIL: too slow, past the deadline, or another update holds the lock
EXIT_HOST_REFUSED = 77  # EX_NOPERM: a URL or redirect outside the allowed hosts
EXIT_INTERRUPTED = 130  # Ctrl-C


class ImplausibleEdition(DownloadError):
    exit_code = EXIT_INVALID


class DataDirError(DownloadError):
    exit_code = EXIT_CANNOT_WRITE


class LockBusy(DownloadError):
    exit_code = EXIT_TRY_LATER

Status = Literal["installed", "up-to-date", "kept-newer"]
FileAction = Literal["installed", "unchanged", "kept"]


@dataclass(frozen=True)
class UpdatedFile:
    """One file of the edition after the update."""

    name: str
    level: ManifestLevel
    url: str
    sha256: str
    size: int
    path: Path
    action: FileAction  # installed (written now), unchanged (same sha256), kept (not re-downloaded)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "level": self.level, "url": self.url, "sha256": self.sha256,
            "size": self.size, "path": str(self.path), "action": self.action,
        }


@dataclass(frozen=True)
class UpdateResult:
    """What :func:`update` did. ``summary()`` is for people, ``to_dict()`` for ``--json``."""

    status: Status
    edition: str
    edition_label: str
    data_dir: Path
    source: Literal["api", "fallback", "none"]
    source_url: str
    files: tuple[UpdatedFile, ...]
    regions: Literal["official", "aggregated"]
    previous_edition: str | None = None
    removed_files: tuple[str, ...] = ()
    manifest: Path | None = None
    notes: tuple[str, ...] = field(default=())
    kept_editions: tuple[str, ...] = ()
    #: The communal file: {"installed": bool, "status", "file", "reason", "communes", ...}
    commune: dict[str, Any] = field(default_factory=dict)
    #: The commune referential cog/communes.json: {"status", "path", "version", "reason", ...}
    referential: dict[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return self.status == "installed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "edition": self.edition,
            "edition_label": self.edition_label,
            "data_dir": str(self.data_dir),
            "source": self.source,
            "source_url": self.source_url,
            "regions": self.regions,
            "files": [f.to_dict() for f in self.files],
            "previous_edition": self.previous_edition,
            "removed_files": list(self.removed_files),
            "kept_editions": list(self.kept_editions),
            "manifest": str(self.manifest) if self.manifest else None,
            "notes": list(self.notes),
            "commune": self.commune,
            "commune_referential": self.referential,
        }

    def summary(self) -> str:
        if self.status == "up-to-date":
            head = f"Already up to date: edition {self.edition}: {self.edition_label}."
        elif self.status == "kept-newer":
            head = (f"Kept the installed edition {self.edition}: {self.edition_label}. "
                    "It is newer than what the source offers.")
        elif self.previous_edition and self.previous_edition != self.edition:
            head = (f"Installed edition {self.edition}: {self.edition_label}, replacing "
                    f"{self.previous_edition}.")
        else:
            head = f"Installed edition {self.edition}: {self.edition_label}."
        lines = [head, f"Directory: {self.data_dir}"]
        source = {"api": "data.gouv.fr API", "fallback": "pinned fallback URLs",
                  "none": "nothing downloaded"}[self.source]
        lines.append(f"Source:    {source} ({self.source_url})")
        for f in self.files:
            lines.append(f"  {f.level:<10} {f.name}  {f.size:,} bytes  [{f.action}]")
            lines.append(f"  {'':<10} sha256 {f.sha256}")
        if self.regions == "official":
            lines.append("Regions:   official regional file")
        else:
            lines.append("Regions:   aggregated from the departments (marked derived; "
                         "'Mis en cause' aggregates are upper bounds): no regional file installed")
        if self.commune:
            lines.append("Communes:  " + _describe_commune(self.commune))
        if self.referential:
            lines.append("Names:     " + _describe_referential(self.referential))
        if self.kept_editions:
            lines.append("Kept:      older edition(s) " + ", ".join(self.kept_editions)
                         + " beside it (`oasis-mcp data info` lists them)")
        if self.removed_files:
            lines.append("Removed:   " + ", ".join(self.removed_files))
        if self.manifest:
            lines.append(f"Manifest:  {self.manifest}")
        lines.extend(f"Note:      {note}" for note in self.notes)
        return "\n".join(lines)


def _describe_commune(info: dict[str, Any]) -> str:
    if info.get("installed"):
        action = {"installed": "installed", "unchanged": "already installed",
                  "kept": "kept the one installed earlier"}.get(info.get("status", ""), "")
        text = f"commune level {action}: {info.get('file')}"
        if info.get("communes") is not None:
            text += (f" ({info['communes']:,} communes, geography "
                     f"{info.get('geography_year')})")
        if info.get("validated_seconds") is not None:
            text += f"; validated in {info['validated_seconds']:.1f} s"
        if info.get("cache_already_warm"):
            text += "; its cache was already warm"
        elif info.get("cache_seconds") is not None:
            text += f"; cache warmed in {info['cache_seconds']:.1f} s"
        return text
    return (f"commune level NOT installed: {info.get('reason')}. Departments and regions are "
            "installed and served without it; commune requests say how to get the file.")


def _describe_referential(info: dict[str, Any]) -> str:
    status = info.get("status")
    if status == "installed":
        return (f"commune referential installed: {info.get('path')} ({PACKAGE_LABEL} "
                f"{info.get('version')}, {info.get('communes', 0):,} communes)")
    if status == "present":
        return f"commune referential already present: {info.get('path')} ({info.get('reason')})"
    if status == "skipped":
        return f"commune referential not checked ({info.get('reason')})"
    return (f"commune referential NOT installed: {info.get('reason')}. Communes are then found "
            "by INSEE code only (no names).")


PACKAGE_LABEL = "@etalab/decoupage-administratif"


def update(
    data_dir: str | os.PathLike[str] | None = None,
    api_url: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    *,
    fallback_urls: Sequence[str] | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    max_bytes: int | None = None,
    deadline: str | float | None = None,
    min_rate: str | float | None = None,
    rate_window: float = DEFAULT_RATE_WINDOW,
    allow_hosts: Sequence[str] | None = None,
    force: bool = False,
    keep_previous: int = DEFAULT_KEEP_PREVIOUS,
    progress: bool | None = None,
    started: float | None = None,
    communes: bool = True,
) -> UpdateResult:
    """Download, validate and install the newest edition into ``config.data_dir(data_dir)``.

    ``api_url`` defaults to ``$OASIS_DATAGOUV_API``, then data.gouv.fr; ``fallback_urls`` to
    ``$OASIS_DATAGOUV_FALLBACK_URLS``, then the pinned 2025 edition. ``timeout`` is the HTTP
    timeout in seconds (connect, and each read); ``deadline`` bounds the whole update
    (``$OASIS_UPDATE_DEADLINE``, default 300 s), ``min_rate`` the transfer rate in bytes/s
    averaged over ``rate_window`` seconds (``$OASIS_UPDATE_MIN_RATE``, default 10 kB/s).
    ``allow_hosts`` adds hosts (mirrors) to the dataset's own (see :mod:`oasis_mcp.data.sources`).
    ``max_bytes`` overrides every file's size cap. ``force`` installs an edition that fails the
    plausibility checks (the result's notes say which). Raises :class:`DownloadError` (its
    ``exit_code`` says what kind of failure); on failure the previous files and manifest are
    untouched. ``started`` (a ``time.monotonic()`` value, default now) is when the deadline's
    clock started: the CLI passes its own start, so that the deadline bounds the whole command.
    ``communes`` (default True) also installs the edition's communal file and the commune
    referential (both optional: when they fail, the edition is installed without them and the
    result's ``commune`` / ``referential`` say why).
    """
    target = config.data_dir(data_dir)
    try:
        seconds = deadline_from(deadline)
        start = time.monotonic() if started is None else started
        limits = Limits(Deadline(seconds, start + seconds), min_rate_from(min_rate),
                        rate_window, timeout, progress)
    except ValueError as exc:
        raise DownloadError(str(exc)) from None
    policy = HostPolicy.from_options(allow_hosts)
    created = not target.exists()
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _dir_error(exc, target, "create the data directory") from None
    if _read_only(target):
        raise DataDirError(
            f"The data directory {target} is on a read-only file system. Fix: remount it "
            f"read-write, or choose another directory with --data-dir or {config.DATA_DIR_ENV}. "
            "Nothing was changed."
        )
    if not os.access(target, os.W_OK):
        raise DataDirError(
            f"The data directory {target} is not writable by this account. Fix: run the update "
            f"as the account that owns it, or choose another with --data-dir or "
            f"{config.DATA_DIR_ENV}. Nothing was changed."
        )
    installed = False
    try:
        with _update_lock(target, lock_timeout):
            began = _utc_now()
            try:  # Ctrl-C while the "running" state is written is recorded as well
                write_state(target, UpdateState("running", started_at=began, pid=os.getpid()))
                result = _run_update(target, api_url, fallback_urls, limits, policy, max_bytes,
                                     force, keep_previous, communes)
            except KeyboardInterrupt:
                write_state(target, UpdateState("failed", began, _utc_now(), os.getpid(),
                                                "interrupted (Ctrl-C)"))
                raise
            except DownloadError as exc:
                write_state(target, UpdateState("failed", began, _utc_now(), os.getpid(),
                                                str(exc)))
                raise
            except OSError as exc:
                error = _dir_error(exc, target, "update the files in")
                write_state(target, UpdateState("failed", began, _utc_now(), os.getpid(),
                                                str(error)))
                raise error from None
            installed = True
            write_state(target, UpdateState("ok", began, _utc_now(), os.getpid(),
                                            result.summary().split("\n", 1)[0]))
            return result
    except OSError as exc:
        raise _dir_error(exc, target, "update the files in") from None
    finally:
        if created and not installed:
            _remove_created_directory(target)


def _run_update(
    target: Path, api_url: str | None, fallback_urls: Sequence[str] | None, limits: Limits,
    policy: HostPolicy, max_bytes: int | None, force: bool, keep_previous: int,
    communes: bool = True,
) -> UpdateResult:
    _remove_stale_temp_files(target)
    with _client(policy, limits, "SSMSI data") as client:
        return _Updater(
            target=target,
            client=client,
            api_url=datagouv.api_url(api_url),
            fallback_urls=datagouv.fallback_urls(fallback_urls),
            max_bytes=max_bytes,
            limits=limits,
            force=force,
            keep_previous=keep_previous,
            policy=policy,
            communes=communes,
        ).run()


def _client(policy: HostPolicy, limits: Limits, what: str) -> httpx.Client:
    """An HTTP client whose every request (redirects included) is checked against ``policy``."""
    headers = {"User-Agent": f"oasis-mcp/{__version__} (+data update)"}

    def check_host(request: httpx.Request) -> None:
        policy.check(str(request.url), what)

    return httpx.Client(timeout=limits.timeout, follow_redirects=True, headers=headers,
                        verify=_ssl_context(), event_hooks={"request": [check_host]})


def _read_only(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # no statvfs on Windows
        return False


def _remove_created_directory(target: Path) -> None:
    """A failed first update leaves no directory behind (an empty one, with only a lock, would
    silence the server's "no data" warning)."""
    try:
        for name in (LOCK_NAME, STATE_NAME):
            (target / name).unlink(missing_ok=True)
        target.rmdir()
    except OSError:
        pass


def _dir_error(exc: OSError, target: Path, action: str) -> DataDirError:
    """One line naming the path, the system's reason and the fix."""
    path = exc.filename or target
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.EACCES, errno.EPERM):
        fix = (f"give this account write access to {target} and read access to its files "
               f"(see `ls -l {target}`), run the update as the directory's owner, or choose "
               f"another directory with --data-dir or ${config.DATA_DIR_ENV}")
    elif exc.errno == errno.EROFS:
        fix = (f"{target} is on a read-only file system: remount it read-write or choose another "
               f"directory with --data-dir or ${config.DATA_DIR_ENV}")
    elif exc.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = ("free some space on that file system (an update needs room for the new files "
               "beside the old ones) or choose another directory with --data-dir")
    else:
        fix = "check the directory and run `oasis-mcp data update` again"
    return DataDirError(
        f"Cannot {action} {target}: {path}: {reason}. Fix: {fix}. The files already in "
        f"{target} were left as they were."
    )


# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Extra:
    """A download that is not one of the edition's two SSMSI files (the communal file, the
    referential's tarball): the same attributes as :class:`Resource` that ``_download`` uses."""

    url: str
    name: str
    level: str  # "commune" or "commune-referential" (the key of its size cap)
    filesize: int | None = None
    checksum: Checksum | None = None


@dataclass
class _Downloaded:
    resource: Resource | _Extra
    temp: Path
    sha256: str
    size: int
    downloaded_at: str


class _HttpStatusError(DownloadError):
    exit_code = EXIT_UNAVAILABLE

    def __init__(self, message: str, status: int) -> None:
        self.status = status
        super().__init__(message)


class _Updater:
    def __init__(
        self,
        target: Path,
        client: httpx.Client,
        api_url: str,
        fallback_urls: Sequence[str],
        max_bytes: int | None,
        limits: Limits,
        force: bool = False,
        keep_previous: int = DEFAULT_KEEP_PREVIOUS,
        policy: HostPolicy | None = None,
        communes: bool = True,
    ) -> None:
        self.target = target
        self.client = client
        self.api_url = api_url
        self.fallback_urls = tuple(fallback_urls)
        self.max_bytes = max_bytes
        self.limits = limits
        self.force = force
        self.keep_previous = max(keep_previous, 0)
        self.previous = read_manifest(target)
        self.notes: list[str] = []
        self.temps: list[Path] = []
        self.staging: list[Path] = []  # of parsed communal files; warm_cache renames its own
        self.fallback_reason: str | None = None
        self.policy = policy or HostPolicy()
        self.communes = communes
        self.payload: Any = None  # the API's dataset document (where the communal file is listed)
        self.commune_info: dict[str, Any] = {}
        self.referential_info: dict[str, Any] = {}

    # -- orchestration ------------------------------------------------------------------------

    def run(self) -> UpdateResult:
        try:
            return self._run()
        except HostNotAllowed as exc:
            raise HostNotAllowed(f"{exc} {self._still_in_use()}") from None
        finally:
            from oasis_mcp.data.commune_store import discard

            for staging in self.staging:  # those not taken by warm_cache (failure…)
                discard(staging)
            for temp in self.temps:
                try:
                    temp.unlink(missing_ok=True)
                except OSError as exc:
                    log.warning("cannot remove the temp file %s (%s); the next update will",
                                temp, exc)

    def _run(self) -> UpdateResult:
        offer, source, source_url = self._choose_offer()
        log.info("newest edition offered: %s (%s)", offer.edition_id, source)
        on_disk = discover_editions(self.target)
        if on_disk and on_disk[0].sort_key > offer.sort_key:
            result = self._kept_newer(on_disk[0], offer, source, source_url)
            return self._with_referential(result)

        department = self._download(offer.department)
        dep_parsed = self._validate(department)
        region, kept_region = self._download_region(offer)
        reg_parsed = None
        if region is not None:
            reg_parsed = self._validate(region)
        elif kept_region is not None:
            reg_parsed = self._validate_installed(kept_region)
        self._check_one_edition(offer, dep_parsed, reg_parsed)

        downloads = [d for d in (region, department) if d is not None]
        if not all(self._same_as_installed(d) for d in downloads):
            self._check_plausible(offer, dep_parsed, reg_parsed, on_disk)
        commune, commune_table, kept_commune = self._commune(offer)
        if commune is not None:
            downloads.insert(0, commune)
        kept = [k for k in (kept_region, kept_commune) if k is not None]
        unchanged = {d.resource.name for d in downloads if self._same_as_installed(d)}
        files = self._describe_files(downloads, unchanged, kept)
        regions: Literal["official", "aggregated"] = (
            "official" if reg_parsed is not None else "aggregated"
        )
        new_manifest = self._manifest(offer, source, downloads, unchanged, kept, regions)
        if len(unchanged) == len(downloads) and self._manifest_describes(new_manifest):
            log.info("edition %s is already installed in %s", offer.edition_id, self.target)
            self._warm_commune_cache(commune, commune_table, kept_commune)
            return self._with_referential(
                self._result("up-to-date", offer, source, source_url, files, regions,
                             manifest=manifest_path(self.target)))

        to_install = [d for d in downloads if d.resource.name not in unchanged]
        if not to_install:
            self.notes.append("the files were already in place; recorded them in manifest.json")
        self._install(to_install, new_manifest)
        removed = self._remove_previous_files(new_manifest)
        log.info("installed edition %s in %s", offer.edition_id, self.target)
        self._warm_commune_cache(commune, commune_table, kept_commune)
        status: Status = "installed" if to_install or removed else "up-to-date"
        return self._with_referential(
            self._result(status, offer, source, source_url, files, regions,
                         manifest=manifest_path(self.target), removed=tuple(removed),
                         kept=tuple(k.edition for k in new_manifest.previous)))

    def _choose_offer(self) -> tuple[EditionResources, Literal["api", "fallback"], str]:
        try:
            resources, self.payload = datagouv.fetch_dataset(self.client, self.api_url,
                                                             self.limits)
            offer = datagouv.newest_edition(resources)
            if offer is None:
                raise ApiError(
                    f"{self.api_url} lists no departmental CSV file with an official name "
                    "(donnee-dep-data.gouv-<year>-geographie<year>-produit-le<date>.csv)"
                )
            return offer, "api", self.api_url
        except ApiError as exc:
            reason = str(exc)
        log.warning("data.gouv.fr API unusable (%s); using the pinned fallback URLs", reason)
        try:
            offer = datagouv.newest_edition(datagouv.fallback_resources(self.fallback_urls))
        except ValueError as exc:
            raise DownloadError(
                f"The data.gouv.fr API is unusable ({reason}) and the fallback is misconfigured: "
                f"{exc}. {self._still_in_use()}"
            ) from None
        if offer is None:
            raise DownloadError(
                f"The data.gouv.fr API is unusable ({reason}) and no fallback departmental URL is "
                f"configured (${datagouv.FALLBACK_URLS_ENV}). {self._still_in_use()}"
            )
        self.notes.append(f"API unusable ({reason}); used the pinned fallback URLs")
        self.fallback_reason = reason
        return offer, "fallback", " ".join(r.url for r in offer.resources)

    # -- download -----------------------------------------------------------------------------

    def _download_region(
        self, offer: EditionResources
    ) -> tuple[_Downloaded | None, ManifestFile | None]:
        """The regional file, or (None, an intact installed copy of it), or (None, None)."""
        if offer.region is not None:
            try:
                return self._download(offer.region), None
            except _HttpStatusError as exc:
                if exc.status not in _MISSING_STATUSES:
                    raise
                why = f"the regional file {offer.region.url} answered HTTP {exc.status}"
        else:
            why = f"the source lists no regional file for edition {offer.edition_id}"
        kept = self._intact_installed(offer.edition_id, "region")
        if kept is not None:
            self.notes.append(f"{why}; kept the regional file installed earlier ({kept.name})")
            log.warning("%s; keeping the installed %s", why, kept.name)
            return None, kept
        self.notes.append(
            f"{why}: the edition is installed without it, regions are aggregated from the "
            "departments (marked derived)"
        )
        log.warning("%s; installing the departmental file alone", why)
        return None, None

    def _download(self, resource: Resource | _Extra,
                  client: httpx.Client | None = None) -> _Downloaded:
        url = resource.url
        optional = isinstance(resource, _Extra)
        log.info("downloading %s", url)
        fd, name = tempfile.mkstemp(dir=self.target, prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX)
        temp = Path(name)
        self.temps.append(temp)
        sha256 = hashlib.sha256()
        announced = self._checksum_hasher(resource)
        cap = self.max_bytes if self.max_bytes is not None else sources.max_bytes(resource.level)

        try:
            with os.fdopen(fd, "wb") as out:
                def write(chunk: bytes) -> None:
                    out.write(chunk)
                    sha256.update(chunk)
                    if announced is not None:
                        announced.update(chunk)

                size = stream(client or self.client, url, write, what=resource.name,
                              max_bytes=cap, limits=self.limits)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temp, public_mode())
        except TransferError as exc:
            if exc.reason == "status" and exc.status is not None:
                raise _HttpStatusError(str(self._error(url, exc.problem, optional)),
                                       exc.status) from None
            error = self._error(url, exc.problem, optional)
            error.exit_code = exc.exit_code
            raise error from None
        except OSError as exc:
            raise _dir_error(exc, self.target, "write the download into") from None
        if size == 0:
            raise self._error(url, "the server sent an empty body", optional)
        if resource.filesize is not None and resource.filesize != size:
            raise self._error(url, f"received {size:,} bytes but the API announces "
                                   f"{resource.filesize:,}", optional)
        if announced is not None and resource.checksum is not None:
            got = announced.hexdigest()
            if got != resource.checksum.value:
                raise self._error(url, f"{resource.checksum.type} checksum mismatch: got {got}, "
                                       f"expected {resource.checksum.value}", optional)
        log.info("downloaded %s (%s bytes)", resource.name, f"{size:,}")
        return _Downloaded(resource, temp, sha256.hexdigest(), size, _utc_now())

    def _checksum_hasher(self, resource: Resource | _Extra) -> Any:
        if resource.checksum is None:
            return None
        try:
            return hashlib.new(resource.checksum.type)
        except ValueError:
            log.warning("unknown checksum type '%s' for %s; not checked",
                        resource.checksum.type, resource.url)
            return None

    # -- validation ---------------------------------------------------------------------------

    def _validate(self, download: _Downloaded) -> ParsedFile:
        res = download.resource
        assert isinstance(res, Resource)
        try:
            parsed = read_ssmsi_file(download.temp, res.level, name=res.name)
        except DataFileError as exc:
            error = self._error(res.url, f"not a valid SSMSI {res.level} file: {exc}")
            error.exit_code = EXIT_INVALID
            raise error from None
        last_year = parsed.years[1]
        if last_year != res.file.data_year:
            raise self._error(
                res.url, f"the file name says data up to {res.file.data_year} but its rows end in "
                         f"{last_year}")
        return parsed

    def _validate_installed(self, kept: ManifestFile) -> ParsedFile:
        try:
            return read_ssmsi_file(self.target / kept.name,
                                   "region" if kept.level == "region" else "department")
        except DataFileError as exc:  # checked intact just before; only a race gets here
            raise DownloadError(f"The installed {kept.name} is invalid: {exc}") from None

    def _check_plausible(
        self, offer: EditionResources, departments: ParsedFile, regions: ParsedFile | None,
        on_disk: list[Edition],
    ) -> None:
        previous = self._previous_departments(on_disk)
        problems = check_edition(offer.data_year, departments, regions, previous)
        if not problems:
            return
        listed = "; ".join(str(p) for p in problems)
        if self.force:
            self.notes.append(f"installed with --force although it fails these checks: {listed}")
            log.warning("edition %s fails the plausibility checks, installed anyway (--force): %s",
                        offer.edition_id, listed)
            return
        raise ImplausibleEdition(
            f"Refused edition {offer.edition_id} ({offer.department.url}): it is incomplete or "
            f"implausible: {listed}. If you know it is right, `oasis-mcp data update --force` "
            f"installs it anyway. {self._still_in_use()}"
        )

    def _previous_departments(self, on_disk: list[Edition]) -> ParsedFile | None:
        """The departmental file of the edition served now, to compare the new one with."""
        if not on_disk or on_disk[0].department_file is None:
            return None
        path = on_disk[0].department_file
        try:
            return read_ssmsi_file(path, "department")
        except DataFileError as exc:
            self.notes.append(f"could not compare with the installed {path.name}: {exc}")
            return None

    def _check_one_edition(
        self, offer: EditionResources, departments: ParsedFile, regions: ParsedFile | None
    ) -> None:
        if regions is None:
            return
        edition = Edition(offer.edition_id, offer.data_year, offer.geography_year, offer.produced)
        try:
            build_dataset(edition, departments, regions)
        except DataFileError as exc:
            url = offer.region.url if offer.region else offer.department.url
            raise self._error(url, f"the regional and departmental files do not form one "
                                   f"edition: {exc}") from None

    # -- the communal file (optional) ---------------------------------------------------------

    def _commune(
        self, offer: EditionResources
    ) -> tuple[_Downloaded | None, CommuneTable | None, ManifestFile | None]:
        """The edition's communal file: (download, its validated table or None when it is the
        installed file already, None), or (None, None, an intact installed copy), or all None.
        Never raises for a missing or bad communal file: ``commune_info`` says why."""
        from oasis_mcp.data.commune_file import commune_resource

        reason: str
        if not self.communes:
            self.commune_info = {"installed": False, "status": "skipped",
                                 "reason": "skipped (--no-communes)"}
            return None, None, None
        if self.payload is None:
            reason = ("the data.gouv.fr API was unusable, and the communal file is only found "
                      "through it")
        else:
            found = commune_resource(self.payload)
            if found is None:
                reason = ("the data.gouv.fr API lists no communal file "
                          "(donnee-comm-data.gouv-<year>-geographie<year>-produit-le<date>.csv.gz)")
            elif (found.data_year, found.geography_year) != (offer.data_year,
                                                              offer.geography_year):
                reason = (f"the communal file the API lists, {found.name}, is not of edition "
                          f"{offer.edition_id}")
            elif not is_commune_file_name(found.name):
                reason = (f"the communal file the API lists, {found.name!r}, has no official "
                          "name (donnee-comm-data.gouv-<year>-geographie<year>-produit-le<date>"
                          ".csv.gz)")
            else:
                extra = _Extra(found.url, found.name, "commune", found.filesize,
                               datagouv.checksum_of(self.payload, found.url))
                try:
                    download = self._download(extra)
                    if self._same_as_installed(download):  # validated when it was installed
                        self.commune_info = {"installed": True, "status": "unchanged",
                                             "file": found.name}
                        return download, None, None
                    table = self._validate_commune(download, offer)
                    return download, table, None
                except DownloadError as exc:  # HostNotAllowed, HTTP, size cap, invalid file…
                    reason = str(exc)
        kept = self._intact_installed(offer.edition_id, "commune")
        if kept is not None:
            self.commune_info = {"installed": True, "status": "kept", "file": kept.name,
                                 "reason": reason}
            self.notes.append(f"communal file: {reason}; kept the one installed earlier "
                              f"({kept.name})")
            return None, None, kept
        self.commune_info = {"installed": False, "status": "not-installed", "reason": reason}
        self.notes.append(f"commune level not installed: {reason}")
        log.warning("commune level not installed: %s", reason)
        return None, None, None

    def _validate_commune(self, download: _Downloaded, offer: EditionResources) -> CommuneTable:
        from oasis_mcp.data.commune_file import parse_commune_file
        from oasis_mcp.data.commune_store import new_staging_dir

        name = download.resource.name
        began = time.monotonic()
        staging = new_staging_dir()  # the parse becomes the installed file's cache (no 2nd parse)
        if staging is not None:
            self.staging.append(staging)
        try:
            table = parse_commune_file(download.temp, name=name, store_dir=staging)
        except DataFileError as exc:
            raise DownloadError(f"{download.resource.url} is not a valid SSMSI communal file: "
                                f"{exc}") from None
        if table.last_year != offer.data_year or table.geography_year != offer.geography_year:
            raise DownloadError(
                f"{download.resource.url}: its rows end in {table.last_year} with geography "
                f"{table.geography_year}, but edition {offer.edition_id} has data up to "
                f"{offer.data_year}, geography {offer.geography_year}")
        seconds = round(time.monotonic() - began, 2)
        log.info("validated %s in %.1f s (%d communes)", name, seconds, len(table.codes))
        self.commune_info = {"installed": True, "status": "installed", "file": name,
                             "validated_seconds": seconds}
        return table

    def _warm_commune_cache(self, download: _Downloaded | None, table: CommuneTable | None,
                            kept: ManifestFile | None) -> None:
        """Write the commune cache of the installed file, so no client request parses it."""
        from oasis_mcp.data.commune_file import cache_is_warm, read_commune_file, warm_cache

        name = download.resource.name if download is not None else kept.name if kept else None
        if name is None:
            return
        path = self.target / name
        if table is None and cache_is_warm(path):  # unchanged and cached: nothing to load
            self.commune_info.update(path=str(path), cache_seconds=0.0, cache_already_warm=True)
            return
        began = time.monotonic()
        try:
            if table is not None:
                warm_cache(path, table)
            else:
                table = read_commune_file(path)
        except (DataFileError, OSError, ValueError) as exc:
            self.notes.append(f"could not warm the commune cache of {name}: {exc}")
            return
        self.commune_info.update(
            cache_seconds=round(time.monotonic() - began, 2), communes=len(table.codes),
            geography_year=table.geography_year, path=str(path),
            years=[table.first_year, table.last_year])

    # -- the commune referential (optional) ---------------------------------------------------

    def _with_referential(self, result: UpdateResult) -> UpdateResult:
        self.referential_info = self._referential()
        return dataclasses.replace(result, commune=self.commune_info,
                                   referential=self.referential_info, notes=tuple(self.notes))

    def _referential(self) -> dict[str, Any]:
        """Install ``cog/communes.json`` when it is missing or the pinned version changed."""
        rel = str(referential.INSTALLED_PATH)
        dest = self.target / referential.INSTALLED_PATH
        info: dict[str, Any] = {"path": rel, "version": referential.PINNED_VERSION}
        if not self.communes:
            return {**info, "status": "skipped", "reason": "--no-communes"}
        if not self.commune_info.get("installed"):
            return {**info, "status": "skipped",
                    "reason": "only needed with the commune level, which is not installed"}
        manifest = read_manifest(self.target)
        record = manifest.referential if manifest else None
        if dest.is_file():
            if record is None:
                return {**info, "status": "present", "version": None,
                        "reason": "not installed by data update; left as it is"}
            if record.version == referential.PINNED_VERSION:
                return {**info, "status": "present",
                        "reason": f"{referential.PACKAGE} {record.version}"}
        url = referential.referential_url()
        name = file_name_from_url(url) or "referential.tgz"
        try:
            with _client(self.policy.for_referential(), self.limits,
                         "the commune referential") as client:
                expected = referential.pinned_sha512_hex(url)
                download = self._download(
                    _Extra(url, name, "commune-referential",
                           checksum=Checksum("sha512", expected) if expected else None),
                    client=client)
            extracted = self._new_temp_path()
            size = referential.extract_communes(download.temp, extracted, name)
            communes = referential.validate_communes_json(extracted, referential.MEMBER)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(extracted, public_mode())
            digest = _sha256_file(extracted)
            os.replace(extracted, dest)
        except (DownloadError, DataFileError) as exc:
            reason = str(exc)
            self.notes.append(f"commune referential not installed: {reason}")
            log.warning("commune referential not installed: %s", reason)
            return {**info, "status": "not-installed", "reason": reason}
        if manifest is not None:
            write_manifest(self.target, dataclasses.replace(manifest, referential=Referential(
                rel, referential.PINNED_VERSION, url, digest, size, _utc_now())))
        log.info("installed the commune referential %s (%d communes)", dest, communes)
        return {**info, "status": "installed", "url": url, "sha256": digest, "size": size,
                "communes": communes}

    # -- comparison with what is installed ----------------------------------------------------

    def _same_as_installed(self, download: _Downloaded) -> bool:
        dest = self.target / download.resource.name
        return dest.is_file() and _sha256_file(dest) == download.sha256

    def _intact_installed(self, edition_id: str, level: ManifestLevel) -> ManifestFile | None:
        if self.previous is None or self.previous.edition != edition_id:
            return None
        entry = self.previous.file(level)
        if entry is None:
            return None
        path = self.target / entry.name
        if path.is_file() and _sha256_file(path) == entry.sha256:
            return entry
        return None

    def _manifest_describes(self, manifest: Manifest) -> bool:
        prev = self.previous
        if prev is None or prev.edition != manifest.edition:
            return False
        key = lambda m: sorted((f.name, f.sha256, f.size) for f in m.files)  # noqa: E731
        return key(prev) == key(manifest)

    def _describe_files(
        self, downloads: list[_Downloaded], unchanged: set[str], kept: list[ManifestFile]
    ) -> tuple[UpdatedFile, ...]:
        files = [
            UpdatedFile(
                name=d.resource.name, level=_level(d), url=d.resource.url, sha256=d.sha256,
                size=d.size, path=self.target / d.resource.name,
                action="unchanged" if d.resource.name in unchanged else "installed",
            )
            for d in downloads
        ]
        files.extend(UpdatedFile(k.name, k.level, k.url, k.sha256, k.size, self.target / k.name,
                                 "kept") for k in kept)
        order = {"department": 0, "region": 1, "commune": 2}
        return tuple(sorted(files, key=lambda f: order[f.level]))

    def _manifest(
        self,
        offer: EditionResources,
        source: str,
        downloads: list[_Downloaded],
        unchanged: set[str],
        kept: list[ManifestFile],
        regions: str,
    ) -> Manifest:
        prev_files = {f.name: f for f in self.previous.files} if self.previous else {}
        entries = []
        for d in sorted(downloads, key=lambda d: d.resource.level != "department"):
            before = prev_files.get(d.resource.name)
            when = d.downloaded_at
            if d.resource.name in unchanged and before is not None and before.sha256 == d.sha256:
                when = before.downloaded_at or when
            entries.append(ManifestFile(d.resource.name, _level(d), d.resource.url,
                                        d.sha256, d.size, when))
        entries.extend(kept)
        return Manifest(
            edition=offer.edition_id,
            files=tuple(entries),
            installed_at=_utc_now(),
            source=source,
            dataset_id=datagouv.DATASET_ID,
            regions=regions,
            notes=tuple(self.notes),
            previous=self._kept_editions(offer.edition_id),
            referential=self.previous.referential if self.previous else None,
        )

    def _kept_editions(self, edition_id: str) -> tuple[KeptEdition, ...]:
        """The editions kept beside the new one: the one installed now, then those it kept."""
        prev = self.previous
        if prev is None or self.keep_previous == 0:
            return ()
        candidates = list(prev.previous) if prev.edition == edition_id else [
            prev.as_kept(), *prev.previous]
        kept: list[KeptEdition] = []
        for edition in candidates:
            if edition.edition == edition_id or any(k.edition == edition.edition for k in kept):
                continue
            dep = edition.file("department")
            if dep is None or not (self.target / dep.name).is_file():
                continue
            kept.append(edition)
        return tuple(kept[: self.keep_previous])

    # -- installation -------------------------------------------------------------------------

    def _install(self, downloads: list[_Downloaded], manifest: Manifest) -> None:
        """Move the files into place (regional first), then write the manifest. On failure, put
        back what was there."""
        moved: list[tuple[Path, Path | None]] = []  # (destination, backup of the previous file)
        try:
            for d in sorted(downloads, key=lambda d: d.resource.level == "department"):
                dest = self.target / d.resource.name
                backup = None
                if dest.exists():
                    log.warning("replacing %s, whose content differs from the download", dest)
                    backup = self._new_temp_path()
                    os.replace(dest, backup)
                moved.append((dest, backup))
                os.replace(d.temp, dest)
            write_manifest(self.target, manifest)
        except OSError as exc:
            for dest, backup in reversed(moved):
                try:
                    if backup is not None:
                        os.replace(backup, dest)
                    else:
                        dest.unlink(missing_ok=True)
                except OSError as undo:  # pragma: no cover - disk vanished under us
                    log.error("could not restore %s: %s", dest, undo)
            raise DownloadError(
                f"Installing the files in {self.target} failed ({exc}); the previous files were "
                f"put back. {self._still_in_use()}"
            ) from None
        for _, backup in moved:
            if backup is not None:
                backup.unlink(missing_ok=True)

    def _new_temp_path(self) -> Path:
        fd, name = tempfile.mkstemp(dir=self.target, prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX)
        os.close(fd)
        path = Path(name)
        self.temps.append(path)
        return path

    def _remove_previous_files(self, manifest: Manifest) -> list[str]:
        """Remove the files the previous manifest listed (current or kept edition) that the new
        one does not, when their content is still the one installed. Never touches any other
        file; a file that cannot be read or removed is left in place with a note."""
        if self.previous is None:
            return []
        keep = {f.name for f in manifest.all_files()}
        removed = []
        for entry in self.previous.all_files():
            if entry.name in keep or entry.name in removed:
                continue
            path = self.target / entry.name
            try:
                if not path.is_file():
                    continue
                if _sha256_file(path) != entry.sha256:
                    self.notes.append(f"left {entry.name} in place: it changed since it was "
                                      "installed")
                    continue
                path.unlink()
            except OSError as exc:
                self.notes.append(f"could not remove the old file {path}: {exc.strerror or exc}; "
                                  "remove it by hand (it is no longer used)")
                continue
            removed.append(entry.name)
            log.info("removed %s (an older edition)", entry.name)
        return removed

    # -- results and messages -----------------------------------------------------------------

    def _kept_newer(
        self, installed: Edition, offer: EditionResources, source: Literal["api", "fallback"],
        source_url: str,
    ) -> UpdateResult:
        self.notes.append(f"the source offers the older edition {offer.edition_id}; not installed")
        log.warning("installed edition %s is newer than the offered %s; keeping it",
                    installed.id, offer.edition_id)
        urls = {f.name: f.url for f in self.previous.files} if self.previous else {}
        levels: tuple[tuple[FileLevel, Path | None], ...] = (
            ("department", installed.department_file), ("region", installed.region_file))
        files = [
            UpdatedFile(path.name, level, urls.get(path.name, ""), _sha256_file(path),
                        path.stat().st_size, path, "kept")
            for level, path in levels
            if path is not None
        ]
        return UpdateResult(
            status="kept-newer",
            edition=installed.id,
            edition_label=installed.label,
            data_dir=self.target,
            source=source,
            source_url=source_url,
            files=tuple(files),
            regions="official" if installed.region_file else "aggregated",
            previous_edition=installed.id,
            manifest=manifest_path(self.target) if self.previous else None,
            notes=tuple(self.notes),
        )

    def _result(
        self, status: Status, offer: EditionResources, source: Literal["api", "fallback"],
        source_url: str, files: tuple[UpdatedFile, ...], regions: Literal["official", "aggregated"],
        manifest: Path, removed: tuple[str, ...] = (), kept: tuple[str, ...] = (),
    ) -> UpdateResult:
        return UpdateResult(
            status=status,
            edition=offer.edition_id,
            edition_label=offer.label,
            data_dir=self.target,
            source=source,
            source_url=source_url,
            files=files,
            regions=regions,
            previous_edition=self.previous.edition if self.previous else None,
            removed_files=removed,
            manifest=manifest,
            notes=tuple(self.notes),
            kept_editions=kept,
            commune=self.commune_info,
        )

    def _still_in_use(self) -> str:
        if self.previous is not None:
            return (f"The previous data in {self.target} (edition {self.previous.edition}) is "
                    "unchanged and still in use.")
        editions = discover_editions(self.target)
        if editions:
            return (f"The data already in {self.target} (edition {editions[0].id}) is unchanged "
                    "and still in use.")
        return (
            f"Nothing was installed in {self.target}. Check the network connection (and "
            "HTTPS_PROXY behind a proxy) and run `oasis-mcp data update` again; offline, copy the "
            "official CSV files (donnee-dep-data.gouv-<year>-geographie<year>-produit-le<date>"
            f".csv) into a directory and set {config.DATA_DIR_ENV} to it."
        )

    def _error(self, url: str, problem: str, optional: bool = False) -> DownloadError:
        if optional:  # the communal file, the referential: the edition is installed without them
            return DownloadError(f"download of {url} failed: {problem}")
        context = ""
        if self.fallback_reason is not None:
            context = (f" (a pinned fallback URL: the data.gouv.fr API was unusable, "
                       f"{self.fallback_reason})")
        return DownloadError(
            f"Download of {url}{context} failed: {problem}. {self._still_in_use()}"
        )


# ---------------------------------------------------------------------------------------------


def _level(download: _Downloaded) -> ManifestLevel:
    return "commune" if isinstance(download.resource, _Extra) else download.resource.level


@contextmanager
def _update_lock(directory: Path, timeout: float) -> Iterator[None]:
    """An exclusive lock on ``directory/.oasis-update.lock`` (the file is left in place: removing
    it would let a third process lock a new file while a second one holds the old)."""
    path = directory / LOCK_NAME
    # The lock is taken on a read-only handle: it works when the file was made by another account
    # and is not writable, and the update holds no file open for writing between its steps.
    if not path.exists():
        try:
            path.touch()
            os.chmod(path, public_mode())
        except FileExistsError:
            pass
        except OSError as exc:
            raise _dir_error(exc, directory, "create the lock file of") from None
    try:  # (Windows' msvcrt.locking wants a writable handle)
        handle = open(path, "a+b" if sys.platform == "win32" else "rb")  # noqa: SIM115
    except OSError as exc:
        raise _dir_error(exc, directory, "open the lock file of") from None
    deadline = time.monotonic() + max(timeout, 0.0)
    try:
        if not _try_lock(handle):
            holder = read_state(directory)
            since = f" since {holder.started_at} (pid {holder.pid})" if holder and \
                holder.state == "running" else ""
            log.warning("another `oasis-mcp data update` is running on %s%s; waiting up to %.0f s "
                        "for it to finish", directory, since, timeout)
            while not _try_lock(handle):
                if time.monotonic() >= deadline:
                    raise LockBusy(
                        f"Another `oasis-mcp data update` is running on {directory}{since} (it "
                        f"holds {path}); waited {timeout:.0f} s. Wait for it to finish, then run "
                        "the command again. Nothing was changed."
                    )
                time.sleep(0.05)
            log.info("the other update finished; going on")
        try:
            yield
        finally:
            _unlock(handle)
    finally:
        handle.close()


@functools.lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    """httpx's default TLS context (certifi, SSL_CERT_FILE…), built once per process: building
    it costs tens of milliseconds."""
    return httpx.create_ssl_context()


def _remove_stale_temp_files(directory: Path) -> None:
    """Temp files left by an update that crashed (we hold the lock, so none is in use)."""
    for path in directory.glob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
        try:
            path.unlink()
            log.info("removed the stale temp file %s", path)
        except OSError as exc:
            log.warning("cannot remove the stale temp file %s: %s", path, exc)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _utc_now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def installed_manifest(data_dir: str | os.PathLike[str] | None = None) -> Manifest | None:
    """The manifest of the data directory, if an update installed one."""
    return read_manifest(config.data_dir(data_dir))


__all__ = [
    "DEFAULT_TIMEOUT",
    "LOCK_NAME",
    "UpdateResult",
    "UpdatedFile",
    "installed_manifest",
    "update",
    "update_in_progress",
    "update_status",
]
