"""Append-only JSONL cache of generations, verdicts and scores, so an evaluation can always resume.

Each record is one line `{"key": <sha256>, "kind": <str>, "value": <json>}`, flushed and fsynced before the
caller moves on: a crash or Ctrl-C loses nothing that finished. The key hashes what determines the value
(`cache_key`), so a changed model, prompt or setting misses instead of reusing a stale answer. A partial last
line (a write cut short) is dropped on open; a damaged line elsewhere is skipped with a warning naming it."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any


def cache_key(kind: str, *parts: Any) -> str:
    """sha256 hex of the canonical JSON of (kind, *parts); parts must be JSON-serialisable."""
    payload = json.dumps([kind, *parts], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class ResultCache:
    """Key -> value store backed by one append-only JSONL file; counts hits and misses per kind."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._values: dict[str, Any] = {}
        self.hits: Counter[str] = Counter()
        self.misses: Counter[str] = Counter()
        self.dropped_partial_line = False
        self.skipped_lines: list[int] = []
        self._load()
        self._handle = self.path.open("a", encoding="utf-8")

    def _load(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                self._values[record["key"]] = record["value"]
            except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as err:
                if number == len(lines):  # unterminated final line: an interrupted write; drop it
                    self.dropped_partial_line = True
                    break
                self.skipped_lines.append(number)
                warnings.warn(
                    f"{self.path}: line {number}: not a cache record ({err}); skipped, it will be recomputed",
                    stacklevel=3,
                )
        if data and not data.endswith(b"\n"):  # the next record must start on a line of its own
            with self.path.open("r+b") as handle:
                if self.dropped_partial_line:
                    handle.truncate(len(data) - len(lines[-1]))
                else:
                    handle.seek(len(data))
                    handle.write(b"\n")

    def __len__(self) -> int:
        return len(self._values)

    def get(self, key: str, kind: str) -> Any | None:
        """The cached value or None; counts a hit or a miss for `kind`."""
        if key in self._values:
            self.hits[kind] += 1
            return self._values[key]
        self.misses[kind] += 1
        return None

    def lookup(self, keys: list[str], kind: str) -> tuple[list[Any], list[int]]:
        """(the cached value or None for each key, the positions of the misses); counts as `get` does."""
        values = [self.get(key, kind) for key in keys]
        return values, [i for i, value in enumerate(values) if value is None]

    def get_or_compute(self, key: str, kind: str, compute: Callable[[], Any]) -> Any:
        """The cached value of `key`, else `compute()`, stored before it is returned."""
        value = self.get(key, kind)
        if value is None:
            value = compute()
            self.put(key, kind, value)
        return value

    def put(self, key: str, kind: str, value: Any) -> None:
        """Append one record and make it durable (flush + fsync) before returning."""
        line = json.dumps({"key": key, "kind": kind, "value": value}, ensure_ascii=False)
        self._handle.write(line + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._values[key] = value

    def stats(self) -> dict[str, dict[str, int]]:
        kinds = sorted(set(self.hits) | set(self.misses))
        return {kind: {"hits": self.hits[kind], "misses": self.misses[kind]} for kind in kinds}

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.close()

    def __enter__(self) -> ResultCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
