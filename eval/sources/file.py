"""`loader: file`: any JSON / JSONL / CSV / Parquet file of prompts, mapped to items by its options alone.

    source:
      loader: file
      file: math/test.jsonl                 # .json, .jsonl, .csv, .parquet (.json/.jsonl/.csv may be .gz)
      options:
        prompt_field: problem               # or prompt_template: "{question}\\n\\nChoices: {choices}"
        answer_field: answer                # optional: the gold answer (reference["gold"])
        id_field: unique_id                 # optional; else <file stem>:<12 hex of sha256(prompt, answer)>
        filters: {type: Algebra, level: [1, 2]}   # optional: value = equality, list = one of
        exclude: {unique_id: [a, b]}        # optional: rows with this value (or one of these) are left out

Read through `datasets` (CSV cells as strings: a CSV filter value is a string). Row N in an error is the
N-th record (1-based, CSV header not counted). A content id depends on what is asked only, so it survives
reordered, inserted or filtered rows and added columns; two rows asking the same thing are an error."""

from __future__ import annotations

import csv
import hashlib
import json
import string
from pathlib import Path
from typing import Any

from plot_eval.registry import SOURCES
from plot_eval.sources.base import PromptItem, SourceRowError, open_text, read_jsonl, require, user_prompt

FORMATS = {".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet"}


def file_format(path: Path) -> str:
    """The `datasets` builder for `path` by its suffix (a trailing .gz is looked through)."""
    suffixes = [s for s in path.suffixes if s != ".gz"]
    kind = FORMATS.get(suffixes[-1] if suffixes else "")
    if kind is None or (path.suffix == ".gz" and kind == "parquet"):
        raise ValueError(
            f"{path}: unsupported file type; expected one of {sorted(FORMATS)} (json/csv may be .gz)"
        )
    return kind


def read_rows(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """(rows, column names) of a data file, read through `datasets`."""
    import datasets

    kind = file_format(path)
    options: dict[str, Any] = {}
    if kind == "csv":
        with open_text(path) as handle:
            header = next(csv.reader(handle), [])
        options = {
            "features": datasets.Features({name: datasets.Value("string") for name in header}),
            "keep_default_na": False,
        }
    try:
        dataset = datasets.load_dataset(kind, data_files=str(path), split="train", **options)
    except Exception as err:  # datasets wraps parse errors in its own types
        if kind == "json" and ".jsonl" in path.suffixes:
            for _ in read_jsonl(path):  # names the first bad line
                pass
        cause = err.__cause__ or err
        raise SourceRowError(
            path, 0, f"<{kind}>", f"cannot be read: {type(cause).__name__}: {cause}"
        ) from err
    return dataset.to_list(), list(dataset.column_names)


def template_fields(template: str) -> list[str]:
    """Top-level field names a format string uses (``{a.b}`` / ``{a[0]}`` -> ``a``)."""
    names = []
    for _, name, _, _ in string.Formatter().parse(template):
        if name is None:
            continue
        root = name.split(".", 1)[0].split("[", 1)[0]
        if not root or root.isdigit():
            raise ValueError(f"prompt_template {template!r}: every field must be named, got {{{name}}}")
        names.append(root)
    return names


def _check_columns(path: Path, columns: list[str], used: dict[str, str]) -> None:
    for option, name in used.items():
        if name not in columns:
            raise SourceRowError(
                path, 0, name, f"{option} names a column not in the file; columns: {columns}"
            )


def _value(path: Path, row_no: int, row: dict, name: str) -> Any:
    if row.get(name) is None:
        raise SourceRowError(path, row_no, name, "missing")
    return row[name]


def _scalar_text(path: Path, row_no: int, row: dict, name: str) -> str:
    """A string or a number as text (ids and answers may be numbers in JSON / Parquet)."""
    return str(require(path, row_no, row, name, (str, int, float))).strip()


def _matches(value: Any, wanted: Any) -> bool:
    return value in wanted if isinstance(wanted, list) else value == wanted


def _keep(path: Path, row_no: int, row: dict, filters: dict[str, Any], exclude: dict[str, Any]) -> bool:
    """Every filter matches and no exclusion does (an excluded column may be empty in a row)."""
    if any(_matches(row.get(name), unwanted) for name, unwanted in exclude.items()):
        return False
    return all(_matches(_value(path, row_no, row, name), wanted) for name, wanted in filters.items())


def _prompt(path: Path, row_no: int, row: dict, field: str | None, template: str | None) -> str:
    if field is not None:
        return require(path, row_no, row, field)
    for name in template_fields(template):
        _value(path, row_no, row, name)
    try:
        text = template.format_map(row)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as err:
        raise SourceRowError(path, row_no, "prompt_template", f"{type(err).__name__}: {err}") from err
    if not text.strip():
        raise SourceRowError(path, row_no, "prompt_template", "the rendered prompt is empty")
    return text


def content_id(path: Path, prompt: str, answer: str | None) -> str:
    """``<file stem>:<12 hex of sha256(json [prompt, answer])>``: the id of a row without `id_field`."""
    digest = hashlib.sha256(json.dumps([prompt, answer], ensure_ascii=False).encode("utf-8")).hexdigest()
    return f"{path.name.split('.')[0]}:{digest[:12]}"


def _check_options(path: Path, prompt_field, prompt_template, filters, exclude) -> None:
    where = f"source 'file' ({path}): option"
    if (prompt_field is None) == (prompt_template is None):
        raise ValueError(f"{where}s: give exactly one of prompt_field and prompt_template")
    for name, value in (("prompt_field", prompt_field), ("prompt_template", prompt_template)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ValueError(f"{where} {name}: must be a non-empty string, got {value!r}")
    for name, value in (("filters", filters), ("exclude", exclude)):
        if not isinstance(value, dict):
            raise ValueError(f"{where} {name}: must map column -> value or list of values, got {value!r}")


@SOURCES.register("file")
def load(
    path: Path,
    *,
    prompt_field: str | None = None,
    prompt_template: str | None = None,
    answer_field: str | None = None,
    id_field: str | None = None,
    filters: dict[str, Any] | None = None,
    exclude: dict[str, Any] | None = None,
) -> list[PromptItem]:
    filters = {} if filters is None else filters
    exclude = {} if exclude is None else exclude
    _check_options(path, prompt_field, prompt_template, filters, exclude)
    rows, columns = read_rows(path)
    used = {"prompt_field": prompt_field, "answer_field": answer_field, "id_field": id_field}
    used = {option: name for option, name in used.items() if name is not None}
    used.update({f"prompt_template {{{name}}}": name for name in template_fields(prompt_template or "")})
    used.update({f"filters.{name}": name for name in filters})
    used.update({f"exclude.{name}": name for name in exclude})
    _check_columns(path, columns, used)
    items, seen = [], {}
    for row_no, row in enumerate(rows, start=1):
        if not _keep(path, row_no, row, filters, exclude):
            continue
        text = _prompt(path, row_no, row, prompt_field, prompt_template)
        gold = _scalar_text(path, row_no, row, answer_field) if answer_field else None
        item_id = _scalar_text(path, row_no, row, id_field) if id_field else content_id(path, text, gold)
        if item_id in seen:
            same = "same value" if id_field else "same prompt and answer, so the same id"
            reason = f"duplicate id {item_id!r} ({same} as row {seen[item_id]})"
            raise SourceRowError(path, row_no, id_field or "<id>", reason)
        seen[item_id] = row_no
        reference = {"gold": gold} if gold is not None else {}
        items.append(user_prompt(item_id, text, row=row_no, **reference))
    return items
