"""DSPy's own offline test suite, run against dspy-ash through the `import dspy` alias and against dspy 3.4.1.

Usage: `.venv/bin/python benchmarks/conformance.py [--files tests/predict/test_predict.py ...]
[--timeout 300] [--jobs 2] [--json out.json]` (or `make conformance`).

Each test file of the reference tree (/work/shared/reference/dspy-tests, DSPy's tests unchanged) runs twice
in its own pytest process: once as it is, on the real dspy 3.4.1 (installed in this venv's test extra), and
once with DSPy's conftest swapped for `conftest_for_dspy_ash.py` and `dspy_ash.install_as_dspy()` loaded as a
pytest plugin before anything imports `dspy`. The figure that counts, per file and in total, is
(tests passing on dspy-ash that also pass on DSPy) / (tests passing on DSPy); a file that does not import on
dspy-ash counts every test in it as failing. Files that need what an offline machine lacks are left out of
both sides (`EXCLUDED`, with the reason), and so is any file in which no test passes on DSPy here.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

REFERENCE = Path("/work/shared/reference/dspy-tests")

# Files DSPy itself cannot pass offline, or that test DSPy's machinery rather than its behaviour.
EXCLUDED: dict[str, str] = {
    "tests/clients/test_lm_direct_live.py": "needs a real provider",
    "tests/clients/test_lm_local.py": "launches a local SGLang server",
    "tests/clients/test_databricks.py": "needs Databricks",
    "tests/clients/test_lazy_litellm_import.py": "litellm internals",
    "tests/docs/test_mkdocs_links.py": "DSPy's docs tree",
    "tests/reliability/test_generated.py": "needs a real LM (--reliability)",
    "tests/reliability/test_pydantic_models.py": "needs a real LM (--reliability)",
    "tests/utils/test_mcp.py": "starts an MCP server subprocess",
    "tests/utils/test_langchain_tool.py": "needs langchain",
    "tests/teleprompt/test_grpo.py": "needs the Arbor training service",
}

SHIM = '"""pytest plugin: `import dspy` resolves to dspy_ash from here on."""\nimport dspy_ash\n\ndspy_ash.install_as_dspy()\n'


@dataclass
class FileResult:
    passed: set[str] = field(default_factory=lambda: set[str]())
    total: int = 0
    note: str = ""


def _prepare(reference: Path, root: Path, ash: bool) -> Path:
    tree = root / ("ash" if ash else "dspy")
    shutil.copytree(reference / "tests", tree / "tests")
    if ash:
        shutil.copy(reference / "conftest_for_dspy_ash.py", tree / "tests" / "conftest.py")
        (tree / "_dspy_ash_alias.py").write_text(SHIM)
    return tree


def _run_file(
    tree: Path, rel: str, ash: bool, timeout: float, python: str, ash_src: Path | None
) -> FileResult:
    report = tree / f".junit-{rel.replace('/', '_')}.xml"
    cmd = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", f"--junitxml={report}"]
    if ash:
        cmd += ["-p", "_dspy_ash_alias"]
    cmd.append(rel)
    path = [str(tree), *([str(ash_src)] if ash and ash_src else [])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("LM_FOR_TEST", None)
    try:
        proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
        returncode, stdout, stderr, note = proc.returncode, proc.stdout, proc.stderr, ""
    except subprocess.TimeoutExpired as exc:  # the report is written before a process that hangs on exit
        returncode, stderr, note = -1, "", f"timed out after {timeout:.0f} s"
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
    if not report.exists():
        return FileResult(note=note or f"no report (exit {returncode}): {stderr.strip()[-200:]}")
    result = FileResult(note=note)
    for case in ET.parse(report).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        outcomes = {child.tag for child in case}
        broken = [c for c in case if c.tag == "error" and "collection failure" in (c.get("message") or "")]
        if broken:  # the file did not import: every test in it counts as failing
            result.note = "does not import: " + _first_error(broken[0].text or "")
            continue
        if "skipped" in outcomes:
            continue
        result.total += 1
        if not outcomes & {"failure", "error"}:
            result.passed.add(name)
    if result.total == 0 and returncode not in (0, 5):
        result.note = "collection failed: " + _first_error(stdout)
    return result


def _first_error(output: str) -> str:
    for line in output.splitlines():
        if line.startswith("E ") and "Error" in line:
            return line[1:].strip()[:160]
    return "see pytest output"


def _files(reference: Path, chosen: list[str]) -> list[str]:
    if chosen:
        return chosen
    found = sorted(str(p.relative_to(reference)) for p in (reference / "tests").rglob("test_*.py"))
    return [f for f in found if f not in EXCLUDED]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=REFERENCE)
    parser.add_argument("--files", nargs="*", default=[])
    parser.add_argument(
        "--ash-src", type=Path, help="a src/ directory to take dspy_ash from (e.g. an export of main)"
    )
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per file and side")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--dspy-python", default=sys.executable, help="an interpreter with dspy 3.4.1")
    parser.add_argument("--json", type=Path, help="write per-file passing test ids here")
    parser.add_argument(
        "--dspy-results",
        type=Path,
        help="reuse the DSPy side from an earlier --json file (DSPy does not change)",
    )
    args = parser.parse_args(argv)

    files = _files(args.reference, args.files)
    # pytest runs in a temporary tree, so a relative --ash-src would silently name nothing there
    ash_src = args.ash_src.resolve() if args.ash_src else None
    with tempfile.TemporaryDirectory(prefix="dspy-conformance-") as tmp:
        trees = {ash: _prepare(args.reference, Path(tmp), ash) for ash in (False, True)}
        earlier = json.loads(args.dspy_results.read_text()) if args.dspy_results else {}
        jobs = [(f, ash) for f in files for ash in (False, True) if ash or f not in earlier]
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            outcomes = list(
                pool.map(
                    lambda job: _run_file(
                        trees[job[1]],
                        job[0],
                        job[1],
                        args.timeout,
                        sys.executable if job[1] else args.dspy_python,
                        ash_src,
                    ),
                    jobs,
                )
            )
    results = {(f, ash): r for (f, ash), r in zip(jobs, outcomes, strict=True)}
    for f, old in earlier.items():
        if f in files:
            results[(f, False)] = FileResult(passed=set(old["dspy"]), note=old["dspy_note"])

    rows: list[tuple[str, int, int, str]] = []
    for f in files:
        on_dspy, on_ash = results[(f, False)], results[(f, True)]
        if not on_dspy.passed:
            print(f"left out {f}: nothing passes on DSPy here ({on_dspy.note or 'all fail or skip'})")
            continue
        rows.append((f, len(on_dspy.passed & on_ash.passed), len(on_dspy.passed), on_ash.note))
    width = max((len(r[0]) for r in rows), default=10)
    print(f"\n| {'file':<{width}} | dspy-ash | DSPy | % | note |")
    print(f"|{'-' * (width + 2)}|---|---|---|---|")
    for f, both, base, note in rows:
        print(f"| {f:<{width}} | {both} | {base} | {100 * both / base:.0f}% | {note} |")
    by_dir: dict[str, list[int]] = {}
    for f, both, base, _ in rows:
        counts = by_dir.setdefault(f.split("/")[1], [0, 0])
        counts[0] += both
        counts[1] += base
    print("\n| directory | dspy-ash | DSPy | % |\n|---|---|---|---|")
    for name, (both, base) in sorted(by_dir.items()):
        print(f"| {name}/ | {both} | {base} | {100 * both / base:.0f}% |")
    both_total = sum(r[1] for r in rows)
    base_total = sum(r[2] for r in rows)
    importing = sum(
        1 for r in rows if not r[3].startswith(("does not import", "collection failed", "no report"))
    )
    print(
        f"\nTOTAL {both_total}/{base_total} = {100 * both_total / max(base_total, 1):.1f}% of the tests that pass "
        f"on DSPy 3.4.1 pass on dspy-ash; {importing} of {len(rows)} files import"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    f: {
                        "dspy": sorted(results[(f, False)].passed),
                        "ash": sorted(results[(f, True)].passed),
                        "dspy_note": results[(f, False)].note,
                        "ash_note": results[(f, True)].note,
                    }
                    for f in files
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
