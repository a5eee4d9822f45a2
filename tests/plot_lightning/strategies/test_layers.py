"""Decoder-layer discovery used by both FSDP flavours."""

from __future__ import annotations

import pytest
from torch import nn
from transformers.models.llama.modeling_llama import LlamaDecoderLayer

from plot_lightning.models.tiny import tiny_model
from plot_lightning.strategies.cpu_fsdp import CPUFSDPStrategy
from plot_lightning.strategies.layers import decoder_layer_classes, decoder_layers


def test_finds_llama_decoder_layers() -> None:
    model = tiny_model(64, num_layers=3)
    assert decoder_layer_classes(model) == {LlamaDecoderLayer}
    assert len(decoder_layers(model)) == 3


def test_falls_back_to_model_layers_and_errors_clearly() -> None:
    class Block(nn.Module):
        pass

    class Inner(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.ModuleList([Block(), Block()])

    class Outer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = Inner()

    assert decoder_layer_classes(Outer()) == {Block}
    with pytest.raises(ValueError, match="decoder layers"):
        decoder_layer_classes(nn.Linear(2, 2))


def test_cpu_fsdp_defaults_to_sharded_checkpoints() -> None:
    assert CPUFSDPStrategy()._state_dict_type == "sharded"
