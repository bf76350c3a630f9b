"""Marked copies between plugins stay identical to their origin (transformers' ``utils/check_copies.py``).

A plugin's modeling file must be self-contained (it is what a Hub repo ships as remote code), so a block
shared by two families is copied, not imported, and marked::

    # Copied from hfext_transformer.modeling_transformer.TransformerAttention with Transformer->GPT

This test finds every marker under ``plugins/``, takes the named function/class/method from its origin,
applies the ``with A->B`` renames and requires the copy to be the same code. The origin may also be a core
module (``# Copied from hfext.errors.see``): a plugin can't import hfext, so it copies the little it needs.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parent.parent / "plugins"
MARKER = re.compile(r"^(?P<indent>\s*)# Copied from (?P<package>hfext(?:_\w+)?)\.(?P<module>\w+)\.(?P<name>[\w.]+)(?: with (?P<renames>.+))?\s*$")


def _definitions(tree: ast.AST, prefix: str = ""):
    """{dotted name: node} of every function and class, nested ones as Class.method."""
    found = {}
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = f"{prefix}{node.name}"
            found[name] = node
            if isinstance(node, ast.ClassDef):
                found.update(_definitions(node, f"{name}."))
    return found


def _source(lines: list[str], node: ast.AST) -> str:
    """The node's code, decorators included, dedented, without comment-only lines and blank lines."""
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    body = textwrap.dedent("".join(lines[start - 1 : node.end_lineno]))
    return "\n".join(line.rstrip() for line in body.splitlines() if line.strip() and not line.strip().startswith("#"))


def _apply_renames(text: str, renames: str | None) -> str:
    for rename in (renames or "").split(","):
        if "->" in rename:
            old, new = (part.strip() for part in rename.split("->", 1))
            text = text.replace(old, new)
    return text


def find_copy_problems(plugins_dir: Path) -> list[str]:
    """A line per marked copy that differs from its origin (or whose origin can't be found)."""
    problems = []
    for path in sorted(plugins_dir.glob("*/*.py")):
        lines = path.read_text(encoding="utf8").splitlines(keepends=True)
        definitions = None
        for number, line in enumerate(lines, 1):
            match = MARKER.match(line)
            if not match:
                continue
            if definitions is None:
                definitions = {node.lineno: node for node in _definitions(ast.parse("".join(lines))).values()}
                for node in list(definitions.values()):  # a decorated definition starts at its first decorator
                    for decorator in getattr(node, "decorator_list", []):
                        definitions[decorator.lineno] = node
            where = f"{path.relative_to(plugins_dir)}:{number}"
            copy = definitions.get(number + 1)
            if copy is None:
                problems.append(f"{where}: the marker is not directly above a def or class")
                continue
            package_dir = plugins_dir.parent / "hfext" if match["package"] == "hfext" else plugins_dir / match["package"]
            origin_path = package_dir / f"{match['module']}.py"
            if not origin_path.is_file():
                problems.append(f"{where}: no module {match['package']}.{match['module']} at {origin_path}")
                continue
            origin_lines = origin_path.read_text(encoding="utf8").splitlines(keepends=True)
            origin = _definitions(ast.parse("".join(origin_lines))).get(match["name"])
            if origin is None:
                problems.append(f"{where}: {match['package']}.{match['module']} has no {match['name']}")
                continue
            expected = _apply_renames(_source(origin_lines, origin), match["renames"])
            actual = _source(lines, copy)
            if actual != expected:
                differing = next(
                    (f"{a!r} != {e!r}" for a, e in zip(actual.splitlines(), expected.splitlines()) if a != e),
                    f"{len(actual.splitlines())} lines vs {len(expected.splitlines())} in the origin",
                )
                problems.append(f"{where}: differs from {match['package']}.{match['module']}.{match['name']}: {differing}")
    return problems


def test_marked_copies_match_their_origin():
    assert find_copy_problems(PLUGINS) == []


def test_the_checker_sees_a_changed_copy(tmp_path):
    origin = tmp_path / "hfext_a" / "modeling_a.py"
    origin.parent.mkdir()
    origin.write_text("class AModel:\n    def attend(self, x):\n        # scale\n        return x * 2\n")
    copy = tmp_path / "hfext_b" / "modeling_b.py"
    copy.parent.mkdir()
    good = "class BModel:\n    # Copied from hfext_a.modeling_a.AModel.attend with AModel->BModel\n    def attend(self, x):\n        return x * 2\n"
    copy.write_text(good)
    assert find_copy_problems(tmp_path) == []
    copy.write_text(good.replace("x * 2", "x * 3"))
    assert find_copy_problems(tmp_path) == [
        "hfext_b/modeling_b.py:2: differs from hfext_a.modeling_a.AModel.attend: '    return x * 3' != '    return x * 2'"
    ]
    copy.write_text(good.replace("AModel.attend", "AModel.missing"))
    assert "has no AModel.missing" in find_copy_problems(tmp_path)[0]


def test_a_copy_of_core_code_is_checked_against_hfext(tmp_path):
    (tmp_path / "hfext").mkdir()
    (tmp_path / "hfext" / "errors.py").write_text('PAGE = "docs/t.md"\n\ndef see(s):\n    return f" (see {PAGE}#{s})"\n')
    copy = tmp_path / "plugins" / "hfext_a" / "configuration_a.py"
    copy.parent.mkdir(parents=True)
    good = '# Copied from hfext.errors.see with {PAGE}->docs/t.md\ndef see(s):\n    return f" (see docs/t.md#{s})"\n'
    copy.write_text(good)
    assert find_copy_problems(tmp_path / "plugins") == []
    copy.write_text(good.replace("(see", "(read"))
    assert "differs from hfext.errors.see" in find_copy_problems(tmp_path / "plugins")[0]


@pytest.mark.parametrize("marker", ["# Copied from hfext_word2vec.modeling_word2vec.build_huffman_tree",
                                    "# Copied from hfext.errors.see with {TROUBLESHOOTING}->docs/troubleshooting.md"])
def test_the_known_copies_are_found(marker):
    assert any(marker in path.read_text(encoding="utf8") for path in PLUGINS.glob("*/*.py"))
