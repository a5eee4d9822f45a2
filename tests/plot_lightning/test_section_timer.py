"""SectionTimer: what it adds up (on a fake clock, so no real timing is asserted) and where the heads open
sections (PLOT's work inside the logits head and the fused head, forward and backward)."""

from __future__ import annotations

import pytest
import torch

import plot_lightning.section_timer as section_timer
from plot_lightning.heads.fused_head import fused_head
from plot_lightning.heads.logits_head import logits_head
from plot_lightning.losses.plot_cost import normalise_embedding
from plot_lightning.section_timer import SectionTimer

CPU = torch.device("cpu")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(section_timer.time, "perf_counter", fake)
    return fake


def test_adds_the_sections_of_a_step_and_nothing_outside(clock):
    timer = SectionTimer()
    with timer.section(CPU):  # off: not counted
        clock.now += 5.0
    timer.begin_step()
    with timer.section(CPU):
        clock.now += 0.25
    clock.now += 7.0  # between sections
    with timer.section(CPU):
        clock.now += 0.5
    assert timer.sections == 2
    assert timer.end_step() == pytest.approx(0.75)
    with timer.section(CPU):  # off again after the step
        clock.now += 3.0
    timer.begin_step()
    assert timer.end_step() == 0.0  # a new step starts from zero


def test_nested_sections_count_once_and_an_error_closes_the_section(clock):
    timer = SectionTimer()
    timer.begin_step()
    with timer.section(CPU):
        clock.now += 1.0
        with timer.section(CPU):
            clock.now += 2.0
    with pytest.raises(RuntimeError), timer.section(CPU):
        clock.now += 4.0
        raise RuntimeError("inside")
    with timer.section(CPU):  # the failed section did not leave the timer nested
        clock.now += 8.0
    assert timer.sections == 3
    assert timer.end_step() == pytest.approx(15.0)


def _problem(rows=4, length=6, vocab=17, dim=5):
    gen = torch.Generator().manual_seed(0)
    targets = torch.randint(0, vocab, (rows, length - 1), generator=gen)
    mask = torch.ones(rows, length - 1, dtype=torch.bool)
    embedding = normalise_embedding(torch.randn(vocab, dim, generator=gen))
    return targets, mask, embedding, gen


@pytest.mark.parametrize("with_cost", [True, False])
def test_the_logits_head_times_its_costs_in_forward_and_backward(with_cost):
    targets, mask, embedding, gen = _problem()
    logits = torch.randn(4, 6, 17, generator=gen, requires_grad=True)
    timer = SectionTimer()
    timer.begin_step()
    rows = range(2) if with_cost else range(0)
    logps, costs = logits_head(
        logits, targets, mask, unit_embedding=embedding, cost_rows=rows, chunk=5, timer=timer
    )
    forward_sections = timer.sections
    total = logps.sum() + (costs.sum() if with_cost else 0.0)
    total.backward()
    # chunk 5 = one row per block: 2 cost rows -> 2 forward sections and 2 backward sections
    assert (forward_sections, timer.sections) == ((2, 4) if with_cost else (0, 0))
    assert timer.end_step() >= 0.0


def test_the_fused_head_times_its_costs_in_forward_and_backward():
    targets, mask, embedding, gen = _problem()
    hidden = torch.randn(4, 5, 5, generator=gen, requires_grad=True)
    weight = torch.randn(17, 5, generator=gen, requires_grad=True)
    timer = SectionTimer()
    timer.begin_step()
    outputs = fused_head(
        hidden, weight, None, targets, mask, unit_embedding=embedding, cost_rows=2, chunk=4, timer=timer
    )
    forward_sections = timer.sections
    (outputs.logps.sum() + outputs.costs.sum()).backward()
    # 10 cost tokens in chunks of 4: 3 forward sections; backward opens 2 per chunk (cost row, its add)
    assert (forward_sections, timer.sections) == (3, 9)
