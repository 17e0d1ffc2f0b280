"""Every ```python block in docs/ runs as written, each in a fresh interpreter.

A block runs on its own unless the line before its fence says otherwise:

- ``<!-- snippet: continues -->``: the page's previous runnable block runs first, in
  the same script (a page that builds one example over several blocks);
- ``<!-- snippet: not runnable: <why> -->``: not run; the reason is required (it
  needs a real Lattice endpoint, your generated code, an AWS profile...).

A block that defines ``test_*`` functions runs under pytest, as a test file of
yours would; any other block runs as a script, top-level ``await`` allowed (the
async snippets are written as if in a coroutine). Scripts see no AWS
configuration of this machine and talk to loopback only.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
MARKER = re.compile(r"<!--\s*snippet:\s*(continues|not runnable:\s*(?P<why>.*?))\s*-->")
# Runs a snippet file with top-level await allowed (asyncio's REPL compiles the same way).
RUNNER = """
import ast, asyncio, inspect, sys, types
path = sys.argv[1]
code = compile(open(path).read(), path, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
namespace = {"__name__": "__main__"}
result = types.FunctionType(code, namespace)()
if inspect.iscoroutine(result):
    asyncio.run(result)
"""


@dataclass
class Snippet:
    page: str
    line: int
    code: str
    skip: str | None  # the reason it is not run


def _snippets() -> list[Snippet]:
    snippets = []
    for page in sorted(DOCS.rglob("*.md")):
        lines = page.read_text(encoding="utf-8").splitlines()
        previous = ""
        index = 0
        while index < len(lines):
            if lines[index].strip() == "```python":
                end = index + 1
                while not lines[end].startswith("```"):
                    end += 1
                code = "\n".join(lines[index + 1 : end]) + "\n"
                marker = MARKER.search(lines[index - 1]) if index else None
                skip = None
                if marker and marker.group(1) == "continues":
                    code = previous + code
                elif marker:
                    skip = marker.group("why")
                if skip is None:
                    previous = code
                name = page.relative_to(DOCS).as_posix()
                snippets.append(Snippet(name, index + 1, code, skip))
                index = end
            index += 1
    return snippets


SNIPPETS = _snippets()


def _environment(home: Path) -> dict[str, str]:
    """This machine's environment without its AWS configuration, proxies or pytest options."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "PYTEST_")) and "proxy" not in name.lower()
    }
    env.update(
        HOME=str(home),
        AWS_CONFIG_FILE=str(home / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "no-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        NO_PROXY="*",
    )
    return env


def test_the_docs_have_snippets_and_few_are_skipped() -> None:
    reasons = [s.skip for s in SNIPPETS if s.skip is not None]
    assert len(SNIPPETS) >= 15
    assert all(reason.strip() for reason in reasons), "a snippet marked not runnable needs a reason"
    assert len(reasons) * 2 < len(SNIPPETS), "most snippets must run"


@pytest.mark.parametrize(
    "snippet",
    [
        pytest.param(
            s, id=f"{s.page}:{s.line}", marks=[pytest.mark.skip(reason=s.skip)] if s.skip else []
        )
        for s in SNIPPETS
    ],
)
def test_snippet_runs(snippet: Snippet, tmp_path: Path) -> None:
    if re.search(r"^(async )?def test_", snippet.code, re.MULTILINE):
        script = tmp_path / "test_snippet.py"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(script)]
    else:
        script = tmp_path / "snippet.py"
        command = [sys.executable, "-c", RUNNER, str(script)]
    script.write_text(snippet.code, encoding="utf-8")
    result = subprocess.run(
        command,
        cwd=tmp_path,
        env=_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (
        f"{snippet.page}:{snippet.line} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
