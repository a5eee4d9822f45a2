"""Loss options: one typed dataclass per registered loss, and errors that name the loss, the option and the
valid choices (never a raw TypeError from a constructor)."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from plot_lightning.losses.composite import CompositeLoss
from plot_lightning.losses.options import LOSS_OPTIONS, LossArgs, describe_options, validate_loss_args
from plot_lightning.losses.registry import LOSSES


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_options_mirror_the_constructor(name):
    """Every constructor argument is a field with the same default; the docstring carries the Args."""
    parameters = [p for p in inspect.signature(LOSSES[name].__init__).parameters.values() if p.name != "self"]
    fields = dataclasses.fields(LOSS_OPTIONS[name])
    assert [(f.name, f.default) for f in fields] == [(p.name, p.default) for p in parameters]
    assert all(f"{f.name}:" in LOSS_OPTIONS[name].__doc__ for f in fields)  # documented in Args


@pytest.mark.parametrize(
    ("loss_args", "match"),
    [
        (
            {"plot": {"epsilom": 0.1}},
            r"loss 'plot' has no option\(s\) \['epsilom'\]; its options are: .*epsilon: float",
        ),
        (
            {"dpo": {"beta": "Infinity"}},
            r"loss 'dpo' option 'beta' must be a finite number, got 'Infinity' \(str\)",
        ),
        ({"dpo": {"beta": float("inf")}}, r"loss 'dpo' option 'beta' must be a finite number, got inf"),
        ({"dpo": {"beta": True}}, r"loss 'dpo' option 'beta' must be a finite number, got True"),
        (
            {"plot": {"variant": "sinkhorm"}},
            r"loss 'plot' option 'variant' must be one of \['dirac', 'sinkhorn'\]",
        ),
        ({"plot": {"top_k": 3.5}}, r"loss 'plot' option 'top_k' must be an integer, got 3.5"),
        ({"plot": {"debias": "yes"}}, r"loss 'plot' option 'debias' must be true or false"),
        ({"ipo": {"beta": 1.0}}, r"'loss_args' has options for 'ipo', which is not in 'losses'"),
    ],
)
def test_wrong_name_or_type_names_the_loss_option_and_choices(loss_args, match):
    with pytest.raises(ValueError, match=match):
        CompositeLoss(["dpo", "plot"], [1.0, 0.1], loss_args)


def test_a_value_the_loss_refuses_is_reported_with_the_loss_and_its_options():
    with pytest.raises(ValueError, match=r"loss 'dpo': 'beta' must be > 0, got -1.0; its options are: beta"):
        CompositeLoss(["dpo"], [1.0], {"dpo": {"beta": -1.0}})


def test_typed_loss_args_from_the_cli():
    """A LossArgs (what LightningCLI builds) keeps the used losses' options; an unused loss may keep its
    defaults but not set one."""
    args = LossArgs()
    args.dpo = dataclasses.replace(args.dpo, beta=0.5)
    assert validate_loss_args(["dpo", "plot"], args)["dpo"] == {"beta": 0.5}
    assert validate_loss_args(["dpo"], args).keys() == {"dpo"}
    args.ipo = dataclasses.replace(args.ipo, beta=0.2)
    with pytest.raises(ValueError, match="'ipo', which is not in 'losses'"):
        validate_loss_args(["dpo"], args)
    assert CompositeLoss(["dpo"], [1.0], LossArgs()).terms["dpo"].beta == 0.1


def test_integers_are_accepted_as_floats():
    assert validate_loss_args(["dpo"], {"dpo": {"beta": 1}}) == {"dpo": {"beta": 1.0}}
    assert describe_options("sft") == "reduction: 'token' | 'example' = 'token'"


def test_a_fully_resolved_config_lists_every_loss_at_its_defaults():
    """`--print_config` / the saved config.yaml list every loss's options; unused ones at their defaults are
    accepted (re-running or exporting from that file works), a changed one is not."""
    full = {name: dataclasses.asdict(options()) for name, options in LOSS_OPTIONS.items()}
    full["dpo"]["beta"] = 0.3
    assert validate_loss_args(["dpo"], full) == {"dpo": {"beta": 0.3}}
    full["ipo"]["beta"] = 0.7
    with pytest.raises(ValueError, match="'ipo', which is not in 'losses'"):
        validate_loss_args(["dpo"], full)


def test_plot_has_no_chunk_size_option_it_would_ignore():
    """The training heads compute PLOT's cost with their own chunking (``fused_chunk_size``), so a
    ``loss_args.plot.chunk_size`` would change nothing: it is refused, naming the option."""
    with pytest.raises(ValueError, match=r"loss 'plot' has no option\(s\) \['chunk_size'\]"):
        CompositeLoss(["plot"], [1.0], {"plot": {"chunk_size": 1}})
