"""`dspy.Code` (and `dspy.Code["java"]`): source code as a field value; a reply's markdown fence is stripped."""

from __future__ import annotations

import functools
import re
from typing import Any, ClassVar

import pydantic

from dspy_ash.adapters.types._base_type import Type
from dspy_ash.errors import InvalidInputError

_FENCED = re.compile(r"```(?:[^\n]*)\n(.*?)```", re.DOTALL)  # ```python\n...```
_INLINE_FENCED = re.compile(r"```(.*?)```", re.DOTALL)  # ```...``` on one line, no language


class Code(Type):
    # The docstring enters the JSON schema of a model holding a Code field: it is DSPy's, word for word.
    """Code type in DSPy.

    This type is useful for code generation and code analysis.

    Example 1: dspy.Code as output type in code generation:

    ```python
    import dspy

    dspy.configure(lm=dspy.LM("openai/gpt-4o-mini"))


    class CodeGeneration(dspy.Signature):
        '''Generate python code to answer the question.'''

        question: str = dspy.InputField(description="The question to answer")
        code: dspy.Code["java"] = dspy.OutputField(description="The code to execute")


    predict = dspy.Predict(CodeGeneration)

    result = predict(question="Given an array, find if any of the two numbers sum up to 10")
    print(result.code)
    ```

    Example 2: dspy.Code as input type in code analysis:

    ```python
    import dspy
    import inspect

    dspy.configure(lm=dspy.LM("openai/gpt-4o-mini"))

    class CodeAnalysis(dspy.Signature):
        '''Analyze the time complexity of the function.'''

        code: dspy.Code["python"] = dspy.InputField(description="The function to analyze")
        result: str = dspy.OutputField(description="The time complexity of the function")


    predict = dspy.Predict(CodeAnalysis)


    def sleepsort(x):
        import time

        for i in x:
            time.sleep(i)
            print(i)

    result = predict(code=inspect.getsource(sleepsort))
    print(result.result)
    ```
    """

    code: str

    language: ClassVar[str] = "python"

    def format(self) -> str:
        return f"{self.code}"

    @classmethod
    def description(cls) -> str:
        return (
            "Code represented in a string, specified in the `code` field. If this is an output field, the code "
            f"field should follow the markdown code block format, e.g. \n```{cls.language.lower()}\n{{code}}\n```"
            f"\nProgramming language: {cls.language}"
        )

    @pydantic.model_validator(mode="before")
    @classmethod
    def validate_input(cls, data: Any) -> Any:
        if isinstance(data, cls):
            return data
        if isinstance(data, str):
            return {"code": _strip_fence(data)}
        if isinstance(data, dict):
            code: Any = data.get("code")  # pyright: ignore[reportUnknownMemberType]
            if "code" not in data:
                raise InvalidInputError("`code` field is required for `dspy.Code`")
            if not isinstance(code, str):
                raise InvalidInputError(f"`code` field must be a string, but received type: {type(code)}")
            return {"code": _strip_fence(code)}
        raise InvalidInputError(f"Received invalid value for `dspy.Code`: {data}")

    def __class_getitem__(cls, language: Any) -> Any:  # pyright: ignore[reportIncompatibleMethodOverride]
        """`Code["java"]`: a subclass named `Code_java` whose description names the language."""
        return _code_in(cls, str(language))


@functools.cache
def _code_in(base: type[Code], language: str) -> type[Code]:
    # One class per language, so `Code["python"]` names the same type wherever it is written.
    subclass = pydantic.create_model(f"{base.__name__}_{language}", __base__=base)
    subclass.language = language
    return subclass


def _strip_fence(code: str) -> str:
    """The code inside the first markdown fence (its language tag dropped), or the text as it is."""
    match = _FENCED.search(code) or _INLINE_FENCED.search(code)
    return match.group(1).strip() if match else code
