"""Every error a user can hit ends with the troubleshooting section that explains it.

The check reads the source (``ast``): each ``raise SomeError(...)`` (and each ``return SomeError(...)`` of a
helper that builds one) in ``hfext/``, ``recipes/`` and ``plugins/`` must name a section of
``docs/troubleshooting.md`` in one of the three ways ``tests/test_error_docs.py`` resolves:

- an ``hfext.errors.see("anchor")`` call (or, in a plugin, which must not import hfext, the literal text
  ``docs/troubleshooting.md#anchor``) in the message,
- a ``docs="anchor"`` keyword (``DocumentedError`` subclasses, e.g. the CLI's ``CLIError``),
- an exception class whose body sets ``docs = "anchor"``, or that derives from one that does.

Errors a user cannot cause (a broken internal invariant, a Python protocol such as ``__getattr__``'s
AttributeError) carry the comment ``# internal`` on the ``raise`` line, which says why they are exempt.
"""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SOURCES = sorted(p for folder in ("hfext", "recipes", "plugins") for p in (REPO / folder).rglob("*.py"))
EXEMPT_CLASSES = {"NotImplementedError", "StopIteration", "SystemExit", "KeyboardInterrupt", "AssertionError"}
POINTER_TEXT = "docs/troubleshooting.md#"
MARKER = "# internal"


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def documented_classes(trees) -> set[str]:
    """Class names that set ``docs = "..."``, and (to a fixpoint) the classes derived from them."""
    bases, documented = {}, set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases[node.name] = {_name(base) for base in node.bases}
                for statement in node.body:
                    targets = statement.targets if isinstance(statement, ast.Assign) else [getattr(statement, "target", None)]
                    value = getattr(statement, "value", None)
                    if any(_name(t) == "docs" for t in targets) and isinstance(value, ast.Constant) and value.value:
                        documented.add(node.name)
    changed = True
    while changed:
        new = {name for name, parents in bases.items() if parents & documented} - documented
        documented |= new
        changed = bool(new)
    return documented


def _names_a_section(call: ast.Call) -> bool:
    if any(keyword.arg == "docs" for keyword in call.keywords):
        return True
    for node in ast.walk(call):
        if isinstance(node, ast.Call) and _name(node.func) == "see":
            return True
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and POINTER_TEXT in node.value:
            return True
    return False


def _is_error_class(name: str | None) -> bool:
    return bool(name) and name[0].isupper() and name.endswith(("Error", "Exception", "Exit", "Interrupt"))


def unpointed_errors(path: Path, documented: set[str], root: Path = REPO) -> list[str]:
    """``file:line  raise X(...)`` for each error built in `path` that names no section and is not marked."""
    text = path.read_text()
    lines = text.splitlines()
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Raise):
            call = node.exc
        elif isinstance(node, ast.Return):
            call = node.value  # a helper that builds the error its caller raises
        else:
            continue
        if not isinstance(call, ast.Call):
            continue  # a bare `raise`, or re-raising an error object built elsewhere
        # `raise (OSError if ... else LoadingError)(...)`: each class it may build counts
        names = [_name(f) for f in ((call.func.body, call.func.orelse) if isinstance(call.func, ast.IfExp) else (call.func,))]
        errors = [name for name in names if _is_error_class(name) and name not in EXEMPT_CLASSES]
        if not errors or all(name in documented for name in errors):
            continue
        if _names_a_section(call) or MARKER in lines[node.lineno - 1]:
            continue
        found.append(f"{path.relative_to(root)}:{node.lineno}  {lines[node.lineno - 1].strip()[:100]}")
    return found


TREES = {path: ast.parse(path.read_text()) for path in SOURCES}
DOCUMENTED = documented_classes(TREES.values())


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_user_error_names_its_section(path):
    missing = unpointed_errors(path, DOCUMENTED)
    assert not missing, (
        f"{len(missing)} error(s) name no docs/troubleshooting.md section; end the message with "
        "hfext.errors.see('anchor'), pass docs='anchor' to a DocumentedError, or mark an error no user can "
        "cause with '# internal':\n" + "\n".join(missing)
    )


def test_the_check_catches_an_error_without_a_section(tmp_path):
    source = tmp_path / "module.py"
    source.write_text(
        "class Documented(DocumentedError):\n    docs = 'x'\n\n"
        "class Derived(Documented, ValueError):\n    pass\n\n"
        "def f(a):\n"
        "    if a == 1:\n        raise ValueError('bad a')\n"
        "    if a == 2:\n        raise ValueError('bad a' + see('x'))\n"
        "    if a == 3:\n        raise CLIError('bad a', docs='x')\n"
        "    if a == 4:\n        raise Derived('bad a')\n"
        "    if a == 5:\n        raise KeyError(a)  # internal: a mapping protocol\n"
        "    if a == 6:\n        return TypeError(f'bad {a}')\n"
        "    if a == 7:\n        raise (OSError if a else Derived)('bad a')\n"
        "    raise ValueError('see docs/troubleshooting.md#x')\n"
    )
    documented = documented_classes([ast.parse(source.read_text())])
    assert documented == {"Documented", "Derived"}
    missing = unpointed_errors(source, documented, root=tmp_path)
    assert [entry.split()[0] for entry in missing] == ["module.py:9", "module.py:19", "module.py:21"]
