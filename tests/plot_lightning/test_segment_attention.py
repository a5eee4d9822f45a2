"""Block attention over prefix-shared rows (plot_lightning/segment_attention.py): outputs and gradients
against a float64 masked-softmax oracle written here from the layout's ``allowed`` mask, the independence of
rejected queries from chosen keys (bit-exact), the fallback to the wrapped ``"sdpa"`` (bit-identical), and a
model's packed call going through the blocks in its forward and in gradient checkpointing's recompute."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from plot_lightning import segment_attention
from plot_lightning.models.tiny import tiny_model
from plot_lightning.prefix_sharing import packed_call, share_prefixes
from plot_lightning.segment_attention import segment_blocks


def _layout():
    """Four pairs: prefixes of 4, 0 (nothing shared), 3 with a rejected row equal to the prefix (no rejected
    suffix), and 2; packed first-fit into rows of the longest segment, so rows hold several segments and end
    in padding."""
    gen = torch.Generator().manual_seed(0)
    width = 9
    ids = torch.randint(3, 50, (8, width), generator=gen)
    chosen, rejected, prefix = [9, 5, 6, 4], [7, 4, 3, 5], [4, 0, 3, 2]
    for pair in range(4):
        ids[4 + pair, : prefix[pair]] = ids[pair, : prefix[pair]]
        if prefix[pair] < min(chosen[pair], rejected[pair]):  # the first suffix tokens differ
            ids[4 + pair, prefix[pair]] = (ids[pair, prefix[pair]] + 1) % 50 + 3
    lengths = torch.tensor(chosen + rejected)
    mask = (torch.arange(width)[None] < lengths[:, None]).long()
    return share_prefixes(ids, mask)


def _oracle(query, key, value, allowed, scale):
    """Softmax attention over ``allowed`` (R, 1, L, L), grouped queries by repetition (float64 inputs)."""
    group = query.shape[1] // key.shape[1]
    key, value = key.repeat_interleave(group, 1), value.repeat_interleave(group, 1)
    scores = (query @ key.transpose(-1, -2)) * scale
    return scores.masked_fill(~allowed, float("-inf")).softmax(-1) @ value


def test_layout_segments_by_hand() -> None:
    layout = _layout()
    sizes = [end - start for _, start, _, _, end in layout.segments]
    assert sorted(sizes) == [6, 7, 9, 12]  # chosen + rejected - prefix: 6+3-3, 4+5-2, 5+4-0, 9+7-4
    for row, start, prefix_end, chosen_end, end in layout.segments:
        assert layout.chosen_slots[row, prefix_end:chosen_end].all()  # the chosen suffix, nothing else
        assert not layout.chosen_slots[row, start:prefix_end].any()
        assert not layout.chosen_slots[row, chosen_end:end].any()
    assert any(chosen_end == end for *_, chosen_end, end in layout.segments)  # a pair with no rejected suffix


@pytest.mark.parametrize("heads, kv_heads", [(4, 4), (6, 2)])
def test_blocks_equal_the_masked_oracle_values_and_gradients(heads: int, kv_heads: int) -> None:
    layout = _layout()
    rows, length = layout.input_ids.shape
    gen = torch.Generator().manual_seed(1)
    query = torch.randn(rows, heads, length, 8, generator=gen, requires_grad=True)
    key = torch.randn(rows, kv_heads, length, 8, generator=gen, requires_grad=True)
    value = torch.randn(rows, kv_heads, length, 8, generator=gen, requires_grad=True)
    out = segment_blocks(query, key, value, layout.segments, scaling=0.3)
    leaves = [t.detach().double().requires_grad_() for t in (query, key, value)]
    expected = _oracle(*leaves, layout.allowed, 0.3)
    real = layout.position_ids.new_zeros(rows, length, dtype=torch.bool)
    for row, start, _, _, end in layout.segments:
        real[row, start:end] = True
    real_q = real[:, None, :, None].expand_as(out)
    torch.testing.assert_close(out[real_q].double(), expected[real_q], atol=1e-6, rtol=1e-6)
    assert torch.equal(out[~real_q], torch.zeros_like(out[~real_q]))  # padding attends nothing
    upstream = torch.randn(out.shape, generator=gen) * real_q
    ours = torch.autograd.grad(out, (query, key, value), upstream)
    theirs = torch.autograd.grad(expected, leaves, upstream.double())
    for mine, oracle in zip(ours, theirs, strict=True):
        torch.testing.assert_close(mine.double(), oracle, atol=1e-5, rtol=1e-5)


def test_rejected_queries_never_read_chosen_keys() -> None:
    layout = _layout()
    rows, length = layout.input_ids.shape
    gen = torch.Generator().manual_seed(2)
    query, key, value = (torch.randn(rows, 2, length, 4, generator=gen) for _ in range(3))
    chosen = layout.chosen_slots[:, None, :, None]
    out = segment_blocks(query, key, value, layout.segments)
    changed = segment_blocks(
        query, torch.where(chosen, key + 3, key), torch.where(chosen, -value, value), layout.segments
    )
    rejected = torch.zeros_like(chosen)
    for row, _, _, chosen_end, end in layout.segments:
        rejected[row, :, chosen_end:end] = True
    assert torch.equal(out[rejected.expand_as(out)], changed[rejected.expand_as(out)])
    assert not torch.equal(out, changed)  # the chosen queries did read them


def test_misplaced_segments_are_refused() -> None:
    query = torch.zeros(1, 2, 6, 4)
    with pytest.raises(ValueError, match=r"segment \(0, 1, 2, 4, 6\) does not follow"):
        segment_blocks(query, query, query, [(0, 1, 2, 4, 6)])  # starts at 1: a gap after 0
    with pytest.raises(ValueError, match=r"not \(R, H, L, D\)"):
        segment_blocks(query, torch.zeros(1, 3, 6, 4), torch.zeros(1, 3, 6, 4), [(0, 0, 2, 4, 6)])


def test_without_segments_or_with_a_softcap_the_wrapped_sdpa_runs_unchanged() -> None:
    segment_attention.install()
    wrapped = segment_attention._wrapped["sdpa"]
    layout = _layout()
    rows, length = layout.input_ids.shape
    gen = torch.Generator().manual_seed(3)
    query, key, value = (torch.randn(rows, 2, length, 4, generator=gen) for _ in range(3))
    module = torch.nn.Module()
    plain, _ = wrapped(module, query, key, value, layout.allowed, scaling=0.5)
    bidirectional = {"is_causal": False, "prefix_segments": layout.segments}
    for extra in (
        {},
        {"softcap": None, "sliding_window": 3, "prefix_segments": layout.segments},
        bidirectional,
    ):
        out, _ = segment_attention.segment_attention(
            module, query, key, value, layout.allowed, scaling=0.5, **extra
        )
        assert torch.equal(out, plain)  # a window shorter than a segment: the masked call, bit for bit
    blocks, _ = segment_attention.segment_attention(
        module, query, key, value, layout.allowed, scaling=0.5, prefix_segments=layout.segments
    )
    assert not torch.equal(blocks, plain)  # the blocks ran (padding rows are zeros, not self-attention)


def test_a_models_packed_call_runs_the_blocks_in_forward_and_recompute(monkeypatch) -> None:
    calls = []
    original = segment_attention.segment_blocks
    monkeypatch.setattr(
        segment_attention, "segment_blocks", lambda *a, **k: calls.append(1) or original(*a, **k)
    )
    model = tiny_model(64, seed=4)
    model.set_attn_implementation("sdpa")
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    layout = _layout()
    out = packed_call(model, layout).logits
    forward_calls = len(calls)
    assert forward_calls == model.config.num_hidden_layers
    out.float().logsumexp(-1).sum().backward()
    assert len(calls) == 2 * forward_calls  # the recomputed forward took the blocks too
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    masked = packed_call(model, dataclasses.replace(layout, segments=())).logits  # the masked square
    assert len(calls) == 2 * forward_calls
    torch.testing.assert_close(out, masked, atol=1e-5, rtol=1e-5)
    masked.float().logsumexp(-1).sum().backward()
    for mine, theirs in zip(grads, (p.grad for p in model.parameters()), strict=True):
        torch.testing.assert_close(mine, theirs, atol=1e-5, rtol=1e-4)
