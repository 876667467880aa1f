"""`ColBERTv2` against a fake ColBERTv2 server on 127.0.0.1, and side by side with DSPy's own client."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

import dspy_ash
from dspy_ash.errors import (
    DspyAshError,
    InvalidInputError,
    RetrieverConnectionError,
    RetrieverError,
    RetrieverResponseError,
)
from dspy_ash.retrievers._colbertv2 import ColBERTv2

CORPUS = [
    "Paris | Paris is the capital of France.",
    "Berlin | Berlin is the capital of Germany.",
    "France | France is a country in Western Europe.",
    "Rome | Rome is the capital of Italy.",
    "Seine | The Seine flows through Paris.",
]


@dataclass
class FakeColBERTv2:
    """Answers as a ColBERTv2 server does: `topk` passages with text, pid, rank, score and prob, ranked by
    the words they share with the query. `reply` (a JSON-able object or raw bytes) and `status` replace
    the answer; `delay` holds every answer back."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    reply: Any = None
    status: int = 200
    delay: float = 0.0

    def answer(self, query: str, k: int) -> dict[str, Any]:
        words = set(query.lower().split())
        scored = sorted(
            (
                (len(words & set(text.lower().replace(".", "").split())), -pid, text)
                for pid, text in enumerate(CORPUS)
            ),
            reverse=True,
        )
        topk = [
            {"text": text, "pid": -neg_pid, "rank": rank + 1, "score": float(score), "prob": 1.0 / (rank + 1)}
            for rank, (score, neg_pid, text) in enumerate(scored)
        ]
        return {
            "query": query,
            "topk": topk[: k + 2],
            "latency": 1.5,
        }  # a few more than asked, as servers may


@pytest.fixture
def server() -> Iterator[FakeColBERTv2]:
    fake = FakeColBERTv2()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _respond(self, query: str, k: int) -> None:
            time.sleep(fake.delay)
            body = fake.reply if fake.reply is not None else fake.answer(query, k)
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(fake.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            params = parse_qs(urlparse(self.path).query)
            fake.requests.append({"method": "GET", "params": params})
            self._respond(params["query"][0], int(params["k"][0]))

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fake.requests.append(
                {"method": "POST", "body": body, "content_type": self.headers["Content-Type"]}
            )
            self._respond(body["query"], int(body["k"]))

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield fake
    finally:
        httpd.shutdown()
        httpd.server_close()


def _split(url: str) -> tuple[str, int]:
    base, _, port = url.rpartition(":")
    return base, int(port)


def test_get_sends_query_and_k_and_returns_k_passages_with_long_text(server: FakeColBERTv2) -> None:
    base, port = _split(server.url)
    rm = ColBERTv2(url=base, port=port)
    assert rm.url == server.url

    passages = rm("capital of France", k=2)

    assert server.requests == [{"method": "GET", "params": {"query": ["capital of France"], "k": ["2"]}}]
    assert [p.long_text for p in passages] == [CORPUS[0], CORPUS[1]]  # cut to k although the server sent 4
    first = passages[0]
    assert isinstance(first, dict)
    assert first["long_text"] == first["text"] == first.long_text
    assert (first.pid, first.rank, first.score) == (0, 1, 3.0)
    with pytest.raises(AttributeError):
        _ = first.no_such_key
    assert rm("capital of France", k=2, simplify=True) == [CORPUS[0], CORPUS[1]]


def test_post_sends_json_and_adds_long_text_where_the_server_sent_none(server: FakeColBERTv2) -> None:
    rm = ColBERTv2(url=server.url, post_requests=True)

    passages = rm("Seine Paris", k=1)

    assert server.requests == [
        {
            "method": "POST",
            "body": {"query": "Seine Paris", "k": 1},
            "content_type": "application/json; charset=utf-8",
        }
    ]
    assert [(p.long_text, p.pid) for p in passages] == [(CORPUS[4], 4)]

    server.reply = {"topk": [{"text": "short", "long_text": "the long one", "pid": 7}]}
    assert rm("another query", k=3) == [{"text": "short", "long_text": "the long one", "pid": 7}]


def test_is_the_rm_that_retrieve_calls_sync_and_async(server: FakeColBERTv2) -> None:
    dspy_ash.configure(rm=dspy_ash.ColBERTv2(url=server.url))
    retrieve = dspy_ash.Retrieve(k=2)

    assert retrieve("capital of Italy").passages == [CORPUS[3], CORPUS[0]]
    assert asyncio.run(retrieve.acall("Germany capital")).passages == [CORPUS[1], CORPUS[0]]
    assert [r["params"]["k"] for r in server.requests] == [["2"], ["2"]]


def test_answers_are_cached_per_server_query_and_k(server: FakeColBERTv2) -> None:
    rm = ColBERTv2(url=server.url)
    first = rm("capital", k=2)
    expected = [dict(p) for p in first]
    first[0].text = "changed by the caller"  # never reaches the cache
    assert [dict(p) for p in rm("capital", k=2)] == expected
    assert len(server.requests) == 1
    rm("capital", k=3)
    ColBERTv2(url=server.url, post_requests=True)("capital", k=2)
    assert len(server.requests) == 3


@pytest.mark.parametrize(
    ("reply", "status", "message"),
    [
        (
            {"error": True, "message": "index not loaded"},
            200,
            "ColBERTv2 server returned an error: index not loaded",
        ),
        ({"passages": []}, 200, "ColBERTv2 server returned an unexpected response"),
        (b"<html>gateway</html>", 502, "answered HTTP 502"),
        (b"not json", 200, "something other than a JSON object"),
        ({"topk": [{"pid": 1}]}, 200, "passage 0 without a `text`"),
    ],
)
def test_a_bad_reply_raises_a_typed_error_that_says_what_came_back(
    server: FakeColBERTv2, reply: Any, status: int, message: str
) -> None:
    server.reply, server.status = reply, status
    with pytest.raises(RetrieverResponseError, match=message) as caught:
        ColBERTv2(url=server.url)("q", k=3)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, DspyAshError)  # DSPy: ValueError
    assert caught.value.url == server.url
    assert caught.value.status == status
    # nothing was cached: the server answering again is heard
    server.reply, server.status = None, 200
    assert ColBERTv2(url=server.url)("q", k=3, simplify=True) == CORPUS[:3]


def test_an_unreachable_server_is_a_connection_error_naming_it() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rm = ColBERTv2(url="http://127.0.0.1", port=port)
    with pytest.raises(
        RetrieverConnectionError,
        match=re.escape(f"Could not reach the ColBERTv2 server at http://127.0.0.1:{port}"),
    ):
        rm("q")


def test_a_server_slower_than_the_timeout_is_a_connection_error(server: FakeColBERTv2) -> None:
    server.delay = 1.0
    with pytest.raises(RetrieverConnectionError, match=r"did not answer within 0\.2s") as caught:
        ColBERTv2(url=server.url, timeout=0.2)("q")
    assert isinstance(caught.value, RetrieverError)


def test_get_refuses_k_over_100_before_sending_as_dspy_does(server: FakeColBERTv2) -> None:
    with pytest.raises(InvalidInputError, match="k <= 100"):
        ColBERTv2(url=server.url)("q", k=101)
    assert server.requests == []
    assert len(ColBERTv2(url=server.url, post_requests=True)("q", k=101)) == len(CORPUS)


# --- side by side with DSPy 3.4.1's client, pointed at the same server ---------------------------------


@pytest.fixture
def real_colbert() -> Any:
    return pytest.importorskip("dspy.dsp.colbertv2").ColBERTv2


@pytest.mark.oracle
@pytest.mark.parametrize("k", [1, 3, 10])
def test_get_returns_what_dspy_returns(server: FakeColBERTv2, real_colbert: Any, k: int) -> None:
    ours, theirs = ColBERTv2(url=server.url), real_colbert(url=server.url)
    for query in ("capital of France", "Seine"):
        mine, real = ours(query, k=k), theirs(query, k=k)
        assert [dict(p) for p in mine] == [dict(p) for p in real]
        assert [p.long_text for p in mine] == [p.long_text for p in real]
        assert ours(query, k=k, simplify=True) == theirs(query, k=k, simplify=True)


@pytest.mark.oracle
def test_post_returns_what_dspy_returns_plus_long_text(server: FakeColBERTv2, real_colbert: Any) -> None:
    ours, theirs = (
        ColBERTv2(url=server.url, post_requests=True),
        real_colbert(url=server.url, post_requests=True),
    )
    mine, real = ours("capital of Germany", k=2), theirs("capital of Germany", k=2)
    assert [{k: v for k, v in p.items() if k != "long_text"} for p in mine] == [dict(p) for p in real]
    assert all("long_text" not in p for p in real)  # DSPy's POST passages have none (its Retrieve then fails)
    assert [p.long_text for p in mine] == [p.text for p in real]


@pytest.mark.oracle
@pytest.mark.parametrize("reply", [{"error": True, "message": "boom"}, {"error": True}, {"result": []}])
def test_error_replies_raise_value_errors_with_dspys_message(
    server: FakeColBERTv2, real_colbert: Any, reply: dict[str, Any]
) -> None:
    server.reply = reply
    with pytest.raises(ValueError) as real:
        real_colbert(url=server.url)(f"q {reply}", k=2)
    with pytest.raises(ValueError) as mine:
        ColBERTv2(url=server.url)(f"q {reply}", k=2)
    assert str(mine.value) == str(real.value)
