"""The prompts a suite evaluates, in order, with the one id every stage uses for a prompt.

`plan_suite` is what `plot-eval run` evaluates and `plot-eval prompts` writes; `sample_id` names one prompt
of one set of a suite, and responses generated elsewhere are matched to prompts by it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from plot_eval.sources import PromptItem, load_source
from plot_eval.suite import PromptSet, PromptSpec, Suite


def sample_id(subpreference: str, set_name: str, item_id: str) -> str:
    """``<subpreference>/<set>/<item id>``: unique in a suite (set names are unique in a subpreference and
    a source's item ids in its file) and stable, since it depends neither on the position of the prompt nor
    on the suite's other sets. The item id is the source's own (e.g. ``gsm8k:12``, ``HumanEval/0``)."""
    return f"{subpreference}/{set_name}/{item_id}"


class PlannedPrompt(NamedTuple):
    """One prompt of the plan; unpacks as ``(subpreference, prompt_set, item, messages)``."""

    subpreference: str
    prompt_set: PromptSet
    item: PromptItem
    messages: list[dict[str, str]]
    """The chat sent to the model (template and system turn applied)."""

    @property
    def id(self) -> str:
        return sample_id(self.subpreference, self.prompt_set.name, self.item.id)


def build_messages(item: PromptItem, spec: PromptSpec) -> list[dict[str, str]]:
    """The chat sent to the model: optional system turn, earlier turns, then the templated last user turn."""
    messages = [dict(m) for m in item.messages]
    messages[-1]["content"] = spec.template.replace("{prompt}", messages[-1]["content"])
    if spec.system:
        messages.insert(0, {"role": "system", "content": spec.system})
    return messages


def plan_suite(
    suite: Suite,
    data_root: Path,
    limit: int | None = None,
    usable: Callable[[PlannedPrompt], bool] | None = None,
) -> list[PlannedPrompt]:
    """Every prompt of the suite, in suite order: a set's `exclude` ids left out, then, in file order, the
    first min(set limit, `limit`) prompts that `usable` accepts (all of them when it is None)."""
    plan = []
    for sub in suite.subpreferences:
        for prompt_set in sub.sets:
            cap = min((c for c in (prompt_set.limit, limit) if c), default=None)
            source = prompt_set.source
            excluded = set(prompt_set.exclude)
            kept: list[PlannedPrompt] = []
            for item in load_source(source.loader, source.file, source.options, data_root):
                if cap is not None and len(kept) >= cap:
                    break  # prompts past the cap are never checked, so they cannot stop a limited run
                planned = PlannedPrompt(sub.name, prompt_set, item, build_messages(item, prompt_set.prompt))
                if item.id not in excluded and (usable is None or usable(planned)):
                    kept.append(planned)
            plan += kept
    return plan
