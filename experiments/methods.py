"""The methods an experiment compares, by name: each maps hyperparameters to the ``model`` section overrides.

A method says which hyperparameters it uses (so a sweep of ``alpha`` touches only PLOT methods) and which
method it is paired against (``X+PLOT`` vs ``X``: the paired differences of :mod:`.statistics`).
Add a method by adding an entry to ``METHODS``; nothing else dispatches on method names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DEFAULT_HYPERPARAMETERS = {"alpha": 0.1, "beta": 0.1}


@dataclass(frozen=True)
class Method:
    """A training recipe: ``build(hyperparameters) -> {"losses", "weights", "loss_args"}``.

    Attributes:
        name: registry key (also the cell folder and table label).
        label: human-readable name for tables and charts.
        uses: hyperparameter names that change this method (``lr`` applies to every method).
        base: the method this one is compared against as ``X+PLOT`` vs ``X`` (None for base methods).
    """

    name: str
    label: str
    uses: frozenset[str]
    base: str | None
    build: Callable[[dict[str, float]], dict[str, Any]]


def _plot(variant: str) -> dict[str, Any]:
    return {"variant": variant, "cost": "cosine"}


def _sft(h: dict[str, float]) -> dict[str, Any]:
    return {"losses": ["sft"], "weights": [1.0], "loss_args": {}}


def _sft_plot(h: dict[str, float]) -> dict[str, Any]:
    return {"losses": ["sft", "plot"], "weights": [1.0, h["alpha"]], "loss_args": {"plot": _plot("dirac")}}


def _dpo(h: dict[str, float]) -> dict[str, Any]:
    return {"losses": ["dpo"], "weights": [1.0], "loss_args": {"dpo": {"beta": h["beta"]}}}


def _dpo_plot(variant: str) -> Callable[[dict[str, float]], dict[str, Any]]:
    def build(h: dict[str, float]) -> dict[str, Any]:
        return {
            "losses": ["dpo", "plot"],
            "weights": [1.0, h["alpha"]],
            "loss_args": {"dpo": {"beta": h["beta"]}, "plot": _plot(variant)},
        }

    return build


def _aot(h: dict[str, float]) -> dict[str, Any]:
    return {"losses": ["aot"], "weights": [1.0], "loss_args": {"aot": {"beta": h["beta"]}}}


METHODS: dict[str, Method] = {
    method.name: method
    for method in (
        Method("sft", "SFT", frozenset(), None, _sft),
        Method("sft_plot", "SFT+PLOT", frozenset({"alpha"}), "sft", _sft_plot),
        Method("dpo", "DPO", frozenset({"beta"}), None, _dpo),
        Method("dpo_plot_dirac", "DPO+PLOT (dirac)", frozenset({"alpha", "beta"}), "dpo", _dpo_plot("dirac")),
        Method(
            "dpo_plot_sinkhorn",
            "DPO+PLOT (sinkhorn)",
            frozenset({"alpha", "beta"}),
            "dpo",
            _dpo_plot("sinkhorn"),
        ),
        Method("aot", "AOT", frozenset({"beta"}), None, _aot),
    )
}
