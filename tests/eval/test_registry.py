"""The registry: registration by decorator, settings validated with the valid keys named, no duplicates."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from plot_eval.registry import JUDGES, SCORERS, SOURCES, Registry, SettingsError, build_settings


@dataclass
class Knobs:
    depth: int = 1
    name: str = "x"

    def validate(self):
        if self.depth < 0:
            raise ValueError("depth must be >= 0")


def test_register_get_and_settings():
    registry = Registry("widget", ())

    @registry.register("w", settings=Knobs, metrics=("winrate",))
    class Widget:
        pass

    assert registry.get("w").component is Widget and Widget.registered_name == "w"
    assert registry.settings("w", {"depth": 3}, "widgets.w") == Knobs(depth=3)
    assert registry.settings("w", None, "widgets.w") == Knobs()
    with pytest.raises(
        SettingsError, match=r"widgets.w: unknown key\(s\) \['dept'\]; valid keys: \['depth', 'name'\]"
    ):
        registry.settings("w", {"dept": 3}, "widgets.w")
    with pytest.raises(SettingsError, match="widgets.w: depth must be >= 0"):
        registry.settings("w", {"depth": -1}, "widgets.w")
    with pytest.raises(KeyError, match=r"unknown widget 'v'; registered: \['w'\]"):
        registry.get("v")
    with pytest.raises(ValueError, match="already registered"):
        registry.register("w", settings=Knobs)(type("Other", (), {}))


def test_settings_must_be_a_dataclass_and_a_mapping():
    with pytest.raises(TypeError, match="must be a dataclass"):
        Registry("widget", ()).register("w", settings=dict)
    with pytest.raises(SettingsError, match="expected a mapping"):
        build_settings(Knobs, [1, 2], "here")


def test_builtin_components_are_registered_with_their_metrics():
    assert JUDGES.get("gsm8k").metrics == ("accuracy",) and JUDGES.get("math").metrics == ("accuracy",)
    assert set(JUDGES.get("refusal").metrics) == {"asr", "over_refusal"}
    assert {"local_lm", "openai", "reward_model"} <= {
        n for n in JUDGES.names() if "winrate" in JUDGES.get(n).metrics
    }
    assert SCORERS.names() == ["coherence", "fluency"]
    assert "math" in SOURCES.names()
