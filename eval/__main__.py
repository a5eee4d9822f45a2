"""`python -m plot_eval ...` is `plot-eval ...`."""

from plot_eval.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
