"""The shared OpenAI-compatible client against a real server on 127.0.0.1 (tests/eval/conftest.py
`chat_server`): decoding fields passed through, a reply that is not a chat completion named by URL, the
backoff capped. Retries, refusals and dead ports: tests/eval/judges/test_openai_compat.py and
tests/eval/generation/test_endpoint.py."""

from __future__ import annotations

import pytest

from plot_eval.judges.openai_compat import JudgeUnavailableError, OpenAIJudge
from plot_eval.models.chat_client import MAX_DELAY_S, ChatClient, EndpointUnavailableError


def test_decoding_fields_reach_the_server(chat_server):
    client = ChatClient(chat_server.url, "m", api_key_env=None, timeout=5)
    messages = [{"role": "user", "content": "hi"}]
    assert client.complete(messages, max_tokens=3, seed=5, temperature=0.5) == "echo: hi"
    body = chat_server.requests[0]["body"]
    assert body == {"model": "m", "messages": messages, "max_tokens": 3, "seed": 5, "temperature": 0.5}


@pytest.mark.parametrize(
    "raw", [{"error": "no choices"}, {"choices": []}, {"choices": [{"message": {"content": {"a": 1}}}]}]
)
def test_a_reply_that_is_not_a_chat_completion_names_the_url(chat_server, raw):
    chat_server.raw = raw
    client = ChatClient(chat_server.url, "m", api_key_env=None, timeout=5, role="baseline")
    with pytest.raises(EndpointUnavailableError, match=f"baseline endpoint {chat_server.url}/chat/completions: reply is not a chat completion"):  # fmt: skip
        client.complete([{"role": "user", "content": "x"}])
    assert len(chat_server.requests) == 1  # a malformed answer is not retried


def test_judge_errors_are_endpoint_errors_and_backoff_is_capped(chat_server):
    chat_server.always = 400
    judge = OpenAIJudge(chat_server.url, "j", api_key_env=None, timeout=5)
    with pytest.raises(
        JudgeUnavailableError, match=f"judge endpoint {chat_server.url}/chat/completions refused"
    ):
        judge.chat([{"role": "user", "content": "x"}])
    assert issubclass(JudgeUnavailableError, EndpointUnavailableError)
    client = ChatClient(chat_server.url, "m", backoff=10.0)
    assert [client._delay(attempt, None) for attempt in (0, 1, 2, 3)] == [10.0, 20.0, 40.0, MAX_DELAY_S]
