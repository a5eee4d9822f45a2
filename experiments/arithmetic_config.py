"""The arithmetic experiment's YAML (``configs/experiments/arithmetic*.yaml``): arms, seeds, gate and the analysis.

The analysis (its contrasts, their metric, the correction, the confidence and the verdict rule) is part of
the config, so it is fixed before the run and recorded with the results. Relative paths are resolved
against the file's folder, except ``out_dir`` (against the current directory).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from experiments.config import ExperimentConfigError, read_experiment_yaml

METRICS = ("accuracy", "ontask_kl", "ontask_nll", "offtask_nll_change")
"""Per-item metrics: exact-match 0/1; KL per token and NLL per token of the correct response; the change of
the off-task chosen response's NLL per token (log-perplexity) from the reference."""
ROLES = ("primary", "secondary", "no_worse", "exploratory")
HIGHER_IS_BETTER = {"accuracy": True, "ontask_kl": False, "ontask_nll": False, "offtask_nll_change": False}


@dataclass(frozen=True)
class Contrast:
    """``treated - base`` in ``metric`` at the final evaluation, paired by seed and item.

    ``role``: ``primary`` / ``secondary`` (PLOT must beat the base: interval above zero for accuracy),
    ``no_worse`` (PLOT must not be significantly worse than the base in this metric) or ``exploratory``
    (reported and counted in the Holm family, never part of the verdict).
    """

    name: str
    treated: str
    base: str
    metric: str
    role: str


@dataclass
class ArithmeticExperiment:
    name: str
    data_dir: str
    base_config: str
    model: str
    arms: dict[str, dict[str, Any]]
    seeds: list[int]
    contrasts: list[Contrast]
    out_dir: str = ""
    train_overrides: dict[str, Any] = field(default_factory=dict)
    measure: dict[str, Any] = field(default_factory=dict)
    gate: dict[str, Any] = field(default_factory=dict)
    analysis: dict[str, Any] = field(default_factory=dict)
    path: str = ""

    @property
    def max_steps(self) -> int:
        return int(self.train_overrides["trainer"]["max_steps"])

    @property
    def points(self) -> list[int]:
        """Training steps evaluated: the middle and the end."""
        return sorted({self.max_steps // 2, self.max_steps})


MEASURE_DEFAULTS = {
    "max_new_tokens": 4,
    "offtask_files": ["sample:hh-helpful", "sample:hh-harmless", "sample:truthfulqa"],
    "offtask_per_file": 8,
    "max_length": 256,
    "max_prompt_length": 192,
    "batch_size": 16,
}
GATE_DEFAULTS = {"arm": "dpo", "seed": None, "min_gain": 0.05}
ANALYSIS_DEFAULTS = {"resamples": 10_000, "confidence": 0.95, "level": 0.05, "correction": "holm"}
_ARM_KEYS = {"losses", "weights", "loss_args", "weight_shares", "loss_ratio"}


def _fail(where: str, message: str) -> ExperimentConfigError:
    return ExperimentConfigError(f"{where}: {message}")


def _merged(where: str, key: str, given: Any, defaults: dict[str, Any]) -> dict[str, Any]:
    given = given or {}
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise _fail(where, f"key '{key}': unknown key(s) {unknown}; known: {sorted(defaults)}")
    return {**defaults, **given}


def _contrasts(where: str, raw: list[Any], arms: dict[str, Any]) -> list[Contrast]:
    contrasts = []
    for index, entry in enumerate(raw or []):
        at = f"key 'analysis.contrasts[{index}]'"
        if not isinstance(entry, dict) or set(entry) != {"name", "treated", "base", "metric", "role"}:
            raise _fail(where, f"{at}: expected name, treated, base, metric and role, got {entry!r}")
        contrast = Contrast(**{k: str(v) for k, v in entry.items()})
        for side in (contrast.treated, contrast.base):
            if side not in arms:
                raise _fail(where, f"{at}: unknown arm {side!r}; arms: {sorted(arms)}")
        if contrast.metric not in METRICS:
            raise _fail(where, f"{at}: unknown metric {contrast.metric!r}; known: {list(METRICS)}")
        if contrast.role not in ROLES:
            raise _fail(where, f"{at}: role must be one of {list(ROLES)}, got {contrast.role!r}")
        contrasts.append(contrast)
    if [c.role for c in contrasts].count("primary") != 1:
        raise _fail(where, "key 'analysis.contrasts': exactly one contrast has role 'primary'")
    return contrasts


def load_arithmetic_config(path: str | Path) -> ArithmeticExperiment:
    """Parse and validate; ExperimentConfigError names the file and the key."""
    path, raw, where = read_experiment_yaml(path)
    known = {"name", "data_dir", "base_config", "model", "arms", "seeds", "out_dir", "train_overrides"}
    known |= {"measure", "gate", "analysis"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise _fail(where, f"unknown key(s) {unknown}; known: {sorted(known)}")
    missing = [key for key in ("name", "data_dir", "base_config", "arms", "seeds") if key not in raw]
    if missing:
        raise _fail(where, f"missing key(s) {missing}")
    arms = dict(raw["arms"] or {})
    for name, arm in arms.items():
        if not isinstance(arm, dict) or not {"losses", "weights"} <= set(arm) or set(arm) - _ARM_KEYS:
            raise _fail(
                where, f"key 'arms.{name}': expected losses, weights and optionally {sorted(_ARM_KEYS)}"
            )
    analysis = _merged(
        where,
        "analysis",
        {k: v for k, v in (raw.get("analysis") or {}).items() if k != "contrasts"},
        ANALYSIS_DEFAULTS,
    )
    overrides = dict(raw.get("train_overrides") or {})
    if int((overrides.get("trainer") or {}).get("max_steps", 0)) < 2:
        raise _fail(
            where,
            "key 'train_overrides.trainer.max_steps': an integer >= 2 (evaluated at the middle and end)",
        )
    gate = _merged(where, "gate", raw.get("gate"), GATE_DEFAULTS)
    seeds = [int(seed) for seed in raw["seeds"]]
    if gate["arm"] not in arms or not seeds:
        raise _fail(where, f"key 'gate.arm': {gate['arm']!r} is not an arm, or 'seeds' is empty")
    gate["seed"] = seeds[0] if gate["seed"] is None else int(gate["seed"])
    base = path.parent
    return ArithmeticExperiment(
        name=str(raw["name"]),
        data_dir=str((base / raw["data_dir"]).resolve()),
        base_config=str((base / raw["base_config"]).resolve()),
        model=str(raw.get("model", "smollm2-135m-instruct")),
        arms=arms,
        seeds=seeds,
        contrasts=_contrasts(where, (raw.get("analysis") or {}).get("contrasts"), arms),
        out_dir=str(Path(raw.get("out_dir") or f"runs/experiments/{raw['name']}").resolve()),
        train_overrides=overrides,
        measure=_merged(where, "measure", raw.get("measure"), MEASURE_DEFAULTS),
        gate=gate,
        analysis=analysis,
        path=where,
    )
