"""Command line for the dataset recipes.

    python -m experiments.recipes <recipe> [--data-root DIR] --out FILE.jsonl [--limit N]
    python -m experiments.recipes sample [--data-root DIR] --out-dir plot_lightning/data/samples

The data root defaults to ``$PLOT_DATA_ROOT``, else the default of :mod:`.paths`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from experiments.recipes import RECIPES
from experiments.recipes.pairs import write_jsonl
from experiments.recipes.paths import data_root
from experiments.recipes.sample import write_samples


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.recipes",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "recipe", choices=[*RECIPES, "sample"], help="recipe name, or 'sample' for all samples"
    )
    parser.add_argument("--data-root", default=None, help="folder of the public datasets (see MANIFEST.md)")
    parser.add_argument("--out", type=Path, help="output JSONL file (recipes)")
    parser.add_argument("--out-dir", type=Path, help="output folder ('sample')")
    parser.add_argument("--limit", type=int, default=None, help="write only the first N pairs")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample selection ('sample')")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one recipe (or write every sample); print what was written and dropped."""
    args = _parser().parse_args(argv)
    try:
        root = data_root(args.data_root)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.recipe == "sample":
        if args.out_dir is None:
            print("error: 'sample' needs --out-dir", file=sys.stderr)
            return 2
        for name, count in write_samples(root, args.out_dir, seed=args.seed).items():
            print(f"{args.out_dir / name}: {count} rows")
        return 0
    if args.out is None:
        print("error: a recipe needs --out FILE.jsonl", file=sys.stderr)
        return 2
    result = RECIPES[args.recipe](root)
    rows = result.rows if args.limit is None else result.rows[: args.limit]
    write_jsonl(rows, args.out)
    print(result.summary(args.recipe) + f"; wrote {len(rows)} to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
