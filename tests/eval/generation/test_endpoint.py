"""EndpointModel against a real chat-completions server on 127.0.0.1 (tests/eval/conftest.py `chat_server`):
the suite's generation settings in each request, input order kept with concurrent requests, the cache keyed
by URL + served name + user fingerprint, a 503 retried, a permanent failure and a dead port named by URL."""

from __future__ import annotations

import socket

import pytest

from plot_eval.generation.cache import ResultCache
from plot_eval.generation.endpoint import EndpointModel, decoding
from plot_eval.models.chat_client import EndpointUnavailableError
from plot_eval.suite import GenerationSettings

PROMPTS = [[{"role": "user", "content": f"question {i}"}] for i in range(6)]


def _model(url, **kwargs):
    return EndpointModel(url, "served-ckpt", backoff=0.01, timeout_s=5, **kwargs)


def _respond(model, cache, settings=None, prompts=PROMPTS):
    settings = settings or GenerationSettings(max_new_tokens=7, batch_size=3, seed=11)
    return model.respond([str(i) for i in range(len(prompts))], prompts, settings, cache, progress=False)


def test_requests_carry_the_suite_settings_and_responses_keep_input_order(chat_server, tmp_path):
    with ResultCache(tmp_path / "cache.jsonl") as cache:
        responses = _respond(_model(chat_server.url), cache)
    assert responses == [f"echo: question {i}" for i in range(6)]  # 3 in flight, answers in prompt order
    body = chat_server.requests[0]["body"]
    assert chat_server.requests[0]["path"] == "/v1/chat/completions"
    assert body["model"] == "served-ckpt" and body["max_tokens"] == 7 and body["seed"] == 11
    assert body["temperature"] == 0 and "top_p" not in body  # greedy
    sampled = GenerationSettings(do_sample=True, temperature=0.7, top_p=0.9, seed=3, max_new_tokens=5)
    assert decoding(sampled) == {"max_tokens": 5, "seed": 3, "temperature": 0.7, "top_p": 0.9}


def test_cache_is_keyed_by_url_name_and_fingerprint(chat_server, tmp_path):
    with ResultCache(tmp_path / "cache.jsonl") as cache:
        _respond(_model(chat_server.url), cache)
        assert len(chat_server.requests) == 6
        assert _respond(_model(chat_server.url + "/"), cache)[0] == "echo: question 0"  # same endpoint
        assert len(chat_server.requests) == 6 and cache.hits["generation"] == 6
        _respond(_model(chat_server.url, fingerprint="ckpt-v2"), cache)  # new weights behind the URL
        assert len(chat_server.requests) == 12
        _respond(EndpointModel(chat_server.url, "other-name", timeout_s=5), cache)
        assert len(chat_server.requests) == 18
    first, second = _model(chat_server.url), _model(chat_server.url, fingerprint="ckpt-v2")
    assert first.fingerprint != second.fingerprint
    assert second.describe()["user_fingerprint"] == "ckpt-v2"


def test_503_then_ok_is_retried(chat_server, tmp_path):
    chat_server.script = [503, 429]
    with ResultCache(tmp_path / "cache.jsonl") as cache:
        settings = GenerationSettings(batch_size=1)
        assert _respond(_model(chat_server.url), cache, settings, PROMPTS[:1]) == ["echo: question 0"]
    assert len(chat_server.requests) == 3


def test_permanent_failure_names_the_url_and_keeps_finished_responses(chat_server, tmp_path):
    """One request at a time: prompt 0 succeeds, then every request fails (503) until the retries run out."""
    chat_server.reply = lambda body: setattr(chat_server, "always", 503) or "first"
    with ResultCache(tmp_path / "cache.jsonl") as cache:
        model = _model(chat_server.url, retries=2)
        with pytest.raises(EndpointUnavailableError) as info:
            _respond(model, cache, GenerationSettings(batch_size=1), PROMPTS[:3])
        assert f"model endpoint {chat_server.url}/chat/completions unreachable after 3 attempts" in str(
            info.value
        )
        assert "HTTP 503" in str(info.value)
    assert len(chat_server.requests) == 1 + 3  # prompt 0, then 3 attempts for prompt 1; prompt 2 never sent
    chat_server.always, chat_server.reply = None, lambda body: "later"
    with ResultCache(tmp_path / "cache.jsonl") as cache:  # resume: prompt 0 comes from the cache
        again = _respond(_model(chat_server.url), cache, GenerationSettings(batch_size=1), PROMPTS[:3])
    assert again == ["first", "later", "later"]


def test_refused_request_is_not_retried(chat_server, tmp_path):
    chat_server.always = 401
    with ResultCache(tmp_path / "cache.jsonl") as cache, pytest.raises(EndpointUnavailableError, match="refused the request: HTTP 401"):  # fmt: skip
        _respond(_model(chat_server.url, role="baseline"), cache, prompts=PROMPTS[:1])
    assert len(chat_server.requests) == 1


def test_dead_port_and_malformed_reply_name_the_url(chat_server, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    with ResultCache(tmp_path / "cache.jsonl") as cache:
        with pytest.raises(EndpointUnavailableError, match=f"{dead}/chat/completions unreachable"):
            _respond(_model(dead, retries=1), cache, prompts=PROMPTS[:1])
        with pytest.raises(
            EndpointUnavailableError, match="/v2/chat/completions refused the request: HTTP 404"
        ):
            _respond(_model(chat_server.url[:-3] + "/v2"), cache, prompts=PROMPTS[:1])
    with pytest.raises(ValueError, match="needs a URL and the served model name"):
        EndpointModel(chat_server.url, "")
