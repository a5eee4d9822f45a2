"""The vs-TRL ratio table: each row divided by TRL at the same shape and the same checkpointing setting."""

from __future__ import annotations

import pytest


def _run(step_s: float, peak: float, step_peak: float, tokens: int = 1024) -> dict:
    return {
        "step_s": [step_s, step_s],
        "tokens_per_step": tokens,
        "peak_rss_mb": peak,
        "step_peak_mb": step_peak,
    }


def _rows(text: str) -> dict[tuple[str, str, str], list[str]]:
    rows = {}
    for line in text.splitlines():
        cells = line.split()
        if len(cells) == 9 and cells[0] in {"2x256", "4x1024"}:
            rows[(cells[0], cells[1], cells[2])] = cells[3:]
    return rows


@pytest.fixture
def results():
    return {
        ("2x256", "off", "trl"): [_run(2.0, 4000, 3000)],
        ("2x256", "off", "fused"): [_run(1.0, 3000, 1500)],
        ("2x256", "on", "trl"): [_run(4.0, 2000, 1000)],
        ("2x256", "on", "fused"): [_run(2.0, 2000, 2000)],
    }


def test_ratios_are_taken_against_trl_with_the_same_checkpointing(results, capsys):
    from speed_table import print_speed_table

    print_speed_table(results, quiet=True, reason="quiet")
    rows = _rows(capsys.readouterr().out)
    # tokens/s = 1024 / 1 s against TRL's 1024 / 2 s; peaks 3000/4000 and 1500/3000
    assert rows[("2x256", "off", "fused")] == ["1024.0", "2.000", "3000", "0.750", "1500", "0.500"]
    # against TRL with checkpointing on: 512 / 256 tokens/s, peak 2000/2000, step peak 2000/1000
    assert rows[("2x256", "on", "fused")] == ["512.0", "2.000", "2000", "1.000", "2000", "2.000"]
    assert rows[("2x256", "on", "trl")][1] == "1.000"


def test_a_loaded_machine_gets_memory_but_no_timings(results, capsys):
    from speed_table import print_speed_table

    print_speed_table(results, quiet=False, reason="load 1.9")
    out = capsys.readouterr().out
    assert "TIMINGS REFUSED" in out
    row = _rows(out)[("2x256", "off", "fused")]
    assert row[:2] == ["refused", "-"] and row[2:] == ["3000", "0.750", "1500", "0.500"]
