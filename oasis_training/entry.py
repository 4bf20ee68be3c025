"""The ``oasis-train`` entry point: checks that the ``[train]`` extra is installed, then runs
:func:`oasis_training.cli.main`.

The wheel ships ``oasis_training`` and the ``oasis-train`` script to everyone, but its libraries
only with the extra; they are imported deep inside the run, so without this guard a user would
get a traceback minutes in. The extra's requirements are read from the installed distribution's
metadata (``pyproject.toml`` is their one home).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from importlib import metadata

DISTRIBUTION = "oasis-mcp"
INSTALL_HINT = (
    "pip install 'oasis-mcp[train]' (uv: uvx --from 'oasis-mcp[train]' oasis-train; "
    "in a checkout: pip install -e '.[train]')"
)


def missing_train_requirements() -> list[str]:
    """Distributions of the ``[train]`` extra that are not installed (empty when this package's
    metadata cannot be found, e.g. a bare checkout on ``PYTHONPATH``)."""
    try:
        requires = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return []
    missing: list[str] = []
    for requirement in requires:
        name, _, marker = requirement.partition(";")
        if not re.search(r"""extra\s*==\s*["']train["']""", marker):
            continue
        found = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", name.strip())
        if found is None:
            continue
        try:
            metadata.version(found.group(0))
        except metadata.PackageNotFoundError:
            missing.append(found.group(0))
    return missing


def main(argv: Sequence[str] | None = None) -> int:
    missing = missing_train_requirements()
    if missing:
        print(f"oasis-train: the training extra is not installed (missing {', '.join(missing)}): "
              f"{INSTALL_HINT}", file=sys.stderr)
        return 2
    from oasis_training.cli import main as run

    return run(None if argv is None else list(argv))


if __name__ == "__main__":
    raise SystemExit(main())
