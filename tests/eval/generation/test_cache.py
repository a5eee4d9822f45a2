"""The append-only JSONL result cache: durable records, partial last line tolerated, corruption reported."""

from __future__ import annotations

import json

import pytest

from plot_eval.generation.cache import ResultCache, cache_key


def test_cache_key_depends_on_every_part_and_not_on_dict_order():
    base = cache_key("generation", "fp1", [{"role": "user", "content": "hi"}], {"a": 1, "b": 2})
    assert base == cache_key("generation", "fp1", [{"content": "hi", "role": "user"}], {"b": 2, "a": 1})
    assert base != cache_key("generation", "fp2", [{"role": "user", "content": "hi"}], {"a": 1, "b": 2})
    assert base != cache_key("generation", "fp1", [{"role": "user", "content": "hi!"}], {"a": 1, "b": 2})
    assert base != cache_key("generation", "fp1", [{"role": "user", "content": "hi"}], {"a": 1, "b": 3})
    assert base != cache_key("verdict", "fp1", [{"role": "user", "content": "hi"}], {"a": 1, "b": 2})


def test_cache_records_survive_reopen_and_count_hits(tmp_path):
    path = tmp_path / "cache.jsonl"
    with ResultCache(path) as cache:
        assert cache.get("k1", "generation") is None
        cache.put("k1", "generation", "hello")
        cache.put("k2", "verdict", 0.5)
    with ResultCache(path) as cache:  # a new process would see the same
        assert cache.get("k1", "generation") == "hello"
        assert cache.get("k2", "verdict") == 0.5
        assert cache.get("k3", "verdict") is None
        assert cache.stats() == {"generation": {"hits": 1, "misses": 0}, "verdict": {"hits": 1, "misses": 1}}
    assert [json.loads(line)["key"] for line in path.read_text().splitlines()] == ["k1", "k2"]


def test_cache_is_durable_before_close(tmp_path):
    """Each put is flushed: another reader sees it while the writer is still open (crash safety)."""
    path = tmp_path / "cache.jsonl"
    writer = ResultCache(path)
    writer.put("k", "generation", "text")
    assert ResultCache(path).get("k", "generation") == "text"
    writer.close()


def test_cache_partial_last_line_is_dropped_and_appending_continues(tmp_path):
    path = tmp_path / "cache.jsonl"
    path.write_text(
        json.dumps({"key": "a", "kind": "g", "value": 1}) + "\n" + '{"key": "b", "kind": "g", "va'
    )
    with ResultCache(path) as cache:
        assert cache.dropped_partial_line
        assert cache.get("a", "g") == 1 and cache.get("b", "g") is None
        cache.put("b", "g", 2)
    with ResultCache(path) as cache:
        assert cache.get("b", "g") == 2 and not cache.dropped_partial_line
    assert len(path.read_text().splitlines()) == 2


def test_cache_corrupt_middle_line_is_skipped_with_a_warning_and_recomputed(tmp_path):
    path = tmp_path / "cache.jsonl"
    path.write_text(
        '{"key": "a", "kind": "g", "value": 1}\nnot json\n{"key": "b", "kind": "g", "value": 2}\n'
    )
    with pytest.warns(UserWarning, match=r"cache.jsonl: line 2: not a cache record.*recomputed"):
        cache = ResultCache(path)
    assert cache.skipped_lines == [2]
    assert cache.get("a", "g") == 1 and cache.get("b", "g") == 2
    assert cache.get("lost", "g") is None  # the damaged record is a miss: recomputed and appended
    cache.put("lost", "g", 3)
    cache.close()
    with pytest.warns(UserWarning, match="line 2"):
        reopened = ResultCache(path)
    assert reopened.get("lost", "g") == 3 and len(reopened) == 3
    reopened.close()
