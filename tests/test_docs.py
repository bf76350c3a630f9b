"""The documentation can't rot: every code block in ``docs/**/*.md`` runs or is checked here.

The convention (for anyone writing docs):

- ```` ```python ```` blocks are executed. The blocks of one Markdown file run in order in one fresh namespace
  (a later block may use an earlier one's names), with a fresh temporary folder as the working directory.
  Keep them cheap (tiny models, the files gensim ships): this whole test should stay under a minute.
- ```` ```console ```` blocks are executed too: each line starting with ``$ `` is a shell command, run with
  bash in that file's temporary folder (``$HFEXT_REPO`` is the checkout), and must exit 0. Lines without ``$ ``
  are the output it printed; they are not compared (numbers vary with the machine).
- ```` ```bash ```` blocks are shown, not run (training for minutes has no place in a test). They are checked
  instead: every ``examples/*.py`` and ``recipes/*.py`` they name must exist, and every ``hfext COMMAND`` must be
  a real command. The examples themselves run in ``tests/test_tour.py`` with ``--smoke``.
- A block whose info string has ``norun`` after the language (```` ```python norun ````) is only shown.
- Every ``path/to/file.py::name`` reference must name a file of the checkout that defines ``name`` (a function,
  class or assignment), and every image a page shows must exist.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hfext.cli import build_parser

REPO = Path(__file__).resolve().parent.parent
DOCS = sorted((REPO / "docs").rglob("*.md"))
FENCE = re.compile(r"^```([\w-]*)([^\n]*)\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
REFERENCE = re.compile(r"`?([\w./-]+\.py)::([\w.]+)")
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")


def blocks(path: Path, language: str) -> list[str]:
    """The code of every ```language block of ``path`` that is not marked ``norun``, in order."""
    return [m[3] for m in FENCE.finditer(path.read_text()) if m[1] == language and "norun" not in m[2].split()]


def doc_id(path: Path) -> str:
    return str(path.relative_to(REPO))


def test_the_docs_exist():
    assert (REPO / "docs" / "tour" / "README.md").is_file()
    assert len(DOCS) >= 10


@pytest.mark.parametrize("path", [p for p in DOCS if blocks(p, "python")], ids=doc_id)
def test_python_blocks_run(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    namespace = {"__name__": f"docs_{path.stem}"}
    for index, code in enumerate(blocks(path, "python")):
        try:
            exec(compile(code, f"{doc_id(path)} (python block {index + 1})", "exec"), namespace)  # noqa: S102
        except Exception as error:  # noqa: BLE001  (any failure of a docs block fails the test, named)
            pytest.fail(f"{doc_id(path)}, python block {index + 1} failed: {type(error).__name__}: {error}\n{code}")


@pytest.mark.parametrize("path", [p for p in DOCS if blocks(p, "console")], ids=doc_id)
def test_console_blocks_run(path, tmp_path):
    env = dict(os.environ, HFEXT_REPO=str(REPO), HF_HUB_OFFLINE="1",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    for code in blocks(path, "console"):
        for line in code.splitlines():
            if not line.startswith("$ "):
                continue
            proc = subprocess.run(["bash", "-c", line[2:]], check=False, cwd=tmp_path, env=env, capture_output=True,
                                  text=True, timeout=300)
            assert proc.returncode == 0, f"{doc_id(path)}: `{line[2:]}` failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"


def hfext_commands() -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return set(sub.choices)


@pytest.mark.parametrize("path", DOCS, ids=doc_id)
def test_bash_blocks_name_real_scripts_and_commands(path):
    commands = hfext_commands()
    for code in blocks(path, "bash"):
        for script in re.findall(r"\b((?:examples|recipes)/[\w-]+\.py)\b", code):
            assert (REPO / script).is_file(), f"{doc_id(path)} names {script}, which does not exist"
        for command in re.findall(r"(?:^|[\s;&|(])hfext ([a-z][\w-]*)", code):
            assert command in commands, f"{doc_id(path)} runs `hfext {command}`, which is not an hfext command"


@pytest.mark.parametrize("path", DOCS, ids=doc_id)
def test_code_references_and_images_exist(path):
    text = path.read_text()
    for file, name in REFERENCE.findall(text):
        source = REPO / file
        assert source.is_file(), f"{doc_id(path)} points to {file}, which does not exist"
        last = name.split(".")[-1]
        pattern = rf"^\s*(?:def|class) {re.escape(last)}\b|^\s*{re.escape(last)}\s*[:=]"
        assert re.search(pattern, source.read_text(), re.MULTILINE), f"{doc_id(path)}: {file} defines no {name!r}"
    for image in IMAGE.findall(text):
        if not image.startswith("http"):
            assert (path.parent / image).resolve().is_file(), f"{doc_id(path)} shows {image}, which does not exist"
