"""Responses generated elsewhere (vLLM, TGI, an API): a JSONL file of ``{"id": str, "response": str}``.

`id` is the suite prompt id, as `plot-eval prompts` writes it; other fields are ignored. Every prompt needs
exactly one response and every id must be a prompt of the suite (under `--limit`, answers to the prompts it
leaves out are ignored). The file's identity is the sha256 of its bytes; verdicts and scores are cached by
the response text itself, so a changed response never reuses a stale verdict. lm-eval tasks need the model's
log-probabilities: they are skipped, with the reason in results.json."""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from pathlib import Path

from plot_eval.sources.base import SourceRowError, read_jsonl

SHOW_IDS = 10
"""Ids listed in a missing / unknown id error (the count is always given)."""


def _listed(ids: list[str]) -> str:
    more = f" ... and {len(ids) - SHOW_IDS} more" if len(ids) > SHOW_IDS else ""
    return f"{len(ids)}: {ids[:SHOW_IDS]}{more}"


def read_responses(path: Path) -> dict[str, str]:
    """id -> response of a responses file; raises SourceRowError naming the file, line and field."""
    responses: dict[str, str] = {}
    lines: dict[str, int] = {}
    for line_no, row in read_jsonl(path, unit="line"):
        for name in ("id", "response"):
            value = row.get(name)
            if not isinstance(value, str):
                got = "missing" if name not in row else "null" if value is None else type(value).__name__
                raise SourceRowError(path, line_no, name, f"must be a string, got {got}", unit="line")
        if row["id"] in responses:
            reason = f"duplicate id {row['id']!r} (first on line {lines[row['id']]})"
            raise SourceRowError(path, line_no, "id", reason, unit="line")
        responses[row["id"]], lines[row["id"]] = row["response"], line_no
    return responses


class ResponsesFile:
    """A side of the comparison read from a responses file instead of generated (see the module doc)."""

    lm_eval_skip_reason = "responses file: lm-eval tasks need the model itself (log-probabilities)"

    def __init__(self, path: str | os.PathLike, *, role: str = "model"):
        self.role = role
        self.path = Path(path).expanduser().resolve()
        if not self.path.is_file():
            raise FileNotFoundError(f"{role} responses file not found: {self.path}")
        self.fingerprint = hashlib.sha256(self.path.read_bytes()).hexdigest()
        self.responses = read_responses(self.path)
        self.name = f"responses:{self.path}"

    def describe(self) -> dict[str, str]:
        return {"name": self.name, "fingerprint": self.fingerprint, "kind": "responses_file"}

    def check(self, ids: list[str], known: list[str] | None = None) -> None:
        """Raise one ValueError naming the file with the missing and the unknown ids (first few + counts).

        `known`: every prompt id of the suite before the run's `--limit`; answers to those that the limit
        leaves out are not unknown (a file answering the whole suite can be judged on its first N)."""
        duplicates = sorted(i for i, count in Counter(ids).items() if count > 1)
        if duplicates:
            raise ValueError(f"suite prompt ids are not unique, responses cannot be matched: {duplicates}")
        expected = set(ids) | set(known or ())
        missing = [i for i in ids if i not in self.responses]
        unknown = [i for i in self.responses if i not in expected]
        if missing or unknown:
            problems = [f"missing ids {_listed(missing)}"] if missing else []
            problems += [f"unknown ids {_listed(unknown)}"] if unknown else []
            raise ValueError(
                f"{self.role} responses file {self.path}: does not match the suite's prompts "
                f"({len(ids)} expected): {'; '.join(problems)} (ids as `plot-eval prompts` writes them for the same suite and --limit)"
            )

    def respond(self, ids: list[str], prompts, settings, cache, *, progress: bool = True) -> list[str]:
        """The responses in the order of `ids` (nothing is generated, so nothing is cached here); the runner
        has checked the file against the suite (`check`), so here only a missing answer is an error."""
        self.check(ids, known=list(self.responses))
        return [self.responses[i] for i in ids]
