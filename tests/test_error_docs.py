"""docs/troubleshooting.md stays true to the code: links into it resolve, and the messages it quotes exist.

- Every section the code points to must be an ``<a id="anchor">`` of the page: a literal
  ``docs/troubleshooting.md#anchor`` in ``hfext/``, ``recipes/`` or ``plugins/``, a ``see("anchor")`` call and a
  ``docs = "anchor"`` attribute of an exception class (``hfext.errors``: the message then ends with the link).
- Every quoted message (a ``> `` line of the page; ``…`` marks the values the message fills in) must still be
  raised or printed by the code: each of its pieces of 20 or more characters is found in the source, where
  Python's implicitly concatenated string literals are joined first.
"""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PAGE = REPO / "docs" / "troubleshooting.md"
SOURCES = [p for folder in ("hfext", "recipes", "plugins") for p in sorted((REPO / folder).rglob("*.py"))]
# `"...abc "\n    f"def..."` -> `...abc def...`: one message written over several source lines.
LITERAL_BREAK = re.compile(r"""["']\s*\n\s*(?:\+\s*)?[rfb]*["']""")
MIN_FRAGMENT = 20


def anchors() -> set[str]:
    return set(re.findall(r'<a id="([\w-]+)"', PAGE.read_text()))


def joined_source() -> str:
    return "\n".join(LITERAL_BREAK.sub("", path.read_text()) for path in SOURCES)


def quoted_messages() -> list[str]:
    return [line[2:].strip() for line in PAGE.read_text().splitlines() if line.startswith("> ")]


def test_anchors_are_unique_and_plenty():
    ids = re.findall(r'<a id="([\w-]+)"', PAGE.read_text())
    assert len(ids) == len(set(ids)), f"duplicate anchors: {sorted(i for i in ids if ids.count(i) > 1)}"
    assert len(ids) >= 20


# The three ways code names a section: a literal link, hfext.errors.see("x"), and an error class's docs = "x".
POINTERS = re.compile(r"""docs/troubleshooting\.md#([\w-]+)|\bsee\(\s*["']([\w-]+)["']\s*\)|^\s+docs\s*=\s*["']([\w-]+)["']""",
                      re.MULTILINE)


PLACEHOLDERS = {"section", "anchor"}  # how docstrings write "some section" (hfext/errors.py)


def pointers(text: str) -> list[str]:
    found = [next(group for group in match if group) for match in POINTERS.findall(text)]
    return [anchor for anchor in found if anchor not in PLACEHOLDERS]


def test_pointers_are_found():
    text = 'raise X("bad" + see("a-b"))\n    docs = "c"\n# docs/troubleshooting.md#d-e\n'
    assert pointers(text) == ["a-b", "c", "d-e"]


def test_links_to_the_page_from_the_code_resolve():
    known = anchors()
    for path in SOURCES:
        for anchor in pointers(path.read_text()):
            assert anchor in known, f"{path.relative_to(REPO)} points to docs/troubleshooting.md#{anchor}, which is no anchor"


@pytest.mark.parametrize("message", quoted_messages())
def test_quoted_message_exists_in_the_code(message):
    source = joined_source()
    fragments = [f.strip() for f in message.split("…")]
    long_ones = [f for f in fragments if len(f) >= MIN_FRAGMENT]
    assert long_ones, f"quote {message!r} has no piece of {MIN_FRAGMENT}+ characters to check; quote more of it"
    for fragment in long_ones:
        assert fragment in source, f"docs/troubleshooting.md quotes {fragment!r}, which no source file contains any more"


def test_a_changed_message_is_caught():
    # The check itself can fail: a fragment the code never had is not found.
    assert "no checkpoint found in the moon's output folder" not in joined_source()


def test_contents_lists_every_section_in_page_order():
    text = PAGE.read_text()
    contents = text[text.index("## Contents"):text.index("\n## ", text.index("## Contents") + 1)]
    listed = re.findall(r"- \[(.*)\]\(#([\w-]+)\)", contents)
    sections = [(title, anchor) for anchor, title in re.findall(r'^## <a id="([\w-]+)"></a>(.*)$', text, re.MULTILINE)]
    assert listed == sections, "regenerate the page's Contents list from its sections (titles and anchors)"
