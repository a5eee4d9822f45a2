"""token_logps / sequence_logps / split_pairs against a naive fp64 oracle and hand values."""

from __future__ import annotations

import math

import pytest
import torch

from plot_lightning.losses.logprobs import sequence_logps, split_pairs, token_logps


def _naive(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Oracle: gather of log_softmax computed in fp64, zeroed where masked."""
    logp = torch.log_softmax(logits.double(), dim=-1).gather(-1, labels.masked_fill(~mask, 0)[..., None])
    return logp.squeeze(-1) * mask


def _inputs(seed: int = 0, batch: int = 3, length: int = 5, vocab: int = 11):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, length, vocab, generator=gen) * 3
    labels = torch.randint(0, vocab, (batch, length), generator=gen)
    mask = torch.rand(batch, length, generator=gen) > 0.3
    mask[:, 0] = True
    return logits, labels, mask


def test_hand_value_uniform_logits():
    """Equal logits over V = 4 tokens: every token has log-prob ln(1/4); masked positions give 0."""
    logits = torch.zeros(1, 2, 4)
    out = token_logps(logits, torch.tensor([[3, 1]]), torch.tensor([[True, False]]))
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, torch.tensor([[-math.log(4.0), 0.0]]))


@pytest.mark.parametrize("chunk", [1, 4, 1024])
def test_matches_naive_fp64_gather(chunk):
    """Any chunking equals log_softmax(logits.double()).gather(labels) on masked-in positions, 0 elsewhere."""
    logits, labels, mask = _inputs()
    out = token_logps(logits, labels, mask, chunk=chunk)
    torch.testing.assert_close(out.double(), _naive(logits, labels, mask), atol=1e-5, rtol=1e-5)
    assert bool((out[~mask] == 0).all())


def test_masked_positions_are_ignored():
    """Labels (even -100 or >= V) and logits at masked positions change nothing, gradient included."""
    logits, labels, mask = _inputs()
    noisy_logits = logits.clone()
    noisy_logits[~mask] = 1e4
    noisy_labels = labels.masked_fill(~mask, -100)
    torch.testing.assert_close(
        token_logps(noisy_logits, noisy_labels, mask), token_logps(logits, labels, mask)
    )
    leaf = logits.clone().requires_grad_(True)
    token_logps(leaf, labels, mask).sum().backward()
    assert bool((leaf.grad[~mask] == 0).all())


def test_gradient_matches_autograd_of_naive_fp64():
    """Custom backward: d logp_t/d z_v = 1[v = y_t] - softmax(z_t)_v, checked by gradcheck in fp64."""
    logits, labels, mask = _inputs(batch=2, length=3, vocab=5)
    leaf = logits.double().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda z: token_logps(z, labels, mask, chunk=2), (leaf,))
    weights = torch.randn(2, 3, dtype=torch.float64)
    (token_logps(leaf, labels, mask) * weights).sum().backward()
    oracle = leaf.detach().clone().requires_grad_(True)
    (_naive(oracle, labels, mask) * weights).sum().backward()
    torch.testing.assert_close(leaf.grad, oracle.grad)


def test_bf16_logits_give_fp32_logps_and_bf16_grads():
    """bf16 logits: log-probs in fp32 (equal to the fp64 oracle on the same bf16 values), grads in bf16."""
    logits, labels, mask = _inputs()
    half = logits.bfloat16().requires_grad_(True)
    out = token_logps(half, labels, mask)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.double(), _naive(half.detach(), labels, mask), atol=1e-5, rtol=1e-5)
    out.sum().backward()
    assert half.grad.dtype == torch.bfloat16


def test_fp64_in_fp64_out():
    logits, labels, mask = _inputs()
    assert token_logps(logits.double(), labels, mask).dtype == torch.float64


def test_sequence_logps_sum_and_average():
    """Uniform logits over V = 4, lengths 2 and 1: sums -2 ln 4 and -ln 4; averages -ln 4 both."""
    logits = torch.zeros(2, 3, 4)
    labels = torch.zeros(2, 3, dtype=torch.long)
    mask = torch.tensor([[True, True, False], [False, False, True]])
    ln4 = math.log(4.0)
    torch.testing.assert_close(sequence_logps(logits, labels, mask), torch.tensor([-2 * ln4, -ln4]))
    torch.testing.assert_close(sequence_logps(logits, labels, mask, average=True), torch.tensor([-ln4, -ln4]))


@pytest.mark.parametrize(
    ("change", "argument"),
    [
        (lambda z, y, m: (z[0], y, m), "logits"),
        (lambda z, y, m: (z, y[:, :2], m), "labels"),
        (lambda z, y, m: (z, y, m.long()), "mask"),
        (lambda z, y, m: (z, y.masked_fill(m, 11), m), "labels"),
        (lambda z, y, m: (z.masked_fill(torch.ones_like(z, dtype=torch.bool), float("nan")), y, m), "logits"),
    ],
)
def test_bad_inputs_raise_naming_the_argument(change, argument):
    logits, labels, mask = _inputs()
    with pytest.raises(ValueError, match=f"'{argument}'"):
        token_logps(*change(logits, labels, mask))


def test_empty_response_mask_rejected_by_sequence_logps():
    logits, labels, mask = _inputs()
    mask[1] = False
    with pytest.raises(ValueError, match="'mask'.*row"):
        sequence_logps(logits, labels, mask)


def test_split_pairs():
    """Rows [0, B) are chosen, [B, 2B) rejected; odd first dimension is an error."""
    x = torch.arange(8).reshape(4, 2)
    chosen, rejected = split_pairs(x)
    assert chosen.tolist() == [[0, 1], [2, 3]] and rejected.tolist() == [[4, 5], [6, 7]]
    with pytest.raises(ValueError, match="'x'.*even"):
        split_pairs(torch.zeros(3, 2))


def saved_for_backward(function):
    """Run ``function()`` recording every tensor autograd saves: ``(result, [(storage ptr, bytes)])``."""
    saved: list[tuple[int, int]] = []

    def pack(tensor):
        storage = tensor.untyped_storage()
        saved.append((storage.data_ptr(), storage.nbytes()))
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        result = function()
    return result, saved


@pytest.mark.parametrize("chunk", [1024, 5])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_no_copy_of_the_logits_is_kept_for_backward(chunk, dtype):
    """The aligned view ``logits[:, :-1]`` is non-contiguous; ``token_logps`` must save it as is.

    Every saved tensor is either the model's logits storage itself or small (labels: B*T int64). Reshaping
    the view to ``(B*T, V)`` would copy it and keep that copy (as large as the logits) until backward.
    """
    gen = torch.Generator().manual_seed(0)
    model_logits = torch.randn(3, 9, 50, generator=gen).to(dtype).requires_grad_()  # the model's output
    aligned = model_logits[:, :-1]  # (3, 8, 50), a strided view as the module makes
    labels = torch.randint(0, 50, (3, 8), generator=gen)
    mask = torch.ones(3, 8, dtype=torch.bool)
    result, saved = saved_for_backward(lambda: token_logps(aligned, labels, mask, chunk=chunk))
    logits_storage = model_logits.untyped_storage().data_ptr()
    other_bytes = sum(size for pointer, size in saved if pointer != logits_storage)
    assert any(pointer == logits_storage for pointer, _ in saved)
    assert other_bytes <= labels.numel() * 8 + 1024, saved  # at most the labels and small bookkeeping
    # The gradient is still right: d/dz log softmax(z)[y] = onehot(y) - softmax(z).
    result.sum().backward()
    expected = torch.nn.functional.one_hot(labels, 50).float() - torch.softmax(aligned.detach().float(), -1)
    torch.testing.assert_close(
        model_logits.grad[:, :-1].float(), expected, atol=1e-2 if dtype == torch.bfloat16 else 1e-6, rtol=0
    )
    assert bool((model_logits.grad[:, -1] == 0).all())
