"""Offline stand-in models for the examples: handlers for `FakeOpenAIServer` that answer from the
prompt alone. They are not language models and never see a dataset, only the messages of each
request, so their scores are earned from what the program put in the prompt.

    with FakeOpenAIServer(handler=ExtractiveReader()) as server:
        lm = LM("openai/extractive-reader", api_base=server.api_base, api_key="local")

Both read ChatAdapter conversations: the demos are the user/assistant pairs before the last user
message, the inputs are the `[[ ## field ## ]]` sections of that last message. Both depend on the
demos, so an optimizer that picks demos can move their score:

- `ExtractiveReader` (question answering over passages): picks the sentence of the `context` passages
  that shares the most words with the question. With no demos it answers with that whole sentence, as
  an untuned model answers verbosely; with demos it imitates their answer format: a yes/no answer
  when the demo whose question starts like this one was answered yes/no, otherwise the entity or
  number span of that sentence whose length is closest to the demo answers' typical length.
- `ArithmeticSolver` (word problems): knows a few ways to combine the numbers of a question (apply
  the operation words in order, add everything, multiply everything, ...). With no demos it applies
  the operation words; with demos it uses the way that reproduces the most demo answers from their
  own questions, and writes its steps as reasoning.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import statistics
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

STAND_IN_NOTICE = "offline stand-in model: answers from the prompt alone, not a real LM"


@contextlib.contextmanager
def lm_or_stand_in(
    model: str | None,
    handler: Callable[[dict[str, Any]], str],
    *,
    api_base: str | None = None,
    api_key: str | None = None,
) -> Generator[Any]:
    """The LM `model` names; with none, `handler` served over HTTP on 127.0.0.1 as an OpenAI-compatible
    model for the block, announced as the stand-in it is (the examples' `--model` or offline)."""
    from dspy_ash.lm import LM

    if model:
        yield LM(model, api_base=api_base, api_key=api_key)
        return
    from dspy_ash.testing.fake_servers import FakeOpenAIServer

    name = re.sub(r"(?<!^)(?=[A-Z])", "-", type(handler).__name__).lower()  # ToolUser -> tool-user
    with FakeOpenAIServer(handler=handler) as server:
        print(f"No --model given: {STAND_IN_NOTICE} ({name} at {server.api_base}).")  # noqa: T201  (never silent)
        yield LM(f"openai/{name}", api_base=server.api_base, api_key="local", cache=False)


_SECTION = re.compile(r"\[\[ ## (\w+) ## \]\]\n(.*?)(?=\n\n\[\[ ## |\n\nRespond with|\n*\Z)", re.DOTALL)
_NOT_SUPPLIED = "Not supplied for this particular example."


@dataclass
class Turn:
    """One demo (inputs and outputs together) or the final request (inputs only)."""

    fields: dict[str, str] = field(default_factory=dict[str, str])

    def get(self, name: str) -> str | None:
        return self.fields.get(name)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType, reportUnknownVariableType]
    return ""


def _sections(text: str) -> dict[str, str]:
    return {k: v.strip() for k, v in _SECTION.findall(text) if v.strip() not in ("", _NOT_SUPPLIED)}


def read_conversation(body: dict[str, Any]) -> tuple[list[Turn], Turn]:
    """The demos and the final request of a ChatAdapter conversation (an OpenAI request body)."""
    messages = [m for m in body.get("messages", []) if m.get("role") != "system"]
    demos: list[Turn] = []
    for user, assistant in zip(messages[:-1:2], messages[1:-1:2], strict=False):
        demos.append(
            Turn({**_sections(_text(user.get("content"))), **_sections(_text(assistant.get("content")))})
        )
    final = Turn(_sections(_text(messages[-1].get("content")))) if messages else Turn()
    return demos, final


def _reply(fields: dict[str, str]) -> str:
    return "".join(f"[[ ## {k} ## ]]\n{v}\n\n" for k, v in fields.items()) + "[[ ## completed ## ]]"


# -- extractive question answering --------------------------------------------------------------------


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOP = _words(
    "a an the of in on at to for by with from and or but as is are was were be been being has have had do "
    "does did which what who whom whose where when why how that this these those it its he she they his "
    "her their there than then also both same other such into about over under after before during "
    "many much one any all not no yes was known called named"
)
_CONNECTORS = frozenset({"of", "the", "de", "von", "van", "du", "la", "del", "da", "and", "y", "le"})


def _content_words(text: str) -> set[str]:
    words = (w.lower().strip(".,'’\"?!:;()") for w in text.split())
    return {w.removesuffix("s") for w in words if w and w not in _STOP}


def _sentences(passages: list[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for passage in passages:
        title, sep, text = passage.partition(" | ")
        if not sep:
            title, text = "", passage
        for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z0-9\"'])", text.strip()):
            if sentence:
                out.append((title, sentence))
    return out


def _spans(sentence: str) -> list[str]:
    """Runs of capitalised words or numbers (a connector such as "of" may join two of them), each
    returned verbatim as it stands in the sentence."""
    words: list[tuple[int, int, str]] = []  # start, end, word without surrounding punctuation
    for m in re.finditer(r"\S+", sentence):
        core = m.group().strip(",.;:()\"'’")
        if core:
            offset = m.start() + m.group().index(core)
            words.append((offset, offset + len(core), core))
    spans: list[str] = []
    run: list[tuple[int, int, str]] = []
    for i, (start, end, word) in enumerate(words):
        strong = word[0].isupper() or word[0].isdigit()
        joins = (
            bool(run) and word.lower() in _CONNECTORS and i + 1 < len(words) and words[i + 1][2][0].isupper()
        )
        if (strong and (run or word.lower() not in _STOP)) or joins:
            run.append((start, end, word))
            continue
        if run:
            spans.append(sentence[run[0][0] : run[-1][1]])
        run = []
    if run:
        spans.append(sentence[run[0][0] : run[-1][1]])
    return spans


def _parse_list(value: str) -> list[str]:
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return [value]
    if isinstance(parsed, list):
        return [str(p) for p in parsed]  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    return [str(parsed)]


def _first_word(question: str) -> str:
    words = question.lower().split()
    return words[0] if words else ""


@dataclass
class ExtractiveReader:
    """Answers `question` from the `context` passages in the prompt (see the module docstring).

    It writes the output fields the system message asks for among `reasoning`, `answer`, `confidence`
    (the share of the question's words the chosen sentence holds) and `query` (a search query for the
    next hop: the question, then the question with the best sentence's first new entity)."""

    context_field: str = "context"
    question_field: str = "question"

    def __call__(self, body: dict[str, Any]) -> str:
        demos, request = read_conversation(body)
        question = request.get(self.question_field) or ""
        passages = _parse_list(request.get(self.context_field) or "[]")
        wanted = output_fields(body) or ["reasoning", "answer"]
        if "query" in wanted and "answer" not in wanted:
            query = self.query(question, passages)
            return _reply({"reasoning": f"Search for: {query}", "query": query})
        reasoning, answer = self.answer(question, passages, demos)
        known = {"reasoning": reasoning, "answer": answer}
        if "confidence" in wanted:
            known["confidence"] = f"{_best(question, passages)[2]:.2f}"
        return _reply({name: known[name] for name in wanted if name in known})

    def query(self, question: str, passages: list[str]) -> str:
        title, sentence, _ = _best(question, passages)
        if not sentence:
            return question
        asked = _content_words(question)
        new = [s for s in _spans(sentence) if not _content_words(s) <= asked and s != title]
        return f"{question} {new[0]}" if new else question

    def answer(self, question: str, passages: list[str], demos: list[Turn]) -> tuple[str, str]:
        title, sentence, _ = _best(question, passages)
        if not sentence:
            return "The passages say nothing.", "unknown"
        asked = _content_words(question)
        reasoning = f'The passage "{title}" says: {sentence}' if title else f"The passages say: {sentence}"
        answered = [(d.get(self.question_field) or "", d.get("answer") or "") for d in demos]
        answered = [(q, a) for q, a in answered if a]
        lengths = [len(a.split()) for _, a in answered]
        if not answered:
            return reasoning, sentence
        similar = [a for q, a in answered if _first_word(q) == _first_word(question)]
        if similar and all(a.lower() in {"yes", "no"} for a in similar):
            return reasoning, "yes"
        target = statistics.median(lengths)
        candidates = [s for s in _spans(sentence) if not _content_words(s) <= asked] or [sentence]
        if _first_word(question) in {"when"} or re.search(r"\b(year|how many|how much)\b", question.lower()):
            candidates = [c for c in candidates if any(ch.isdigit() for ch in c)] or candidates
        best = min(candidates, key=lambda c: abs(len(c.split()) - target))
        return reasoning, best


def _best(question: str, passages: list[str]) -> tuple[str, str, float]:
    """The (title, sentence) of the passages sharing the most words with the question, and the share of
    the question's words it holds; empty strings and 0 when there is no sentence."""
    sentences = _sentences(passages)
    if not sentences:
        return "", "", 0.0
    asked = _content_words(question)

    def overlap(item: tuple[str, str]) -> float:
        title, sentence = item
        return len(asked & _content_words(sentence)) + 0.5 * len(asked & _content_words(title))

    title, sentence = max(sentences, key=overlap)
    share = len(asked & (_content_words(sentence) | _content_words(title))) / len(asked) if asked else 0.0
    return title, sentence, share


_OUTPUT_FIELDS = re.compile(r"Your output fields are:\n(.*?)(?:\nAll interactions|\Z)", re.DOTALL)


def output_fields(body: dict[str, Any]) -> list[str]:
    """The output fields a ChatAdapter system message asks for, in order (none found: [])."""
    system = next((m for m in body.get("messages", []) if m.get("role") == "system"), None)
    found = _OUTPUT_FIELDS.search(_text(system.get("content"))) if system else None
    return re.findall(r"^\d+\. `(\w+)`", found.group(1), re.MULTILINE) if found else []


@dataclass
class ToolUser:
    """ReAct's stand-in for an agent with a `search` and a `calculate` tool (examples/react_agent.py).

    First step: a question holding an arithmetic expression goes to `calculate` with that expression,
    any other to `search` with the question; then `finish`. The extraction step answers with the
    calculator's result, or reads the searched passages as `ExtractiveReader` does. It decides from the
    prompt alone: the tools do the work."""

    reader: ExtractiveReader = field(default_factory=ExtractiveReader)

    def __call__(self, body: dict[str, Any]) -> str:
        demos, request = read_conversation(body)
        wanted = output_fields(body)
        question = request.get("question") or ""
        if "next_tool_name" in wanted:
            return _reply(self.step(question, request, _tool_names(body)))
        tool, observation = request.get("tool_name_0"), request.get("observation_0") or ""
        if tool == "calculate":
            reasoning, answer = f"The calculator says {observation}.", observation
        else:
            passages = _parse_list(observation) if observation.startswith("[") else observation.splitlines()
            reasoning, answer = self.reader.answer(question, passages, demos)
        known = {"reasoning": reasoning, "answer": answer}
        return _reply({name: known[name] for name in wanted or known if name in known})

    def step(self, question: str, request: Turn, tools: list[str]) -> dict[str, str]:
        if request.get("observation_0") is not None:
            return {"next_thought": "I have what I need.", "next_tool_name": "finish", "next_tool_args": "{}"}
        expression = arithmetic_expression(question)
        if expression and "calculate" in tools:
            args = {"expression": expression}
            return {"next_thought": f"Calculate {expression}.", "next_tool_name": "calculate",
                    "next_tool_args": json.dumps(args)}  # fmt: skip
        return {"next_thought": "Search for the question.", "next_tool_name": "search",
                "next_tool_args": json.dumps({"query": question})}  # fmt: skip


_EXPRESSION = re.compile(r"[\d(][\d\s.+\-*/()]*[\d)]")


def arithmetic_expression(text: str) -> str | None:
    """The longest run of numbers, operators and brackets in `text` that holds an operator, else None."""
    runs = [m.group().strip() for m in _EXPRESSION.finditer(text)]
    runs = [r for r in runs if re.search(r"\d\s*[-+*/]\s*[\d(]", r)]
    return max(runs, key=len) if runs else None


def _tool_names(body: dict[str, Any]) -> list[str]:
    system = next((m for m in body.get("messages", []) if m.get("role") == "system"), None)
    return re.findall(r"\(\d+\) (\w+), whose description", _text(system.get("content")) if system else "")


# -- arithmetic word problems ---------------------------------------------------------------------------

_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "twenty": 20, "thirty": 30, "hundred": 100, "dozen": 12,
    "twice": 2, "double": 2, "triple": 3, "half": 0.5, "quarter": 0.25,
}  # fmt: skip
_TOKEN = re.compile(r"\$?(\d[\d,]*(?:\.\d+)?)(%?)|([A-Za-z]+)")
_OPS: dict[str, str] = {
    **dict.fromkeys(_words("more add adds added plus gets buys receives earns another extra total"), "+"),
    **dict.fromkeys(
        _words("less fewer minus gives spends spent loses lost sells sold eats ate uses used left"), "-"
    ),
    **dict.fromkeys(_words("times each every per twice double triple"), "*"),
    **dict.fromkeys(_words("half divided split shared equally quarter among"), "/"),
}


def _numbers_and_ops(question: str) -> list[tuple[float, str | None]]:
    """Each number of the question with the operation word nearest before it (since the last number)."""
    out: list[tuple[float, str | None]] = []
    op: str | None = None
    for digits, percent, word in _TOKEN.findall(question):
        if digits:
            value = float(digits.replace(",", ""))
            out.append((value / 100 if percent else value, op))
            op = None
            continue
        lower = word.lower()
        if lower in _OPS:
            op = _OPS[lower]
        if lower in _NUMBER_WORDS and lower not in {"half", "quarter", "twice", "double", "triple"}:
            out.append((float(_NUMBER_WORDS[lower]), op))
            op = None
    return out


def _apply(a: float, op: str | None, b: float) -> tuple[float, str]:
    if op == "-":
        return a - b, f"{_fmt(a)} - {_fmt(b)} = {_fmt(a - b)}"
    if op == "*":
        return a * b, f"{_fmt(a)} * {_fmt(b)} = {_fmt(a * b)}"
    if op == "/" and b:
        return a / b, f"{_fmt(a)} / {_fmt(b)} = {_fmt(a / b)}"
    return a + b, f"{_fmt(a)} + {_fmt(b)} = {_fmt(a + b)}"


def _fmt(x: float) -> str:
    return str(round(x)) if math.isclose(x, round(x), abs_tol=1e-9) else f"{x:.2f}".rstrip("0")


def _with_words(items: list[tuple[float, str | None]]) -> tuple[float, list[str]]:
    total, steps = items[0][0], []
    for value, op in items[1:]:
        total, step = _apply(total, op, value)
        steps.append(step)
    return total, steps


def _fold(op: str) -> Callable[[list[tuple[float, str | None]]], tuple[float, list[str]]]:
    def run(items: list[tuple[float, str | None]]) -> tuple[float, list[str]]:
        total, steps = items[0][0], []
        for value, _ in items[1:]:
            total, step = _apply(total, op, value)
            steps.append(step)
        return total, steps

    return run


def _rate_then_sum(items: list[tuple[float, str | None]]) -> tuple[float, list[str]]:
    """Multiply the first two numbers (a rate and a count), then add or subtract the rest by their words."""
    if len(items) < 2:
        return _with_words(items)
    head, step = _apply(items[0][0], "*", items[1][0])
    total, steps = _with_words([(head, None), *[(v, op if op in {"+", "-"} else "+") for v, op in items[2:]]])
    return total, [step, *steps]


def _then_times_last(
    first: Callable[[list[tuple[float, str | None]]], tuple[float, list[str]]],
) -> Callable[[list[tuple[float, str | None]]], tuple[float, list[str]]]:
    """Combine all numbers but the last with `first`, then multiply by the last (a count of repeats)."""

    def run(items: list[tuple[float, str | None]]) -> tuple[float, list[str]]:
        if len(items) < 3:
            return first(items)
        head, steps = first(items[:-1])
        total, step = _apply(head, "*", items[-1][0])
        return total, [*steps, step]

    return run


def _first_less_rest(items: list[tuple[float, str | None]]) -> tuple[float, list[str]]:
    """What is left of the first number once the others are taken away."""
    return _fold("-")(items)


_STRATEGIES: dict[str, Callable[[list[tuple[float, str | None]]], tuple[float, list[str]]]] = {
    "operation words": _with_words,
    "sum": _fold("+"),
    "product": _fold("*"),
    "rate then sum": _rate_then_sum,
    "operation words, then times the last": _then_times_last(_with_words),
    "sum, then times the last": _then_times_last(_fold("+")),
    "first less the rest": _first_less_rest,
    "first less the rest, then times the last": _then_times_last(_first_less_rest),
}


def _number_in(text: str) -> float | None:
    found = re.findall(r"-?\d[\d,]*\.?\d*", text)
    return float(found[-1].replace(",", "").rstrip(".")) if found else None


@dataclass
class ArithmeticSolver:
    """Combines the numbers of `question` (see the module docstring)."""

    question_field: str = "question"

    def __call__(self, body: dict[str, Any]) -> str:
        demos, request = read_conversation(body)
        question = request.get(self.question_field) or ""
        wanted = output_fields(body)
        if "generated_code" in wanted:  # ProgramOfThought: the steps as Python, run by the sandbox
            reasoning, code = self.program(question, demos)
            return _reply({"reasoning": reasoning, "generated_code": f"```python\n{code}\n```"})
        output = request.get("code_output")
        if output is not None:  # ProgramOfThought's answer: what the code printed or submitted
            number = _number_in(output)
            answer = "0" if number is None else _fmt(number)
            return _reply({"reasoning": f"The code computed {answer}.", "answer": answer})
        reasoning, answer = self.solve(question, demos)
        return _reply({"reasoning": reasoning, "answer": answer})

    def program(self, question: str, demos: list[Turn]) -> tuple[str, str]:
        """The same combination of the numbers as `solve`, written as code that submits the answer."""
        items = _numbers_and_ops(question)
        if not items:
            return "The question has no numbers.", 'SUBMIT({"answer": 0})'
        strategy = self.choose(demos)
        _, steps = _STRATEGIES[strategy](items)
        lines = [f"value = {_fmt(items[0][0]) if not steps else steps[0].split(' ')[0]}"]
        lines += [f"value = value {step.split(' ')[1]} {step.split(' ')[2]}" for step in steps]
        lines.append('SUBMIT({"answer": value})')
        return f"Combine the numbers by {strategy}.", "\n".join(lines)

    def choose(self, demos: list[Turn]) -> str:
        """The strategy that reproduces the most demo answers from their questions (ties: the first)."""
        worked: list[tuple[list[tuple[float, str | None]], float]] = []
        for demo in demos:
            items = _numbers_and_ops(demo.get(self.question_field) or "")
            gold = _number_in(demo.get("answer") or "")
            if items and gold is not None:
                worked.append((items, gold))
        if not worked:
            return "operation words"
        return max(
            _STRATEGIES, key=lambda name: sum(math.isclose(_STRATEGIES[name](i)[0], g) for i, g in worked)
        )

    def solve(self, question: str, demos: list[Turn]) -> tuple[str, str]:
        items = _numbers_and_ops(question)
        if not items:
            return "The question has no numbers.", "0"
        strategy = self.choose(demos)
        total, steps = _STRATEGIES[strategy](items)
        reasoning = f"Combining the numbers by {strategy}: " + (
            " ".join(f"{s}." for s in steps) or _fmt(total)
        )
        return reasoning, _fmt(total)


__all__ = [
    "STAND_IN_NOTICE",
    "ArithmeticSolver",
    "ExtractiveReader",
    "ToolUser",
    "Turn",
    "arithmetic_expression",
    "lm_or_stand_in",
    "output_fields",
    "read_conversation",
]
