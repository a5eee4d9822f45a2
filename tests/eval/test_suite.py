"""Suite YAML schema: both shipped suites parse; every kind of mistake is a SuiteError naming file and key."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from plot_eval.registry import JUDGES
from plot_eval.suite import SuiteError, load_suite, parse_suite

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "eval"
SEVEN = {"helpfulness", "harmlessness", "honesty", "humanity", "math", "code", "reasoning"}


@pytest.mark.parametrize("name", ["quick", "paper"])
def test_suite_shipped_configs_parse_with_all_seven_subpreferences(name):
    suite = load_suite(CONFIGS / f"{name}.yaml")
    assert suite.name == name and suite.version >= 1
    assert {s.name for s in suite.subpreferences} == SEVEN
    named = {s.name for s in suite.subpreferences if s.paper_named}
    assert named == {"helpfulness", "humanity", "math"}  # the other four are labelled as our choice
    categories = {s.name: s.category for s in suite.subpreferences}
    assert {n for n, c in categories.items() if c == "logic"} == {"math", "code", "reasoning"}
    for sub in suite.subpreferences:
        for prompt_set in sub.sets:
            assert prompt_set.metric in JUDGES.get(prompt_set.judge).metrics


def test_suite_quick_data_root_is_the_committed_samples():
    suite = load_suite(CONFIGS / "quick.yaml")
    assert suite.resolve_data_root() == (CONFIGS.parents[1] / "eval" / "samples").resolve()


def test_suite_paper_data_root_env_overrides(monkeypatch, tmp_path):
    suite = load_suite(CONFIGS / "paper.yaml")
    monkeypatch.delenv("PLOT_DATA_ROOT", raising=False)
    assert suite.resolve_data_root().name == "data"
    monkeypatch.setenv("PLOT_DATA_ROOT", str(tmp_path))
    assert suite.resolve_data_root() == tmp_path.resolve()
    assert suite.resolve_data_root(tmp_path / "x") == (tmp_path / "x").resolve()  # explicit wins


def _quick_raw():
    return yaml.safe_load((CONFIGS / "quick.yaml").read_text())


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r.update(colour="red"), "unknown key(s) ['colour']"),
        (lambda r: r.pop("name"), "missing required key(s) ['name']"),
        (lambda r: r["subpreferences"][0].update(category="vibes"), "subpreferences[0].category"),
        (lambda r: r["subpreferences"][0]["sets"][0].update(metric="bleu"), "unknown metric 'bleu'"),
        (
            lambda r: r["subpreferences"][0]["sets"][0].update(judge="gsm8k"),
            "cannot produce metric 'winrate'",
        ),
        (
            lambda r: r["subpreferences"][0]["sets"][0]["source"].update(loader="nope"),
            "unknown loader 'nope'",
        ),
        (
            lambda r: r["subpreferences"][0]["sets"][0].update(prompt={"template": "hi"}),
            "must contain '{prompt}'",
        ),
        (lambda r: r["subpreferences"][0]["sets"][0].update(limit=0), "sets[0].limit"),
        (lambda r: r["subpreferences"][0].pop("paper_named"), "missing required key(s) ['paper_named']"),
        (lambda r: r["subpreferences"][1].update(name="helpfulness"), "duplicate names"),
        (lambda r: r["judges"].update(oracle={}), "judges.oracle: unknown judge; registered: ["),
        (
            lambda r: r["judges"]["code_exec"].update(timeout=3),
            "judges.code_exec: unknown key(s) ['timeout']; valid keys: ['allow_unsandboxed', 'memory_mb', 'timeout_s']",
        ),
        (lambda r: r["scorers"].update(bleu={}), "scorers.bleu: unknown scorer"),
        (
            lambda r: r["scorers"]["fluency"].update(modle="x"),
            "scorers.fluency: unknown key(s) ['modle']; valid keys: ['max_length', 'model']",
        ),
        (
            lambda r: r["subpreferences"][0]["sets"][0]["source"]["options"].update(categoies=["x"]),
            "unknown option(s) ['categoies'] for source 'vicuna_bench'; valid: ['categories']",
        ),
        (
            lambda r: r["subpreferences"][0]["sets"][0].update(judge="nobody"),
            "unknown judge 'nobody'; registered: [",
        ),
        (lambda r: r["generation"].update(max_new_tokens=0), "max_new_tokens"),
        (lambda r: r.update(schema_version=99), "unsupported 99"),
    ],
)
def test_suite_validation_errors_name_the_key(mutate, message):
    raw = copy.deepcopy(_quick_raw())
    mutate(raw)
    with pytest.raises(SuiteError) as err:
        parse_suite(raw, "quick.yaml")
    assert message in str(err.value) and "quick.yaml" in str(err.value)


def test_suite_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.yaml"):
        load_suite(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(SuiteError, match="bad.yaml: not valid YAML"):
        load_suite(bad)
