"""Every module against an OpenAI-compatible server on a real socket: the prompts cross the wire,
replies are parsed, malformed replies and provider faults surface where DSPy surfaces them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

import dspy_ash as dspy
from dspy_ash.errors import ContextWindowExceededError
from dspy_ash.lm._lm import LM
from dspy_ash.modules._streaming import StreamListener, StreamResponse
from dspy_ash.retrievers import BM25Retriever, hotpotqa_corpus
from dspy_ash.testing.fake_servers import FakeOpenAIServer, Fault, Reply


def fields(**values: Any) -> str:
    return (
        "".join(
            f"[[ ## {k} ## ]]\n{v if isinstance(v, str) else json.dumps(v)}\n\n" for k, v in values.items()
        )
        + "[[ ## completed ## ]]"
    )


def lookup(city: str) -> str:
    """Population lookup."""
    if city == "Atlantis":
        raise LookupError("no such city")
    return f"{city}: 2 million"


async def test_react_over_http_with_failing_tool_and_malformed_reply(
    server: FakeOpenAIServer, make_lm: Callable[..., LM]
) -> None:
    server.script.extend(
        [
            fields(next_thought="check", next_tool_name="lookup", next_tool_args={"city": "Atlantis"}),
            "I think I should call lookup now.",  # malformed: no field markers (ChatAdapter then JSON fallback fail)
            "still not the format",
            fields(reasoning="r", answer="unknown"),
        ]
    )
    react = dspy.ReAct("question -> answer", tools=[lookup], max_iters=5)
    with dspy.context(lm=make_lm()):
        out = await react.acall(question="population of Atlantis?")
    assert out.answer == "unknown"
    assert out.trajectory["observation_0"].startswith("Execution error in lookup:")
    assert "LookupError: no such city" in out.trajectory["observation_0"]
    assert "thought_1" not in out.trajectory  # the malformed reply ended the loop
    first = server.requests[0].body
    assert first["messages"][0]["content"].startswith(
        "Your input fields are:\n1. `question` (str): \n2. `trajectory`"
    )
    assert (
        "(1) lookup, whose description is <desc>Population lookup.</desc>" in first["messages"][0]["content"]
    )
    last = server.requests[-1].body["messages"][-1]["content"]
    assert "[[ ## observation_0 ## ]]\nExecution error in lookup:" in last


async def test_react_hits_max_iters_over_http(server: FakeOpenAIServer, make_lm: Callable[..., LM]) -> None:
    step = fields(next_thought="again", next_tool_name="lookup", next_tool_args={"city": "Oslo"})
    server.script.extend([step, step, fields(reasoning="r", answer="Oslo: 2 million")])
    with dspy.context(lm=make_lm()):
        out = await dspy.ReAct("question -> answer", tools=[lookup], max_iters=2).acall(question="q")
    assert len(server.requests) == 3
    assert out.trajectory["observation_1"] == "Oslo: 2 million"


async def test_react_truncates_on_context_length_fault(
    server: FakeOpenAIServer, make_lm: Callable[..., LM]
) -> None:
    step = fields(next_thought="t", next_tool_name="lookup", next_tool_args={"city": "Oslo"})
    server.script.extend(
        [
            step,
            step,
            Fault.context_length(),
            fields(next_thought="t", next_tool_name="finish", next_tool_args={}),
            fields(reasoning="r", answer="done"),
        ]
    )
    with dspy.context(lm=make_lm()):
        out = await dspy.ReAct("question -> answer", tools=[lookup]).acall(question="q")
    assert out.answer == "done"
    assert "thought_0" not in out.trajectory and "thought_1" in out.trajectory
    retried = server.requests[3].body["messages"][-1]["content"]
    assert "[[ ## thought_0 ## ]]" not in retried and "[[ ## thought_1 ## ]]" in retried


async def test_context_length_on_the_only_step_is_raised(
    server: FakeOpenAIServer, make_lm: Callable[..., LM]
) -> None:
    server.fail_next(Fault.context_length(), Fault.context_length())
    with dspy.context(lm=make_lm()), pytest.raises(ContextWindowExceededError):
        await dspy.ReAct("question -> answer", tools=[lookup]).acall(question="q")


async def test_native_tool_calls_run_concurrently(
    server: FakeOpenAIServer, make_lm: Callable[..., LM]
) -> None:
    async def slow_lookup(city: str) -> str:
        await asyncio.sleep(0.3)
        return f"{city}: sunny"

    calls = [
        {
            "id": f"call_{i}",
            "type": "function",
            "function": {"name": "slow_lookup", "arguments": json.dumps({"city": c})},
        }
        for i, c in enumerate(["Oslo", "Rome", "Lima", "Pune"])
    ]
    server.script.append(Reply(text=None, tool_calls=calls))

    class Plan(dspy.Signature):
        question: str = dspy.InputField()
        tools: list[dspy.Tool] = dspy.InputField()
        answer: str = dspy.OutputField()
        tool_calls: dspy.ToolCalls = dspy.OutputField()

    tool = dspy.Tool(slow_lookup)
    lm = make_lm()
    if not lm.supports_function_calling:
        # The LM facade declares capabilities per provider; until OpenAI's says so, state it here.
        lm.supports_function_calling = True
    with dspy.context(lm=lm, adapter=dspy.ChatAdapter(use_native_function_calling=True)):
        pred = await dspy.Predict(Plan).acall(question="weather in four cities", tools=[tool])
    sent = server.requests[0].body
    assert sent["tools"] == [tool.format_as_litellm_function_call()]
    assert [c.name for c in pred.tool_calls.tool_calls] == ["slow_lookup"] * 4
    started = time.perf_counter()
    results = await pred.tool_calls.aexecute([tool])
    assert results == ["Oslo: sunny", "Rome: sunny", "Lima: sunny", "Pune: sunny"]
    assert time.perf_counter() - started < 0.9  # four 0.3 s tools together, not 1.2 s


async def test_program_of_thought_over_http(server: FakeOpenAIServer, make_lm: Callable[..., LM]) -> None:
    server.script.extend(
        [
            fields(reasoning="r", generated_code="```python\nopen('/etc/passwd').read()\n```"),
            fields(reasoning="r", generated_code="```python\ntotal = sum(range(101))\n```"),
            fields(reasoning="r", answer="5050"),
        ]
    )
    with dspy.context(lm=make_lm()):
        out = await dspy.ProgramOfThought("question -> answer: int").acall(question="sum 0..100")
    assert out.answer == 5050
    regen = server.requests[1].body["messages"][-1]["content"]
    assert "PermissionError: sandbox: opening files is not allowed" in regen
    assert "[[ ## code_output ## ]]\n5050" in server.requests[2].body["messages"][-1]["content"]


async def test_best_of_n_and_refine_over_http(server: FakeOpenAIServer, make_lm: Callable[..., LM]) -> None:
    def exact(args: dict[str, Any], pred: Any) -> float:
        return 1.0 if pred.answer == "Brussels" else 0.0

    server.script.extend([fields(answer="It is Brussels"), fields(answer="Brussels")])
    with dspy.context(lm=make_lm()):
        out = await dspy.BestOfN(
            dspy.Predict("question -> answer"), N=3, reward_fn=exact, threshold=1.0
        ).acall(question="capital of Belgium?")
    assert out.answer == "Brussels" and len(server.requests) == 2
    assert {r.body["temperature"] for r in server.requests} == {1.0}

    server.script.extend(
        [
            fields(answer="It is Brussels"),
            fields(discussion="too wordy", advice={"self": "Only the city name."}),
            fields(answer="Brussels"),
        ]
    )
    with dspy.context(lm=make_lm()):
        out = await dspy.Refine(
            dspy.Predict("question -> answer"), N=3, reward_fn=exact, threshold=1.0
        ).acall(question="capital of Belgium?")
    assert out.answer == "Brussels"
    assert "[[ ## hint_ ## ]]\nOnly the city name." in server.requests[-1].body["messages"][-1]["content"]


async def test_parallel_over_http_is_concurrent_and_isolates_failures(make_lm: Callable[..., LM]) -> None:
    async with FakeOpenAIServer(latency=0.3) as slow:
        lm = LM("openai/gpt-4o-mini", api_base=slow.api_base, api_key="k", cache=False, num_retries=0)
        slow.fail_next(Fault.bad_request("nope"))
        predict = dspy.Predict("question -> answer")
        with dspy.context(lm=lm):
            started = time.perf_counter()
            results = await dspy.Parallel(num_threads=16).acall(
                [(predict, {"question": f"q{i}"}) for i in range(16)]
            )
            elapsed = time.perf_counter() - started
    assert elapsed < 1.2  # 16 calls of 0.3 s
    assert slow.max_in_flight >= 8
    assert sum(r is None for r in results) == 1
    assert all(r.answer == f"answer for q{i}" for i, r in enumerate(results) if r is not None)


async def test_multi_chain_comparison_and_majority_over_http(
    server: FakeOpenAIServer, make_lm: Callable[..., LM]
) -> None:
    server.script.append(fields(rationale="all agree", answer="4"))
    completions = [dspy.Prediction(reasoning="2+2", answer=a) for a in ("4", "4", "5")]
    with dspy.context(lm=make_lm()):
        out = await dspy.MultiChainComparison("question -> answer").acall(completions, question="2+2")
    assert out.answer == "4" and out.rationale == "all agree"
    assert dspy.majority(completions).answer == "4"
    assert "reasoning_attempt_3" in server.requests[0].body["messages"][0]["content"]


async def test_rag_with_retrieve_over_http(server: FakeOpenAIServer, make_lm: Callable[..., LM]) -> None:
    class RAG(dspy.Module):
        def __init__(self) -> None:
            super().__init__()
            self.retrieve = dspy.Retrieve(k=2)
            self.answer = dspy.ChainOfThought("context, question -> answer")

        async def aforward(self, question: str) -> Any:
            context = (await self.retrieve.acall(question)).passages
            return await self.answer.acall(context=context, question=question)

    server.script.append(fields(reasoning="from context", answer="American"))
    with dspy.context(lm=make_lm(), rm=BM25Retriever(hotpotqa_corpus())):
        out = await RAG().acall(question="What nationality is Scott Derrickson?")
    assert out.answer == "American"
    assert "Scott Derrickson (born July 16, 1966)" in server.requests[0].body["messages"][-1]["content"]


async def test_streamify_over_server_sent_events(make_lm: Callable[..., LM]) -> None:
    text = fields(reasoning="thinking", answer="Streaming works over the wire.")
    async with FakeOpenAIServer(script=[text], stream_chunk_chars=5) as streaming:
        lm = LM("openai/gpt-4o-mini", api_base=streaming.api_base, api_key="k", cache=False, num_retries=0)
        program = dspy.streamify(
            dspy.ChainOfThought("question -> answer"),
            stream_listeners=[StreamListener(signature_field_name="answer")],
        )
        with dspy.context(lm=lm):
            items = [item async for item in program(question="q")]
    assert streaming.requests[0].body["stream"] is True
    chunks = [i for i in items if isinstance(i, StreamResponse)]
    assert len(chunks) >= 4
    assert "".join(c.chunk for c in chunks) == "Streaming works over the wire."
    assert items[-1].answer == "Streaming works over the wire."


async def test_provider_fault_surfaces_from_modules(
    server: FakeOpenAIServer, make_lm: Callable[..., LM]
) -> None:
    server.fail_next(Fault.unauthorized())
    with dspy.context(lm=make_lm()), pytest.raises(dspy.LMAuthError):
        await dspy.ChainOfThought("question -> answer").acall(question="q")


async def test_react_with_native_function_calling_runs_a_turns_calls_concurrently(
    server: FakeOpenAIServer, make_lm: Callable[..., LM]
) -> None:
    async def slow_lookup(city: str) -> str:
        """Population lookup."""
        await asyncio.sleep(0.4)
        return f"{city}: 2 million"

    def call(i: int, name: str, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": f"call_{i}",
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(args)},
        }

    server.script.extend(
        [
            Reply(
                text="[[ ## next_thought ## ]]\nlook up all three\n\n[[ ## completed ## ]]",
                tool_calls=[
                    call(i, "slow_lookup", {"city": c}) for i, c in enumerate(["Oslo", "Rome", "Lima"])
                ],
            ),
            Reply(text=None, tool_calls=[call(3, "nope", {}), call(4, "finish", {})]),
            fields(reasoning="r", answer="all about 2 million"),
        ]
    )
    lm = make_lm()
    lm.supports_function_calling = True  # as the provider declares it (see the native tool calls test)
    react = dspy.ReAct("question -> answer", tools=[slow_lookup])
    started = time.perf_counter()
    with dspy.context(lm=lm, adapter=dspy.ChatAdapter(use_native_function_calling=True)):
        out = await react.acall(question="populations?")
    assert time.perf_counter() - started < 1.0  # three 0.4 s tools in one turn ran together
    assert out.answer == "all about 2 million"
    assert out.trajectory["tool_name_0"] == ["slow_lookup"] * 3
    assert out.trajectory["observation_0"] == ["Oslo: 2 million", "Rome: 2 million", "Lima: 2 million"]
    assert out.trajectory["thought_0"] == "look up all three"
    assert out.trajectory["observation_1"][0].startswith("Execution error in nope:")
    first = server.requests[0].body
    assert [t["function"]["name"] for t in first["tools"]] == ["slow_lookup", "finish"]
    system = first["messages"][0]["content"]
    assert "next_tool_name" not in system.split("In adhering to this structure")[0]
    assert "(1) slow_lookup, whose description is <desc>Population lookup.</desc>" in system
    extract_prompt = server.requests[2].body["messages"][-1]["content"]
    # lists in the trajectory's text fields render as DSPy renders any list given to a str field
    assert (
        "[[ ## tool_name_0 ## ]]\n[1] «slow_lookup»\n[2] «slow_lookup»\n[3] «slow_lookup»" in extract_prompt
    )
    assert "tools" not in server.requests[2].body
