"""Autocast off for the fp32 math (log-softmax, log-probs, OT), whatever the training precision.

Under ``bf16-mixed`` the precision plugin runs the whole step inside ``torch.autocast``, which would run the
matrix products of the PLOT kernels (cost rows ``Ê[y] @ Ê^T``, ``p @ C``) in bf16 even on fp32 inputs.
:func:`full_precision` switches autocast off for every device type on which it is on, for the duration of a
call; the math then runs in the dtype it chooses itself (fp32, fp64 for fp64 inputs).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import TypeVar

import torch
from torch import Tensor

_DEVICE_TYPES = ("cpu", "cuda", "xpu", "mps", "hpu")
F = TypeVar("F", bound=Callable)


def _autocast_on(device_type: str) -> bool:
    try:
        return torch.is_autocast_enabled(device_type)
    except (RuntimeError, ValueError):  # a device type this build does not know
        return False


@contextlib.contextmanager
def full_precision() -> Iterator[None]:
    """Disable autocast on every device type where it is enabled (a no-op when none is)."""
    with contextlib.ExitStack() as stack:
        for device_type in _DEVICE_TYPES:
            if _autocast_on(device_type):
                stack.enter_context(torch.autocast(device_type=device_type, enabled=False))
        yield


def fp32_math(function: F) -> F:
    """Decorator: run ``function`` under :func:`full_precision`."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with full_precision():
            return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def compute_dtype(*tensors: Tensor) -> torch.dtype:
    """The dtype the fp32 math runs in for these inputs: fp64 when any is fp64, else fp32."""
    return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32
