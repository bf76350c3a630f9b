"""Errors that point to their troubleshooting section.

hfext's error messages name the bad value and the fix; where ``docs/troubleshooting.md`` says more (causes,
other fixes), the exception class names that section and its message ends with it::

    ValueError: cannot resume from 'out/step_10': the run's settings changed (...); resume with the original
    settings or start a new run in another --output_dir (see docs/troubleshooting.md#resume-settings-changed)
"""

from __future__ import annotations

TROUBLESHOOTING = "docs/troubleshooting.md"


def see(section: str) -> str:
    """`` (see docs/troubleshooting.md#section)``, to end a message with."""
    return f" (see {TROUBLESHOOTING}#{section})"


class DocumentedError(Exception):
    """Mixin for exception classes: ``docs`` names the troubleshooting section the message ends with.

    The class sets a default (``docs = "anchor"``); ``docs=`` overrides it for one error, as the CLI does for
    its many kinds of mistake. A message that already names a section (a wrapped error's) keeps its own.
    """

    docs: str | None = None  # a section anchor of docs/troubleshooting.md

    def __init__(self, *args, docs: str | None = None):
        super().__init__(*args)
        if docs is not None:
            self.docs = docs

    def __str__(self) -> str:
        text = str(self.args[0]) if len(self.args) == 1 else super().__str__()  # (KeyError would quote it)
        return text + see(self.docs) if self.docs and f"{TROUBLESHOOTING}#" not in text else text


class MissingDependencyError(DocumentedError, ImportError):
    """An optional package that one command needs is not installed; the message says which and how to get it."""

    docs = "optional-dependency"
