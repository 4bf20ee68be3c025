"""``python -m training`` runs the same command as ``oasis-train``."""

from training.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
