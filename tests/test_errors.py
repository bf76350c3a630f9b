"""hfext's documented errors end with their troubleshooting section, and every section they name exists."""

import re
from pathlib import Path

import pytest

from hfext.errors import DocumentedError, see

REPO = Path(__file__).resolve().parent.parent
ANCHORS = set(re.findall(r'<a id="([^"]+)">', (REPO / "docs" / "troubleshooting.md").read_text()))


def _documented_classes():
    import hfext.hub
    import hfext.loading
    import hfext.training.finetune
    import hfext.training.loop  # noqa: F401  (they define the documented errors)

    seen, todo = [], list(DocumentedError.__subclasses__())
    while todo:
        cls = todo.pop()
        seen.append(cls)
        todo.extend(cls.__subclasses__())
    return [cls for cls in seen if cls.docs]


def test_every_documented_error_names_an_existing_section():
    classes = _documented_classes()
    assert len(classes) >= 9
    for cls in classes:
        assert cls.docs in ANCHORS, f"{cls.__name__}.docs = {cls.docs!r}: no such section in docs/troubleshooting.md"


def test_every_see_call_in_the_code_names_an_existing_section():
    sections = [m for path in (REPO / "hfext").rglob("*.py") for m in re.findall(r'see\("([^"]+)"\)', path.read_text())]
    assert sections
    assert set(sections) <= ANCHORS


def test_messages_end_with_their_section_once():
    from hfext.loading import UnsafeWeightsError
    from hfext.training.finetune import MissingColumnsError

    assert str(UnsafeWeightsError("only pickle")) == "only pickle (see docs/troubleshooting.md#pickle-weights)"
    assert str(MissingColumnsError("lacks 'label'")).startswith("lacks 'label' (see")  # not KeyError's quoting
    already = "x" + see("pickle-weights")
    assert str(UnsafeWeightsError(already)) == already
    with pytest.raises(ValueError, match="resume-settings-changed|pickle-weights"):
        raise UnsafeWeightsError("only pickle")
