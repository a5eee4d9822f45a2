"""Tests for the PLOT front-end: ``plot_transport_cost`` (validation, dispatch) and ``PLOTLoss``."""

from __future__ import annotations

import pytest
import torch

from plot_lightning.losses.composite import CompositeLoss
from plot_lightning.losses.plot import VARIANTS, PLOTLoss, plot_transport_cost
from plot_lightning.losses.plot_cost import normalise_embedding
from plot_lightning.losses.plot_sinkhorn import reference_topk
from plot_lightning.losses.registry import LOSSES
from plot_lightning.losses.term import TokenNeeds
from plot_lightning.losses.types import PreferenceForward, SequenceSide

# ê_0 = (1,0), ê_1 = (0,1), ê_2 = (-1,0): cosine costs to token 0 are (0, 1, 2).
THREE_TOKENS = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])


def _problem(batch=2, length=4, vocab=8, dim=3, dtype=torch.float64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, length, vocab, generator=gen, dtype=dtype)
    labels = torch.randint(0, vocab, (batch, length), generator=gen)
    mask = torch.ones(batch, length, dtype=torch.bool)
    mask[1, -1] = False
    embedding = normalise_embedding(torch.randn(vocab, dim, generator=gen, dtype=dtype))
    return logits, labels, mask, embedding


def _side(logits, labels):
    mask = torch.ones(labels.shape, dtype=torch.bool)
    return SequenceSide(labels=labels, mask=mask, logps=torch.zeros(labels.shape[0]), logits=logits)


@pytest.mark.parametrize("kind", ["cosine", "l2"])
def test_dirac_is_the_per_example_mean_of_expected_cost(kind):
    """W_t = sum_v p_t(v) C(v, y_t), averaged over each example's masked tokens (naive oracle)."""
    logits, labels, mask, embedding = _problem()
    cosine = (1.0 - embedding @ embedding.T).clamp(0.0, 2.0).fill_diagonal_(0.0)
    ground = cosine if kind == "cosine" else (2.0 * cosine).sqrt()
    per_token = (torch.softmax(logits, -1) * ground[labels]).sum(-1)  # (B, T)
    expected = (per_token * mask).sum(-1) / mask.sum(-1)
    got = plot_transport_cost(logits, labels, mask, embedding, cost=kind, chunk_size=3)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_sinkhorn_with_full_support_and_no_anchor_equals_dirac():
    """With lam = 0 the target is δ_y; a plan into a point mass is forced (all mass to y), so entropic OT
    equals the exact cost whatever epsilon, and top_k = V leaves no tail for the rest atom."""
    logits, labels, mask, embedding = _problem(vocab=6)
    ref_ids, ref_logps = reference_topk(torch.randn_like(logits), 6)
    dirac = plot_transport_cost(logits, labels, mask, embedding, variant="dirac")
    sinkhorn = plot_transport_cost(
        logits,
        labels,
        mask,
        embedding,
        variant="sinkhorn",
        ref_topk_ids=ref_ids,
        ref_topk_logps=ref_logps,
        top_k=6,
        lam=0.0,
        max_iter=200,
    )
    torch.testing.assert_close(sinkhorn.to(dirac.dtype), dirac, rtol=1e-5, atol=1e-6)


def test_integer_attention_masks_give_the_bool_mask_result():
    """A 0/1 mask of int64 or int32 (the dtype of an attention mask) selects the same tokens as bool."""
    logits, labels, mask, embedding = _problem()
    expected = plot_transport_cost(logits, labels, mask, embedding)
    for dtype in (torch.int64, torch.int32, torch.uint8):
        torch.testing.assert_close(plot_transport_cost(logits, labels, mask.to(dtype), embedding), expected)


def test_raw_embedding_is_refused_and_its_normalised_copy_accepted():
    """A raw embedding (rows of norm != 1) would silently give costs outside [0, 2]: refused with the fix
    named; normalise_embedding's copy (zero rows stay zero) is accepted."""
    logits, labels, mask, _ = _problem()
    raw = torch.randn(8, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * 5
    with pytest.raises(ValueError, match=r"unit-norm rows \(plot_cost.normalise_embedding"):
        plot_transport_cost(logits, labels, mask, raw)
    raw[2] = 0.0
    cost = plot_transport_cost(logits, labels, mask, normalise_embedding(raw))
    assert bool(((cost >= 0) & (cost <= 2)).all())


def test_variants_dispatch_by_table():
    assert set(VARIANTS) == {"dirac", "sinkhorn"}


def test_sinkhorn_without_reference_topk_raises():
    logits, labels, mask, embedding = _problem()
    with pytest.raises(ValueError, match="ref_topk_ids"):
        plot_transport_cost(logits, labels, mask, embedding, variant="sinkhorn")


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (lambda a: a.update(logits=a["logits"][0]), r"'logits' \(shape \(4, 8\)"),
        (lambda a: a.update(labels=a["labels"][:, :3]), r"'labels' \(shape \(2, 3\)"),
        (
            lambda a: a.update(mask=a["mask"].long() * 2),
            r"'mask' \(shape \(2, 4\), dtype torch.int64\).*0 and 1",
        ),
        (lambda a: a.update(mask=a["mask"].float()), r"'mask' \(shape \(2, 4\), dtype torch.float32\)"),
        (lambda a: a.update(embedding=a["embedding"] * 3.0), r"'embedding' \(shape \(8, 3\).*unit-norm rows"),
        (lambda a: a.update(mask=a["mask"][:1]), r"'mask' \(shape \(1, 4\)"),
        (lambda a: a.update(embedding=a["embedding"][:5]), r"'embedding' \(shape \(5, 3\)"),
        (lambda a: a["mask"][0].fill_(False), r"'mask' \(shape \(2, 4\).*row\(s\) \[0\]"),
        (lambda a: a["labels"].__setitem__((0, 1), 8), r"'labels' \(shape \(2, 4\).*outside \[0, 8\)"),
        (lambda a: a["logits"].__setitem__((1, 0, 2), float("nan")), r"'logits' \(shape \(2, 4, 8\)"),
        (lambda a: a.update(variant="exact"), "'variant'"),
        (lambda a: a.update(cost="manhattan"), "'cost'"),
    ],
)
def test_bad_inputs_raise_value_error_naming_the_argument(change, pattern):
    logits, labels, mask, embedding = _problem()
    args = dict(logits=logits, labels=labels, mask=mask, embedding=embedding, variant="dirac", cost="cosine")
    change(args)
    with pytest.raises(ValueError, match=pattern):
        plot_transport_cost(
            args["logits"],
            args["labels"],
            args["mask"],
            args["embedding"],
            variant=args["variant"],
            cost=args["cost"],
        )


def test_labels_outside_vocabulary_are_allowed_off_the_mask():
    """Masked-out positions may hold anything (e.g. the -100 of the HF convention)."""
    logits, labels, mask, embedding = _problem()
    labels[1, -1] = -100
    assert plot_transport_cost(logits, labels, mask, embedding).shape == (2,)


def test_sinkhorn_rejects_non_finite_logits():
    logits, labels, mask, embedding = _problem()
    ref_ids, ref_logps = reference_topk(logits, 4)
    logits[0, 0, 0] = float("inf")
    with pytest.raises(ValueError, match="'logits'"):
        plot_transport_cost(
            logits,
            labels,
            mask,
            embedding,
            variant="sinkhorn",
            ref_topk_ids=ref_ids,
            ref_topk_logps=ref_logps,
        )


def test_needs_follow_hyperparameters():
    """Dirac: the chosen side's costs (plus the rejected side's with the push); sinkhorn: the reference top-K
    and the policy support of the same K, and the rejected side's dirac costs with the push."""
    assert PLOTLoss().needs == TokenNeeds(cost="cosine", cost_sides=("chosen",))
    pushing = PLOTLoss(variant="sinkhorn", gamma=0.5, top_k=16, cost="l2")
    assert pushing.needs == TokenNeeds(
        rejected=True, reference_topk=16, cost="l2", cost_sides=("rejected",), support_top_k=16
    )
    assert LOSSES["plot"] is PLOTLoss


def test_forward_without_a_cost_embedding_raises():
    logits = torch.zeros(1, 1, 3)
    with pytest.raises(ValueError, match="cost_embedding"):
        PLOTLoss()(PreferenceForward(chosen=_side(logits, torch.zeros(1, 1, dtype=torch.long))))


def test_chosen_only_loss_is_the_transport_cost_and_ignores_rejected():
    """Uniform logits over the three-token vocabulary with y = 0: W = (0 + 1 + 2)/3 = 1."""
    loss = PLOTLoss()
    chosen = _side(torch.zeros(1, 2, 3), torch.zeros(1, 2, dtype=torch.long))
    output = loss(PreferenceForward(chosen=chosen, rejected=None, cost_embedding=THREE_TOKENS))
    torch.testing.assert_close(output.loss, torch.ones(1))
    assert set(output.metrics) == {"chosen_cost"} and not output.metrics["chosen_cost"].requires_grad


def test_rejected_term_is_a_bounded_hinge():
    """Chosen: W = 1 (above). Rejected peaked on its own token: W ~ 0, so with gamma = 2, margin = 0.5 the
    loss is 1 + 2 (0.5 - 0) = 2 = chosen + gamma * margin, the largest the push can add. Rejected uniform with
    y = 0: W = 1 >= margin, the hinge is off and contributes neither value nor gradient."""
    loss = PLOTLoss(gamma=2.0, margin=0.5)
    labels = torch.zeros(1, 2, dtype=torch.long)
    chosen = _side(torch.zeros(1, 2, 3), labels)
    peaked = torch.tensor([40.0, 0.0, 0.0]).expand(1, 2, 3).clone().requires_grad_(True)
    output = loss(PreferenceForward(chosen, _side(peaked, labels), THREE_TOKENS))
    torch.testing.assert_close(output.loss, torch.tensor([2.0]))
    assert float(output.metrics["rejected_cost"]) < 1e-12

    uniform = torch.zeros(1, 2, 3, requires_grad=True)
    output = loss(PreferenceForward(chosen, _side(uniform, labels), THREE_TOKENS))
    torch.testing.assert_close(output.loss, torch.ones(1))
    output.loss.sum().backward()
    assert bool((uniform.grad == 0).all())


def test_rejected_term_bounded_on_random_inputs_and_zero_when_gamma_is_zero():
    logits, labels, _, embedding = _problem(dtype=torch.float32)
    chosen, rejected = _side(logits, labels), _side(-3.0 * logits, labels.flip(0))
    batch = PreferenceForward(chosen=chosen, rejected=rejected, cost_embedding=embedding)
    base = PLOTLoss(gamma=0.0)
    pushing = PLOTLoss(gamma=0.7, margin=1.5)
    extra = pushing(batch).loss - base(batch).loss
    assert bool((extra >= 0).all()) and bool((extra <= 0.7 * 1.5 + 1e-6).all())


def test_rejected_required_when_gamma_positive():
    loss = PLOTLoss(gamma=1.0)
    chosen = _side(torch.zeros(1, 1, 3), torch.zeros(1, 1, dtype=torch.long))
    with pytest.raises(ValueError, match="rejected"):
        loss(PreferenceForward(chosen=chosen, cost_embedding=THREE_TOKENS))


def test_bad_hyperparameters_raise():
    for kwargs in ({"variant": "emd"}, {"cost": "dot"}, {"gamma": -1.0}):
        with pytest.raises(ValueError):
            PLOTLoss(**kwargs)


def test_composite_logs_the_term():
    composite = CompositeLoss(["plot"], [0.5])
    chosen = _side(torch.zeros(1, 2, 3, requires_grad=True), torch.zeros(1, 2, dtype=torch.long))
    total, terms = composite(PreferenceForward(chosen=chosen, cost_embedding=THREE_TOKENS))
    torch.testing.assert_close(total, torch.tensor(0.5))
    assert set(terms) >= {"loss/plot", "plot/chosen_cost", "loss"}
