"""A fingerprint changes with every file that changes generation, and only with content (not the path)."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from plot_eval.models.fingerprint import model_fingerprint
from plot_eval.models.loading import load_model


def test_fingerprint_same_for_same_weights_and_changes_with_them(tmp_path, tiny_model_dir):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, copy)
    assert model_fingerprint(copy) == model_fingerprint(tiny_model_dir)
    assert len(model_fingerprint(copy)) == 64
    model, _ = load_model(copy)
    in_memory = model_fingerprint(model)
    assert in_memory == model_fingerprint(load_model(tiny_model_dir)[0])
    with torch.no_grad():
        next(model.parameters())[0, 0] += 1.0
    assert model_fingerprint(model) != in_memory
    model.save_pretrained(copy)
    assert model_fingerprint(copy) != model_fingerprint(tiny_model_dir)


def _edit_json(path, **changes):
    data = json.loads(path.read_text()) if path.is_file() else {}
    path.write_text(json.dumps({**data, **changes}))


EDITS = {
    "generation_config.json": lambda f: _edit_json(f / "generation_config.json", temperature=0.3),
    "chat_template.jinja": lambda f: (f / "chat_template.jinja").write_text("{{ messages[0]['content'] }}"),
    "tokenizer_config.json": lambda f: _edit_json(f / "tokenizer_config.json", model_max_length=7),
    "tokenizer.json": lambda f: (f / "tokenizer.json").write_bytes(
        (f / "tokenizer.json").read_bytes() + b" "
    ),
    "config.json": lambda f: _edit_json(f / "config.json", rms_norm_eps=1e-3),
}


@pytest.mark.parametrize("changed", sorted(EDITS))
def test_fingerprint_changes_with_every_generation_file(tmp_path, tiny_model_dir, changed):
    """Issue 8: a changed chat template or generation_config.json gave 100% cache hits (old fingerprint)."""
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    before = model_fingerprint(folder)
    EDITS[changed](folder)
    assert model_fingerprint(folder) != before


def test_fingerprint_ignores_documentation(tmp_path, tiny_model_dir):
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    before = model_fingerprint(folder)
    (folder / "README.md").write_text("# a model card")
    assert model_fingerprint(folder) == before


def test_in_memory_fingerprint_covers_tokenizer_chat_template(tiny_model_dir):
    model, tokenizer = load_model(tiny_model_dir)
    before = model_fingerprint(model, tokenizer)
    tokenizer.chat_template = "{{ messages[0]['content'] }}"
    assert model_fingerprint(model, tokenizer) != before
