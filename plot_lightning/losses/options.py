"""Each loss's options as a typed dataclass, generated from the loss's constructor (the signature is the
schema, its ``Args:`` docstring the help text), and the validation of ``loss_args`` against them.

``LossArgs`` has one field per registered loss, so ``plot-lightning fit --help`` shows every option and
``--model.loss_args.dpo.beta 0.2`` parses. :func:`validate_loss_args` checks a plain mapping (Python API, YAML).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import sys
import typing
from collections.abc import Mapping
from typing import Any, Literal

from .registry import LOSSES


class LossOptionError(ValueError):
    """A loss option with a wrong name or value; the message names the loss, the option and the choices."""


def _options_class(name: str, loss_cls: type) -> type:
    """A dataclass with one field per constructor argument of ``loss_cls`` (type and default kept)."""
    hints = typing.get_type_hints(loss_cls.__init__)
    fields = [
        (param.name, hints[param.name], dataclasses.field(default=param.default))
        for param in inspect.signature(loss_cls.__init__).parameters.values()
        if param.name != "self"
    ]
    class_name = f"{loss_cls.__name__.removesuffix('Loss')}Options"
    options = dataclasses.make_dataclass(class_name, fields)
    options.__module__ = __name__
    options.__doc__ = f"Options of the '{name}' loss ({loss_cls.__name__}). {inspect.getdoc(loss_cls) or ''}"
    return options


LOSS_OPTIONS: dict[str, type] = {name: _options_class(name, cls) for name, cls in LOSSES.items()}
for _options in LOSS_OPTIONS.values():  # importable by name, as jsonargparse and pickle expect
    setattr(sys.modules[__name__], _options.__name__, _options)

LossArgs = dataclasses.make_dataclass(
    "LossArgs",
    [(name, options, dataclasses.field(default_factory=options)) for name, options in LOSS_OPTIONS.items()],
)
LossArgs.__module__ = __name__
LossArgs.__doc__ = "Options per loss; only the losses named in 'losses' may be given.\n\nArgs:\n" + "".join(
    f"    {name}: options of the '{name}' loss ({LOSSES[name].__name__}).\n" for name in LOSS_OPTIONS
)


def options_of(name: str) -> type:
    """The options dataclass of registered loss ``name`` (built on demand for a loss registered later)."""
    return LOSS_OPTIONS.get(name) or _options_class(name, LOSSES[name])


def describe_options(name: str) -> str:
    """``"beta: float = 0.1, label_smoothing: float = 0.0"`` for loss ``name`` (or ``"none"``)."""
    fields = dataclasses.fields(options_of(name))
    return ", ".join(f"{f.name}: {_type_name(f.type)} = {f.default!r}" for f in fields) or "none"


def _type_name(annotation: Any) -> str:
    if typing.get_origin(annotation) is Literal:
        return " | ".join(repr(choice) for choice in typing.get_args(annotation))
    return getattr(annotation, "__name__", str(annotation))


def _coerce(loss: str, option: str, annotation: Any, value: Any) -> Any:
    """``value`` as ``annotation`` (float, int, bool, str or Literal), or a ValueError naming everything."""
    where = f"loss '{loss}' option '{option}'"
    if typing.get_origin(annotation) is Literal:
        choices = typing.get_args(annotation)
        if value not in choices:
            raise LossOptionError(f"{where} must be one of {list(choices)}, got {value!r}")
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise LossOptionError(f"{where} must be true or false, got {value!r} ({type(value).__name__})")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise LossOptionError(f"{where} must be an integer, got {value!r} ({type(value).__name__})")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise LossOptionError(f"{where} must be a finite number, got {value!r} ({type(value).__name__})")
        return float(value)
    if annotation is str and not isinstance(value, str):
        raise LossOptionError(f"{where} must be a string, got {value!r} ({type(value).__name__})")
    return value


def _is_default(name: str, options: Any) -> bool:
    defaults = options_of(name)()
    if dataclasses.is_dataclass(options):
        return options == defaults
    return isinstance(options, Mapping) and all(
        getattr(defaults, k, object()) == v for k, v in options.items()
    )


def _as_mapping(losses: list[str], loss_args: Any) -> dict[str, Any]:
    """The options given, minus those of unused losses that only repeat the defaults (a saved, fully
    resolved config lists every loss)."""
    if loss_args is None:
        return {}
    if isinstance(loss_args, LossArgs):
        loss_args = {f.name: getattr(loss_args, f.name) for f in dataclasses.fields(loss_args)}
    if not isinstance(loss_args, Mapping):
        raise LossOptionError(f"'loss_args' must map loss names to options, got {type(loss_args).__name__}")
    return {
        name: value
        for name, value in loss_args.items()
        if value is not None and (name in losses or name not in LOSSES or not _is_default(name, value))
    }


def validate_loss_args(losses: list[str], loss_args: Any) -> dict[str, dict[str, Any]]:
    """Plain ``{loss: {option: value}}`` for ``loss_args`` (a mapping or a :data:`LossArgs`), checked.

    Raises:
        LossOptionError: (a ValueError) for a loss not in ``losses``, an unknown option (listing the loss's options with
            their types and defaults) or a value of the wrong type, including non-finite floats.
    """
    checked: dict[str, dict[str, Any]] = {}
    for name, options in _as_mapping(losses, loss_args).items():
        if name not in losses:
            raise LossOptionError(
                f"'loss_args' has options for '{name}', which is not in 'losses' {list(losses)}"
            )
        if dataclasses.is_dataclass(options):
            options = dataclasses.asdict(options)
        if not isinstance(options, Mapping):
            raise LossOptionError(f"'loss_args.{name}' must map option names to values, got {options!r}")
        fields = {f.name: f for f in dataclasses.fields(options_of(name))}
        unknown = sorted(set(options) - set(fields))
        if unknown:
            raise LossOptionError(
                f"loss '{name}' has no option(s) {unknown}; its options are: {describe_options(name)}"
            )
        checked[name] = {key: _coerce(name, key, fields[key].type, value) for key, value in options.items()}
    return checked
