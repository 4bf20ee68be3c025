"""``oasis-mcp serve`` with one extra tool, ``noop``, for the stdio latency benchmark.

The no-op is registered on the real server (same middleware, same transport, same process), so
the ratio tool / no-op isolates the tools' own cost. ``bench_server.py`` spawns this script; the
arguments are those of ``oasis-mcp`` (default ``serve``).
"""

from __future__ import annotations

import sys
from typing import Any

import oasis_mcp.server as server_module

_create_server = server_module.create_server


def create_server_with_noop(*args: Any, **kwargs: Any) -> Any:
    server = _create_server(*args, **kwargs)

    @server.tool(name="noop")
    async def noop() -> str:
        """Does nothing (benchmark baseline)."""
        return "ok"

    return server


server_module.create_server = create_server_with_noop  # type: ignore[assignment]

if __name__ == "__main__":
    from oasis_mcp.cli import main

    raise SystemExit(main(sys.argv[1:] or ["serve"]))
