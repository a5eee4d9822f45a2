"""`python -m eval ...` is `plot-eval ...`."""

from eval.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
