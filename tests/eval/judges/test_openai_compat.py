"""OpenAIJudge against a real HTTP server on 127.0.0.1 returning canned replies: parsing, auth header,
retry after a 500, no retry on 401, unreachable endpoint, and the client-side rate limit (fake clock)."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from eval.judges.openai_compat import JudgeUnavailableError, OpenAIJudge, RateLimiter, parse_verdict


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
    [("A", 1.0), ("b", 0.0), ("Tie.", 0.5), ("Verdict: B", 0.0), ("[[A]]", 1.0), ("No idea", None)],
)
def test_parse_verdict(text, expected):
    assert parse_verdict(text) == expected


def test_verdicts_request_and_auth_header(server, monkeypatch):
    monkeypatch.setenv("PLOT_TEST_JUDGE_KEY", "sk-test")
    server.replies = [(200, "A"), (200, "B"), (200, "tie")]
    judge = _judge(server.url)
    assert [judge.compare("Q?", "one", "two") for _ in range(3)] == [1.0, 0.0, 0.5]
    first = server.requests[0]
    assert first["path"] == "/v1/chat/completions" and first["auth"] == "Bearer sk-test"
    assert first["body"]["model"] == "judge-model" and first["body"]["temperature"] == 0
    assert "[Response A]\none" in first["body"]["messages"][0]["content"]


def test_no_key_no_auth_header_and_unparseable_is_tie(server, monkeypatch):
    monkeypatch.delenv("PLOT_TEST_JUDGE_KEY", raising=False)
    server.replies = [(200, "I cannot decide")]
    with pytest.warns(UserWarning, match="no verdict"):
        assert _judge(server.url).compare("Q?", "one", "two") == 0.5
    assert server.requests[0]["auth"] is None


def test_retries_after_server_error(server):
    server.replies = [(500, "overloaded"), (429, "slow down"), (200, "B")]
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
