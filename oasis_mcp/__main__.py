"""``python -m oasis_mcp`` runs the same command as ``oasis-mcp``."""

from oasis_mcp.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
