"""Tests for the logits head: log-probs and PLOT dirac costs from the full logits in one function, against a
naive autograd oracle written here (``log_softmax`` and ``sum_v p_v C(v, y)``), gradcheck, fp32 math under bf16, and the mechanism
behind its speed: backward allocates the logits' gradient once."""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode

import plot_lightning.losses.plot_dirac as plot_dirac_module
from plot_lightning.forward import AlignedBatch, preference_forward
from plot_lightning.heads.logits_head import logits_head
from plot_lightning.heads.preference import policy_preference_forward
from plot_lightning.losses.composite import CompositeLoss
from plot_lightning.losses.logprobs import token_logps
from plot_lightning.losses.plot_cost import normalise_embedding
from plot_lightning.losses.types import PreferenceForward


def _problem(rows=4, length=9, vocab=13, dim=5, dtype=torch.float64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    logits = (2.0 * torch.randn(rows, length, vocab, generator=gen)).to(dtype).requires_grad_()
    targets = torch.randint(0, vocab, (rows, length - 1), generator=gen)
    mask = torch.rand(rows, length - 1, generator=gen) < 0.7
    mask[:, 0] = True
    embedding = normalise_embedding(torch.randn(vocab, dim, generator=gen, dtype=torch.float64))
    return logits, targets, mask, embedding


def _separate(logits, targets, mask, embedding, rows, cost):
    """The naive oracle, plain autograd on ``z[:, :-1]``: ``log_softmax(z)[y]`` and
    ``W = sum_v softmax(z)_v C(v, y)`` with the whole ``(V, V)`` cost matrix, on the masked positions, in
    the embedding's dtype."""
    log_probs = torch.log_softmax(logits[:, :-1].to(embedding.dtype), dim=-1)  # (N, T-1, V)
    logps = log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1) * mask
    cosine = (1.0 - embedding @ embedding.T).clamp(0.0, 2.0).fill_diagonal_(0.0)  # (V, V)
    ground = cosine if cost == "cosine" else (2.0 * cosine).sqrt()
    costs = (log_probs.exp() * ground[targets]).sum(dim=-1)  # (N, T-1)
    in_rows = torch.zeros_like(mask)
    in_rows[rows.start : rows.stop] = True
    return logps, costs * (mask & in_rows)


@pytest.mark.parametrize("cost", ["cosine", "l2"])
@pytest.mark.parametrize("rows", [range(0, 2), range(0, 4), range(2, 4)])
@pytest.mark.parametrize("chunk", [3, 8, 1024])  # blocks within a row, one row each, several rows each
@pytest.mark.parametrize("temp_rows", [None, 2])  # None: one slice per block; 2: the token slices of 2 rows
def test_values_and_gradients_equal_the_separate_kernels(cost, rows, chunk, temp_rows, monkeypatch):
    logits, targets, mask, embedding = _problem()
    if temp_rows:
        monkeypatch.setattr(plot_dirac_module, "_TEMP_ELEMENTS", temp_rows * logits.shape[-1])
    gen = torch.Generator().manual_seed(7)
    up_logps, up_costs = (
        torch.randn(mask.shape, generator=gen, dtype=torch.float64),
        torch.randn(mask.shape, generator=gen, dtype=torch.float64),
    )
    logps, costs = logits_head(
        logits, targets, mask, unit_embedding=embedding, cost_rows=rows, cost=cost, chunk=chunk
    )
    (grad,) = torch.autograd.grad((logps * up_logps).sum() + (costs * up_costs).sum(), logits)
    want_logps, want_costs = _separate(logits, targets, mask, embedding, rows, cost)
    (want_grad,) = torch.autograd.grad((want_logps * up_logps).sum() + (want_costs * up_costs).sum(), logits)
    torch.testing.assert_close(logps, want_logps, rtol=0, atol=1e-12)
    torch.testing.assert_close(costs, want_costs, rtol=0, atol=1e-12)
    torch.testing.assert_close(grad, want_grad, rtol=0, atol=1e-12)
    assert bool((grad[:, -1] == 0).all())  # the last position predicts nothing
    outside = torch.ones(mask.shape[0], dtype=torch.bool)
    outside[rows.start : rows.stop] = False
    assert bool((costs[outside] == 0).all()) and bool((costs[~mask] == 0).all())


def test_hand_derived_costs_and_gradient():
    """ê_0=(1,0), ê_1=(0,1), ê_2=(-1,0); uniform logits and target 0: p = 1/3, log p(0) = -ln 3, W = 1,
    dW/dz = p (C - W) = (-1, 0, 1)/3, d logp/dz = onehot(0) - p = (2, -1, -1)/3."""
    embedding = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], dtype=torch.float64)
    logits = torch.zeros(1, 2, 3, dtype=torch.float64, requires_grad=True)
    targets, mask = torch.zeros(1, 1, dtype=torch.long), torch.ones(1, 1, dtype=torch.bool)
    logps, costs = logits_head(logits, targets, mask, unit_embedding=embedding, cost_rows=range(1))
    assert logps.item() == pytest.approx(-math.log(3.0), abs=1e-12)
    assert costs.item() == pytest.approx(1.0, abs=1e-12)
    (logps.sum() + costs.sum()).backward()
    want = torch.tensor([[2.0, -1.0, -1.0], [-1.0, 0.0, 1.0]], dtype=torch.float64).sum(0) / 3
    torch.testing.assert_close(logits.grad[0, 0], want)
    assert bool((logits.grad[0, 1] == 0).all())


def test_gradcheck_fp64():
    logits, targets, mask, embedding = _problem(rows=2, length=4, vocab=6, dim=3)

    def head(z):
        logps, costs = logits_head(z, targets, mask, unit_embedding=embedding, cost_rows=range(1), chunk=2)
        return logps, costs

    assert torch.autograd.gradcheck(head, (logits,))


def test_no_cost_rows_gives_log_probs_only():
    logits, targets, mask, _ = _problem()
    logps, costs = logits_head(logits, targets, mask)
    assert costs is None
    torch.testing.assert_close(logps, token_logps(logits[:, :-1], targets, mask), rtol=0, atol=1e-12)


@pytest.mark.parametrize("autocast", [False, True])
def test_bf16_logits_run_the_math_in_fp32(autocast):
    """bf16 logits (bf16-true) or a bf16 autocast region (bf16-mixed): fp32 outputs equal to the fp32 math on
    the same bf16 values, and the gradient comes back in bf16."""
    logits, targets, mask, embedding = _problem(dtype=torch.float32)
    low = logits.detach().to(torch.bfloat16).requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        logps, costs = logits_head(low, targets, mask, unit_embedding=embedding.float(), cost_rows=range(2))
    assert logps.dtype == torch.float32 and costs.dtype == torch.float32
    exact = low.detach().float()
    want_logps, want_costs = _separate(exact, targets, mask, embedding.float(), range(2), "cosine")
    torch.testing.assert_close(logps, want_logps, rtol=0, atol=1e-5)
    torch.testing.assert_close(costs, want_costs, rtol=0, atol=1e-5)
    (logps.sum() + costs.sum()).backward()
    assert low.grad.dtype == torch.bfloat16
    exact.requires_grad_()
    want_logps, want_costs = _separate(exact, targets, mask, embedding.float(), range(2), "cosine")
    (want_logps.sum() + want_costs.sum()).backward()
    torch.testing.assert_close(
        low.grad.float(), exact.grad, rtol=1e-2, atol=1e-2
    )  # bf16 rounding of the result


@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("targets", lambda z, y, m, e: logits_head(z, y[:, :-1], m, unit_embedding=e)),
        ("mask", lambda z, y, m, e: logits_head(z, y, m.long(), unit_embedding=e)),
        (
            "unit_embedding",
            lambda z, y, m, e: logits_head(z, y, m, unit_embedding=e[:-1], cost_rows=range(1)),
        ),
        ("unit_embedding", lambda z, y, m, e: logits_head(z, y, m, cost_rows=range(1))),
        ("cost_rows", lambda z, y, m, e: logits_head(z, y, m, unit_embedding=e, cost_rows=range(0, 9))),
        ("cost", lambda z, y, m, e: logits_head(z, y, m, unit_embedding=e, cost_rows=range(1), cost="l1")),
        ("targets", lambda z, y, m, e: logits_head(z, y.masked_fill(m, 99), m)),
    ],
)
def test_bad_inputs_are_named(name, call):
    logits, targets, mask, embedding = _problem()
    with pytest.raises(ValueError, match=name):
        call(logits, targets, mask, embedding)


def test_nan_logits_on_a_masked_token_are_refused():
    logits, targets, mask, embedding = _problem()
    bad = logits.detach().clone()
    bad[1, 0, 3] = float("nan")  # position 0 is always masked
    with pytest.raises(ValueError, match="non-finite log-prob"):
        logits_head(bad, targets, mask, unit_embedding=embedding, cost_rows=range(2))


def _aligned(rows=4, length=9, vocab=13, with_rejected=True):
    logits, targets, mask, embedding = _problem(rows=rows, length=length, vocab=vocab)
    input_ids = torch.cat([targets[:, :1], targets], dim=1)
    aligned = AlignedBatch(input_ids, torch.ones_like(input_ids), targets, mask, has_rejected=with_rejected)
    return logits, aligned, embedding


def _reference(aligned):
    gen = torch.Generator().manual_seed(3)
    from plot_lightning.forward import ReferenceOutputs

    return ReferenceOutputs(
        logps=-10.0 * torch.rand(aligned.targets.shape[0], generator=gen, dtype=torch.float64)
    )


@pytest.mark.parametrize(
    ("losses", "args"),
    [
        (["dpo", "plot"], {}),
        (["dpo", "plot"], {"plot": {"gamma": 0.5, "margin": 2.0}}),  # dirac on every row
        (["dpo", "plot"], {"plot": {"gamma": 0.5, "margin": 2.0, "cost": "l2"}}),
        (["dpo"], {}),
        (["dpo", "sft"], {}),
    ],
)
def test_preference_forward_gives_the_losses_the_same_values_and_gradient(losses, args):
    """Through the head or through the separate kernels, the composite loss and its gradient are the same."""
    logits, aligned, embedding = _aligned()
    reference = _reference(aligned)
    composite = CompositeLoss(losses, [1.0] * len(losses), args).double()
    embedding = normalise_embedding(embedding).float()  # the module's fp32 cost embedding
    results = []
    for through_head in (True, False):
        if through_head:
            forward = policy_preference_forward(
                logits, aligned, reference, composite.needs, embedding, chunk=5
            )
        else:
            forward = preference_forward(logits[:, :-1], aligned, reference, cost_embedding=embedding)
        total, metrics = composite(forward)
        (grad,) = torch.autograd.grad(total, logits)
        results.append((total.detach(), grad, {k: v.detach() for k, v in metrics.items()}))
    (total, grad, metrics), (want_total, want_grad, want_metrics) = results
    torch.testing.assert_close(total, want_total, rtol=0, atol=1e-12)
    torch.testing.assert_close(grad, want_grad, rtol=0, atol=1e-12)
    assert metrics.keys() == want_metrics.keys()
    for key in metrics:
        torch.testing.assert_close(metrics[key], want_metrics[key], rtol=0, atol=1e-12)


def test_sft_data_without_rejected_rows():
    logits, aligned, embedding = _aligned(with_rejected=False)
    composite = CompositeLoss(["sft", "plot"], [1.0, 0.5]).double()
    embedding = normalise_embedding(embedding).float()
    forward = policy_preference_forward(logits, aligned, None, composite.needs, embedding)
    assert isinstance(forward, PreferenceForward) and forward.rejected is None
    assert forward.chosen.head.token_costs is not None
    want, _ = composite(preference_forward(logits[:, :-1], aligned, None, cost_embedding=embedding))
    torch.testing.assert_close(composite(forward)[0], want, rtol=0, atol=1e-12)


class NewStorages(TorchDispatchMode):
    """Bytes of every distinct storage that an aten op's result newly allocates (in-place results and views
    share their input's storage and are not counted)."""

    def __init__(self):
        super().__init__()
        self.seen: set[int] = set()
        self.sizes: list[int] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        before = {
            t.untyped_storage().data_ptr()
            for t in pytree.tree_leaves((args, kwargs or {}))
            if isinstance(t, torch.Tensor)
        }
        out = func(*args, **(kwargs or {}))
        for tensor in pytree.tree_leaves(out):
            if isinstance(tensor, torch.Tensor):
                pointer = tensor.untyped_storage().data_ptr()
                if pointer not in before and pointer not in self.seen:
                    self.seen.add(pointer)
                    self.sizes.append(tensor.untyped_storage().nbytes())
        return out


@pytest.mark.parametrize("args", [{}, {"plot": {"gamma": 0.5}}])
def test_backward_allocates_the_logits_gradient_once(args):
    """The mechanism behind the PLOT overhead: from the loss back to the logits, exactly one new storage of at
    least the aligned logits' size (the gradient). Computing the log-probs and the dirac cost apart, autograd
    also builds the dirac kernel's zero-filled gradient, the chosen-half slice's expansion, their sum and the
    ``[:, :-1]`` slice's expansion."""
    logits, aligned, embedding = _aligned(rows=4, length=9, vocab=4096)
    logits = logits.detach().float().requires_grad_()
    composite = CompositeLoss(["dpo", "plot"], [1.0, 0.1], args)
    embedding = normalise_embedding(embedding.float())
    reference = _reference(aligned)
    reference.logps = reference.logps.float()
    forward = policy_preference_forward(logits, aligned, reference, composite.needs, embedding, chunk=8)
    total, _ = composite(forward)
    with NewStorages() as counter:
        total.backward()
    full = logits[:, :-1].numel() * logits.element_size()
    assert sum(size >= full for size in counter.sizes) == 1, sorted(counter.sizes)[-6:]


def test_a_chunk_of_zero_is_refused_not_replaced_by_the_default():
    """``chunk=None`` means the head's default; an explicit 0 is an error, never silently the default."""
    logits, aligned, _ = _aligned()
    needs = CompositeLoss(["dpo"], [1.0]).needs
    policy_preference_forward(logits, aligned, _reference(aligned), needs, None, chunk=None)
    with pytest.raises(ValueError, match=r"'chunk' must be >= 1, got 0"):
        policy_preference_forward(logits, aligned, _reference(aligned), needs, None, chunk=0)
