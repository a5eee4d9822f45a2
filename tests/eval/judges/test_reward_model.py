"""RewardModelJudge on a tiny sequence classifier built from a config: P(A) = sigmoid(rA - rB)."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import LlamaConfig, LlamaForSequenceClassification

from plot_eval.judges.base import JudgeContext
from plot_eval.judges.reward_model import RewardModelJudge, RewardModelSettings


def _judge(folder) -> RewardModelJudge:
    return RewardModelJudge(RewardModelSettings(model=str(folder)), JudgeContext(pool=None))


@pytest.fixture(scope="module")
def reward_dir(tmp_path_factory, tiny_tokenizer):
    config = LlamaConfig(
        vocab_size=len(tiny_tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        num_labels=1,
        pad_token_id=0,
    )
    torch.manual_seed(0)
    model = LlamaForSequenceClassification(config)
    folder = tmp_path_factory.mktemp("tiny-reward")
    model.save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    return folder


def test_probability_is_sigmoid_of_reward_difference(reward_dir):
    judge = _judge(reward_dir)
    prompt, a, b = "How do I bake bread?", "Mix flour, water, yeast and salt.", "I am sorry."
    r_a, r_b = judge.reward(prompt, a), judge.reward(prompt, b)
    assert r_a != r_b
    assert judge.compare(prompt, a, b) == pytest.approx(1.0 / (1.0 + math.exp(-(r_a - r_b))), rel=1e-6)
    assert judge.compare(prompt, a, b) + judge.compare(prompt, b, a) == pytest.approx(1.0)


def test_reward_reads_chat_formatted_conversation(reward_dir):
    judge = _judge(reward_dir)
    text = judge._text("Q?", "Answer.")
    assert text == "<|im_start|>user\nQ?<|im_end|>\n<|im_start|>assistant\nAnswer.<|im_end|>\n"


def test_rejects_multi_label_classifier(tmp_path, tiny_tokenizer):
    config = LlamaConfig(
        vocab_size=len(tiny_tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        num_labels=3,
        pad_token_id=0,
    )
    LlamaForSequenceClassification(config).save_pretrained(tmp_path)
    tiny_tokenizer.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="num_labels=3"):
        _judge(tmp_path).compare("Q", "a", "b")
