"""``python -m oasis_training`` runs the same command as ``oasis-train``."""

from oasis_training.entry import main

if __name__ == "__main__":
    raise SystemExit(main())
