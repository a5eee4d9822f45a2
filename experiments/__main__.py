"""``python -m experiments COMMAND ...``, from a checkout of this repository (the folder is tooling around the
library, not part of the installed package).

    python -m experiments grid --config configs/experiments/cpu_small.yaml       # a grid of methods x seeds
    python -m experiments diagnose --before BASE --after EXPORT --pairs FILE      # next-token mass vs target
    python -m experiments arithmetic-data --out results/arithmetic/data           # the arithmetic pilot + data
    python -m experiments arithmetic-run --config configs/experiments/arithmetic.yaml   # gate, grid, analysis
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    from experiments.arithmetic_command import arithmetic_data_command, arithmetic_run_command
    from experiments.command import diagnose_command, grid_command

    commands = {
        "grid": grid_command,
        "diagnose": diagnose_command,
        "arithmetic-data": arithmetic_data_command,
        "arithmetic-run": arithmetic_run_command,
    }
    words = list(sys.argv[1:] if argv is None else argv)
    if not words or words[0] not in commands:
        print(f"usage: python -m experiments {{{','.join(commands)}}} ...", file=sys.stderr)
        raise SystemExit(2)
    commands[words[0]](words[1:])


if __name__ == "__main__":
    main()
