"""What the charts draw, read back from the matplotlib figures: titles name both models, every bar carries its
n, a degenerate interval is a hatched bar saying so, a real interval is an error bar spanning the CI."""

from __future__ import annotations

import pytest

from plot_eval.reports.charts import DEGENERATE_HATCH, quality_figure, winrate_figure
from plot_eval.reports.reading import degenerate_reason, model_label


def _bars(ax) -> dict[str, object]:
    return {patch.get_gid(): patch for patch in ax.patches if patch.get_gid()}


def _label_at(ax, x: float) -> str:
    """The n label drawn above the bar centred at `x` (exactly one)."""
    found = [text.get_text() for text in ax.texts if text.xy[0] == pytest.approx(x)]
    assert len(found) == 1, found
    return found[0]


def _error_segments(ax) -> list[tuple[float, float, float]]:
    """(x, low, high) of every vertical error bar on `ax`."""
    segments = []
    for collection in ax.collections:
        for segment in collection.get_segments():
            (x0, y0), (x1, y1) = segment
            if x0 == pytest.approx(x1):
                segments.append((x0, min(y0, y1), max(y0, y1)))
    return segments


def _check_bar(ax, bar, ci) -> None:
    x = bar.get_x() + bar.get_width() / 2
    assert bar.get_height() == pytest.approx(ci["mean"])
    label = _label_at(ax, x)
    assert label.split("\n")[0] == f"n={ci['n']}"
    degenerate = degenerate_reason(ci) is not None
    assert ("interval degenerate" in label) == degenerate
    assert (bar.get_hatch() == DEGENERATE_HATCH) == degenerate
    if ci["ci_high"] > ci["ci_low"]:  # an error bar from ci_low to ci_high at the bar's centre
        assert any(
            (sx, low, high) == (pytest.approx(x), pytest.approx(ci["ci_low"]), pytest.approx(ci["ci_high"]))
            for sx, low, high in _error_segments(ax)
        )


def _mixed(results):
    """One precise subpreference (n=40), one tiny (n=2, zero width), one large but constant (n=30)."""
    subs = results["subpreferences"]
    subs["helpfulness"]["winrate"] = {
        "mean": 0.6,
        "ci_low": 0.45,
        "ci_high": 0.75,
        "n": 40,
        "ties": 3,
        "invalid": 0,
    }
    subs["math"]["winrate"] = {"mean": 0.5, "ci_low": 0.5, "ci_high": 0.5, "n": 2, "ties": 2, "invalid": 0}
    subs["code"]["winrate"] = {"mean": 1.0, "ci_low": 1.0, "ci_high": 1.0, "n": 30, "ties": 0, "invalid": 0}
    return results


def test_winrate_chart_names_both_models_and_labels_every_bar(synthetic_run):
    results, _, _ = synthetic_run
    results = _mixed(results)
    fig = winrate_figure(results)
    (ax,) = fig.axes
    title = ax.get_title()
    assert (
        model_label(results["models"]["model"]) in title
        and model_label(results["models"]["baseline"]) in title
    )
    assert "model-a (aaaaaaaa)" in title and "base (bbbbbbbb)" in title and "suite quick" in title
    bars = _bars(ax)
    expected = {
        n: s["winrate"] for n, s in results["subpreferences"].items() if s["winrate"].get("mean") is not None
    }
    assert set(bars) == set(expected)
    for name, ci in expected.items():
        _check_bar(ax, bars[name], ci)
    assert bars["helpfulness"].get_hatch() is None
    assert bars["math"].get_hatch() == DEGENERATE_HATCH and bars["code"].get_hatch() == DEGENERATE_HATCH
    x = bars["math"].get_x() + bars["math"].get_width() / 2
    assert _label_at(ax, x) == "n=2\ninterval degenerate"
    assert any("hatched: interval degenerate" in text.get_text() for text in fig.texts)


def test_winrate_chart_without_degenerate_intervals_has_no_footnote(synthetic_run):
    results, _, _ = synthetic_run
    for sub in results["subpreferences"].values():
        sub["winrate"] = {"mean": 0.7, "ci_low": 0.6, "ci_high": 0.8, "n": 50, "ties": 0, "invalid": 0}
    fig = winrate_figure(results)
    bars = _bars(fig.axes[0])
    assert all(bar.get_hatch() is None for bar in bars.values()) and len(bars) == len(
        results["subpreferences"]
    )
    assert len(_error_segments(fig.axes[0])) == len(bars)
    assert not fig.texts


def test_quality_chart_names_both_models_and_marks_zero_width(synthetic_run):
    """Synthetic scores: perplexity varies (real interval), distinct_2 and prompt_similarity are constant
    (zero width: degenerate although n is large)."""
    results, samples, _ = synthetic_run
    fig = quality_figure(results)
    suptitle = fig.get_suptitle()
    assert "model-a (aaaaaaaa)" in suptitle and "base (bbbbbbbb)" in suptitle
    panels = {ax.get_title().replace("\n", "/"): ax for ax in fig.axes}
    assert set(panels) == {
        f"{g}/{k}" for g in ("fluency", "coherence") for k in results["scores"][g]["model"]
    }
    assert {"fluency/distinct_2", "fluency/perplexity", "coherence/prompt_similarity"} <= set(panels)
    for title, ax in panels.items():
        group, key = title.split("/")
        bars = _bars(ax)
        assert set(bars) == {"model", "baseline"}
        for side, bar in bars.items():
            _check_bar(ax, bar, results["scores"][group][side][key])
            assert _label_at(ax, bar.get_x() + bar.get_width() / 2).startswith(f"n={len(samples)}")
    assert _bars(panels["fluency/distinct_2"])["model"].get_hatch() == DEGENERATE_HATCH
    assert _bars(panels["fluency/perplexity"])["model"].get_hatch() is None


def test_no_chart_without_data(synthetic_run):
    results, _, _ = synthetic_run
    bare = {k: v for k, v in results.items() if k != "scores"}
    for sub in bare["subpreferences"].values():
        sub["winrate"] = {"n": 0, "ties": 0, "invalid": 4}
    assert winrate_figure(bare) is None and quality_figure(bare) is None
