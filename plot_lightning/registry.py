"""Registries: configuration names -> the class registered under each (losses, reference modes).

A component registers itself where it is defined (``@LOSSES.register("dpo")`` on ``class DPOLoss``); the
built-in modules are imported on the first lookup, and code outside the package registers the same way.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping


class Registry(Mapping[str, type]):
    """A read-only mapping name -> class, filled by :meth:`register`; iterated in name order, whatever order
    the modules were imported in."""

    def __init__(self, what: str, builtin_modules: tuple[str, ...]) -> None:
        self.what = what
        self._builtin_modules = builtin_modules
        self._classes: dict[str, type] = {}
        self._loaded = False

    def register(self, name: str) -> Callable[[type], type]:
        """Class decorator registering its class under ``name``; a name taken by another class is refused."""

        def decorator(cls: type) -> type:
            taken = self._classes.get(name)
            if taken is not None and taken is not cls:
                raise ValueError(f"{self.what} {name!r} is already registered by {taken.__qualname__}")
            self._classes[name] = cls
            return cls

        return decorator

    def unregister(self, name: str) -> None:
        """Remove ``name`` (a component registered for a while, e.g. by a test)."""
        del self._classes[name]

    def _all(self) -> dict[str, type]:
        if not self._loaded:
            self._loaded = True
            for module in self._builtin_modules:
                importlib.import_module(module)
        return self._classes

    def __getitem__(self, name: str) -> type:
        return self._all()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._all()))

    def __len__(self) -> int:
        return len(self._all())
