"""Where the full public datasets live: argument, else ``$PLOT_DATA_ROOT``, else the default below.

The default, ``shared/data`` beside the repository's folder, is where this project's CI lays the datasets.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_ROOT = REPO_ROOT.parent / "shared" / "data"


def data_root(root: str | os.PathLike | None = None) -> Path:
    """Resolve the data root folder; raise FileNotFoundError naming what was tried."""
    if root is not None:
        chosen, why = Path(root).expanduser(), "--data-root"
    elif os.environ.get("PLOT_DATA_ROOT"):
        chosen, why = Path(os.environ["PLOT_DATA_ROOT"]).expanduser(), "$PLOT_DATA_ROOT"
    else:
        chosen, why = DEFAULT_DATA_ROOT, "the default data root beside the repository"
    if not chosen.is_dir():
        raise FileNotFoundError(
            f"data root {chosen} ({why}) does not exist; pass --data-root or set PLOT_DATA_ROOT"
        )
    return chosen


def data_file(root: Path, relative: str) -> Path:
    """``root / relative``, or FileNotFoundError naming the missing file."""
    path = root / relative
    if not path.is_file():
        raise FileNotFoundError(f"missing data file {path} (expected under the data root {root})")
    return path
