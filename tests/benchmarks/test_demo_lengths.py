"""The prompt/response mix of the speed benchmarks (``benchmarks/demo_lengths.py``): the committed counts are
the demo pairs' under SmolLM2's tokenizer, random models take them, and a stub tokenizer is refused."""

from __future__ import annotations

import pytest


def test_the_committed_counts_are_the_demo_pairs_under_smollm2():
    """Fails when the demo data or the chat template changes without ``demo_lengths.py`` being re-run."""
    import demo_lengths

    assert demo_lengths.committed() == demo_lengths.measured("smollm2-135m-instruct")


def test_the_committed_mix_is_the_documented_one():
    """185 pairs, prompts 59% of the rows' tokens, every part at least one token, rejected rows not all equal
    to the chosen ones (the degenerate stub reading gave (1, 1, 1) for every pair)."""
    import demo_lengths

    triples = demo_lengths.committed()
    prompt, chosen, rejected = (sum(part) for part in zip(*triples, strict=True))
    assert len(triples) == 185 and len(set(triples)) > 150
    assert 2 * prompt / (2 * prompt + chosen + rejected) == pytest.approx(0.588, abs=0.001)
    assert min(min(triple) for triple in triples) >= 1


def test_a_random_model_takes_the_committed_counts_and_its_stub_tokenizer_is_refused(tmp_path):
    """By name, a random spec reads the committed counts; its folder's 3-token tokenizer, asked directly,
    raises instead of giving the one-token-per-part mix that made every Gemma row half prompt."""
    import demo_lengths
    from random_models import random_model_folder
    from speed_one import sample_lengths

    folder = str(random_model_folder("random-gemma3-tiny", tmp_path))
    assert sample_lengths("random-gemma3-tiny", folder) == demo_lengths.committed()
    with pytest.raises(ValueError, match=r"median \(prompt, chosen, rejected\) = \(1, 1, 1\) tokens: a stub"):
        sample_lengths(folder, folder)
