"""The package list only (metadata is in pyproject.toml).

The folder ``eval/`` installs under the import name ``plot_eval``: a top-level ``eval`` would collide with the
``eval.py`` or ``eval/`` that many ML projects already have. ``find_packages`` cannot rename a folder, so the
names are built here from the tree, and a new subfolder of ``eval/`` is packaged without a list to update.
"""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["plot_lightning", "plot_lightning.*"]),
        "plot_eval",
        *(f"plot_eval.{name}" for name in find_packages("eval")),
    ],
    package_dir={"plot_eval": "eval"},
    package_data={
        "plot_lightning": ["data/samples/**/*"],
        "plot_eval": ["samples/**/*", "lm_harness/tasks/**/*.yaml"],
    },
)
