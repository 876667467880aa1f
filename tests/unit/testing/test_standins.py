"""The examples' offline stand-in models answer from the prompt alone, and their demos steer them."""

from __future__ import annotations

import dspy_ash as dspy
from dspy_ash.adapters import ChatAdapter
from dspy_ash.testing import FakeOpenAIServer
from dspy_ash.testing.standins import ArithmeticSolver, ExtractiveReader, read_conversation

RAG = dspy.ChainOfThought("context: list[str], question -> answer").predict.signature
MATH = dspy.ChainOfThought("question -> answer").predict.signature

PASSAGES = [
    "Eiffel Tower | The Eiffel Tower is a wrought-iron lattice tower in Paris. It was designed by the "
    "engineer Gustave Eiffel and completed in 1889.",
    "Paris | Paris is the capital of France.",
]
QUESTION = "Which engineer designed the Eiffel Tower?"


def _body(signature, demos, inputs):
    return {"messages": ChatAdapter().format(signature, demos, inputs)}


def _answer(reply: str) -> str:
    return reply.split("[[ ## answer ## ]]\n", 1)[1].split("\n\n", 1)[0]


def test_read_conversation_splits_demos_from_the_request():
    demos = [
        dspy.Example(question="Q1?", answer="A one"),
        dspy.Example(context=["x | y."], question="Q2?", reasoning="because", answer="A2"),
    ]
    parsed, request = read_conversation(_body(RAG, demos, {"context": PASSAGES, "question": QUESTION}))
    assert [d.fields for d in parsed] == [
        {"question": "Q1?", "answer": "A one"},  # the unsupplied context and reasoning are absent
        {"context": '["x | y."]', "question": "Q2?", "reasoning": "because", "answer": "A2"},
    ]
    assert request.fields["question"] == QUESTION
    assert "answer" not in request.fields


def test_reader_without_demos_answers_with_the_best_matching_sentence():
    reply = ExtractiveReader()(_body(RAG, [], {"context": PASSAGES, "question": QUESTION}))
    assert _answer(reply) == "It was designed by the engineer Gustave Eiffel and completed in 1889."
    assert 'The passage "Eiffel Tower" says:' in reply


def test_reader_imitates_the_length_of_its_demos_answers():
    short = [dspy.Example(question="Who wrote Hamlet?", answer="William Shakespeare")]
    reply = ExtractiveReader()(_body(RAG, short, {"context": PASSAGES, "question": QUESTION}))
    assert _answer(reply) == "Gustave Eiffel"
    when = "When was the Eiffel Tower that the engineer designed completed?"
    reply = ExtractiveReader()(_body(RAG, short, {"context": PASSAGES, "question": when}))
    assert _answer(reply) == "1889"  # a when-question takes the number span


def test_reader_answers_yes_or_no_like_a_demo_that_asked_the_same_way():
    demos = [dspy.Example(question="Is Paris in France?", answer="yes")]
    reply = ExtractiveReader()(_body(RAG, demos, {"context": PASSAGES, "question": "Is the tower in Paris?"}))
    assert _answer(reply) == "yes"
    reply = ExtractiveReader()(_body(RAG, demos, {"context": PASSAGES, "question": QUESTION}))
    assert _answer(reply) != "yes"


def test_reader_reads_only_the_passages_in_the_prompt():
    other = ["Tower | The tower was designed by the engineer Maurice Koechlin in Paris."]
    demos = [dspy.Example(question="Who wrote Hamlet?", answer="William Shakespeare")]
    reply = ExtractiveReader()(_body(RAG, demos, {"context": other, "question": QUESTION}))
    assert _answer(reply) == "Maurice Koechlin"


def test_solver_without_demos_applies_the_operation_words():
    reply = ArithmeticSolver()(_body(MATH, [], {"question": "Tom has 5 apples and buys 3 more. How many?"}))
    assert _answer(reply) == "8"
    assert "5 + 3 = 8" in reply


def test_solver_uses_the_strategy_that_reproduces_its_demos():
    question = "A box holds 6 eggs and there are 4 boxes. How many eggs?"
    assert _answer(ArithmeticSolver()(_body(MATH, [], {"question": question}))) == "10"
    demos = [
        dspy.Example(question="A bag has 3 balls and there are 5 bags. How many balls?", answer="15"),
        dspy.Example(question="Each of 2 cars has 4 wheels. How many wheels?", answer="8"),
    ]
    reply = ArithmeticSolver()(_body(MATH, demos, {"question": question}))
    assert _answer(reply) == "24"
    assert "product" in reply


def test_stand_ins_serve_over_http_to_a_program():
    with FakeOpenAIServer(handler=ArithmeticSolver()) as server:
        lm = dspy.LM("openai/arithmetic-solver", api_base=server.api_base, api_key="local", cache=False)
        with dspy.context(lm=lm):
            prediction = dspy.ChainOfThought("question -> answer")(question="I had 9 pens and lost 4. Left?")
    assert prediction.answer == "5"
    assert server.requests[0].path == "/v1/chat/completions"


BALEEN_QUERY = dspy.ChainOfThought("context: list[str], question -> query").predict.signature
BALEEN_ANSWER = dspy.ChainOfThought(
    "context: list[str], question -> answer, confidence: float"
).predict.signature


def test_the_reader_writes_the_fields_the_signature_asks_for():
    reader = ExtractiveReader()
    first = reader(_body(BALEEN_QUERY, [], {"context": [], "question": QUESTION}))
    parsed = ChatAdapter().parse(BALEEN_QUERY, first)
    assert parsed["query"] == QUESTION  # nothing retrieved yet: search for the question
    hop = ChatAdapter().parse(
        BALEEN_QUERY, reader(_body(BALEEN_QUERY, [], {"context": PASSAGES, "question": QUESTION}))
    )
    assert hop["query"].startswith(QUESTION) and hop["query"] != QUESTION  # adds an entity it read
    answered = ChatAdapter().parse(
        BALEEN_ANSWER, reader(_body(BALEEN_ANSWER, [], {"context": PASSAGES, "question": QUESTION}))
    )
    assert "Gustave Eiffel" in answered["answer"] and isinstance(answered["confidence"], float)
    unrelated = ChatAdapter().parse(
        BALEEN_ANSWER,
        reader(_body(BALEEN_ANSWER, [], {"context": PASSAGES, "question": "Who wrote Hamlet?"})),
    )
    assert unrelated["confidence"] < answered["confidence"]


def test_arithmetic_expressions_are_found_in_questions():
    from dspy_ash.testing.standins import arithmetic_expression

    assert arithmetic_expression("What is 12 * (3 + 4) - 5?") == "12 * (3 + 4) - 5"
    assert arithmetic_expression("Compute 2 - 3 * 4.") == "2 - 3 * 4"
    assert arithmetic_expression("Who was born in 1990 or 1991?") is None  # numbers, but no operation
