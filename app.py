"""Hugging Face Space entry point: ``python app.py``.

Serves the Gradio app (Chat, Explore, Compare, Models, About) at ``/`` and the OASIS MCP server
over streamable HTTP at ``/mcp``, on ``$PORT``/``$GRADIO_SERVER_PORT`` (default 7860) and
``$GRADIO_SERVER_NAME`` (default 127.0.0.1; Spaces sets 0.0.0.0). See ``oasis_app.web``.
"""

from __future__ import annotations

import sys
from pathlib import Path

# On a Space the repository is the working directory and the package is not installed:
# import oasis_mcp and oasis_app from here.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from oasis_app.web import main

if __name__ == "__main__":
    raise SystemExit(main())
