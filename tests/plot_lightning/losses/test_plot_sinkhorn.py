"""Tests for plot_lightning/losses/plot_sinkhorn.py.

The oracle rebuilds each token's problem independently with Python sets and loops: support = policy
top-K ∪ reference top-K ∪ {y} (unique ids) plus a rest atom; policy mass softmax(z)_v on the support and
1 - sum on the rest atom; target (1 - lam) δ_y + lam p_ref(v) / sum_R p_ref; cost 1 - ê_u·ê_v (or ||ê_u - ê_v||) between
tokens, 1 between the rest atom and a token, 0 on the diagonal; value ot.sinkhorn2 in fp64 on the atoms
with mass, averaged over each example's masked tokens.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import ot
import pytest
import torch

from plot_lightning.losses.plot_cost import normalise_embedding
from plot_lightning.losses.plot_sinkhorn import reference_topk, sinkhorn_transport_cost
from plot_lightning.ot import SinkhornConvergenceWarning

B, T, V, D, K = 2, 4, 24, 6, 3


def _inputs(seed=0, dtype=torch.float64):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(B, T, V, generator=generator, dtype=dtype)
    ref_logits = logits + torch.randn(B, T, V, generator=generator, dtype=dtype)
    labels = torch.randint(0, V, (B, T), generator=generator)
    labels[0, 1] = logits[0, 1].argmax()  # a label inside the policy top-K (a duplicate slot)
    mask = torch.tensor([[True, True, False, True], [False, True, True, False]])
    embedding = normalise_embedding(torch.randn(V, D, generator=generator, dtype=torch.float64))
    return logits, labels, mask, embedding, ref_logits


def _oracle_token(z, ref_logits, label, embedding, lam, epsilon, kind):
    p = torch.softmax(z.double(), -1).numpy()
    p_ref = torch.softmax(ref_logits.double(), -1).numpy()
    policy_top = np.argsort(-p)[:K].tolist()
    ref_top = np.argsort(-p_ref)[:K].tolist()
    support = sorted(set(policy_top) | set(ref_top) | {int(label)})
    size = len(support) + 1
    a, b, cost = np.zeros(size), np.zeros(size), np.ones((size, size))
    unit = embedding.numpy()
    for i, u in enumerate(support):
        a[i] = p[u]
        b[i] = (1 - lam) * (u == label) + lam * (p_ref[u] / p_ref[ref_top].sum() if u in ref_top else 0.0)
        for j, v in enumerate(support):
            distance = 1.0 - unit[u] @ unit[v] if kind == "cosine" else np.linalg.norm(unit[u] - unit[v])
            cost[i, j] = 0.0 if u == v else distance
    a[-1] = 1.0 - a[:-1].sum()
    cost[-1, -1] = 0.0
    keep_a, keep_b = a > 0, b > 0
    return float(
        ot.sinkhorn2(a[keep_a], b[keep_b], cost[keep_a][:, keep_b], epsilon, method="sinkhorn_log",
                     numItermax=2000, stopThr=1e-9)
    )  # fmt: skip


def _call(logits, labels, mask, embedding, ref_logits, **options):
    ref_ids, ref_logps = reference_topk(ref_logits, K)
    options = {"top_k": K, "max_iter": 5000, **options}
    return sinkhorn_transport_cost(logits, labels, mask, embedding, ref_ids, ref_logps, **options)


def test_reference_topk():
    logits = torch.tensor([[[0.0, 2.0, 1.0, -1.0]]])
    ids, logps = reference_topk(logits, 2)
    assert ids.tolist() == [[[1, 2]]] and ids.dtype == torch.long and logps.dtype == torch.float32
    log_norm = math.log(1 + math.exp(2) + math.exp(1) + math.exp(-1))
    torch.testing.assert_close(logps, torch.tensor([[[2.0 - log_norm, 1.0 - log_norm]]]))
    with pytest.raises(ValueError, match="'k'"):
        reference_topk(logits, 5)


@pytest.mark.parametrize("kind", ["cosine", "l2"])
def test_equals_pot_on_independently_built_supports(kind):
    logits, labels, mask, embedding, ref_logits = _inputs()
    lam, epsilon = 0.3, 0.1
    ours = _call(logits, labels, mask, embedding, ref_logits, lam=lam, epsilon=epsilon, cost=kind)
    expected = torch.zeros(B, dtype=torch.float64)
    for row in range(B):
        tokens = mask[row].nonzero().flatten().tolist()
        values = [_oracle_token(logits[row, t], ref_logits[row, t], labels[row, t], embedding, lam, epsilon, kind)
                  for t in tokens]  # fmt: skip
        expected[row] = sum(values) / len(values)
    assert ours.shape == (B,) and ours.dtype == torch.float64
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=0)


def test_masked_positions_contribute_nothing():
    logits, labels, mask, embedding, ref_logits = _inputs()
    logits = logits.clone().requires_grad_(True)
    value = _call(logits, labels, mask, embedding, ref_logits)
    (grad,) = torch.autograd.grad(value.sum(), logits)
    changed = logits.detach().clone()
    changed[~mask] = 100 * torch.randn_like(changed[~mask])
    changed_labels = labels.masked_fill(~mask, 0)
    changed.requires_grad_(True)
    changed_value = _call(changed, changed_labels, mask, embedding, ref_logits)
    (changed_grad,) = torch.autograd.grad(changed_value.sum(), changed)
    torch.testing.assert_close(changed_value, value)
    torch.testing.assert_close(changed_grad, grad)
    assert bool((grad[~mask] == 0).all())


def test_debiased_is_zero_when_policy_equals_target():
    """With K = V the support is the whole vocabulary (no tail); policy logits log((1-lam) δ_y + lam p_ref)
    make p equal to q on every atom, so the Sinkhorn divergence is 0."""
    generator = torch.Generator().manual_seed(3)
    vocab, lam = 6, 0.3
    ref_logits = torch.randn(1, 2, vocab, generator=generator, dtype=torch.float64)
    labels = torch.tensor([[2, 5]])
    target = (1 - lam) * torch.nn.functional.one_hot(labels, vocab) + lam * ref_logits.softmax(-1)
    embedding = normalise_embedding(torch.randn(vocab, D, generator=generator, dtype=torch.float64))
    ref_ids, ref_logps = reference_topk(ref_logits, vocab)
    mask = torch.ones(1, 2, dtype=torch.bool)
    value = sinkhorn_transport_cost(target.log(), labels, mask, embedding, ref_ids, ref_logps, top_k=vocab,
                                    lam=lam, debias=True, epsilon=0.2, max_iter=5000)  # fmt: skip
    torch.testing.assert_close(value, torch.zeros(1, dtype=torch.float64), atol=1e-6, rtol=0)


def test_gradient_reaches_logits():
    logits, labels, mask, embedding, ref_logits = _inputs(seed=1, dtype=torch.float32)
    logits.requires_grad_(True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SinkhornConvergenceWarning)
        for debias in (False, True):
            value = _call(logits, labels, mask, embedding.float(), ref_logits, max_iter=50, debias=debias)
            (grad,) = torch.autograd.grad(value.sum(), logits)
            assert bool(torch.isfinite(grad).all()) and float(grad[mask].abs().max()) > 0


def test_fp32_matches_fp64():
    logits, labels, mask, embedding, ref_logits = _inputs(seed=2)
    double = _call(logits, labels, mask, embedding, ref_logits, max_iter=300)
    single = _call(logits.float(), labels, mask, embedding.float(), ref_logits.float(), max_iter=300)
    assert single.dtype == torch.float32
    torch.testing.assert_close(single.double(), double, atol=1e-5, rtol=0)


def test_bf16_logits_run_in_fp32():
    logits, labels, mask, embedding, ref_logits = _inputs(seed=2, dtype=torch.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SinkhornConvergenceWarning)
        value = _call(logits.bfloat16(), labels, mask, embedding.float(), ref_logits, max_iter=20)
    assert value.dtype == torch.float32 and bool(torch.isfinite(value).all())


@pytest.mark.parametrize(
    ("case", "name"),
    [
        ("logits_2d", "'logits'"),
        ("labels_shape", "'labels'"),
        ("k_mismatch", "'ref_topk_ids'"),
        ("logps_shape", "'ref_topk_logps'"),
        ("nan_logits", "'logits'"),
        ("embedding_vocab", "'unit_embedding'"),
        ("empty_mask", "'mask'"),
        ("cost_kind", "'cost'"),
        ("lam", "'lam'"),
    ],
)
def test_bad_inputs_raise_value_error(case, name):
    logits, labels, mask, embedding, ref_logits = _inputs()
    ref_ids, ref_logps = reference_topk(ref_logits, K)
    arguments = {"logits": logits, "labels": labels, "mask": mask, "unit_embedding": embedding,
                 "ref_topk_ids": ref_ids, "ref_topk_logps": ref_logps, "top_k": K}  # fmt: skip
    if case == "logits_2d":
        arguments["logits"] = logits[0]
    elif case == "labels_shape":
        arguments["labels"] = labels[:, :2]
    elif case == "k_mismatch":
        arguments["ref_topk_ids"], arguments["ref_topk_logps"] = reference_topk(ref_logits, K + 1)
    elif case == "logps_shape":
        arguments["ref_topk_logps"] = ref_logps[..., :1]
    elif case == "nan_logits":
        arguments["logits"] = logits.clone()
        arguments["logits"][0, 0, 3] = float("nan")
    elif case == "embedding_vocab":
        arguments["unit_embedding"] = embedding[:-1]
    elif case == "empty_mask":
        arguments["mask"] = mask.clone()
        arguments["mask"][1] = False
    elif case == "cost_kind":
        arguments["cost"] = "manhattan"
    elif case == "lam":
        arguments["lam"] = 1.5
    with pytest.raises(ValueError, match=name):
        sinkhorn_transport_cost(**arguments)


def test_non_convergence_warns_once_per_setting_not_once_per_step(monkeypatch):
    """A training run calls the loss every step: an unconverged setting warns once, a new setting again."""
    import plot_lightning.losses.plot_sinkhorn as module

    monkeypatch.setattr(module, "_WARNED_SETTINGS", set())
    logits, labels, mask, embedding, ref_logits = _inputs()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            _call(logits, labels, mask, embedding, ref_logits, max_iter=2, epsilon=0.01)
        _call(logits, labels, mask, embedding, ref_logits, max_iter=3, epsilon=0.01)
    messages = [str(w.message) for w in caught if issubclass(w.category, SinkhornConvergenceWarning)]
    assert len(messages) == 2
    assert "max_iter=2" in messages[0] and "max_iter=3" in messages[1]


def test_shipped_defaults_converge_on_a_sharp_policy():
    """Defaults (max_iter 200, fp32 early stop at 1e-5): a policy sharper than the reference, the case that
    left a 1e-2 marginal error after the former 50 iterations, converges without a warning; the value equals a
    5,000-iteration fp64 solve and so does the gradient (the implicit gradient is exact at convergence)."""
    logits, labels, mask, embedding, ref_logits = _inputs(seed=4, dtype=torch.float32)
    logits = (4.0 * logits).requires_grad_()
    ref_ids, ref_logps = reference_topk(ref_logits, K)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SinkhornConvergenceWarning)
        value = sinkhorn_transport_cost(logits, labels, mask, embedding.float(), ref_ids, ref_logps, top_k=K)
    (grad,) = torch.autograd.grad(value.sum(), logits)
    exact_logits = logits.detach().double().requires_grad_()
    exact = _call(exact_logits, labels, mask, embedding, ref_logits.double(), max_iter=5000)
    (exact_grad,) = torch.autograd.grad(exact.sum(), exact_logits)
    torch.testing.assert_close(value.double(), exact.detach(), atol=1e-5, rtol=0)
    torch.testing.assert_close(grad.double(), exact_grad, atol=1e-4 * float(exact_grad.abs().max()), rtol=0)
