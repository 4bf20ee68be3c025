"""The update lock and the state of the last update of a data directory (light: no pandas, so
the server can report an interrupted update at start-up without paying for the data layer)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO

from oasis_mcp import config
from oasis_mcp.data.manifest import read_state

LOCK_NAME = ".oasis-update.lock"


def update_in_progress(directory: Path) -> bool:
    """Whether an update holds the lock of ``directory`` now."""
    try:
        handle = open(directory / LOCK_NAME, "rb")  # noqa: SIM115
    except OSError:
        return False
    try:
        if try_lock(handle):
            unlock(handle)
            return False
        return True
    finally:
        handle.close()


def update_status(data_dir: str | os.PathLike[str] | None = None) -> str | None:
    """A sentence about the last update when it did not end well (interrupted, failed, running),
    for ``data info`` and the server; None when it ended well or there was none."""
    directory = config.data_dir(data_dir)
    state = read_state(directory)
    if state is None or state.state == "ok":
        return None
    if state.state == "running":
        if update_in_progress(directory):
            return (f"An update of {directory} is running (started {state.started_at}, pid "
                    f"{state.pid}); the files shown are the last good edition until it ends.")
        return (f"The update started {state.started_at} (pid {state.pid}) was interrupted before "
                "it finished (killed?); the last good edition is kept and served. Run "
                "`oasis-mcp data update` again.")
    return (f"The last update ({state.finished_at or state.started_at}) failed; the last good "
            f"edition is kept and served. {state.message}")


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def try_lock(handle: IO[bytes]) -> bool:
        try:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def unlock(handle: IO[bytes]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def try_lock(handle: IO[bytes]) -> bool:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def unlock(handle: IO[bytes]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


