"""Per-round ratios, their spread and the verdict the speed tables print (``benchmarks/round_ratios.py``)."""

from __future__ import annotations

import pytest


def test_the_issues_four_rounds_are_not_resolved():
    """Issue 23's re-run at 2 x 256: 1.18, 0.97, 1.34, 1.09. Median (1.09 + 1.18) / 2 = 1.135; half-range
    (1.34 - 0.97) / 2 = 0.185 >= 0.135, so the lead is smaller than the spread."""
    from round_ratios import verdict

    median, half_range, word = verdict([1.18, 0.97, 1.34, 1.09], "faster", "slower")
    assert median == pytest.approx(1.135) and half_range == pytest.approx(0.185)
    assert word.startswith("not resolved")


def test_tight_rounds_on_one_side_of_one_are_resolved():
    from round_ratios import verdict

    assert verdict([1.2, 1.25, 1.3], "faster", "slower") == (
        pytest.approx(1.25),
        pytest.approx(0.05),
        "resolved: faster",
    )
    assert verdict([0.52, 0.53], "heavier", "lighter")[2] == "resolved: lighter"
    assert verdict([1.5], "faster", "slower")[2].startswith("not resolved (1 round")


def _run(step_s: list[float], peak: float) -> dict:
    return {"step_s": step_s, "step_peak_mb": peak, "peak_rss_mb": peak + 100, "tokens_per_step": 512}


def test_round_ratios_pair_round_i_with_round_i():
    """tokens/s ratio = TRL's median step time / ours, per round: 2.0 / 1.0 and 3.0 / 2.0; peaks 500/1000
    and 600/1000."""
    from round_ratios import round_ratios

    ours = [_run([1.0, 0.9, 1.1], 500), _run([2.0], 600)]
    trl = [_run([2.0], 1000), _run([3.0], 1000)]
    speed, peak = round_ratios(ours, trl, ("fused", "trl"))
    assert speed.per_round == pytest.approx((2.0, 1.5)) and speed.median == pytest.approx(1.75)
    assert speed.half_range == pytest.approx(0.25) and speed.verdict == "resolved: faster"
    assert peak.per_round == pytest.approx((0.5, 0.6)) and peak.verdict == "resolved: lighter"
    with pytest.raises(ValueError, match="2 rounds against 1"):
        round_ratios(ours, trl[:1], ("fused", "trl"))


def test_what_plot_adds_over_dpo_is_a_compared_pair():
    from round_ratios import comparisons

    assert comparisons(["trl", "fused_dpo", "fused"]) == [
        ("fused_dpo", "trl"),
        ("fused", "trl"),
        ("fused", "fused_dpo"),
    ]
    assert comparisons(["dpo", "dpo_plot"]) == [("dpo_plot", "dpo")]
    assert ("fused", "dpo_plot") in comparisons(["trl", "dpo_plot", "fused"])  # the fused-default rule's pair


def test_speed_table_prints_and_writes_the_verdicts(capsys):
    from speed_table import markdown_table, print_ratio_rows, ratio_rows

    results = {
        ("2x256", "on", "trl"): [_run([2.0], 1000), _run([3.0], 1000)],
        ("2x256", "on", "fused"): [_run([1.0], 500), _run([2.0], 600)],
    }
    rows = ratio_rows(results, quiet=True)
    assert [(r["numerator"], r["quantity"]) for r in rows] == [("fused", "tokens/s"), ("fused", "peak MB")]
    print_ratio_rows(rows)
    assert "fused / trl tokens/s: median 1.750, half-range 0.250 over 2 rounds" in capsys.readouterr().out
    assert "| 2x256 | on | fused / trl | tokens/s | 1.750 | 0.250 | 2.000 1.500 | resolved: faster |" in (
        markdown_table(results, rows, quiet=True)
    )
    assert [r["quantity"] for r in ratio_rows(results, quiet=False)] == ["peak MB"]  # loaded: no timings
