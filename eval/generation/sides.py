"""The two sides of a comparison (model, baseline), each one of three kinds with the same interface.

- `LocalModel` (eval/generation/cached.py): a Hugging Face folder or in-memory pair, generated here;
- `ResponsesFile` (eval/generation/responses_file.py): responses generated elsewhere, read from JSONL;
- `EndpointModel` (eval/generation/endpoint.py): a model served behind an OpenAI-compatible URL.

Each has `role`, `fingerprint`, `describe()`, `check(ids)` (before any work), `respond(ids, prompts,
settings, cache, progress=)` and `lm_eval_skip_reason` (None when lm-eval tasks can run on it).
"""

from __future__ import annotations

from typing import Any

from plot_eval.generation.cached import LocalModel
from plot_eval.models.handle import ModelHandle


def as_side(spec: Any, role: str):
    """`spec` as given when it is already a side, else a model loaded here (folder or (model, tokenizer))."""
    return spec if hasattr(spec, "respond") else LocalModel(ModelHandle(spec, role=role))


def side_from_options(
    role: str,
    *,
    folder: str | None = None,
    responses: str | None = None,
    endpoint: str | None = None,
    served_name: str | None = None,
    fingerprint: str | None = None,
    api_key_env: str | None = None,
):
    """The side named by exactly one of `folder`, `responses` (a file) or `endpoint` (+ `served_name`)."""
    from plot_eval.generation.endpoint import EndpointModel
    from plot_eval.generation.responses_file import ResponsesFile

    if sum(x is not None for x in (folder, responses, endpoint)) != 1:
        raise ValueError(f"{role}: give exactly one of a folder, a responses file or an endpoint")
    if responses is not None:
        return ResponsesFile(responses, role=role)
    if endpoint is not None:
        return EndpointModel(
            endpoint, served_name, fingerprint=fingerprint, role=role, api_key_env=api_key_env
        )
    return folder
