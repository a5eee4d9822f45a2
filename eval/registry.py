"""Registries of judges, metrics, scorers and sources: configuration names -> one registered class each.

A component registers itself where it is defined, with its settings dataclass and, for judges, the metrics
it can feed (`@JUDGES.register("length", settings=LengthSettings, metrics=("winrate",))`); nothing else
dispatches on names. Code outside the package registers the same way, imported before the suite is loaded.
Built-in components are imported on first lookup, so `import plot_eval` stays cheap."""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from typing import Any


class SettingsError(ValueError):
    """Settings that do not fit a component's settings class; the message names where and the valid keys."""


@dataclass(frozen=True)
class Entry:
    name: str
    component: type
    settings: type
    """A dataclass; every field needs a default so `{}` is valid."""
    metrics: tuple[str, ...] = ()


@dataclass
class NoSettings:
    """A component without options."""


def build_settings(
    cls: type, raw: Any, where: str, *, error: type[ValueError] = SettingsError, hidden: tuple[str, ...] = ()
) -> Any:
    """Instantiate dataclass `cls` from mapping `raw` (None = defaults); raises `error` naming unknown keys
    (with the valid ones) and missing required keys. Fields in `hidden` are never read from `raw`."""
    if isinstance(raw, cls):  # a default already built
        return raw
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise error(f"{where}: expected a mapping, got {type(raw).__name__}")
    fields = [f for f in dataclasses.fields(cls) if f.name not in hidden]
    valid = sorted(f.name for f in fields)
    unknown = sorted(set(raw) - set(valid))
    if unknown:
        raise error(f"{where}: unknown key(s) {unknown}; valid keys: {valid}")
    required = (f.name for f in fields if f.default is f.default_factory is dataclasses.MISSING)
    missing = [name for name in required if name not in raw]
    if missing:
        raise error(f"{where}: missing required key(s) {missing}")
    try:
        settings = cls(**raw)
    except (TypeError, ValueError) as err:
        raise error(f"{where}: {err}") from err
    check = getattr(settings, "validate", None)
    if check is not None:
        try:
            check()
        except ValueError as err:
            raise error(f"{where}: {err}") from err
    return settings


class Registry:
    """Name -> Entry, filled by the `register` decorator; `builtin_modules` are imported on first lookup."""

    def __init__(self, what: str, builtin_modules: tuple[str, ...]):
        self.what = what
        self._builtin_modules = builtin_modules
        self._entries: dict[str, Entry] = {}
        self._loaded = False

    def register(self, name: str, *, settings: type = NoSettings, metrics: tuple[str, ...] = ()):
        """Class decorator registering `component` under `name` (a second registration of a name fails)."""
        if not dataclasses.is_dataclass(settings):
            raise TypeError(f"{self.what} {name!r}: settings must be a dataclass, got {settings!r}")

        def decorator(component: type) -> type:
            existing = self._entries.get(name)
            if existing is not None and existing.component is not component:
                raise ValueError(f"{self.what} {name!r} is already registered by {existing.component}")
            self._entries[name] = Entry(name, component, settings, tuple(metrics))
            component.registered_name = name
            return component

        return decorator

    def unregister(self, name: str) -> None:
        """Remove `name` (a component registered for a while, e.g. by a test)."""
        del self._entries[name]

    def _load_builtins(self) -> None:
        if not self._loaded:
            self._loaded = True
            for module in self._builtin_modules:
                importlib.import_module(module)

    def names(self) -> list[str]:
        self._load_builtins()
        return sorted(self._entries)

    def get(self, name: str) -> Entry:
        self._load_builtins()
        if name not in self._entries:
            raise KeyError(f"unknown {self.what} {name!r}; registered: {sorted(self._entries)}")
        return self._entries[name]

    def __contains__(self, name: str) -> bool:
        self._load_builtins()
        return name in self._entries

    def settings(self, name: str, raw: Any, where: str) -> Any:
        """Validated settings of component `name` from YAML mapping `raw`."""
        return build_settings(self.get(name).settings, raw, where)


JUDGES = Registry(
    "judge",
    (
        "plot_eval.judges.local_lm",
        "plot_eval.judges.openai_compat",
        "plot_eval.judges.reward_model",
        "plot_eval.judges.gsm8k",
        "plot_eval.judges.math_answer",
        "plot_eval.judges.refusal",
        "plot_eval.judges.strongreject",
        "plot_eval.judges.code_judge",
    ),
)
METRICS = Registry(
    "metric", tuple(f"plot_eval.metrics.{name}" for name in ("winrate", "accuracy", "refusal_rates"))
)
SCORERS = Registry("scorer", ("plot_eval.scorers.fluency", "plot_eval.scorers.coherence"))
SOURCES = Registry(
    "source",
    tuple(
        f"plot_eval.sources.{name}"
        for name in (
            "mt_bench",
            "hh_rlhf",
            "truthfulqa",
            "gsm8k",
            "math",
            "humaneval",
            "mbpp",
            "harmbench",
            "advbench",
            "file",
        )
    ),
)
