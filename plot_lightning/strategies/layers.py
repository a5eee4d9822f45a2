"""Find the decoder-layer classes of a Hugging Face causal LM (the unit that FSDP wraps / shards)."""

from __future__ import annotations

from torch import nn


def decoder_layer_classes(model: nn.Module) -> set[type[nn.Module]]:
    """Classes named in any submodule's ``_no_split_modules`` (HF convention), else the class of
    ``model.model.layers[0]`` (or ``model.layers[0]``); ValueError if neither exists."""
    wanted: set[str] = set()
    for module in model.modules():
        wanted.update(getattr(module, "_no_split_modules", None) or [])
    found = {type(module) for module in model.modules() if type(module).__name__ in wanted}
    if found:
        return found
    for owner in (getattr(model, "model", None), model):
        layers = getattr(owner, "layers", None)
        if isinstance(layers, nn.ModuleList) and len(layers):
            return {type(layers[0])}
    raise ValueError(
        f"cannot find decoder layers in {type(model).__name__}: no '_no_split_modules' and no 'model.layers'"
    )


def decoder_layers(model: nn.Module) -> list[nn.Module]:
    """Every submodule of ``model`` whose class is a decoder-layer class, in module order."""
    classes = tuple(decoder_layer_classes(model))
    return [module for module in model.modules() if isinstance(module, classes)]
