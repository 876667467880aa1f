"""The public API as type checkers see it: every lazily exported name has a `TYPE_CHECKING` import of the
same object, and pyright run on a user's file sees real classes, not `Any`."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

# Every package whose `__init__` resolves names lazily (`lazy_getattr` over `_EXPORTS`).
LAZY_PACKAGES = (
    "dspy_ash",
    "dspy_ash.lm",
    "dspy_ash.lm.providers",
    "dspy_ash.modules",
    "dspy_ash.optimizers",
    "dspy_ash.retrievers",
    "dspy_ash.testing",
    "dspy_ash.utils",
)
_SRC = Path(__file__).resolve().parents[3] / "src"


def _static_exports(package: str) -> dict[str, str]:
    """name -> "module:attribute" for what a type checker sees bound in the package's `__init__`:
    the imports under `if TYPE_CHECKING:` plus public names imported eagerly at module level."""
    init = _SRC.joinpath(*package.split("."), "__init__.py")
    seen: dict[str, str] = {}

    def collect(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    name = alias.asname or alias.name
                    if not name.startswith("_"):
                        assert name not in seen, f"{package}.{name} is imported twice"
                        seen[name] = f"{node.module}:{alias.name}"
            elif (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Name)
                and all(isinstance(t, ast.Name) for t in node.targets)
            ):  # `Alias = Name` (not `module.__class__ = Name`)
                for target in node.targets:
                    assert isinstance(target, ast.Name) and target.id not in seen, ast.unparse(node)
                    seen[target.id] = seen[node.value.id]

    tree = ast.parse(init.read_text())
    collect(tree.body)
    blocks = [
        node
        for node in tree.body
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and "TYPE_CHECKING" in node.test.id
    ]
    assert len(blocks) == 1, f"{init} needs exactly one `if TYPE_CHECKING:` block"
    collect(blocks[0].body)
    return seen


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_type_checking_imports_name_exactly_the_lazy_exports(package):
    module = importlib.import_module(package)
    exports = module._EXPORTS
    static = _static_exports(package)
    assert sorted(set(exports) - set(static)) == [], "exported but invisible to type checkers"
    assert sorted(set(static) - set(exports)) == [], "visible to type checkers but not exported"
    assert {name: static[name] for name in exports} == dict(exports), "same name, different target"
    assert module.__all__ == sorted(exports)


def test_every_lazy_package_is_listed_here():
    lazy = {
        ".".join(init.relative_to(_SRC).parent.parts)
        for init in _SRC.joinpath("dspy_ash").rglob("__init__.py")
        if "lazy_getattr(" in init.read_text()
    }
    assert lazy == set(LAZY_PACKAGES)


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_static_target_resolves_to_the_runtime_object(package):
    module = importlib.import_module(package)
    for name, target in _static_exports(package).items():
        source, _, attr = target.partition(":")
        assert getattr(module, name) is getattr(importlib.import_module(source), attr), name


# A user's file: each name reached through a lazy `__init__` must have the type of the real object.
_USER_FILE = """
from typing import assert_type

import dspy_ash as dspy
from dspy_ash.lm._lm import LM
from dspy_ash.modules._predict import Predict
from dspy_ash.optimizers import MIPROv2 as LazyMIPROv2
from dspy_ash.optimizers._mipro import MIPROv2
from dspy_ash.optimizers._random_search import BootstrapFewShotWithRandomSearch
from dspy_ash.retrievers import BM25Retriever as LazyBM25Retriever
from dspy_ash.retrievers._bm25 import BM25Retriever
from dspy_ash.testing import DummyLM as LazyDummyLM
from dspy_ash.testing.dummy import DummyLM

reveal_type(dspy.Predict)
assert_type(dspy.Predict, type[Predict])
assert_type(dspy.BootstrapRS, type[BootstrapFewShotWithRandomSearch])
assert_type(LazyBM25Retriever, type[BM25Retriever])
assert_type(LazyMIPROv2, type[MIPROv2])
assert_type(LazyDummyLM([{"a": "x"}]), DummyLM)
lm = dspy.LM("openai/gpt-4o-mini")
assert_type(lm, LM)
wrong: int = lm  # the deliberate mistake
p = dspy.Predict("q -> a")
also_wrong: int = p
"""


def _line(code: str) -> int:
    """The 1-based line of the user file that starts with `code`."""
    lines = _USER_FILE.lstrip("\n").splitlines()
    return next(number for number, text in enumerate(lines, 1) if text.startswith(code))


@pytest.fixture(scope="module")
def pyright_report(tmp_path_factory):
    """pyright's diagnostics for the user file, as (severity, rule, line, message); one run, a few seconds."""
    bin_dir = Path(sys.executable).parent
    work = tmp_path_factory.mktemp("pyright-user")
    (work / "user.py").write_text(_USER_FILE.lstrip("\n"))
    config = {"venvPath": str(bin_dir.parent.parent), "venv": bin_dir.parent.name, "include": ["user.py"]}
    (work / "pyrightconfig.json").write_text(json.dumps(config))
    run = subprocess.run(
        [str(bin_dir / "pyright"), "--outputjson", "-p", str(work)],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
    )
    diagnostics = json.loads(run.stdout)["generalDiagnostics"]
    return [
        (d["severity"], d.get("rule", ""), d["range"]["start"]["line"] + 1, d["message"]) for d in diagnostics
    ]


def test_pyright_sees_real_classes_through_lazy_exports(pyright_report):
    revealed = [message for severity, _, _, message in pyright_report if severity == "information"]
    assert revealed == ['Type of "dspy.Predict" is "type[Predict]"'], pyright_report
    # Every assert_type holds (none fails as `Any`), and the deliberate mistake is caught naming LM.
    errors = [
        (rule, line, message) for severity, rule, line, message in pyright_report if severity == "error"
    ]
    assert [(rule, line) for rule, line, _ in errors if line != _line("also_wrong")] == [
        ("reportAssignmentType", _line("wrong"))
    ], errors
    assert '"LM" is not assignable to "int"' in errors[0][2], errors


def test_pyright_sees_program_instances_as_their_class(pyright_report):
    errors = [(rule, message) for _, rule, line, message in pyright_report if line == _line("also_wrong")]
    assert [rule for rule, _ in errors] == ["reportAssignmentType"], pyright_report
    assert '"Predict" is not assignable to "int"' in errors[0][1], pyright_report
