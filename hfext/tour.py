"""The lecture, runnable: ``hfext tour`` runs every example of ``docs/tour/`` in lecture order and regenerates
the pictures in ``docs/images/``.

    hfext tour                              # every chapter at full size (several minutes on 2 CPU cores)
    hfext tour --smoke --out_dir /tmp/pics  # seconds per chapter: tiny corpora and models (what CI runs)
    hfext tour --chapters 1 6               # only some chapters

Each chapter is one script in ``examples/`` with a ``main(argv)`` that accepts ``--out_dir`` (pictures),
``--output_dir`` (models it trains) and ``--smoke``. The tour imports and runs them in one process (importing
torch and transformers once instead of once per chapter), prints a progress line per chapter and a summary table, and
exits non-zero if a chapter failed.

:func:`quiet` is what the examples use to keep a recipe's own progress bars, logging and JSON out of their
output, so that what they print is the chapter's result.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import os
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from .errors import DocumentedError, see

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
PICTURES_DIR = EXAMPLES_DIR.parent / "docs" / "images"
SMOKE_PICTURES_DIR = Path(tempfile.gettempdir()) / "hfext-tour-smoke"


def pictures_dir(out_dir: str | os.PathLike | None, smoke: bool) -> str:
    """Where a chapter draws: ``--out_dir`` if given, else the docs' pictures for a full run. A smoke run's
    pictures (tiny models, a few steps) must never replace the committed ones: they go to a temporary folder."""
    if out_dir is not None:
        return str(out_dir)
    return str(SMOKE_PICTURES_DIR if smoke else PICTURES_DIR)


@dataclass(frozen=True)
class Chapter:
    number: int
    title: str
    script: str  # in examples/
    pictures: tuple[str, ...]  # written into --out_dir
    extra_args: tuple[str, ...] = ()  # flags the tour passes besides --out_dir / --output_dir / --smoke


CHAPTERS = (
    Chapter(1, "one-hot vectors and the co-occurrence matrix", "cooccurrence_heatmap.py", ("cooccurrence_matrix.png",)),
    Chapter(2, "word2vec: skip-gram vs CBOW", "word2vec_curves.py", ("word2vec_skipgram_vs_cbow.png",)),
    Chapter(3, "GloVe: country -> capital", "country_capitals.py", ("country_capitals_glove.png",)),
    Chapter(4, "fastText: subwords and unseen words", "fasttext_subwords.py", ("fasttext_oov.png",)),
    Chapter(5, "ELMo: one word, two contexts", "elmo_sentence_classification.py", ("elmo_context_similarity.png",)),
    Chapter(6, "attention: Nadaraya-Watson to multi-head", "attention_pooling.py",
            ("nadaraya_watson.png", "nadaraya_watson_weights.png")),
    Chapter(7, "the Transformer", "transformer_reversal.py", ("transformer_reversal_attention.png",)),
    Chapter(8, "GPT: pretraining and sampling", "gpt_pretraining.py", ("gpt_loss_curve.png",)),
    Chapter(9, "BERT: masked LM and next-sentence prediction", "bert_fill_mask.py", ("bert_fill_mask.png",)),
    Chapter(10, "fine-tuning: pretrained vs from scratch", "finetune_bert.py", ("bert_finetuning.png",)),
)


class TourError(DocumentedError, RuntimeError):
    """A chapter's script is missing or failed."""

    docs = "recipes-and-tour"


@contextlib.contextmanager
def quiet():
    """Hide what a recipe prints while it trains (its stdout and stderr: JSON results, INFO logging, progress
    bars); if the block fails, what it wrote is shown before the error. The examples print their own results
    instead. The root logger's level is restored afterwards (recipes turn INFO logging on)."""
    from transformers.utils import logging as hf_logging

    root = logging.getLogger()
    level = root.level
    bars, verbosity = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()  # its own handler holds the real stderr: "newly initialized weights" notes
    out, err, outer_err = io.StringIO(), io.StringIO(), sys.stderr
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            handlers = [h for h in root.handlers if isinstance(h, logging.StreamHandler)]
            streams = [h.stream for h in handlers]  # handlers made before the block hold the real stderr
            for handler in handlers:
                handler.setStream(err)
            try:
                yield
            finally:
                for handler, stream in zip(handlers, streams):
                    handler.setStream(stream)
                for handler in root.handlers:  # a handler basicConfig added inside the block
                    if isinstance(handler, logging.StreamHandler) and handler.stream is err:
                        handler.setStream(outer_err)
    except BaseException:
        sys.stdout.write(out.getvalue())
        sys.stderr.write(err.getvalue())
        raise
    finally:
        root.setLevel(level)
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def load_example(script: str):
    """Import ``examples/<script>`` (examples/ is not a package) and return the module."""
    path = EXAMPLES_DIR / script
    if not path.is_file():
        raise TourError(f"the tour's example '{path}' is missing; the examples ship with the hfext source tree, "
                        "not the wheel: run the tour from a clone (`pip install -e .`)")
    name = f"_hfext_example_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    spec.loader.exec_module(module)
    return module


def run_chapter(chapter: Chapter, out_dir: Path, work_dir: Path, smoke: bool) -> None:
    """Run one chapter's example; raises if it fails or does not write its pictures."""
    import torch

    module = load_example(chapter.script)
    threads = torch.get_num_threads()  # an example may lower it for its tiny model; the next one gets it back
    if smoke:  # toy models: a second thread gains nothing, and OpenMP's waiting threads cost a lot on a busy CI box
        torch.set_num_threads(1)
    argv = ["--out_dir", str(out_dir), "--output_dir", str(work_dir / Path(chapter.script).stem),
            *chapter.extra_args, *(["--smoke"] if smoke else [])]
    try:
        status = module.main(argv)
    except SystemExit as exit:  # argparse's usage errors
        status = exit.code
    finally:
        torch.set_num_threads(threads)
    if status not in (0, None):
        raise TourError(f"{chapter.script} exited with status {status}")
    missing = [p for p in chapter.pictures if not (out_dir / p).is_file()]
    if missing:
        raise TourError(f"{chapter.script} did not write {', '.join(missing)} into {out_dir}")


def run_tour(out_dir: str | os.PathLike, smoke: bool = False, chapters: list[int] | None = None,
             work_dir: str | os.PathLike | None = None) -> list[dict]:
    """Run the chapters (all, or the numbers in ``chapters``) in order; returns one summary row per chapter
    (number, title, script, seconds, status, pictures). A failing chapter is reported and the tour goes on."""
    known = {c.number for c in CHAPTERS}
    unknown = sorted(set(chapters or []) - known)
    if unknown:
        raise ValueError(f"no tour chapter {unknown[0]}; the chapters are {min(known)}..{max(known)}"
                         + see("recipes-and-tour"))
    selected = [c for c in CHAPTERS if not chapters or c.number in chapters]
    out_dir = Path(out_dir).expanduser()
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    with contextlib.ExitStack() as stack:
        if work_dir is None:  # the models the chapters train are scratch unless asked for
            work_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="hfext-tour-"))
        work_dir = Path(work_dir)
        for index, chapter in enumerate(selected, 1):
            print(f"\n=== [{index}/{len(selected)}] chapter {chapter.number}: {chapter.title} "
                  f"(examples/{chapter.script}{' --smoke' if smoke else ''})", flush=True)
            start = time.perf_counter()
            try:
                run_chapter(chapter, out_dir, work_dir, smoke)
                status = "ok"
            except Exception as error:  # noqa: BLE001  (one broken chapter must not hide the others' results)
                traceback.print_exc()
                status = f"FAILED: {type(error).__name__}: {error}"
            seconds = time.perf_counter() - start
            print(f"=== chapter {chapter.number}: {status} in {seconds:.1f} s", flush=True)
            rows.append({"chapter": chapter.number, "title": chapter.title, "script": chapter.script,
                         "seconds": seconds, "status": status,
                         "pictures": [str(out_dir / p) for p in chapter.pictures if (out_dir / p).is_file()]})
    return rows


def summary_table(rows: list[dict]) -> str:
    from .cli import _table

    table = [[row["chapter"], row["title"], row["script"], f"{row['seconds']:.1f}",
              ", ".join(os.path.basename(p) for p in row["pictures"]) or "-", row["status"]] for row in rows]
    return _table(["#", "chapter", "example", "seconds", "pictures", "status"], table, right={0, 3})
