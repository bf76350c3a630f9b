"""The ``hfext`` command.

    hfext plugins [--json]                                   what model families are installed
    hfext quickstart [--output_dir DIR]                      train, evaluate, query and reload a word2vec in ~30 s
    hfext train word2vec --train_file corpus.txt --output_dir w2v [recipe flags]
    hfext neighbors w2v king [--topn 10] [--positive W ...] [--negative W ...] [--json]
    hfext eval analogies w2v questions-words.txt [--restrict_vocab N] [--case_sensitive] [--json]
    hfext eval similarity w2v wordsim353.tsv [--delimiter '\\t'] [--json]
    hfext export word2vec-format w2v vectors.txt [--binary]
    hfext export glove-format glove vectors.txt                GloVe's text format (no header line)
    hfext convert fasttext-bin cc.en.300.bin ft [--vec ft.vec]   Facebook fastText .bin -> model folder (streaming)
    hfext convert glove-text glove.6B.100d.txt glove              GloVe text vectors -> model folder
    hfext convert allennlp-elmo options.json weights.hdf5 elmo   AllenNLP/bilm-tf ELMo -> hfext-elmo folder
    hfext convert hf-bert bert-dir bert                        transformers BERT folder -> hfext-bert folder
    hfext convert hf-gpt2 gpt2-dir gpt                         transformers GPT-2 folder -> hfext-gpt folder
    hfext export fasttext-bin ft model.bin                    ... and back (byte-identical for a converted .bin)
    hfext plot pca MODEL_DIR --analogy_section capital-common-countries --out capitals.png   (or plot tsne)
    hfext plot kernel-regression --out fit.png --heatmap weights.png   Nadaraya-Watson attention pooling
    hfext plot attention MODEL_DIR "a b c" --out attention.png   where a trained Transformer attends
    hfext explain pickle-weights                              the troubleshooting section an error points to
    hfext cooccurrence corpus.txt --window 1 [--vocab 'I,like,...'] [--out X.tsv]   the lecture's co-occurrence table

Every command that takes a ``MODEL_DIR`` works on a word-vector model directory (one whose config declares
``vector_size``: the word2vec family today, GloVe and fastText later), as written by ``hfext train`` or
``hfext quickstart``, or a Hub repo id. Mistakes in what the user typed (a missing directory, a folder that is
not a model, an unknown word) print one line on stderr naming the problem and the fix, and exit with status 2.
Set ``HFEXT_DEBUG=1`` to get the full traceback instead.

Heavy imports (torch, transformers) happen inside the commands, so ``hfext --help`` stays cheap.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import re
import sys
import time
from pathlib import Path

from hfext.data.corpus import gensim_test_data
from hfext.errors import TROUBLESHOOTING, DocumentedError

EXIT_USAGE = 2  # argparse's status for a usage error; every user mistake uses it

# Words of gensim's `head500.noblanks.cor` (stemmed, text8-like) whose neighbours are telling.
QUICKSTART_WORDS = ("war", "film", "french", "april", "comput", "languag")
QUICKSTART_CORPUS = "head500.noblanks.cor"
ANALOGIES_FILE = "questions-words.txt"
SIMILARITY_FILE = "wordsim353.tsv"


class CLIError(DocumentedError):
    """A user mistake: reported as ``hfext: error: <message>`` with exit status 2, no traceback.

    Each raise names its troubleshooting section (``docs="model-dir"``); a wrapped error's message that already
    names one keeps it."""


# ---------------------------------------------------------------------- helpers


def _table(headers: list[str], rows: list[list], right: set[int] = frozenset()) -> str:
    """A plain aligned text table; columns in `right` are right-aligned (numbers)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def fmt(row):
        parts = [cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(row)]
        return "  ".join(parts).rstrip()

    lines = [fmt(cells[0]), fmt(["-" * w for w in widths])]
    lines += [fmt(row) for row in cells[1:]]
    return "\n".join(lines)


def _finite(value) -> float | None:
    """A float for JSON output; NaN (e.g. a constant correlation) becomes null so the JSON stays valid."""
    value = float(value)
    return value if math.isfinite(value) else None


def _print_json(payload) -> None:
    print(json.dumps(payload, indent=2, ensure_ascii=False))


@contextlib.contextmanager
def _quiet_transformers():
    """Hide transformers' "Loading weights" progress bar while a command loads a model."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _looks_like_repo_id(name: str) -> bool:
    return re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", name) is not None and not name.startswith(".")


def _word_vector_model_types() -> list[str]:
    """hfext model types whose config declares `vector_size`: the ones `KeyedVectors` commands accept."""
    import transformers

    import hfext

    types = []
    for info in hfext.discovered_plugins().values():
        for model_type in info.model_types:
            # CONFIG_MAPPING is lazy: `.get` misses registered types, `in` and `[]` see them
            if model_type in transformers.CONFIG_MAPPING and hasattr(transformers.CONFIG_MAPPING[model_type], "vector_size"):
                types.append(model_type)
    return types


def _check_model_type(model_dir: str, model_type: str, command: str) -> None:
    """CLIError unless `model_type` is registered and is a word-vector model type."""
    import transformers

    import hfext

    word_vector_types = _word_vector_model_types()
    known = ", ".join(word_vector_types) or "none"
    if model_type not in transformers.CONFIG_MAPPING:
        failed = [name for name, info in hfext.discovered_plugins().items() if info.status == "failed"]
        hint = f" (plugins that failed to load: {', '.join(failed)})" if failed else ""
        raise CLIError(
            f"'{model_dir}' holds a model of type '{model_type}', which no installed hfext plugin provides"
            f"{hint}; install the plugin that provides it, and run `hfext plugins` to check (word-vector types "
            f"available: {known})",
            docs="plugin-failed" if failed else "model-type-mismatch",
        )
    if model_type not in word_vector_types:
        config_class = transformers.CONFIG_MAPPING[model_type]
        raise CLIError(
            f"'{model_dir}' holds a '{model_type}' model ({config_class.__name__}), not a word-vector model; "
            f"`hfext {command}` works on word-embedding models ({known})",
            docs="wrong-model-kind",
        )


def _check_model_dir(model_dir: str, command: str) -> str:
    """Validate a MODEL_DIR argument before loading it; returns the path (or Hub id) to load.

    Raises CLIError naming the problem and the fix for: a missing directory, a file, a folder without
    config.json or tokenizer, a model type no installed plugin provides, or a model that has no word vectors.
    """
    path = Path(model_dir).expanduser()
    make_one = "train one with `hfext train word2vec --train_file corpus.txt --output_dir DIR` or `hfext quickstart`"
    if not path.exists():
        # "org/name" could be a Hub repo id, unless "org" is a local folder: then it is a mistyped path
        if not _looks_like_repo_id(model_dir) or path.parent.is_dir():
            raise CLIError(
                f"model directory '{model_dir}' does not exist; pass the --output_dir of a training run, or {make_one}",
                docs="model-dir",
            )
        # maybe a Hub repo id: read its config first so a non-word-vector model is refused before downloading weights
        from transformers import AutoConfig

        try:
            with _quiet_transformers():
                config = AutoConfig.from_pretrained(model_dir)
        except (OSError, ValueError) as error:
            raise CLIError(
                f"'{model_dir}' is not a local directory, and loading it as a Hub repo id failed: {error} "
                "(if you meant a local folder, check the path)",
                docs="model-dir",
            ) from None
        _check_model_type(model_dir, config.model_type, command)
        return model_dir
    if not path.is_dir():
        raise CLIError(
            f"'{model_dir}' is a file, not a model directory; pass the folder that holds config.json, "
            "model.safetensors and tokenizer.json",
            docs="model-dir",
        )
    config_file = path / "config.json"
    if not config_file.is_file():
        from hfext.loading import not_a_model_hint

        if checkpoint := not_a_model_hint(model_dir, FileNotFoundError("")):  # a step_N folder, not the model
            raise CLIError(checkpoint, docs="model-dir")
        raise CLIError(
            f"'{model_dir}' has no config.json, so it is not a Hugging Face model directory; pass the folder "
            f"that `hfext train`'s --output_dir wrote, or {make_one}",
            docs="model-dir",
        )
    try:
        config = json.loads(config_file.read_text(encoding="utf8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CLIError(f"cannot read '{config_file}': {error}; the model directory is damaged, save or train it again",
                       docs="model-dir") from None
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if not model_type:
        raise CLIError(f"'{config_file}' has no model_type; it was not written by `save_pretrained`", docs="model-dir")
    _check_model_type(model_dir, model_type, command)
    if not any((path / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json")):
        raise CLIError(
            f"'{model_dir}' has no tokenizer (tokenizer.json), so its vectors have no words; save the tokenizer "
            "next to the model with `tokenizer.save_pretrained(model_dir)`",
            docs="no-tokenizer",
        )
    return str(path)


def _load_vectors(model_dir: str, command: str):
    """`KeyedVectors.from_pretrained(model_dir)` with user-facing errors."""
    from hfext.vectors import KeyedVectors

    source = _check_model_dir(model_dir, command)
    try:
        with _quiet_transformers():
            return KeyedVectors.from_pretrained(source)
    except (OSError, ValueError) as error:
        raise CLIError(f"cannot load word vectors from '{model_dir}': {error}", docs="model-dir") from None


def _check_input_file(path: str, what: str, shipped_name: str | None = None, docs: str = "input-file") -> None:
    if os.path.isfile(path):
        return
    hint = ""
    data = gensim_test_data() if shipped_name else None
    if data and os.path.isfile(os.path.join(data, shipped_name)):
        hint = f"; gensim ships one: {os.path.join(data, shipped_name)}"
    raise CLIError(f"{what} '{path}' does not exist{hint}", docs=docs)


def _unknown_word_error(kv, word: str, model_dir: str) -> CLIError:
    import difflib

    candidates = [w for w in (word.lower(), word.upper(), word.capitalize()) if w != word and w in kv]
    candidates += [w for w in difflib.get_close_matches(word, kv.index_to_key, n=5, cutoff=0.6) if w not in candidates]
    hint = f"; closest known words: {', '.join(candidates[:5])}" if candidates else "; try another word"
    return CLIError(f"word '{word}' is not in the vocabulary of '{model_dir}' ({len(kv)} words){hint}",
                    docs="unknown-word")


def _recipes_dir() -> Path:
    import hfext

    return Path(hfext.__file__).resolve().parent.parent / "recipes"


def _load_recipe(name: str, prefixes: tuple[str, ...] = ("pretrain", "train")):
    """Import ``recipes/<prefix>_<name>.py`` for the first prefix that has one (``pretrain_word2vec.py``,
    ``train_seq2seq.py``, ``finetune_glue.py``) from the source checkout (recipes/ is not a package)."""
    import importlib.util

    recipes = _recipes_dir()
    if not recipes.is_dir():
        raise CLIError(
            f"the training recipes are not installed: expected them in '{recipes}'. They ship with the hfext "
            "source tree, not the wheel: clone the repository and `pip install -e .` (or run "
            f"`python recipes/{prefixes[0]}_{name}.py` from the checkout)",
            docs="recipes-and-tour",
        )
    scripts = [recipes / f"{prefix}_{name}.py" for prefix in prefixes]
    script = next((path for path in scripts if path.is_file()), None)
    if script is None:
        available = sorted(p.stem.split("_", 1)[1] for prefix in prefixes for p in recipes.glob(f"{prefix}_*.py"))
        kind = "fine-tuning" if prefixes == ("finetune",) else "training"
        raise CLIError(f"no {kind} recipe for '{name}' in '{recipes}'; available: {', '.join(available) or 'none'}",
                       docs="recipes-and-tour")
    module_name = f"_hfext_recipe_{script.stem}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look the module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


@contextlib.contextmanager
def _prog_name(name: str):
    """Make the recipe's argparse messages say `hfext train word2vec` instead of the script name."""
    saved = sys.argv[:1]
    sys.argv[:1] = [name]
    try:
        yield
    finally:
        sys.argv[:1] = saved


# ---------------------------------------------------------------------- commands


def cmd_plugins(args) -> int:
    from dataclasses import asdict
    from importlib.metadata import entry_points

    import hfext
    from hfext.plugins import ENTRY_POINT_GROUP

    plugins = [asdict(info) for info in hfext.discovered_plugins().values()]
    seen = {p["name"] for p in plugins}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):  # declared but left out by HFEXT_PLUGINS
        if entry_point.name not in seen:
            dist = getattr(entry_point, "dist", None)
            plugins.append(
                {"name": entry_point.name, "value": entry_point.value, "distribution": dist.metadata["Name"] if dist else None,
                 "status": "skipped", "error": "not in the HFEXT_PLUGINS allow-list", "model_types": [], "auto_classes": {}}
            )
            seen.add(entry_point.name)
    plugins.sort(key=lambda p: p["name"])
    if args.json:
        _print_json(plugins)
        return 0
    if not plugins:
        print(f"no hfext plugins found (entry-point group '{ENTRY_POINT_GROUP}'); is hfext installed with `pip install -e .`?")
        return 0
    rows = []
    for p in plugins:
        models = ", ".join(f"{cls} -> {'/'.join(autos) or '(none)'}" for cls, autos in p["auto_classes"].items())
        rows.append([p["name"], p["distribution"] or "?", p["status"], ", ".join(p["model_types"]) or "-", models or "-"])
    print(_table(["PLUGIN", "DISTRIBUTION", "STATUS", "MODEL TYPES", "MODEL CLASSES -> AUTO CLASSES"], rows))
    problems = [p for p in plugins if p["status"] != "loaded"]
    if problems:
        print()
        for p in problems:
            print(f"{p['name']} ({p['value']}) {p['status']}: {p['error']}")
    return 0


def cmd_export(args) -> int:
    out = Path(args.output).expanduser()
    if out.is_dir():
        raise CLIError(f"output '{args.output}' is a directory; pass a file name such as {out / 'vectors.txt'}",
                       docs="output-file")
    if not out.parent.is_dir():
        raise CLIError(f"the folder of output '{args.output}' does not exist; create it first (mkdir -p {out.parent})",
                       docs="output-file")
    glove = args.format == "glove-format"
    kv = _load_vectors(args.model_dir, f"export {args.format}")
    kv.save_word2vec_format(str(out), binary=args.binary, write_header=not glove)
    kind = "GloVe text format, no header" if glove else f"word2vec C {'binary' if args.binary else 'text'} format"
    print(f"wrote {len(kv)} vectors of dimension {kv.vector_size} to {out} ({kind})")
    return 0


def cmd_eval_analogies(args) -> int:
    _check_input_file(args.file, "analogy file", ANALOGIES_FILE)
    if args.restrict_vocab < 1:
        raise CLIError(f"--restrict_vocab must be >= 1, got {args.restrict_vocab}", docs="flag-value")
    kv = _load_vectors(args.model_dir, "eval analogies")
    try:
        score, sections = kv.evaluate_word_analogies(
            args.file, restrict_vocab=args.restrict_vocab, case_insensitive=not args.case_sensitive,
            dummy4unknown=args.dummy4unknown,
        )
    except (ValueError, UnicodeDecodeError) as error:
        raise CLIError(f"cannot read analogy file '{args.file}': {error}", docs="input-file") from None

    def summary(section):
        correct, incorrect = len(section["correct"]), len(section["incorrect"])
        total = correct + incorrect
        return {"section": section["section"], "correct": correct, "incorrect": incorrect, "total": total,
                "accuracy": correct / total if total else None}

    per_section = [summary(s) for s in sections[:-1]]
    total = summary(sections[-1])
    if args.json:
        _print_json({"model": args.model_dir, "file": args.file, "accuracy": score, "correct": total["correct"],
                     "total": total["total"], "restrict_vocab": args.restrict_vocab,
                     "case_sensitive": args.case_sensitive, "sections": per_section})
        return 0

    def row(s):
        accuracy = f"{100 * s['accuracy']:.1f}%" if s["accuracy"] is not None else "-"
        return [s["section"], s["correct"], s["total"], accuracy]

    print(_table(["SECTION", "CORRECT", "ASKED", "ACCURACY"], [row(s) for s in per_section] + [row(total)], right={1, 2, 3}))
    if not args.dummy4unknown:
        print("(questions with a word outside the vocabulary are skipped; --dummy4unknown counts them as wrong)")
    return 0


def cmd_eval_similarity(args) -> int:
    import codecs

    _check_input_file(args.file, "word-pair file", SIMILARITY_FILE)
    delimiter = codecs.decode(args.delimiter, "unicode_escape")  # lets users type '\t' literally
    kv = _load_vectors(args.model_dir, "eval similarity")
    try:
        pearson, spearman, oov_ratio = kv.evaluate_word_pairs(
            args.file, delimiter=delimiter, restrict_vocab=args.restrict_vocab, case_insensitive=not args.case_sensitive
        )
    except (ValueError, UnicodeDecodeError) as error:
        raise CLIError(f"cannot evaluate on '{args.file}' (delimiter {delimiter!r}): {error}",
                       docs="input-file") from None
    result = {"model": args.model_dir, "file": args.file, "pearson": _finite(pearson[0]),
              "pearson_pvalue": _finite(pearson[1]), "spearman": _finite(spearman[0]),
              "spearman_pvalue": _finite(spearman[1]), "oov_ratio": float(oov_ratio)}
    if args.json:
        _print_json(result)
        return 0

    def num(value):
        return "nan" if value is None else f"{value:.4f}"

    rows = [["Pearson", num(result["pearson"]), f"{pearson[1]:.3g}"],
            ["Spearman", num(result["spearman"]), f"{spearman[1]:.3g}"],
            ["OOV pairs", f"{oov_ratio:.1f}%", ""]]
    print(_table(["METRIC", "VALUE", "P-VALUE"], rows, right={1, 2}))
    return 0


def cmd_neighbors(args) -> int:
    if args.topn < 1:
        raise CLIError(f"--topn must be >= 1, got {args.topn}", docs="flag-value")
    kv = _load_vectors(args.model_dir, "neighbors")
    positive = [args.word] + list(args.positive or [])
    negative = list(args.negative or [])
    for word in positive + negative:
        if word not in kv:
            raise _unknown_word_error(kv, word, args.model_dir)
    neighbours = kv.most_similar(positive=positive, negative=negative, topn=args.topn)
    if args.json:
        _print_json([{"word": word, "similarity": float(score)} for word, score in neighbours])
        return 0
    query = " + ".join(positive) + "".join(f" - {w}" for w in negative)
    print(f"nearest neighbours of {query} (cosine similarity):")
    print(_table(["RANK", "WORD", "COSINE"], [[i, w, f"{s:.4f}"] for i, (w, s) in enumerate(neighbours, 1)], right={0, 2}))
    return 0


def cmd_cooccurrence(args) -> int:
    import numpy as np

    from hfext.data import (
        CorpusError,
        Vocabulary,
        cooccurrence_matrix,
        read_lines,
        save_cooccurrence,
        split_sentences,
    )

    _check_input_file(args.file, "corpus file", docs="corpus-missing")
    if args.window < 1:
        raise CLIError(f"--window must be >= 1 (words on each side), got {args.window}", docs="flag-value")
    if args.min_count < 1:
        raise CLIError(f"--min_count must be >= 1, got {args.min_count}", docs="flag-value")
    try:
        sentences = list(split_sentences(read_lines(args.file), not args.no_split_punctuation, args.sentence_end))
    except CorpusError as error:
        raise CLIError(str(error), docs="corpus-missing") from None
    tokens = [s.split() for s in sentences]
    if args.vocab:
        words = [w for w in re.split(r"[,\s]+", args.vocab) if w]
        if len(set(words)) != len(words):
            raise CLIError(f"--vocab lists a word twice: {args.vocab!r}; give each word once", docs="flag-value")
        vocab = Vocabulary(words, np.zeros(len(words), dtype=np.int64))
    else:
        try:
            vocab = Vocabulary.build(sentences, min_count=args.min_count)
        except CorpusError as error:
            raise CLIError(f"'{args.file}': {error}", docs="min-count") from None
    index = {w: i for i, w in enumerate(vocab.words)}
    ids = [[index.get(w, -1) for w in sentence] for sentence in tokens]  # -1: outside the vocabulary, dropped
    if args.vocab:  # a typo in --vocab would otherwise be a silent row of zeros
        seen = {w for sentence in tokens for w in sentence}
        absent = [w for w in vocab.words if w not in seen]
        if absent:
            print(f"hfext: warning: --vocab word(s) never in '{args.file}' (case matters): {', '.join(absent)}",
                  file=sys.stderr)
    matrix = cooccurrence_matrix(ids, len(vocab), args.window, symmetric=not args.directional,
                                 distance_weighting=args.distance_weighting)
    if args.out:
        out = Path(args.out).expanduser()
        if not out.parent.is_dir():
            raise CLIError(f"the folder of --out '{args.out}' does not exist; create it first (mkdir -p {out.parent})",
                           docs="output-file")
        if out.suffix in (".tsv", ".csv"):
            if len(vocab) > args.max_dense:
                raise CLIError(f"{len(vocab)} words is too many for a dense {out.suffix} table (limit --max_dense "
                               f"{args.max_dense}); save the sparse matrix with --out {out.with_suffix('.safetensors')}",
                               docs="output-file")
            sep = "\t" if out.suffix == ".tsv" else ","
            dense = matrix.toarray()
            lines = [sep.join(["counts", *vocab.words])]
            lines += [sep.join([w, *(_number(x) for x in row)]) for w, row in zip(vocab.words, dense)]
            tmp = out.with_name(f".{out.name}.tmp")
            tmp.write_text("\n".join(lines) + "\n", encoding="utf8")
            os.replace(tmp, out)
        elif out.suffix == ".safetensors":
            save_cooccurrence(out, matrix, vocab.words, window=args.window, symmetric=not args.directional,
                              distance_weighting=args.distance_weighting)
        else:
            raise CLIError(f"--out '{args.out}': use a .tsv or .csv file (dense table) or .safetensors (sparse matrix)",
                           docs="output-file")
    if args.json:
        dense = matrix.toarray() if len(vocab) <= args.max_dense else None
        _print_json({"words": vocab.words, "window": args.window, "symmetric": not args.directional,
                     "distance_weighting": args.distance_weighting, "nonzero": int(matrix.nnz),
                     "matrix": dense.tolist() if dense is not None else None})
        return 0
    print(f"{len(sentences)} sentences, {len(vocab)} words, window {args.window}"
          f"{', right context only' if args.directional else ''}{', 1/distance weights' if args.distance_weighting else ''}"
          f": {matrix.nnz} non-zero cells")
    if len(vocab) > args.max_print:
        print(f"(the table has {len(vocab)} rows; it is printed up to --max_print {args.max_print} words: "
              "raise it, or save it with --out)")
    else:
        dense = matrix.toarray()
        rows = [[w, *(_number(x) for x in row)] for w, row in zip(vocab.words, dense)]
        print(_table(["counts", *vocab.words], rows, right=set(range(1, len(vocab) + 1))))
    if args.out:
        print(f"saved to {args.out}")
    return 0


def _number(value) -> str:
    """An integer count as `2`, a weighted one as `0.333`."""
    return str(int(value)) if float(value).is_integer() else f"{value:.3g}"


def cmd_plot_projection(args) -> int:
    from hfext.plots import analogy_pairs, plot_word_pairs

    if not args.words and not args.analogy_section:
        raise CLIError("say what to draw: --words W1 W2 ... and/or --analogy_section capital-common-countries",
                       docs="flag-value")
    out = Path(args.out).expanduser()
    if out.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise CLIError(f"--out '{args.out}': use a .png, .pdf or .svg file name", docs="output-file")
    if not out.parent.is_dir():
        raise CLIError(f"the folder of --out '{args.out}' does not exist; create it first (mkdir -p {out.parent})",
                       docs="output-file")
    if args.max_pairs < 1:
        raise CLIError(f"--max_pairs must be >= 1, got {args.max_pairs}", docs="flag-value")
    kv = _load_vectors(args.model_dir, f"plot {args.method}")
    pairs = []
    if args.analogy_section:
        analogies = args.analogies_file
        if analogies is None:
            data = gensim_test_data()
            if data is None:
                raise CLIError("--analogy_section reads a questions-words.txt file: pass --analogies_file FILE",
                               docs="optional-dependency")
            analogies = os.path.join(data, ANALOGIES_FILE)
        _check_input_file(analogies, "analogy file", ANALOGIES_FILE)
        try:
            pairs = analogy_pairs(analogies, args.analogy_section, kv, args.max_pairs)
        except (KeyError, ValueError) as error:
            raise CLIError(str(error).strip("'\""), docs="input-file") from None
        if not pairs:
            raise CLIError(f"no pair of section '{args.analogy_section}' has both words in the vocabulary of "
                           f"'{args.model_dir}'; pick another section or pass --words", docs="unknown-word")
    words = list(args.words or [])
    for word in words:
        if word not in kv:
            raise _unknown_word_error(kv, word, args.model_dir)
    if len(words) + 2 * len(pairs) < 2:
        raise CLIError("a 2-D projection needs at least 2 words", docs="flag-value")
    try:
        capitals = (args.analogy_section or "").startswith("capital")
        plot_word_pairs(kv, pairs, out, words=words, method=args.method, title=args.title,
                        pair_labels=("country", "capital") if capitals else ("first word", "second word"))
    except ImportError as error:
        raise CLIError(str(error), docs="optional-dependency") from None
    drawn = f"{len(pairs)} pairs" + (f" and {len(words)} words" if words else "")
    print(f"wrote {out}: {args.method.upper()} projection of {drawn} from {args.model_dir}")
    return 0


def cmd_convert_fasttext_bin(args) -> int:
    from hfext.convert import FastTextFormatError, convert_fasttext_bin

    if not os.path.isfile(args.src):
        raise CLIError(f"fastText model '{args.src}' does not exist; pass the path of a Facebook .bin file "
                       "(e.g. cc.en.300.bin from fasttext.cc)", docs="input-file")
    if args.vec is not None and Path(args.vec).expanduser().is_dir():
        raise CLIError(f"--vec '{args.vec}' is a directory; pass a file name such as {Path(args.vec) / 'vectors.vec'}",
                       docs="output-file")
    try:
        dst = convert_fasttext_bin(args.src, args.dst, overwrite=args.overwrite, vec=args.vec)
    except (FastTextFormatError, FileExistsError, FileNotFoundError) as error:
        # SRC was checked above: a FileExistsError/FileNotFoundError is about DST (not empty, no parent folder)
        docs = "input-file" if isinstance(error, FastTextFormatError) else "output-file"
        raise CLIError(str(error), docs=docs) from None
    with open(dst / "config.json", encoding="utf8") as fin:
        config = json.load(fin)
    print(f"converted {args.src} ({config['vocab_size'] - 1} words, {config['bucket']} n-gram buckets, "
          f"dimension {config['vector_size']}) to {dst}")
    if args.vec:
        print(f"wrote the in-vocabulary vectors to {args.vec} (.vec: word2vec text format)")
    print(f"next: hfext neighbors {dst} WORD   (out-of-vocabulary words work too)")
    return 0


def _convert_destination(args) -> Path:
    """The DST of a `hfext convert` command, refused if it already holds something and --overwrite is not given."""
    dst = Path(args.dst).expanduser()
    if dst.exists() and any(dst.iterdir()) and not args.overwrite:
        raise CLIError(f"'{args.dst}' exists and is not empty; pass --overwrite to replace the model in it, or another folder",
                       docs="output-file")
    return dst


def cmd_convert_glove_text(args) -> int:
    from hfext.convert import convert_glove_text

    _check_input_file(args.src, "GloVe text file")
    dst = _convert_destination(args)
    try:
        convert_glove_text(args.src, dst)
    except ValueError as error:
        raise CLIError(f"cannot read '{args.src}' as GloVe text vectors: {error}", docs="input-file") from None
    with open(dst / "config.json", encoding="utf8") as fin:
        config = json.load(fin)
    print(f"converted {args.src} ({config['vocab_size'] - 1} words, dimension {config['vector_size']}) to {dst}")
    print(f"next: hfext neighbors {dst} WORD")
    return 0


def cmd_convert_hf_gpt2(args) -> int:
    from hfext.convert import GPT2FormatError, convert_hf_gpt2

    src = Path(args.src).expanduser()
    if not src.is_dir():
        raise CLIError(f"'{args.src}' is not a directory; SRC must be a transformers GPT-2 model folder (save_pretrained output)",
                       docs="input-file")
    dst = _convert_destination(args)
    try:
        convert_hf_gpt2(src, dst)
    except (FileNotFoundError, GPT2FormatError) as error:
        raise CLIError(f"cannot convert '{args.src}': {error}", docs="input-file") from None
    with open(dst / "config.json", encoding="utf8") as fin:
        config = json.load(fin)
    print(f"converted {args.src} (GPT-2, {config['n_layer']} layers, width {config['n_embd']}, "
          f"vocabulary {config['vocab_size']}) to {dst}")
    print(f"next: AutoModelForCausalLM.from_pretrained('{dst}') after `import hfext`")
    return 0


def cmd_convert_hf_bert(args) -> int:
    from hfext.convert import BertCheckpointError, convert_hf_bert

    src = Path(args.src).expanduser()
    if not src.is_dir():
        raise CLIError(f"'{args.src}' is not a directory; SRC must be a transformers BERT model folder (save_pretrained output)",
                       docs="input-file")
    dst = _convert_destination(args)
    try:
        convert_hf_bert(src, dst, overwrite=args.overwrite)
    except (FileNotFoundError, BertCheckpointError) as error:
        raise CLIError(f"cannot convert '{args.src}': {error}", docs="input-file") from None
    with open(dst / "config.json", encoding="utf8") as fin:
        config = json.load(fin)
    print(f"converted {args.src} ({config['architectures'][0]}, {config['num_hidden_layers']} layers, hidden "
          f"{config['hidden_size']}, vocabulary {config['vocab_size']}) to {dst}")
    print(f"next: AutoModel.from_pretrained('{dst}') after `import hfext` (or AutoModelForMaskedLM / ...ForPreTraining)")
    return 0


def cmd_convert_allennlp_elmo(args) -> int:
    from hfext.convert import AllenNLPElmoFormatError, convert_allennlp_elmo

    _check_input_file(args.options, "ELMo options file")
    _check_input_file(args.weights, "ELMo weight file")
    dst = _convert_destination(args)
    try:
        convert_allennlp_elmo(args.options, args.weights, dst)
    except AllenNLPElmoFormatError as error:
        raise CLIError(str(error), docs="input-file") from None
    with open(dst / "config.json", encoding="utf8") as fin:
        config = json.load(fin)
    print(f"converted ELMo {args.weights} ({config['num_layers']} LSTM layers, cell {config['lstm_dim']}, "
          f"projection {config['projection_dim']}) to {dst}")
    print(f"next: AutoModel.from_pretrained('{dst}') after `import hfext`; tokenize with AutoTokenizer.from_pretrained('{dst}')")
    return 0


def cmd_export_fasttext_bin(args) -> int:
    from hfext.convert import save_fasttext_bin

    source = _check_model_dir(args.model_dir, "export fasttext-bin")
    with open(Path(source) / "config.json", encoding="utf8") as fin:
        model_type = json.load(fin).get("model_type")
    if model_type != "hfext-fasttext":
        raise CLIError(f"'{args.model_dir}' holds a '{model_type}' model; `hfext export fasttext-bin` writes "
                       "fastText models (hfext-fasttext) only. Use `hfext export word2vec-format` for other models",
                       docs="wrong-model-kind")
    out = Path(args.output).expanduser()
    if out.is_dir():
        raise CLIError(f"output '{args.output}' is a directory; pass a file name such as {out / 'model.bin'}",
                       docs="output-file")
    if not out.parent.is_dir():
        raise CLIError(f"the folder of output '{args.output}' does not exist; create it first (mkdir -p {out.parent})",
                       docs="output-file")
    try:
        save_fasttext_bin(source, out)
    except (OSError, ValueError) as error:
        raise CLIError(f"cannot export '{args.model_dir}' as a fastText .bin: {error}", docs="model-dir") from None
    print(f"wrote {out} (Facebook fastText .bin; load it with fasttext.load_model or gensim's load_facebook_model)")
    return 0


def cmd_plot_kernel_regression(args) -> int:
    import torch

    from hfext.attention import (
        average_pooling,
        fit_nadaraya_watson,
        kernel_regression_data,
        nadaraya_watson,
    )
    from hfext.plots import plot_attention_heatmap, plot_kernel_regression

    outs = [Path(p).expanduser() for p in (args.out, args.heatmap) if p]
    for out in outs:
        if out.suffix.lower() not in (".png", ".pdf", ".svg"):
            raise CLIError(f"'{out}': use a .png, .pdf or .svg file name", docs="output-file")
        if not out.parent.is_dir():
            raise CLIError(f"the folder of '{out}' does not exist; create it first (mkdir -p {out.parent})",
                           docs="output-file")
    if args.n_train < 2:
        raise CLIError(f"--n_train must be >= 2, got {args.n_train}", docs="flag-value")
    x_train, y_train, x_test, y_truth = kernel_regression_data(args.n_train, seed=args.seed)
    average = average_pooling(y_train, len(x_test))
    fixed, fixed_weights = nadaraya_watson(x_test, x_train, y_train)
    model, _ = fit_nadaraya_watson(x_train, y_train)
    with torch.no_grad():
        learned = model(x_test, x_train, y_train)

    def mse(values):
        return float(((values - y_truth) ** 2).mean())

    curves = {f"average pooling (MSE {mse(average):.3f})": average,
              f"attention pooling, w = 1 (MSE {mse(fixed):.3f})": fixed,
              f"attention pooling, learned w = {model.width.item():.2f} (MSE {mse(learned):.3f})": learned}
    plot_kernel_regression(x_train, y_train, x_test, y_truth, curves, args.out)
    for label in curves:
        print(label)
    print(f"wrote {args.out}")
    if args.heatmap:
        plot_attention_heatmap(model.attention_weights if args.learned_heatmap else fixed_weights, args.heatmap,
                               xlabel="sorted training inputs (keys)", ylabel="test inputs (queries)",
                               title="Nadaraya-Watson attention weights")
        print(f"wrote {args.heatmap}")
    return 0


def cmd_plot_attention(args) -> int:
    from hfext.plots import plot_attention_heatmap, seq2seq_attention

    out = Path(args.out).expanduser()
    if out.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise CLIError(f"--out '{args.out}': use a .png, .pdf or .svg file name", docs="output-file")
    if not out.parent.is_dir():
        raise CLIError(f"the folder of --out '{args.out}' does not exist; create it first (mkdir -p {out.parent})",
                       docs="output-file")
    path = Path(args.model_dir).expanduser()
    if not (path / "config.json").is_file():
        raise CLIError(f"'{args.model_dir}' is not a model folder (no config.json); pass the --output_dir of "
                       "recipes/train_seq2seq.py", docs="model-dir")
    from transformers import AutoModelForSeq2SeqLM

    from hfext.loading import load_pretrained, load_tokenizer_for

    try:
        with _quiet_transformers():
            model = load_pretrained(str(path), AutoModelForSeq2SeqLM, attn_implementation="eager").eval()
            tokenizer = load_tokenizer_for(model, str(path))
    except (OSError, ValueError) as error:
        raise CLIError(f"cannot load a sequence-to-sequence model from '{args.model_dir}': {error}",
                       docs="attention-maps") from None
    try:
        weights, keys, queries = seq2seq_attention(model, tokenizer, args.text, args.kind, args.layer, args.head)
    except ValueError as error:
        raise CLIError(str(error), docs="attention-maps") from None
    which = "mean of the heads" if args.head is None else f"head {args.head}"
    plot_attention_heatmap(weights, out, xlabel="keys", ylabel="queries", xticklabels=keys, yticklabels=queries,
                           title=f"{args.kind} attention, layer {args.layer}, {which}")
    output = tokenizer.decode(tokenizer.convert_tokens_to_ids(queries), skip_special_tokens=True)
    print(f"{args.text!r} -> {output!r}")
    print(f"wrote {out}: {args.kind} attention of layer {args.layer} ({which}), {len(queries)} x {len(keys)}")
    return 0


def cmd_train(args) -> int:
    """``hfext train FAMILY`` and ``hfext finetune TASK``: forward the flags to the recipe's ``main``."""
    command, prefixes = ("finetune", ("finetune",)) if args.command == "finetune" else ("train", ("pretrain", "train"))
    recipe = _load_recipe(args.family, prefixes)
    with _prog_name(f"hfext {command} {args.family}"):
        try:
            recipe.parse_args(args.recipe_args)  # flag mistakes are usage errors: report them before training starts
        except (ValueError, FileNotFoundError) as error:
            docs = "corpus-missing" if isinstance(error, FileNotFoundError) else "flag-value"
            raise CLIError(str(error), docs=docs) from None
        recipe.main(args.recipe_args)
    return 0


def cmd_quickstart(args) -> int:
    import logging

    import torch

    data = gensim_test_data()
    if args.train_file:
        _check_input_file(args.train_file, "--train_file", docs="corpus-missing")
        train_file = args.train_file
    elif data is None:
        raise CLIError(
            f"quickstart trains on gensim's bundled English corpus ({QUICKSTART_CORPUS}), but gensim is not "
            "installed; `pip install gensim`, or pass --train_file your_corpus.txt (one sentence per line)",
            docs="optional-dependency",
        )
    else:
        train_file = os.path.join(data, QUICKSTART_CORPUS)
    if args.epochs < 1:
        raise CLIError(f"--epochs must be >= 1, got {args.epochs}", docs="flag-value")
    recipe = _load_recipe("word2vec")
    output_dir = os.path.abspath(os.path.expanduser(args.output_dir))

    print(f"[1/4] training {args.model_type} word2vec on {train_file} ({args.epochs} epochs) ...", flush=True)
    start = time.perf_counter()
    recipe_argv = ["--train_file", train_file, "--output_dir", output_dir, "--model_type", args.model_type,
                   "--num_train_epochs", str(args.epochs), "--seed", str(args.seed)]
    with _prog_name("hfext quickstart"), contextlib.redirect_stdout(io.StringIO()):
        results = recipe.main(recipe_argv)
    print(f"      {results['vocab_size']} words, final loss {results['train_loss']:.3f}, "
          f"{time.perf_counter() - start:.1f} s; saved to {output_dir}")
    logging.getLogger("hfext.vectors").setLevel(logging.WARNING)  # the recipe turned INFO logging on
    kv = _load_vectors(output_dir, "quickstart")

    print("[2/4] evaluating")
    analogies = os.path.join(data, ANALOGIES_FILE) if data else None
    if analogies and os.path.isfile(analogies):
        score, sections = kv.evaluate_word_analogies(analogies)
        asked = len(sections[-1]["correct"]) + len(sections[-1]["incorrect"])
        print(f"      analogies ({ANALOGIES_FILE}): accuracy {score:.3f} on {asked} questions in the vocabulary")
    similarity = os.path.join(data, SIMILARITY_FILE) if data else None
    if similarity and os.path.isfile(similarity):
        pearson, spearman, oov = kv.evaluate_word_pairs(similarity)
        print(f"      WordSim353 ({SIMILARITY_FILE}): Spearman {spearman[0]:.3f}, Pearson {pearson[0]:.3f}, "
              f"{oov:.1f}% of pairs out of vocabulary")
    if not data:
        print("      skipped: the benchmark files come with gensim (`pip install gensim`)")

    print("[3/4] nearest neighbours")
    words = [w for w in QUICKSTART_WORDS if w in kv][:4]
    if len(words) < 4:  # another corpus: take mid-frequency words (the most frequent are function words)
        words += [w for w in kv.index_to_key[50:1000:150] if w not in words][: 4 - len(words)]
    for word in words:
        neighbours = ", ".join(f"{w} ({s:.2f})" for w, s in kv.most_similar(word, topn=5))
        print(f"      {word}: {neighbours}")

    print("[4/4] reloading with transformers' Auto classes")
    from transformers import AutoModel, AutoTokenizer

    with _quiet_transformers():
        model = AutoModel.from_pretrained(output_dir)
        tokenizer = AutoTokenizer.from_pretrained(output_dir)
    weights = model.get_input_embeddings().weight.detach()
    saved = _saved_input_embeddings(model, output_dir)
    same_file = saved is not None and torch.equal(saved, weights)
    ids = tokenizer.convert_tokens_to_ids(words)
    same_kv = all(torch.equal(weights[i], torch.from_numpy(kv[w].copy())) for i, w in zip(ids, words))
    print(f"      AutoModel.from_pretrained -> {type(model).__name__} ({model.config.model_type}), "
          f"AutoTokenizer.from_pretrained -> {type(tokenizer).__name__} ({len(tokenizer)} tokens)")
    print(f"      vectors identical to the saved weights: {'yes' if same_file else 'NO'}; "
          f"token ids give the KeyedVectors rows: {'yes' if same_kv else 'NO'}")
    print("\nnext:")
    print(f"  hfext neighbors {output_dir} {words[0]} --topn 10")
    if data:
        print(f"  hfext eval analogies {output_dir} {analogies}")
    print(f"  hfext export word2vec-format {output_dir} vectors.bin --binary")
    if not (same_file and same_kv):
        print("hfext: error: the reloaded model's vectors differ from the saved ones", file=sys.stderr)
        return 1
    return 0


def cmd_push(args) -> int:
    """``hfext push MODEL_DIR REPO_ID``: the folder (remote code and card included) to the Hub."""
    from hfext.hub import HubPushError, add_remote_code, push_to_hub

    folder = Path(args.model_dir)
    if not (folder / "config.json").is_file():
        raise CLIError(f"'{args.model_dir}' is not a model folder (no config.json); pass a folder written by a "
                       "recipe or save_pretrained", docs="model-dir")
    if add_remote_code(folder) is None:
        raise CLIError(f"'{args.model_dir}' holds no hfext model (model type "
                       f"{_json_model_type(folder)!r}); push other models with their own library's push_to_hub",
                       docs="remote-code-other-model")
    try:
        pushed = push_to_hub(str(folder), args.repo_id, token=args.token, revision=args.revision,
                             private=args.private or None, commit_message=args.commit_message)
    except HubPushError as error:
        raise CLIError(str(error), docs="hub-push") from None
    print(f"pushed {folder} to {pushed.repo_id} at commit {pushed.commit} (model card: {pushed.card_commit})")
    print(f"load it anywhere: AutoModel.from_pretrained('{pushed.repo_id}', revision='{pushed.commit}', "
          "trust_remote_code=True)")
    return 0


def _json_model_type(folder: Path) -> str | None:
    import json

    return json.loads((folder / "config.json").read_text()).get("model_type")


def cmd_tour(args) -> int:
    from hfext.tour import TourError, pictures_dir, run_tour, summary_table

    try:
        rows = run_tour(pictures_dir(args.out_dir, args.smoke), smoke=args.smoke, chapters=args.chapters,
                        work_dir=args.work_dir)
    except (TourError, ValueError) as error:
        raise CLIError(str(error), docs="recipes-and-tour") from None
    print("\n" + summary_table(rows))
    failed = [row for row in rows if row["status"] != "ok"]
    return 1 if failed else 0


def _troubleshooting_sections() -> dict[str, tuple[str, str]]:
    """anchor -> (title, text) of each section of docs/troubleshooting.md, read from the source checkout
    (like the recipes, the page ships with the source tree)."""
    from hfext.errors import TROUBLESHOOTING

    page = _recipes_dir().parent / TROUBLESHOOTING
    if not page.is_file():
        raise CLIError(f"the troubleshooting page is not installed: expected it at '{page}'; it ships with the hfext "
                       f"source tree (read {TROUBLESHOOTING} in the repository)", docs="recipes-and-tour")
    sections = {}
    for block in re.split(r"^(?=## )", page.read_text(encoding="utf8"), flags=re.MULTILINE):
        heading = re.match(r'## <a id="([\w-]+)"></a>(.*)\n', block)
        if heading:
            sections[heading[1]] = (heading[2], block[heading.end():].strip())
    return sections


def cmd_explain(args) -> int:
    import difflib

    sections = _troubleshooting_sections()
    if not args.section:
        print(_table(["section", "problem"], [[anchor, title] for anchor, (title, _) in sections.items()]))
        return 0
    anchor = args.section.rsplit("#", 1)[-1].strip().lower()  # also takes the whole pointer, docs/troubleshooting.md#anchor
    if anchor not in sections:
        close = difflib.get_close_matches(anchor, list(sections), n=3)
        hint = f"did you mean {', '.join(close)}?" if close else "run `hfext explain` to list them"
        raise CLIError(f"no troubleshooting section '{anchor}'; {hint}", docs="recipes-and-tour")
    title, text = sections[anchor]
    print(f"{title}\n{'=' * len(title)}\n\n{text}")
    return 0


def _saved_input_embeddings(model, model_dir: str):
    """The input-embedding matrix as stored in ``model.safetensors`` (None if the file is sharded or absent)."""
    from safetensors import safe_open

    path = os.path.join(model_dir, "model.safetensors")
    if not os.path.isfile(path):
        return None
    embedding = model.get_input_embeddings().weight
    name = next(n for n, p in model.named_parameters() if p is embedding)
    prefix = f"{model.base_model_prefix}."
    candidates = [name, prefix + name, name.removeprefix(prefix)]
    with safe_open(path, framework="pt") as f:
        keys = set(f.keys())
        for key in candidates:
            if key in keys:
                return f.get_tensor(key)
    return None


# ---------------------------------------------------------------------- parser


MODEL_DIR_HELP = "a word-vector model folder written by `hfext train` / `hfext quickstart`, or a Hub repo id"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hfext", description="Classic NLP models (word2vec, ...) as Hugging Face models.",
        epilog="Run `hfext COMMAND --help` for a command's flags. HFEXT_DEBUG=1 shows tracebacks.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("plugins", help="list the installed model-family plugins and what they register")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser("quickstart", help="train, evaluate, query and reload a word2vec on a bundled corpus (~30 s)")
    p.add_argument("--output_dir", default="./hfext-quickstart", help="where the model is saved (default ./hfext-quickstart)")
    p.add_argument("--model_type", choices=["skipgram", "cbow"], default="skipgram")
    p.add_argument("--epochs", type=int, default=5, help="passes over the corpus (word2vec's default: 5)")
    p.add_argument("--train_file", default=None, help=f"your own corpus instead of gensim's {QUICKSTART_CORPUS}")
    p.add_argument("--seed", type=int, default=42)
    p.set_defaults(func=cmd_quickstart)

    p = sub.add_parser("train", help="run a pretraining recipe (single process; use `accelerate launch` for more)",
                       description="Forward the remaining flags to recipes/pretrain_FAMILY.py (or train_FAMILY.py); "
                                   "`hfext train word2vec --help` lists them.")
    p.add_argument("family", metavar="FAMILY", help="model family, e.g. word2vec")
    p.add_argument("recipe_args", nargs=argparse.REMAINDER, help="flags of the recipe")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("finetune", help="run a fine-tuning recipe: glue, swag, squad or ner (single process)",
                       description="Forward the remaining flags to recipes/finetune_TASK.py; "
                                   "`hfext finetune glue --help` lists them.")
    p.add_argument("family", metavar="TASK", help="task family: glue, swag, squad or ner")
    p.add_argument("recipe_args", nargs=argparse.REMAINDER, help="flags of the recipe")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("push", help="push a saved model folder to the Hugging Face Hub (loads there without hfext)",
                       description="Upload MODEL_DIR (weights, config, tokenizer, the family's remote code) to REPO_ID, "
                                   "then a model card pinning that commit. The token comes from --token, HF_TOKEN or "
                                   "`hf auth login`.")
    p.add_argument("model_dir", metavar="MODEL_DIR", help="a folder written by a recipe or save_pretrained")
    p.add_argument("repo_id", metavar="REPO_ID", help="your-name/model-name")
    p.add_argument("--token", default=None, help="a Hub token with write access")
    p.add_argument("--private", action="store_true", help="create the repo private")
    p.add_argument("--revision", default=None, help="the branch to push to (created if missing)")
    p.add_argument("--commit_message", default=None)
    p.set_defaults(func=cmd_push)

    p = sub.add_parser("tour", help="run the lecture's guided tour (docs/tour/): every example, regenerating the pictures",
                       description="Run examples/ chapter by chapter in lecture order (docs/tour/README.md), then print "
                                   "a summary table; exit status 1 if a chapter failed.")
    p.add_argument("--out_dir", default=None,
                   help="where the pictures go (default: the checkout's docs/images; with --smoke, a temporary folder)")
    p.add_argument("--smoke", action="store_true", help="tiny corpora, models and step counts: seconds per chapter (CI)")
    p.add_argument("--chapters", nargs="+", type=int, default=None, metavar="N", help="only these chapters (1-10)")
    p.add_argument("--work_dir", default=None, help="keep the trained models here (default: a temporary folder)")
    p.set_defaults(func=cmd_tour)

    p = sub.add_parser("explain", help="print the troubleshooting section an error message points to",
                       description="Print a section of docs/troubleshooting.md: the message, its cause and the fix. "
                                   "Without SECTION, list them all.")
    p.add_argument("section", metavar="SECTION", nargs="?", default=None,
                   help="the anchor an error ends with, e.g. pickle-weights (or docs/troubleshooting.md#pickle-weights)")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("cooccurrence", help="the window co-occurrence matrix of a small text, as a table (the lecture's slide)",
                       description="Count how often two words appear within --window words of each other in one sentence.")
    p.add_argument("file", metavar="FILE", help="a UTF-8 text file")
    p.add_argument("--window", type=int, default=1, help="words on each side that count as context (default 1)")
    p.add_argument("--vocab", default=None, help="the dictionary, in row order: 'I,like,enjoy,...' (default: all words, most frequent first)")
    p.add_argument("--min_count", type=int, default=1, help="without --vocab, keep words seen this often (default 1)")
    p.add_argument("--directional", action="store_true", help="count only words after the row word (GloVe's -symmetric 0)")
    p.add_argument("--distance_weighting", action="store_true", help="count 1/distance instead of 1 (GloVe's weighting)")
    p.add_argument("--no_split_punctuation", action="store_true", help="split on whitespace only (keep 'learning.' whole)")
    p.add_argument("--sentence_end", nargs="*", default=[".", "!", "?"], metavar="TOKEN",
                   help="tokens that end a sentence (default . ! ?); each line also ends one")
    p.add_argument("--out", default=None, help="also save it: .tsv/.csv (dense, labelled) or .safetensors (sparse)")
    p.add_argument("--max_print", type=int, default=30, help="print the table only up to this many words (default 30)")
    p.add_argument("--max_dense", type=int, default=5000, help="largest vocabulary for a dense .tsv/.csv or --json (default 5000)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_cooccurrence)

    p = sub.add_parser("plot", help="draw pictures of word vectors (PNG)")
    plot_sub = p.add_subparsers(dest="plot", metavar="PLOT", required=True)
    for method, what in (("pca", "PCA (the lecture's figure)"), ("tsne", "t-SNE (needs scikit-learn)")):
        q = plot_sub.add_parser(method, help=f"2-D {what} of country-capital pairs or chosen words")
        q.add_argument("model_dir", metavar="MODEL_DIR", help=MODEL_DIR_HELP)
        q.add_argument("--words", nargs="+", metavar="W", help="words to draw")
        q.add_argument("--analogy_section", "--analogy-section", default=None,
                       help="draw the word pairs of this analogy section, e.g. capital-common-countries")
        q.add_argument("--analogies_file", default=None, help=f"the analogy file (default: gensim's {ANALOGIES_FILE})")
        q.add_argument("--max_pairs", type=int, default=12, help="at most this many pairs (default 12)")
        q.add_argument("--title", default=None)
        q.add_argument("--out", required=True, help="the image to write (.png, .pdf or .svg)")
        q.set_defaults(func=cmd_plot_projection, method=method)
    q = plot_sub.add_parser("kernel-regression", help="Nadaraya-Watson: average pooling vs attention pooling (the lecture's figure)")
    q.add_argument("--out", required=True, help="the fit: truth, samples and the three estimators (.png)")
    q.add_argument("--heatmap", default=None, help="also draw the attention weights (queries x keys) here")
    q.add_argument("--learned_heatmap", action="store_true", help="heatmap of the learned-width kernel instead of w = 1")
    q.add_argument("--n_train", type=int, default=50, help="training samples (default 50)")
    q.add_argument("--seed", type=int, default=0)
    q.set_defaults(func=cmd_plot_kernel_regression)
    q = plot_sub.add_parser("attention", help="attention heatmap of a trained encoder-decoder (hfext-transformer) on one input")
    q.add_argument("model_dir", metavar="MODEL_DIR", help="a folder written by recipes/train_seq2seq.py")
    q.add_argument("text", metavar="TEXT", help="the source to translate")
    q.add_argument("--kind", choices=["cross", "encoder", "decoder"], default="cross")
    q.add_argument("--layer", type=int, default=-1, help="which layer (default -1: the last)")
    q.add_argument("--head", type=int, default=None, help="one head (default: the mean of all heads)")
    q.add_argument("--out", required=True, help="the image to write (.png, .pdf or .svg)")
    q.set_defaults(func=cmd_plot_attention)

    p = sub.add_parser("neighbors", help="nearest neighbours of a word by cosine similarity")
    p.add_argument("model_dir", metavar="MODEL_DIR", help=MODEL_DIR_HELP)
    p.add_argument("word", metavar="WORD", help="the query word; --positive words are added to it, --negative ones "
                                                "subtracted (king --negative man --positive woman)")
    p.add_argument("--topn", type=int, default=10, help="how many neighbours (default 10)")
    p.add_argument("--positive", nargs="+", action="extend", metavar="W", help="more words to add (king - man + woman)")
    p.add_argument("--negative", nargs="+", action="extend", metavar="W", help="words to subtract")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_neighbors)

    p = sub.add_parser("eval", help="evaluate word vectors on analogy or word-similarity benchmarks")
    eval_sub = p.add_subparsers(dest="task", metavar="TASK", required=True)
    q = eval_sub.add_parser("analogies", help="3CosAdd accuracy on a questions-words.txt-style file")
    q.add_argument("model_dir", metavar="MODEL_DIR", help=MODEL_DIR_HELP)
    q.add_argument("file", metavar="FILE", help=f"': section' headers, then 'a b c d' lines (gensim ships {ANALOGIES_FILE})")
    q.add_argument("--restrict_vocab", type=int, default=300_000, help="only the N most frequent words (default 300000)")
    q.add_argument("--case_sensitive", action="store_true", help="match words exactly instead of upper-casing both sides")
    q.add_argument("--dummy4unknown", action="store_true", help="count questions with unknown words as wrong")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_eval_analogies)
    q = eval_sub.add_parser("similarity", help="Pearson/Spearman correlation with human word-pair judgements")
    q.add_argument("model_dir", metavar="MODEL_DIR", help=MODEL_DIR_HELP)
    q.add_argument("file", metavar="FILE", help=f"'word1 word2 score' lines (gensim ships {SIMILARITY_FILE})")
    q.add_argument("--delimiter", default="\t", help=r"column separator (default a tab; '\t' is understood)")
    q.add_argument("--restrict_vocab", type=int, default=300_000)
    q.add_argument("--case_sensitive", action="store_true")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_eval_similarity)

    p = sub.add_parser("export", help="write vectors in other tools' formats")
    export_sub = p.add_subparsers(dest="format", metavar="FORMAT", required=True)
    q = export_sub.add_parser("word2vec-format", help="word2vec C text (or --binary) format, readable by gensim")
    q.add_argument("model_dir", metavar="MODEL_DIR", help=MODEL_DIR_HELP)
    q.add_argument("output", metavar="OUT", help="the file to write")
    q.add_argument("--binary", action="store_true")
    q.set_defaults(func=cmd_export)
    q = export_sub.add_parser("glove-format", help="GloVe text format ('word v1 v2 ...' lines, no header)")
    q.add_argument("model_dir", metavar="MODEL_DIR", help=MODEL_DIR_HELP)
    q.add_argument("output", metavar="OUT", help="the file to write")
    q.set_defaults(func=cmd_export, binary=False)
    q = export_sub.add_parser("fasttext-bin", help="Facebook fastText .bin (fastText models; byte-identical to a converted .bin)")
    q.add_argument("model_dir", metavar="MODEL_DIR", help="an hfext-fasttext model folder")
    q.add_argument("output", metavar="OUT", help="the .bin file to write")
    q.set_defaults(func=cmd_export_fasttext_bin)

    p = sub.add_parser("convert", help="convert other tools' model files into hfext model folders")
    convert_sub = p.add_subparsers(dest="format", metavar="FORMAT", required=True)
    q = convert_sub.add_parser("fasttext-bin", help="Facebook fastText .bin -> hfext-fasttext folder (streaming; OOV words work)")
    q.add_argument("src", metavar="SRC.bin", help="a Facebook fastText .bin (unsupervised skipgram/cbow; not .ftz)")
    q.add_argument("dst", metavar="DST", help="the model folder to create")
    q.add_argument("--vec", metavar="FILE", default=None, help="also write the in-vocabulary vectors as a .vec text file")
    q.add_argument("--overwrite", action="store_true", help="replace DST if it exists")
    q.set_defaults(func=cmd_convert_fasttext_bin)
    q = convert_sub.add_parser("glove-text", help="GloVe text vectors (glove.6B.100d.txt ...) -> hfext-glove folder")
    q.add_argument("src", metavar="SRC.txt", help="'word v1 v2 ...' lines, with or without a '<count> <dim>' header")
    q.add_argument("dst", metavar="DST", help="the model folder to create")
    q.add_argument("--overwrite", action="store_true", help="replace the model in DST if it exists")
    q.set_defaults(func=cmd_convert_glove_text)
    q = convert_sub.add_parser("hf-gpt2", help="transformers GPT-2 folder (GPT2LMHeadModel) -> hfext-gpt folder")
    q.add_argument("src", metavar="SRC", help="a transformers GPT-2 model folder (config.json + weights, tokenizer files)")
    q.add_argument("dst", metavar="DST", help="the model folder to create")
    q.add_argument("--overwrite", action="store_true", help="replace the model in DST if it exists")
    q.set_defaults(func=cmd_convert_hf_gpt2)
    q = convert_sub.add_parser("hf-bert", help="transformers BERT folder (BertModel/ForMaskedLM/ForPreTraining) -> hfext-bert folder")
    q.add_argument("src", metavar="SRC", help="a transformers BERT model folder (config.json + weights, tokenizer files)")
    q.add_argument("dst", metavar="DST", help="the model folder to create")
    q.add_argument("--overwrite", action="store_true", help="replace the model in DST if it exists")
    q.set_defaults(func=cmd_convert_hf_bert)
    q = convert_sub.add_parser("allennlp-elmo", help="AllenNLP/bilm-tf ELMo (options.json + weights.hdf5) -> hfext-elmo folder")
    q.add_argument("options", metavar="OPTIONS_JSON", help="the options file published with the weights")
    q.add_argument("weights", metavar="WEIGHTS_HDF5", help="the bilm-tf/AllenNLP weight file")
    q.add_argument("dst", metavar="DST", help="the model folder to create")
    q.add_argument("--overwrite", action="store_true", help="replace the model in DST if it exists")
    q.set_defaults(func=cmd_convert_allennlp_elmo)
    return parser


def main(argv=None) -> int:
    """Run the ``hfext`` command; returns the exit status (argparse usage errors raise SystemExit(2))."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except Exception as error:
        # A user mistake: CLIError, or any error that names its troubleshooting section (every one hfext raises
        # for bad input, also from the recipes `hfext train` runs) is one line; anything else is a bug: traceback.
        explained = isinstance(error, DocumentedError) or f"{TROUBLESHOOTING}#" in str(error)
        if not explained or os.environ.get("HFEXT_DEBUG"):
            raise
        print(f"hfext: error: {error}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
