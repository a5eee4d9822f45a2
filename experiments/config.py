"""The experiment YAML (``configs/experiments/*.yaml``): dataclasses with validation and clear errors.

Relative paths inside the file (``base_config``, ``eval.suite``) are resolved against the file's folder;
``out_dir`` is resolved against the current directory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

SWEEPABLE = ("alpha", "beta", "lr")
# The lowest value of each hyperparameter and whether it is allowed (alpha = 0 turns PLOT off; beta or lr 0 is no
# training signal); every value must be finite.
LOWER_BOUNDS = {"alpha": (0.0, True), "beta": (0.0, False), "lr": (0.0, False)}


class ExperimentConfigError(ValueError):
    """A problem in an experiment YAML; the message names the file and the key."""


@dataclass
class CategoryData:
    """Training, validation and held-out pairs of one category.

    Attributes:
        train_files: training files / ``sample:<name>`` specs (used as given), or empty when ``recipes``.
        validation_files: validation pairs during training (``val/*`` metrics); empty: the cell does not
            validate. Never the held-out pairs, which stay unseen until the judge-free metrics.
        heldout_files: held-out pairs, used only by the judge-free metrics and the diagnostic.
        recipes: recipe names (``experiments.recipes``) prepared from the data root instead.
        train_per_recipe: training pairs taken from each recipe.
        validation_per_recipe: validation pairs taken from each recipe (0: none).
        heldout_per_recipe: held-out pairs taken from each recipe. The three recipe splits have disjoint prompts.
    """

    train_files: list[str] = field(default_factory=list)
    validation_files: list[str] = field(default_factory=list)
    heldout_files: list[str] = field(default_factory=list)
    recipes: list[str] = field(default_factory=list)
    train_per_recipe: int = 100
    validation_per_recipe: int = 4
    heldout_per_recipe: int = 16


@dataclass
class MetricSettings:
    """Judge-free measurements on held-out pairs (see :mod:`.heldout_metrics`)."""

    heldout_pairs: int = 32
    batch_size: int = 4
    diagnostic_prompts: int = 4
    diagnostic_top_k: int = 8


@dataclass
class EvalSettings:
    """``plot-eval run`` on each cell's export (a subprocess); ``suite: null`` skips it."""

    suite: str | None = None
    limit: int | None = None
    extra_args: list[str] = field(default_factory=list)


@dataclass
class TrainSettings:
    """How each cell trains.

    Attributes:
        launcher: ``subprocess`` (``python -m plot_lightning fit``: one process per cell, multi-GPU capable)
            or ``inprocess`` (the same LightningCLI inside this process; single device).
        checkpoint_every: training steps between checkpoints (``last.ckpt``; a resumed cell starts there).
        keep_checkpoints: keep a finished cell's checkpoints (they hold optimizer state: large).
        keep_exports: keep a finished cell's exported Hugging Face folder.
    """

    launcher: str = "subprocess"
    checkpoint_every: int = 25
    keep_checkpoints: bool = False
    keep_exports: bool = True


@dataclass
class TrackingSettings:
    """MLflow: one parent run per experiment, one child per cell. A failing server never stops anything."""

    mlflow: bool = True
    uri: str | None = None
    experiment: str = "plot-experiment"


@dataclass
class ExperimentConfig:
    """One experiment: ``methods x seeds (x sweeps)`` per category. See configs/experiments/README in docs."""

    name: str
    base_config: str
    categories: dict[str, CategoryData]
    methods: list[str]
    seeds: list[int]
    out_dir: str = ""
    train_overrides: dict[str, Any] = field(default_factory=dict)
    defaults: dict[str, float] = field(default_factory=dict)
    sweeps: dict[str, list[float]] = field(default_factory=dict)
    sweep_methods: list[str] | None = None
    metrics: MetricSettings = field(default_factory=MetricSettings)
    eval: EvalSettings = field(default_factory=EvalSettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    tracking: TrackingSettings = field(default_factory=TrackingSettings)
    path: str = ""


def _section(cls: type, value: Any, where: str) -> Any:
    if value is None:
        return cls()
    if not isinstance(value, dict):
        raise ExperimentConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise ExperimentConfigError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")
    return cls(**value)


def _resolve(base: Path, value: str | None) -> str | None:
    if value is None or value.startswith("sample:"):
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())


def _check_value(where: str, key: str, name: str, value: float) -> None:
    low, allowed = LOWER_BOUNDS.get(name, (-math.inf, True))
    if not math.isfinite(value) or value < low or (value == low and not allowed):
        bound = f">= {low}" if allowed else f"> {low}"
        raise ExperimentConfigError(
            f"{where}: key '{key}': {name} must be a finite number {bound}, got {value!r}"
        )


def _validate(config: ExperimentConfig, where: str) -> None:
    from experiments.methods import METHODS

    for name, value in config.defaults.items():
        _check_value(where, f"defaults.{name}", name, value)
    for name, values in config.sweeps.items():
        for value in values:
            _check_value(where, f"sweeps.{name}", name, value)

    for name in config.methods + list(config.sweep_methods or []):
        if name not in METHODS:
            raise ExperimentConfigError(
                f"{where}: key 'methods': unknown method {name!r}; known: {sorted(METHODS)}"
            )
    for name in config.sweeps:
        if name not in SWEEPABLE:
            raise ExperimentConfigError(f"{where}: key 'sweeps': {name!r} is not sweepable ({SWEEPABLE})")
    if not config.seeds or not config.methods or not config.categories:
        raise ExperimentConfigError(f"{where}: 'methods', 'seeds' and 'categories' must be non-empty")
    if config.train.launcher not in ("subprocess", "inprocess"):
        raise ExperimentConfigError(f"{where}: key 'train.launcher' must be 'subprocess' or 'inprocess'")
    for name, category in config.categories.items():
        if not category.heldout_files and not category.recipes:
            raise ExperimentConfigError(f"{where}: key 'categories.{name}': needs heldout_files or recipes")
        if not category.train_files and not category.recipes:
            raise ExperimentConfigError(f"{where}: key 'categories.{name}': needs train_files or recipes")
        for key in ("train_per_recipe", "validation_per_recipe", "heldout_per_recipe"):
            value = getattr(category, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ExperimentConfigError(
                    f"{where}: key 'categories.{name}.{key}': expected an integer >= 0, got {value!r}"
                )
    if not Path(config.base_config).is_file():
        raise ExperimentConfigError(f"{where}: key 'base_config': no such file {config.base_config}")


def read_experiment_yaml(path: str | Path) -> tuple[Path, dict[str, Any], str]:
    """``(absolute path, the parsed mapping, the name errors give it)``; ExperimentConfigError if missing."""
    path = Path(path).resolve()
    if not path.is_file():
        raise ExperimentConfigError(f"experiment config {path}: no such file")
    return path, yaml.safe_load(path.read_text(encoding="utf-8")) or {}, str(path)


def load_experiment_config(path: str | Path) -> ExperimentConfig:
    """Parse and validate an experiment YAML; raise ExperimentConfigError naming the file and key."""
    path, raw, where = read_experiment_yaml(path)
    known = {f.name for f in fields(ExperimentConfig)} - {"path"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ExperimentConfigError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")
    missing = [key for key in ("name", "base_config", "categories", "methods", "seeds") if key not in raw]
    if missing:
        raise ExperimentConfigError(f"{where}: missing key(s) {missing}")
    base = path.parent
    categories = {}
    for name, value in (raw["categories"] or {}).items():
        category = _section(CategoryData, value, f"{where}: key 'categories.{name}'")
        category.train_files = [_resolve(base, f) for f in category.train_files]
        category.validation_files = [_resolve(base, f) for f in category.validation_files]
        category.heldout_files = [_resolve(base, f) for f in category.heldout_files]
        categories[name] = category
    config = ExperimentConfig(
        name=str(raw["name"]),
        base_config=_resolve(base, raw["base_config"]),
        categories=categories,
        methods=list(raw["methods"]),
        seeds=[int(seed) for seed in raw["seeds"]],
        out_dir=str(Path(raw.get("out_dir") or f"runs/experiments/{raw['name']}").resolve()),
        train_overrides=dict(raw.get("train_overrides") or {}),
        defaults={k: float(v) for k, v in (raw.get("defaults") or {}).items()},
        sweeps={k: [float(x) for x in v] for k, v in (raw.get("sweeps") or {}).items()},
        sweep_methods=raw.get("sweep_methods"),
        metrics=_section(MetricSettings, raw.get("metrics"), f"{where}: key 'metrics'"),
        eval=_section(EvalSettings, raw.get("eval"), f"{where}: key 'eval'"),
        train=_section(TrainSettings, raw.get("train"), f"{where}: key 'train'"),
        tracking=_section(TrackingSettings, raw.get("tracking"), f"{where}: key 'tracking'"),
        path=where,
    )
    config.eval.suite = _resolve(base, config.eval.suite)
    _validate(config, where)
    return config
