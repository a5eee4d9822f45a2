"""Declarative, versioned evaluation suites (YAML) as small validated dataclasses.

A suite names, for each of the seven subpreferences, one or more prompt sets. Each set says where its
prompts come from (a loader from `eval.sources` and a file under the data root), how the chat prompt is
built, which judge scores it and which metric it feeds:

- ``winrate``: pairwise judge (``local_lm``, ``openai``, ``reward_model``) of model vs baseline, both orders;
- ``accuracy``: programmatic correctness (``gsm8k``, ``code_exec``) of each side, win = 1 / 0.5 / 0;
- ``asr``: refusal detection (``refusal``) on red-team prompts; attack success rate = share not refused.

Load with :func:`load_suite`; every error names the file and the offending key path.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CATEGORIES = ("human_values", "logic")
JUDGES_BY_METRIC = {
    "winrate": ("local_lm", "openai", "reward_model"),
    "accuracy": ("gsm8k", "code_exec"),
    "asr": ("refusal",),
}
JUDGE_KINDS = tuple(kind for kinds in JUDGES_BY_METRIC.values() for kind in kinds)
SUITE_SCHEMA_VERSION = 1


class SuiteError(ValueError):
    """A suite file that does not match the schema; the message names the file and key path."""


@dataclass
class GenerationSettings:
    max_new_tokens: int = 128
    """Tokens generated per response."""
    batch_size: int = 8
    do_sample: bool = False
    """Greedy when False; sampled with `temperature`, `top_p` and `seed` when True."""
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0

    def cache_settings(self) -> dict[str, Any]:
        """Settings that change the generated text (batch size excluded)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "batch_size"}


@dataclass
class ScoringSettings:
    fluency: bool = True
    """Perplexity under a fixed scorer LM, distinct-2 and repetition rate."""
    coherence: bool = True
    """Prompt-response and adjacent-sentence embedding similarity."""
    scorer_model: str | None = None
    """HF folder of the perplexity scorer; None = the offline SmolLM2-135M-Instruct."""
    embedding_model: str | None = None
    """HF folder of the sentence-embedding model; None = all-MiniLM-L6-v2 from its wheel."""
    bootstrap_resamples: int = 1000
    confidence: float = 0.95
    seed: int = 0


@dataclass
class JudgeSettings:
    model: str | None = None
    """local_lm / reward_model: HF folder (None = default scorer LM); openai: the served model name."""
    url: str | None = None
    """openai: base URL of an OpenAI-compatible endpoint."""
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = 60.0
    retries: int = 3
    rate_limit: float | None = None
    """openai: maximum requests per second."""
    memory_mb: int = 512
    """code_exec: address-space limit of the sandboxed test process."""
    allow_unsandboxed: bool = False
    """code_exec: run model code without isolation where the sandbox cannot be set up (unsafe)."""


@dataclass
class SourceSpec:
    loader: str
    """A name in `eval.sources.SOURCES` (mt_bench, vicuna_bench, hh_rlhf, truthfulqa, gsm8k, ...)."""
    file: str
    """Path relative to the data root."""
    options: dict[str, Any] = field(default_factory=dict)
    """Loader keyword options, e.g. categories, split, limit."""


@dataclass
class PromptSpec:
    template: str = "{prompt}"
    """Applied to the last user message; `{prompt}` is replaced by the source text."""
    system: str | None = None


@dataclass
class PromptSet:
    name: str
    source: SourceSpec
    judge: str
    metric: str
    prompt: PromptSpec = field(default_factory=PromptSpec)
    limit: int | None = None
    """Keep at most this many prompts (first ones, in file order)."""


@dataclass
class Subpreference:
    name: str
    category: str
    paper_named: bool
    """True for helpfulness, humanity and math (named by the PLOT paper); False = this project's choice."""
    sets: list[PromptSet]
    description: str = ""


@dataclass
class LmEvalSettings:
    tasks: list[str] = field(default_factory=list)
    """Local task names from eval/lm_eval_tasks (plot_gsm8k, plot_truthfulqa_mc1)."""
    limit: int | None = None
    on_baseline: bool = True
    batch_size: int = 4
    max_gen_toks: int = 256


@dataclass
class Suite:
    name: str
    version: int
    subpreferences: list[Subpreference]
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    scoring: ScoringSettings = field(default_factory=ScoringSettings)
    judges: dict[str, JudgeSettings] = field(default_factory=dict)
    lm_eval: LmEvalSettings = field(default_factory=LmEvalSettings)
    data_root: str | None = None
    """Default data root; a relative path is resolved against the suite file's folder."""
    data_root_env: str | None = None
    """Environment variable that, when set, overrides `data_root` (e.g. PLOT_DATA_ROOT)."""
    schema_version: int = SUITE_SCHEMA_VERSION
    path: str | None = None
    """The YAML file this suite was read from (set by load_suite)."""

    def judge_settings(self, kind: str) -> JudgeSettings:
        return self.judges.get(kind, JudgeSettings())

    def resolve_data_root(self, override: str | os.PathLike | None = None) -> Path:
        """Data root: explicit override > $data_root_env > data_root (relative to the suite file)."""
        if override is not None:
            return Path(override).expanduser().resolve()
        if self.data_root_env and os.environ.get(self.data_root_env):
            return Path(os.environ[self.data_root_env]).expanduser().resolve()
        if self.data_root is None:
            raise SuiteError(f"{self.path or self.name}: no data_root given (pass --data-root)")
        root = Path(self.data_root).expanduser()
        if not root.is_absolute() and self.path:
            root = Path(self.path).parent / root
        return root.resolve()

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("path")
        return data


def _build(cls: type, raw: Any, where: str) -> Any:
    """Instantiate dataclass `cls` from mapping `raw`, rejecting unknown or missing keys."""
    if isinstance(raw, cls):  # a default already built
        return raw
    if not isinstance(raw, dict):
        raise SuiteError(f"{where}: expected a mapping, got {type(raw).__name__}")
    names = {f.name for f in dataclasses.fields(cls)} - {"path"}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise SuiteError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(names)}")
    required = [
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    missing = [name for name in required if name not in raw]
    if missing:
        raise SuiteError(f"{where}: missing required key(s) {missing}")
    return cls(**raw)


def _check(condition: bool, where: str, message: str) -> None:
    if not condition:
        raise SuiteError(f"{where}: {message}")


def _parse_set(raw: Any, where: str) -> PromptSet:
    from eval.sources import SOURCES

    prompt_set = _build(PromptSet, raw, where)
    prompt_set.source = _build(SourceSpec, prompt_set.source, f"{where}.source")
    prompt_set.prompt = _build(PromptSpec, prompt_set.prompt or {}, f"{where}.prompt")
    _check(
        isinstance(prompt_set.name, str) and prompt_set.name, f"{where}.name", "must be a non-empty string"
    )
    _check(
        prompt_set.source.loader in SOURCES,
        f"{where}.source.loader",
        f"unknown loader {prompt_set.source.loader!r}; expected one of {sorted(SOURCES)}",
    )
    _check(
        prompt_set.metric in JUDGES_BY_METRIC,
        f"{where}.metric",
        f"unknown metric {prompt_set.metric!r}; expected one of {list(JUDGES_BY_METRIC)}",
    )
    allowed = JUDGES_BY_METRIC[prompt_set.metric]
    _check(
        prompt_set.judge in allowed,
        f"{where}.judge",
        f"judge {prompt_set.judge!r} cannot produce metric {prompt_set.metric!r}; use one of {list(allowed)}",
    )
    _check("{prompt}" in prompt_set.prompt.template, f"{where}.prompt.template", "must contain '{prompt}'")
    _check(
        prompt_set.limit is None or (isinstance(prompt_set.limit, int) and prompt_set.limit > 0),
        f"{where}.limit",
        "must be a positive integer",
    )
    return prompt_set


def _parse_subpreference(raw: Any, where: str) -> Subpreference:
    sub = _build(Subpreference, raw, where)
    _check(sub.category in CATEGORIES, f"{where}.category", f"must be one of {list(CATEGORIES)}")
    _check(isinstance(sub.paper_named, bool), f"{where}.paper_named", "must be true or false")
    _check(isinstance(sub.sets, list) and sub.sets, f"{where}.sets", "must be a non-empty list")
    sub.sets = [_parse_set(item, f"{where}.sets[{i}]") for i, item in enumerate(sub.sets)]
    names = [s.name for s in sub.sets]
    _check(len(set(names)) == len(names), f"{where}.sets", f"duplicate set names {names}")
    return sub


def parse_suite(raw: Any, where: str = "<suite>") -> Suite:
    """Validate a suite mapping (as read from YAML) and build the dataclasses."""
    suite = _build(Suite, raw, where)
    _check(isinstance(suite.name, str) and suite.name, f"{where}: name", "must be a non-empty string")
    _check(isinstance(suite.version, int), f"{where}: version", "must be an integer")
    _check(
        suite.schema_version == SUITE_SCHEMA_VERSION,
        f"{where}: schema_version",
        f"unsupported {suite.schema_version}; this code reads {SUITE_SCHEMA_VERSION}",
    )
    suite.generation = _build(GenerationSettings, suite.generation or {}, f"{where}: generation")
    _check(suite.generation.max_new_tokens > 0, f"{where}: generation.max_new_tokens", "must be > 0")
    suite.scoring = _build(ScoringSettings, suite.scoring or {}, f"{where}: scoring")
    _check(0 < suite.scoring.confidence < 1, f"{where}: scoring.confidence", "must be in (0, 1)")
    judges = suite.judges or {}
    _check(isinstance(judges, dict), f"{where}: judges", "must map judge kind -> settings")
    for kind in judges:
        _check(
            kind in JUDGE_KINDS, f"{where}: judges.{kind}", f"unknown judge; expected one of {JUDGE_KINDS}"
        )
    suite.judges = {k: _build(JudgeSettings, v or {}, f"{where}: judges.{k}") for k, v in judges.items()}
    suite.lm_eval = _build(LmEvalSettings, suite.lm_eval or {}, f"{where}: lm_eval")
    _check(
        isinstance(suite.subpreferences, list) and suite.subpreferences, f"{where}: subpreferences", "empty"
    )
    suite.subpreferences = [
        _parse_subpreference(item, f"{where}: subpreferences[{i}]")
        for i, item in enumerate(suite.subpreferences)
    ]
    names = [s.name for s in suite.subpreferences]
    _check(len(set(names)) == len(names), f"{where}: subpreferences", f"duplicate names {names}")
    return suite


def load_suite(path: str | os.PathLike) -> Suite:
    """Read and validate a suite YAML file; raises SuiteError (or FileNotFoundError) naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"suite config not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise SuiteError(f"{path}: not valid YAML: {err}") from err
    suite = parse_suite(raw, str(path))
    suite.path = str(path.resolve())
    return suite
