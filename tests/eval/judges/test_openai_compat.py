"""OpenAIJudge against a real HTTP server on 127.0.0.1 returning canned replies: the constrained verdict
format under adversarial phrasings, auth header, retry after a 500, no retry on 401, unreachable endpoint,
and the client-side rate limit (fake clock). The same judge against a real local model served through the
OpenAI chat API: test_openai_compat_served_model.py."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from plot_eval.judges.openai_compat import JudgeUnavailableError, OpenAIJudge
from plot_eval.judges.prompt import parse_verdict
from plot_eval.models.chat_client import RateLimiter


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server API)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(
            {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
        )
        status, text = self.server.replies.pop(0)
        payload = (
            {"choices": [{"message": {"role": "assistant", "content": text}}]}
            if status == 200
            else {"error": text}
        )
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.requests, httpd.replies = [], []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _judge(url, **kwargs):
    return OpenAIJudge(
        url, "judge-model", api_key_env="PLOT_TEST_JUDGE_KEY", timeout=5, backoff=0.01, **kwargs
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[A]]", 1.0),
        ("[[B]]", 0.0),
        ("[[C]]", 0.5),
        ("Assistant B is more accurate and complete. [[B]]", 0.0),
        ("A is wordy, B is clear. Final verdict: [[ B ]]", 0.0),
        ("It is a tie. [[C]]", 0.5),
        # issue 8: the article "a" read as verdict A -> ties became wins for the first answer
        ("It is a tie.", None),
        ("Neither: a tie", None),
        ("A", None),
        ("Verdict: B", None),
        ("a", None),
        ("Both are a bit weak; I would call it a draw.", None),
        ("[A]", None),
        ("[[D]]", None),
        ("[[a]]", None),
        ("[[A]] ... on reflection, [[B]]", None),  # contradicting tags
        ("[[A]] and again [[A]]", 1.0),
        ("", None),
    ],
)
def test_parse_verdict_accepts_only_one_constrained_tag(text, expected):
    assert parse_verdict(text) == expected


def test_verdicts_request_and_auth_header(server, monkeypatch):
    monkeypatch.setenv("PLOT_TEST_JUDGE_KEY", "sk-test")
    server.replies = [(200, "[[A]]"), (200, "B is better [[B]]"), (200, "[[C]]")]
    judge = _judge(server.url)
    assert [judge.compare("Q?", "one", "two") for _ in range(3)] == [1.0, 0.0, 0.5]
    first = server.requests[0]
    assert first["path"] == "/v1/chat/completions" and first["auth"] == "Bearer sk-test"
    assert first["body"]["model"] == "judge-model" and first["body"]["temperature"] == 0
    system, user = first["body"]["messages"]
    assert '"[[A]]" if assistant A is better' in system["content"]
    assert "[The Start of Assistant A's Answer]\none" in user["content"]


def test_no_key_no_auth_header_and_unparseable_is_invalid_never_a_win(server, monkeypatch):
    monkeypatch.delenv("PLOT_TEST_JUDGE_KEY", raising=False)
    server.replies = [(200, "It is a tie."), (200, "[[A]]")]
    judge = _judge(server.url)
    assert judge.compare("Q?", "one", "two") is None
    assert server.requests[0]["auth"] is None
    from plot_eval.judges.base import pairwise_score

    server.replies = [(200, "[[A]]"), (200, "Neither: a tie")]
    assert pairwise_score(judge, "Q?", "one", "two") is None


def test_retries_after_server_error(server):
    server.replies = [(500, "overloaded"), (429, "slow down"), (200, "[[B]]")]
    assert _judge(server.url, retries=2).compare("Q?", "one", "two") == 0.0
    assert len(server.requests) == 3


def test_gives_up_after_retries(server):
    server.replies = [(503, "down")] * 2
    with pytest.raises(JudgeUnavailableError, match="after 2 attempts: HTTP 503"):
        _judge(server.url, retries=1).compare("Q?", "one", "two")


def test_client_error_is_not_retried(server):
    server.replies = [(401, "bad key"), (200, "A")]
    with pytest.raises(JudgeUnavailableError, match="refused the request: HTTP 401"):
        _judge(server.url, retries=3).compare("Q?", "one", "two")
    assert len(server.requests) == 1


def test_unreachable_endpoint_error_names_it():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{dead_port}/v1"
    with pytest.raises(JudgeUnavailableError, match=f"127.0.0.1:{dead_port}/v1/chat/completions unreachable"):
        _judge(url, retries=1).compare("Q?", "one", "two")


def test_rate_limiter_spaces_calls():
    """4 calls/s on a fake clock that does not advance: waits of 0, 0.25, 0.5, 0.75 s."""
    sleeps = []
    limiter = RateLimiter(4.0, clock=lambda: 100.0, sleep=sleeps.append)
    for _ in range(4):
        limiter.wait()
    assert sleeps == pytest.approx([0.25, 0.5, 0.75])
    unlimited = RateLimiter(None, clock=lambda: 100.0, sleep=sleeps.append)
    unlimited.wait()
    unlimited.wait()
    assert len(sleeps) == 3
