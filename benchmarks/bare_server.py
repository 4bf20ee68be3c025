"""Baseline for the cold-start benchmark: a bare ``MCPServer`` with one trivial tool, over stdio.

Run as a script (``python benchmarks/bare_server.py``); ``bench_server.py`` spawns it.
"""

from mcp.server import MCPServer

server = MCPServer("bare")


@server.tool()
async def noop() -> str:
    """Does nothing."""
    return "ok"


if __name__ == "__main__":
    server.run()
