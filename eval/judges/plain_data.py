"""Plain data as JSON: the only form in which values cross between the code under test and the verdict.

Plain data is ``None``, ``bool``, ``int``, ``float`` (``nan`` and infinities included), ``str``, ``bytes``,
``complex``, those types themselves (``int`` as a value), and ``list``, ``tuple``, ``set``, ``frozenset``
and ``dict`` of plain data. JSON keeps ``None``, booleans, integers, floats (``1.0`` stays a float:
``repr`` round-trips every float exactly), strings and lists as they are; every other type is a one-key
object naming it, e.g. ``(1, 2)`` is ``{"tuple": [1, 2]}`` and ``{1: "a"}`` is ``{"dict": [[1, "a"]]}``.
A JSON object is never anything else, so decoding can only build those built-in types: no value a
program produced can carry its own ``__eq__``.

``encode`` runs next to untrusted code (it is only as honest as that code, and need not be more: what it
writes is the program's claim about its outputs). ``decode`` is the trusted side; it rejects anything
that is not exactly this format. Standard library only: the sandbox harness uses this file too.
"""

from __future__ import annotations

MAX_DEPTH = 100  # nesting, both ways: deeper values are refused rather than risking the recursion limit
_CONTAINERS = {"tuple": tuple, "set": set, "frozenset": frozenset}
_TYPES = (type(None), bool, int, float, str, bytes, complex, list, tuple, set, frozenset, dict)


class NotPlainDataError(ValueError):
    """The value (or document) is not plain data in the format above."""


def _encode_scalar(value):
    """The JSON form of a scalar, or NotImplemented. Subclasses become their base type: the base type's
    own method reads the underlying value, whatever the subclass overrides."""
    if value is None or value is True or value is False:
        return value
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bytes):
        return {"bytes": bytes.hex(value)}
    if isinstance(value, complex):
        return {"complex": [complex.real.__get__(value), complex.imag.__get__(value)]}
    for kind in _TYPES:
        if value is kind:  # the type itself (MBPP 533: remove_datatype(values, int))
            return {"type": kind.__name__}
    return NotImplemented


def encode(value, depth: int = 0):
    """The JSON-able form of ``value``; raises NotPlainDataError (naming the type) for anything else."""
    if depth > MAX_DEPTH:
        raise NotPlainDataError(f"nested deeper than {MAX_DEPTH}")
    scalar = _encode_scalar(value)
    if scalar is not NotImplemented:
        return scalar
    if isinstance(value, list):
        return [encode(item, depth + 1) for item in list.copy(value)]
    if isinstance(value, dict):
        return {"dict": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in dict.items(value)]}
    for tag, kind in _CONTAINERS.items():
        if isinstance(value, kind):
            return {tag: [encode(item, depth + 1) for item in kind.__iter__(value)]}
    raise NotPlainDataError(f"a {type(value).__name__!r} is not plain data")


def _decode_tagged(document: dict, depth: int):
    if len(document) != 1:
        raise NotPlainDataError(f"a tagged value has exactly one key, got {sorted(document)[:5]}")
    ((tag, body),) = document.items()
    if tag in _CONTAINERS or tag == "dict":
        if not isinstance(body, list):
            raise NotPlainDataError(f"{tag!r} holds a list")
        try:
            if tag == "dict":
                return {decode(k, depth + 1): decode(v, depth + 1) for k, v in map(_pair, body)}
            return _CONTAINERS[tag](decode(item, depth + 1) for item in body)
        except TypeError as error:  # an unhashable key or member
            raise NotPlainDataError(f"{tag!r}: {error}") from None
    if tag == "bytes" and isinstance(body, str):
        try:
            return bytes.fromhex(body)
        except ValueError:
            raise NotPlainDataError("'bytes' holds hexadecimal digits") from None
    if tag == "type":
        for kind in _TYPES:
            if body == kind.__name__:
                return kind
    if tag == "complex" and isinstance(body, list) and len(body) == 2:
        if all(type(part) in (int, float) for part in body):
            return complex(*body)
    raise NotPlainDataError(f"unknown or malformed tag {tag!r}")


def _pair(item) -> tuple:
    if not isinstance(item, list) or len(item) != 2:
        raise NotPlainDataError("a 'dict' holds [key, value] pairs")
    return item[0], item[1]


def decode(document, depth: int = 0):
    """The value a JSON document (as ``json.loads`` returns it) encodes; NotPlainDataError if malformed."""
    if depth > MAX_DEPTH:
        raise NotPlainDataError(f"nested deeper than {MAX_DEPTH}")
    if document is None or type(document) in (bool, int, float, str):
        return document
    if type(document) is list:
        return [decode(item, depth + 1) for item in document]
    if type(document) is dict:
        return _decode_tagged(document, depth)
    raise NotPlainDataError(f"a JSON document cannot hold a {type(document).__name__!r}")
