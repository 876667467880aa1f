"""GEPA's instruction proposer (DSPy's `InstructionProposer`): the reflection LM writes a new instruction.

The proposer shows the reflection LM the current instruction and the reflective examples (inputs,
generated outputs, feedback) through `Predict(ProposeInstruction)` with a `JSONAdapter`, so the prompt is
DSPy's byte for byte. Options as DSPy's: reference `skills` (files, `SKILL.md` directories or inline
text), `additional_instructions`, `base_instructions` (replaces the prompt), `max_chars` (one request to
shorten an oversized draft, then a validation error), `truncate_history_outputs`, `adapter`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypedDict

from pydantic import StringConstraints, TypeAdapter, ValidationError

from dspy_ash.adapters._base import Adapter
from dspy_ash.adapters._json_adapter import JSONAdapter
from dspy_ash.adapters.types._history import History
from dspy_ash.adapters.types._tool import ToolCalls
from dspy_ash.modules._predict import Predict
from dspy_ash.settings import settings
from dspy_ash.signatures import InputField, OutputField, Signature

ReflectiveExample = TypedDict(
    "ReflectiveExample",
    {"Inputs": dict[str, Any], "Generated Outputs": dict[str, Any] | str, "Feedback": str},
)
ReflectiveExample.__doc__ = "An example's predictor inputs, generated outputs, and evaluation feedback."


@dataclass(frozen=True)
class _Skill:
    name: str
    content: str
    description: str | None = None


class _SkillLoader:
    """A skill source (a `Path`, a path string, or inline text) as a `_Skill`, resolved as DSPy resolves it:
    a missing `Path`, or a string that looks like a path but names nothing, raises `FileNotFoundError`;
    a directory must hold `SKILL.md`; YAML frontmatter gives `name` and `description`."""

    SKILL_FILE = "SKILL.md"
    FILE_SUFFIXES = (".md", ".markdown", ".txt")
    _PATH_PREFIX_RE = re.compile(r"^(?:\.{1,2}[\\/]|~[\\/]|[\\/]|[A-Za-z]:[\\/])")

    @classmethod
    def load(cls, source: str | Path) -> _Skill:
        if isinstance(source, Path):
            return cls._from_path(source.expanduser())
        if not isinstance(source, str):  # pyright: ignore[reportUnnecessaryIsInstance] - user input
            raise TypeError(f"A skill must be a str or a Path, not {type(source).__name__}.")
        if not source.strip():
            raise ValueError("Empty skill content.")
        path = cls._existing_path(source)
        if path is not None:
            return cls._from_path(path)
        if cls._looks_like_path(source):
            raise FileNotFoundError(
                f"Skill {source!r} looks like a path, but no such file or directory exists. "
                "Pass the path to an existing skill file or directory. Inline skill content that "
                "resembles a path must span more than one line."
            )
        return cls._from_text(source, fallback_name=None)

    @classmethod
    def _from_path(cls, path: Path) -> _Skill:
        if not path.exists():
            raise FileNotFoundError(f"Skill path {path} does not exist.")
        if path.is_dir():
            skill_md = path / cls.SKILL_FILE
            if not skill_md.exists():
                raise FileNotFoundError(f"Skill directory {path} has no {cls.SKILL_FILE}.")
            return cls._from_text(skill_md.read_text(encoding="utf-8"), fallback_name=path.name)
        return cls._from_text(path.read_text(encoding="utf-8"), fallback_name=path.stem)

    @classmethod
    def _from_text(cls, text: str, fallback_name: str | None) -> _Skill:
        text = text.strip()
        if not text:
            raise ValueError("Empty skill content.")
        meta, content = _parse_frontmatter(text)
        content = content.strip()
        if not content:
            raise ValueError("Empty skill content after removing frontmatter.")
        if fallback_name is None:
            first_line = content.splitlines()[0].lstrip("# ").strip()
            fallback_name = (
                (first_line[:60] + "…") if len(first_line) > 60 else first_line
            ) or "inline-skill"
        return _Skill(
            name=meta.get("name") or fallback_name, content=content, description=meta.get("description")
        )

    @staticmethod
    def _existing_path(source: str) -> Path | None:
        try:
            path = Path(source).expanduser()
            return path if path.exists() else None
        except (OSError, ValueError):  # an inline string too long to be a path
            return None

    @classmethod
    def _looks_like_path(cls, source: str) -> bool:
        if "\n" in source or "\r" in source:
            return False
        source = source.strip()
        has_separator = "/" in source or "\\" in source
        if not re.search(r"\s", source):
            return (
                has_separator or source.startswith((".", "~")) or source.lower().endswith(cls.FILE_SUFFIXES)
            )
        if cls._PATH_PREFIX_RE.match(source):
            return True
        try:
            return has_separator and Path(source).expanduser().parent.exists()
        except (OSError, ValueError):
            return False


def _parse_frontmatter(text: str) -> tuple[dict[str, str], str]:
    """YAML frontmatter's string `name` / `description`, and the text after it."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}, text
    for end, line in enumerate(lines[1:], start=1):
        if line.rstrip() == "---":
            try:
                import yaml
            except ModuleNotFoundError as exc:  # only skills with frontmatter need it
                raise ImportError("Skill frontmatter needs PyYAML: `pip install pyyaml`.") from exc
            try:
                meta: Any = yaml.safe_load("\n".join(lines[1:end]) + "\n")
            except yaml.YAMLError as exc:
                raise ValueError("Invalid YAML skill frontmatter.") from exc
            meta = meta if meta is not None else {}
            if not isinstance(meta, dict):
                raise ValueError("Skill frontmatter must be a YAML mapping.")
            for key in ("name", "description"):
                if key in meta and not isinstance(meta[key], str):
                    raise ValueError(f"Skill frontmatter {key!r} must be a string.")
            return {key: meta[key] for key in ("name", "description") if key in meta}, "\n".join(
                lines[end + 1 :]
            )
    raise ValueError("Skill frontmatter is missing its closing '---'.")


def _render_skill(skill: _Skill) -> str:
    attrs = f"name={skill.name!r}"
    if skill.description:
        attrs += f" description={skill.description!r}"
    return f"<skill {attrs}>\n{skill.content.strip()}\n</skill>"


class ProposeInstruction(Signature):
    """I provided an assistant with instructions to perform a task for me. You are given those instructions, along with examples of different task inputs provided to the assistant, the assistant's response for each of them, and some feedback on how the assistant's response could be better.

    Your task is to write a new instruction for the assistant.

    Read the inputs carefully and identify the input format and infer detailed task description about the task I wish to solve with the assistant.

    Read all the assistant responses and the corresponding feedback. Identify all niche and domain specific factual information about the task and include it in the instruction, as a lot of it may not be available to the assistant in the future. The assistant may have utilized a generalizable strategy to solve the task, if so, include that in the instruction as well."""

    current_instruction: str = InputField(desc="The instructions I provided to the assistant.")
    examples_with_feedback: list[dict[str, Any]] = InputField(
        desc="Task inputs provided to the assistant, the assistant's response for each, "
        "and feedback on how the response could be better."
    )
    new_instruction: str = OutputField(desc="The new instruction for the assistant.")


class CompressInstruction(Signature):
    """Shorten the instruction to fit within the stated limit. Preserve every
    strategy, rule, and constraint; cut redundancy and verbosity. Do not add
    new content. Output only the shortened instruction."""

    instruction: str = InputField()
    length_limit: str = InputField()
    shortened_instruction: str = OutputField()


_COMPACTED_CHARS = 500


def compact_history(history: History, max_chars: int = _COMPACTED_CHARS) -> History:
    """A copy of `history` whose tool results longer than `max_chars` are cut, with a marker saying how much."""
    messages: list[dict[str, Any]] = []
    for message in history.messages:
        new_message = dict(message)
        for key, value in message.items():
            if isinstance(value, ToolCalls) and isinstance(value.tool_call_results, list):
                results: list[Any] = [_cut_result(r, max_chars) for r in value.tool_call_results]  # pyright: ignore[reportUnknownVariableType]
                new_message[key] = value.model_copy(update={"tool_call_results": results})
        messages.append(new_message)
    return history.model_copy(update={"messages": messages})


def _cut_result(result: Any, max_chars: int) -> Any:
    value = result.get("value") if isinstance(result, dict) else getattr(result, "value", None)
    if value is None:
        return result
    text = value if isinstance(value, str) else str(value)
    if len(text) <= max_chars:
        return result
    cut = len(text) - max_chars
    short = text[:max_chars] + f" [{cut:,} of {len(text):,} characters cut]"
    if isinstance(result, dict):
        return {**result, "value": short}
    return result.model_copy(update={"value": short}) if hasattr(result, "model_copy") else result


class InstructionProposer:
    """GEPA's default instruction proposer: asks the reflection LM, through `Predict` and a `JSONAdapter`,
    for a new instruction per component (see the module docstring for the options)."""

    def __init__(
        self,
        skills: str | Path | Sequence[str | Path] | None = None,
        additional_instructions: str | None = None,
        base_instructions: str | None = None,
        max_chars: int | None = None,
        truncate_history_outputs: bool = False,
        adapter: Adapter | None = None,
    ) -> None:
        # a runtime guard on an untyped argument (DSPy's check): True or "10" are refused too
        not_int = not isinstance(max_chars, int)  # pyright: ignore[reportUnnecessaryIsInstance]
        if max_chars is not None and (isinstance(max_chars, bool) or not_int or max_chars <= 0):
            raise ValueError(f"max_chars must be a positive int or None, got {max_chars!r}.")
        if not isinstance(truncate_history_outputs, bool):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(
                f"truncate_history_outputs must be a bool, got {type(truncate_history_outputs).__name__}."
            )
        if adapter is not None and not isinstance(adapter, Adapter):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"adapter must be a dspy.Adapter or None, got {type(adapter).__name__}.")
        sources: Sequence[str | Path] = [skills] if isinstance(skills, str | Path) else (skills or ())
        self.skills: tuple[_Skill, ...] = tuple(_SkillLoader.load(skill) for skill in sources)
        self.additional_instructions = _clean_text("additional_instructions", additional_instructions)
        self.base_instructions = _clean_text("base_instructions", base_instructions)
        self.max_chars = max_chars
        self._instruction_validator: TypeAdapter[str] = TypeAdapter(
            Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=max_chars)]
        )
        self.truncate_history_outputs = truncate_history_outputs
        self.adapter = adapter if adapter is not None else JSONAdapter()
        # Static fields first (provider prompt caching); each prepend lands at index 0, so in reverse order.
        signature: Any = ProposeInstruction
        if self._length_limit_text():
            signature = signature.prepend(
                "length_limit", InputField(desc="Hard limit on the length of the new instruction."), str
            )
        if self.additional_instructions:
            signature = signature.prepend(
                "additional_instructions",
                InputField(
                    desc="Additional requirements from the user for the new instruction. Follow them."
                ),
                str,
            )
        if self.skills:
            signature = signature.prepend(
                "reference_skills",
                InputField(
                    desc="Trusted reference material chosen by the user. Draw on it when writing the new instruction."
                ),
                str,
            )
        if self.base_instructions:
            signature = signature.with_instructions(self.base_instructions)
        self.propose = Predict(signature)
        self.compress = Predict(CompressInstruction) if self._length_limit_text() else None

    def __call__(
        self,
        candidate: dict[str, str],
        reflective_dataset: Mapping[str, Sequence[Mapping[str, Any]]],
        components_to_update: list[str],
    ) -> dict[str, str]:
        """A new instruction for each component in `components_to_update` that has reflective examples."""
        results: dict[str, str] = {}
        for name in components_to_update:
            if name not in candidate or name not in reflective_dataset:
                continue
            kwargs: dict[str, Any] = {}
            if self.skills:
                kwargs["reference_skills"] = "\n\n".join(_render_skill(skill) for skill in self.skills)
            if self.additional_instructions:
                kwargs["additional_instructions"] = self.additional_instructions
            if self.compress is not None:
                kwargs["length_limit"] = self._length_limit_text()
            kwargs["current_instruction"] = candidate[name]
            kwargs["examples_with_feedback"] = self._prepare_examples(reflective_dataset[name])
            with settings.context(adapter=self.adapter):
                pred = self.propose(**kwargs)
            draft = str(pred.new_instruction).strip()
            if not draft:
                raise ValueError(f"The reflection LM returned an empty instruction for component {name!r}.")
            results[name] = self._enforce_length(draft)
        return results

    def _prepare_examples(self, examples: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        def prepare(value: Any) -> Any:
            if isinstance(value, History):
                return compact_history(value)
            if isinstance(value, Mapping):
                return {key: prepare(item) for key, item in value.items()}  # pyright: ignore[reportUnknownVariableType]
            if isinstance(value, list | tuple):
                return [prepare(item) for item in value]  # pyright: ignore[reportUnknownVariableType]
            return value

        if self.truncate_history_outputs:
            return [prepare(example) for example in examples]
        return [dict(example) for example in examples]

    def _length_limit_text(self) -> str:
        return (
            f"The new instruction must be at most {self.max_chars} characters."
            if self.max_chars is not None
            else ""
        )

    def _enforce_length(self, draft: str) -> str:
        try:
            return self._instruction_validator.validate_python(draft)
        except ValidationError:
            if self.compress is None:
                raise
        with settings.context(adapter=self.adapter):
            shortened = self.compress(
                instruction=draft, length_limit=self._length_limit_text()
            ).shortened_instruction
        return self._instruction_validator.validate_python(shortened)


def _clean_text(label: str, value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise TypeError(f"{label} must be a str or None, got {type(value).__name__}.")
    return value.strip() or None
