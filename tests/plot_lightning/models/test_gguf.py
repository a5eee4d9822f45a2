"""Any GGUF: the SHA256 of the bytes read is checked before converting, recorded in the folder; a template is
added only when the GGUF carries none."""

from __future__ import annotations

import hashlib
import json

import pytest
from transformers import AutoTokenizer

from plot_lightning.models import gguf

CONTENT = b"GGUF\x03\x00 not a real model"


@pytest.fixture
def gguf_file(tmp_path):
    path = tmp_path / "some-model.Q4.gguf"
    path.write_bytes(CONTENT)
    return path


def test_sha256_is_hashlib_of_the_bytes(gguf_file) -> None:
    """Read in 1 MiB blocks; the digest equals hashlib over the whole content (independent oracle)."""
    big = gguf_file.with_name("big.gguf")
    big.write_bytes(CONTENT * 100_000)  # 2.4 MB: several blocks
    assert gguf.sha256_of(big) == hashlib.sha256(CONTENT * 100_000).hexdigest()


def test_mismatch_is_refused_before_loading(fake_gguf_loads, gguf_file, tmp_path) -> None:
    wrong = hashlib.sha256(b"other bytes").hexdigest()
    with pytest.raises(
        gguf.ChecksumError, match=f"{gguf_file}: SHA256 .* does not match the expected {wrong}"
    ):
        gguf.convert(gguf_file, tmp_path / "cache" / "m", sha256=wrong)
    assert fake_gguf_loads["model"] == 0 and not (tmp_path / "cache").exists()


def test_digest_is_recorded_checked_or_not(fake_gguf_loads, gguf_file, tmp_path) -> None:
    expected = hashlib.sha256(CONTENT).hexdigest()
    checked = gguf.convert(gguf_file, tmp_path / "a", sha256=expected.upper())  # case does not matter
    unchecked = gguf.convert(gguf_file, tmp_path / "b")
    assert json.loads((checked / gguf.SOURCE_RECORD).read_text()) == {
        "gguf_file": gguf_file.name, "sha256": expected, "sha256_checked": True
    }  # fmt: skip
    assert json.loads((unchecked / gguf.SOURCE_RECORD).read_text())["sha256_checked"] is False


def test_template_is_added_only_when_the_gguf_has_none(fake_gguf_loads, gguf_file, tmp_path) -> None:
    added = gguf.convert(gguf_file, tmp_path / "a", chat_template="ADDED")
    assert AutoTokenizer.from_pretrained(added).chat_template == "ADDED"
    fake_gguf_loads["template"] = "OWN"
    kept = gguf.convert(gguf_file, tmp_path / "b", chat_template="ADDED")
    assert AutoTokenizer.from_pretrained(kept).chat_template == "OWN"


def test_cached_folder_converts_once(fake_gguf_loads, gguf_file, tmp_path) -> None:
    folder = tmp_path / "cache" / "m"
    assert gguf.cached_folder(gguf_file, folder) == folder == gguf.cached_folder(gguf_file, folder)
    assert fake_gguf_loads["model"] == 1
    gguf.cached_folder(gguf_file, folder, force=True)
    assert fake_gguf_loads["model"] == 2


def test_stop_tokens_join_the_generation_eos(fake_gguf_loads, gguf_file, tmp_path) -> None:
    from transformers import GenerationConfig

    from plot_lightning.models.tiny import tiny_model, tiny_tokenizer

    tokenizer = tiny_tokenizer()
    original = tiny_model(len(tokenizer)).generation_config.eos_token_id  # what the (stand-in) GGUF carries
    folder = gguf.convert(gguf_file, tmp_path / "a", stop_tokens=("<|im_start|>",))
    eos = GenerationConfig.from_pretrained(folder).eos_token_id
    eos = [eos] if isinstance(eos, int) else list(eos or [])
    assert eos == [original, tokenizer.convert_tokens_to_ids("<|im_start|>")]
    with pytest.raises(ValueError, match="not in the GGUF's vocabulary"):
        gguf.convert(gguf_file, tmp_path / "b", stop_tokens=("<no-such-token>",))


def test_a_cached_folder_of_another_file_is_converted_again(fake_gguf_loads, gguf_file, tmp_path) -> None:
    """Same file name, other bytes: with the new digest given, the folder recording the old one is rebuilt."""
    folder = tmp_path / "cache" / "m"
    gguf.cached_folder(gguf_file, folder, sha256=hashlib.sha256(CONTENT).hexdigest())
    gguf.cached_folder(gguf_file, folder)  # no digest given: the folder is reused
    assert fake_gguf_loads["model"] == 1
    gguf_file.write_bytes(b"other bytes")
    gguf.cached_folder(gguf_file, folder, sha256=hashlib.sha256(b"other bytes").hexdigest())
    assert fake_gguf_loads["model"] == 2
    assert (
        json.loads((folder / gguf.SOURCE_RECORD).read_text())["sha256"]
        == hashlib.sha256(b"other bytes").hexdigest()
    )
