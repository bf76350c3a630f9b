#!/usr/bin/env python
"""hfext word2vec vs gensim: speed and quality, side by side, same machine, same run, same corpus.

Run (from the repository root, in the project's virtual environment; gensim must be installed)::

    python benchmarks/word2vec_vs_gensim.py                      # skip-gram + CBOW, 3 runs each
    python benchmarks/word2vec_vs_gensim.py --repeat 4 --runs 5  # a 4x longer corpus, 5 runs
    python benchmarks/word2vec_vs_gensim.py --sweep 32,64,128,256,512   # + kernel batch-size sweep (skip-gram)
    python benchmarks/word2vec_vs_gensim.py --wait_for_idle 60   # on a shared machine: time only when idle
    python benchmarks/word2vec_vs_gensim.py --profile            # + where hfext's training time goes
    python benchmarks/word2vec_vs_gensim.py --device cuda        # + hfext's torch backend on the GPU
    python benchmarks/word2vec_vs_gensim.py --include-torch-cpu  # + hfext's torch backend on the CPU
    python benchmarks/word2vec_vs_gensim.py --family fasttext    # fastText vs gensim FastText (= fasttext_vs_gensim.py)

What is compared
----------------
* Family: ``--family word2vec`` (gensim ``Word2Vec`` vs hfext skip-gram/CBOW) or ``fasttext`` (gensim
  ``FastText`` vs ``hfext-fasttext``, both with ``--minn``/``--maxn``/``--bucket``, default 3/6/2,000,000).
* Corpus: gensim's own test corpus ``head500.noblanks.cor`` (optionally repeated ``--repeat`` times into
  a temporary file). Analogies: ``questions-words.txt`` (semantic, syntactic, total); similarity: ``wordsim353.tsv``
  and ``simlex999.txt`` (all shipped in ``gensim/test/test_data``).
* Hyperparameters, identical for both: dim 100, window 5, negative 5, sample 1e-3, min_count 5,
  5 epochs, the same learning rate (the recipe's default: 0.025 skip-gram, 0.05 CBOW, given to gensim as
  ``alpha``) decaying linearly to 1e-4 of it (word2vec.c; gensim gets ``min_alpha = 1e-4 * alpha``).
  gensim trains with ``--workers`` worker threads, hfext's kernel with the same number of numba threads.
* words/s = epochs x words of the corpus (gensim's "raw words": every whitespace token, including
  out-of-vocabulary and subsampled ones; checked against what gensim's ``train()`` returns) divided by
  the wall time of the training call only: gensim's ``model.train(...)`` after ``build_vocab``; hfext's
  ``hfext.training.train(...)`` (the recipe's loop, chunk preparation included) after the vocabulary, the
  encoded corpus and the model are built and the numba kernel has been compiled by a warm-up run.
  The preparation time (gensim ``build_vocab`` vs hfext vocabulary + tokenizer + model + corpus encoding
  + chunk/task set-up) is reported in separate columns.
* Each measurement is repeated ``--runs`` times, alternating gensim and hfext; the table shows the median
  words/s and the mean quality; every run is printed and saved too. Each run also records ``own cpu``
  (the process's CPU time over the wall time of training: about ``--workers`` when it gets its cores) and
  ``others`` (cores used by every other process meanwhile, from /proc/stat: 0 on a quiet machine). The
  speeds are only clean when ``others`` stays near 0; the script says so when it does not, and then takes
  the words/s medians from the clean runs. hfext's kernel synchronises its threads (OpenMP barriers)
  several times per batch of centers while gensim's workers never wait for each other, so a busy machine
  slows hfext far more than gensim: compare speeds only from quiet runs.
* ``--centers_per_minibatch`` (alias ``--centers_per_lane``) sets Word2VecTask's kernel batch knob,
  whichever of the two names the installed hfext has (default: hfext's default).

Results go to ``benchmarks/results/<family>_vs_gensim.{json,md}`` (``--results_dir`` to change).
hfext is driven exactly as ``recipes/pretrain_word2vec.py`` drives it (same classes, same calls).
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_TYPES = ("skipgram", "cbow")
FAMILIES = ("word2vec", "fasttext")


# ----------------------------------------------------------------------------------------------- data


def gensim_test_data(name: str) -> str:
    import gensim

    return os.path.join(os.path.dirname(gensim.__file__), "test", "test_data", name)


def make_corpus(repeat: int, directory: str) -> tuple[str, int, int]:
    """The benchmark corpus (head500 repeated ``repeat`` times); returns (path, words, lines)."""
    source = gensim_test_data("head500.noblanks.cor")
    with open(source, encoding="utf-8") as handle:
        text = handle.read()
    if not text.endswith("\n"):
        text += "\n"
    path = source
    if repeat > 1:
        path = os.path.join(directory, f"head500x{repeat}.cor")
        with open(path, "w", encoding="utf-8") as out:
            out.writelines(text for _ in range(repeat))
    lines = text.splitlines()
    return path, sum(len(line.split()) for line in lines) * repeat, len(lines) * repeat


def learning_rate(args, model_type: str) -> float:
    """gensim's alpha: the recipe's kernel default (word2vec.c's alphas) unless --learning_rate."""
    if args.learning_rate is not None:
        return args.learning_rate
    from hfext.training.word2vec import DEFAULT_LEARNING_RATES

    return DEFAULT_LEARNING_RATES["kernel", model_type]


# ------------------------------------------------------------------------------------------ cpu meter


def _system_cpu_seconds() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine since boot, from /proc/stat (Linux; zeros elsewhere)."""
    try:
        with open("/proc/stat") as handle:
            fields = [int(x) for x in handle.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, _idle, _iowait, irq, softirq = fields[:7]
    steal = fields[7] if len(fields) > 7 else 0
    return (user + nice + system + irq + softirq) / tick, steal / tick


class CpuMeter:
    """Wall time, this process's CPU time (all threads), and the CPU time everything else on the machine
    used meanwhile (``other_cores``: 0 on an idle machine; the load average would count this run too)."""

    def __enter__(self):
        self.load1 = os.getloadavg()[0]
        self.busy0, self.steal0 = _system_cpu_seconds()
        self.cpu0, self.t0 = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.t0
        own = time.process_time() - self.cpu0
        busy, steal = _system_cpu_seconds()
        self.cpu_util = own / self.wall
        self.other_cores = max(0.0, (busy - self.busy0 - own) / self.wall)
        self.steal_cores = (steal - self.steal0) / self.wall
        return False

    def fields(self) -> dict:
        return {"train_s": self.wall, "cpu_util": self.cpu_util, "other_cores": self.other_cores,
                "steal_cores": self.steal_cores, "load1_before": self.load1,
                "clean": self.other_cores <= CLEAN_OTHER_CORES}


CLEAN_OTHER_CORES = 0.1  # a run is "clean" if everything else used at most this many cores meanwhile


def wait_for_idle(max_wait: float, threshold: float = CLEAN_OTHER_CORES) -> float:
    """Wait (at most ``max_wait`` seconds) until the rest of the machine has been idle for two straight
    0.5 s samples; returns the seconds waited. This process is idle meanwhile, so busy time is others'."""
    if max_wait <= 0:
        return 0.0
    start = time.perf_counter()
    quiet = 0
    busy0, _ = _system_cpu_seconds()
    while time.perf_counter() - start < max_wait and quiet < 2:
        time.sleep(0.5)
        busy, _ = _system_cpu_seconds()
        quiet = quiet + 1 if (busy - busy0) / 0.5 <= threshold else 0
        busy0 = busy
    return time.perf_counter() - start


# --------------------------------------------------------------------------------------------- gensim


def run_gensim(args, model_type: str, corpus_path: str, seed: int) -> dict:
    from gensim.models import FastText, Word2Vec
    from gensim.models.word2vec import LineSentence

    alpha = learning_rate(args, model_type)
    common = {
        "vector_size": args.vector_size, "window": args.window, "negative": args.negative, "hs": 0, "sample": args.sample,
        "min_count": args.min_count, "epochs": args.epochs, "sg": 1 if model_type == "skipgram" else 0, "cbow_mean": 1,
        "workers": args.workers, "seed": seed, "alpha": alpha, "min_alpha": alpha * 1e-4,
    }
    if args.family == "fasttext":
        model = FastText(min_n=args.minn, max_n=args.maxn, bucket=args.bucket, **common)
    else:
        model = Word2Vec(**common)
    t0 = time.perf_counter()
    if args.gensim_input == "corpus_file":
        model.build_vocab(corpus_file=corpus_path)
    else:
        model.build_vocab(corpus_iterable=LineSentence(corpus_path))
    prep_s = time.perf_counter() - t0

    waited = wait_for_idle(args.wait_for_idle)
    with CpuMeter() as meter:
        if args.gensim_input == "corpus_file":
            effective, raw = model.train(
                corpus_file=corpus_path, total_examples=model.corpus_count, total_words=model.corpus_total_words,
                epochs=args.epochs,
            )
        else:
            effective, raw = model.train(
                corpus_iterable=LineSentence(corpus_path), total_examples=model.corpus_count, epochs=args.epochs
            )
    score = evaluate(model.wv)
    return {
        "impl": "gensim", "family": args.family, "model": model_type, "seed": seed, "prep_s": prep_s, **meter.fields(), "idle_wait_s": waited,
        "gensim_raw_words": int(raw),
        "gensim_effective_words": int(effective), "vocab_size": len(model.wv), **score,
    }


# ---------------------------------------------------------------------------------------------- hfext


def _accelerator(device: str):
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(True)  # allow switching between cpu and cuda within one process
    return Accelerator(cpu=device == "cpu")


def run_hfext(
    args, model_type: str, corpus_path: str, seed: int, backend: str = "kernel", device: str = "cpu",
    centers_per_minibatch: int | None = None, min_count: int | None = None, epochs: int | None = None,
    profile: bool = False, evaluate_vectors: bool = True,
) -> dict:
    """One hfext training run, built step by step as recipes/pretrain_word2vec.py (pretrain_fasttext.py)
    builds it."""
    import torch
    from accelerate.utils import set_seed
    from transformers import AutoConfig, AutoModel

    import hfext  # noqa: F401  (registers hfext-skipgram / hfext-cbow with the Auto classes)
    import hfext.training.word2vec as w2v_module
    from hfext.data import EncodedCorpus, Vocabulary, WindowChunks, read_lines
    from hfext.training import make_scheduler, train
    from hfext.training.embeddings import keyed_vectors
    from hfext.training.fasttext import FastTextTask
    from hfext.training.word2vec import (
        DEFAULT_BATCH_WORDS,
        DEFAULT_LEARNING_RATES,
        Word2VecTask,
        make_optimizer,
        resolve_backend,
    )

    min_count = args.min_count if min_count is None else min_count
    epochs = args.epochs if epochs is None else epochs
    centers_per_minibatch = centers_per_minibatch or args.centers_per_minibatch  # None: Word2VecTask's default
    accelerator = _accelerator(device)
    set_seed(seed)
    workdir = tempfile.mkdtemp(prefix="hfext_w2v_bench_")
    timings = {}
    try:
        lines = lambda: read_lines(corpus_path)

        t0 = time.perf_counter()
        vocab = Vocabulary.build(lines(), min_count)
        timings["vocab_s"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        tokenizer = vocab.to_tokenizer()
        common = {
            "vocab_size": len(vocab) + 1, "vector_size": args.vector_size, "window": args.window,
            "objective": "negative_sampling", "negative": args.negative, "ns_exponent": 0.75, "sample": args.sample,
            "min_count": min_count, "cbow_mean": True,
        }
        if args.family == "fasttext":
            config = AutoConfig.for_model(
                "hfext-fasttext", architecture=model_type, minn=args.minn, maxn=args.maxn, bucket=args.bucket, **common
            )
            model = AutoModel.from_config(config)
            model.set_vocabulary(vocab.words, list(vocab.counts) + [0])
        else:
            model = AutoModel.from_config(AutoConfig.for_model(f"hfext-{model_type}", **common))
            model.set_word_counts(torch.tensor(list(vocab.counts) + [0]))
        timings["model_s"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        corpus = EncodedCorpus.build(lines(), tokenizer, os.path.join(workdir, ".corpus_cache"))  # no cache reuse
        timings["encode_s"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        backend = resolve_backend(backend, accelerator.device, accelerator.num_processes)
        batch_words = args.batch_words or DEFAULT_BATCH_WORDS[backend]
        chunks = WindowChunks(
            corpus, vocab.counts, model.config.window, model.config.sample, batch_words, seed,
            rank=accelerator.process_index, world_size=accelerator.num_processes,
        )
        lr = args.learning_rate or DEFAULT_LEARNING_RATES[backend, model_type]
        optimizer = make_optimizer(model.parameters(), backend, lr)
        model, optimizer = accelerator.prepare(model, optimizer)
        batch_param, batch_default = kernel_batch_parameter()
        if centers_per_minibatch is None:
            centers_per_minibatch = batch_default
        task_class = FastTextTask if args.family == "fasttext" else Word2VecTask
        task = task_class(
            accelerator.unwrap_model(model), chunks, backend, seed,
            threads=args.workers, **{batch_param: centers_per_minibatch},
        )
        centers_per_minibatch = getattr(task, batch_param, centers_per_minibatch)  # the task's per-model default
        total_steps = chunks.steps_per_epoch * epochs
        scheduler = make_scheduler("word2vec_linear", optimizer, total_steps, 0)
        timings["setup_s"] = time.perf_counter() - t0

        restore = []
        if profile:  # time chunk preparation and the kernel separately (wrappers; no hfext file is changed)
            timings.update(chunk_s=0.0, kernel_s=0.0, torch_step_s=0.0)
            original_chunk = chunks.chunk

            def timed_chunk(*a, **k):
                s = time.perf_counter()
                try:
                    return original_chunk(*a, **k)
                finally:
                    timings["chunk_s"] += time.perf_counter() - s

            chunks.chunk = timed_chunk
            original_kernel = w2v_module.train_chunk

            def timed_kernel(*a, **k):
                s = time.perf_counter()
                try:
                    return original_kernel(*a, **k)
                finally:
                    timings["kernel_s"] += time.perf_counter() - s

            w2v_module.train_chunk = timed_kernel
            restore.append(lambda: setattr(w2v_module, "train_chunk", original_kernel))

        if device == "cuda":
            torch.cuda.synchronize()
        waited = wait_for_idle(args.wait_for_idle)
        try:
            with CpuMeter() as meter:
                state = train(
                    accelerator, model if backend == "torch" else accelerator.unwrap_model(model), optimizer,
                    scheduler, task, epochs, workdir, run_config={}, logging_steps=50, progress_unit="chunk",
                )
                if device == "cuda":
                    torch.cuda.synchronize()
        finally:
            for undo in restore:
                undo()
        train_s = meter.wall

        result = {
            "impl": "hfext", "family": args.family, "backend": backend, "device": device, "model": model_type,
            "seed": seed,
            "centers_per_minibatch": centers_per_minibatch, "kernel_batch_parameter": batch_param,
            "batch_words": batch_words,
            "prep_s": timings["vocab_s"] + timings["model_s"] + timings["encode_s"] + timings["setup_s"],
            **{k: v for k, v in timings.items()}, **meter.fields(), "idle_wait_s": waited, "steps": state.global_step, "corpus_raw_words": corpus.raw_words,
            "in_vocab_tokens": corpus.num_tokens, "loop_counted_words": state.words,
            "train_loss": state.loss_sum / max(state.loss_count, 1), "vocab_size": len(vocab),
            "threads": getattr(task, "threads", None),
        }
        if profile:
            result["loop_other_s"] = train_s - timings["chunk_s"] - timings["kernel_s"]
        if evaluate_vectors:
            result.update(evaluate(keyed_vectors(accelerator.unwrap_model(model), tokenizer)))
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def kernel_batch_parameter() -> tuple[str, int]:
    """The name and default of Word2VecTask's "centers per kernel batch" knob: ``centers_per_minibatch`` (the
    three-phase kernel) or ``centers_per_lane`` (the lanes kernel); the flag maps to whichever exists."""
    import inspect

    from hfext.training.word2vec import Word2VecTask

    parameters = inspect.signature(Word2VecTask.__init__).parameters
    for name in ("centers_per_minibatch", "centers_per_lane"):
        if name in parameters:
            return name, parameters[name].default
    raise TypeError(f"Word2VecTask has neither centers_per_minibatch nor centers_per_lane: {list(parameters)}")


def hfext_source_info() -> dict:
    """Which hfext code was measured: git commit, uncommitted hfext files, hashes of the kernel files."""
    import hashlib
    import subprocess

    import hfext.training.word2vec as task_module
    import hfext.training.word2vec_kernel as kernel_module

    info = {}
    for module in (kernel_module, task_module):
        with open(module.__file__, "rb") as handle:
            info[os.path.basename(module.__file__) + "_sha256"] = hashlib.sha256(handle.read()).hexdigest()[:16]
    root = os.path.dirname(os.path.dirname(os.path.dirname(kernel_module.__file__)))
    try:
        info["git_commit"] = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True,
                                            text=True, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", root, "status", "--porcelain", "--", "hfext"], capture_output=True,
                                text=True, check=True).stdout
        info["git_dirty_files"] = [line.strip() for line in status.splitlines() if line.strip()]
    except (OSError, subprocess.CalledProcessError):
        pass
    name, default = kernel_batch_parameter()
    default = default if default is not None else "per model: the task's default_centers_per_lane()"
    info["kernel_batch_parameter"] = f"Word2VecTask({name}=..., default {default})"
    return info


def warm_up_hfext(args, corpus_path: str, directory: str) -> float:
    """Compile (or load from numba's cache) the kernel with the exact argument types of the real runs, by
    running the same pipeline on a tiny corpus; returns the seconds it took."""
    tiny = os.path.join(directory, "warmup.cor")
    with open(corpus_path, encoding="utf-8") as src, open(tiny, "w", encoding="utf-8") as out:
        out.writelines(" ".join(src.readline().split()[:300]) + "\n" for _ in range(3))
    t0 = time.perf_counter()
    for model_type in MODEL_TYPES:
        run_hfext(args, model_type, tiny, seed=0, min_count=1, epochs=1, evaluate_vectors=False)
    return time.perf_counter() - t0


# ------------------------------------------------------------------------------------------ evaluation


def evaluate(vectors) -> dict:
    """The same evaluations for both: gensim's KeyedVectors and hfext's (same API, same semantics):
    analogy accuracy (total, semantic = the first five sections, syntactic = the ``gram*`` ones),
    WordSim353 and SimLex-999 Spearman rho (in-vocabulary pairs, as gensim scores them)."""
    questions = gensim_test_data("questions-words.txt")
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)  # gensim logs every analogy section
    try:
        analogy, sections = vectors.evaluate_word_analogies(questions)
        _, spearman, oov = vectors.evaluate_word_pairs(gensim_test_data("wordsim353.tsv"))
        _, simlex, simlex_oov = vectors.evaluate_word_pairs(gensim_test_data("simlex999.txt"))
    finally:
        logging.disable(previous)
    kinds = {"semantic": [], "syntactic": []}
    for section in sections[:-1]:  # the last one is the total
        kinds["syntactic" if section["section"].startswith("gram") else "semantic"].append(section)
    result = {"analogy_acc": float(analogy), "ws353_spearman": _rho(spearman), "ws353_oov_pct": float(oov),
              "simlex_spearman": _rho(simlex), "simlex_oov_pct": float(simlex_oov)}
    for kind, group in kinds.items():
        correct = sum(len(x["correct"]) for x in group)
        asked = correct + sum(len(x["incorrect"]) for x in group)
        result[f"analogy_{kind}_acc"] = correct / asked if asked else 0.0
    return result


def _rho(spearman) -> float:
    rho = getattr(spearman, "statistic", None)
    return float(spearman[0] if rho is None else rho)


# -------------------------------------------------------------------------------------------- reporting


def machine_info() -> dict:
    import gensim
    import numba
    import numpy
    import torch
    import transformers

    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    info = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu, "cpu_count": os.cpu_count(), "usable_cores": usable, "platform": platform.platform(),
        "python": platform.python_version(), "torch": torch.__version__, "gensim": gensim.__version__,
        "numba": numba.__version__, "numpy": numpy.__version__, "transformers": transformers.__version__,
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "numba_threading_layer": _numba_threading_layer(),
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    try:
        from gensim.models.word2vec_inner import FAST_VERSION

        info["gensim_fast_version"] = FAST_VERSION
    except ImportError:
        pass
    return info


def _numba_threading_layer() -> str:
    """The layer numba's parallel kernels use (the kernel has run by the time this is asked)."""
    import numba

    try:
        return numba.threading_layer()
    except ValueError:  # no parallel region has run yet
        return f"not initialised (config: {numba.config.THREADING_LAYER})"


def fmt_rate(value) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def fmt(value, spec=".4f") -> str:
    return "n/a" if value is None else format(value, spec)


def ratio(a, b):
    return None if a is None or not b else a / b


def print_run(run: dict, words: int) -> None:
    label = run["impl"] if run["impl"] == "gensim" else f"hfext[{run['backend']}/{run['device']}]"
    extra = f" cpm={run['centers_per_minibatch']}" if run["impl"] == "hfext" else ""
    quality = (
        f" analogy={run['analogy_acc']:.4f} ws353={run['ws353_spearman']:.4f}" if "analogy_acc" in run else ""
    )
    print(
        f"  {run['model']:8s} {label:22s}{extra} seed={run['seed']} train {run['train_s']:7.2f}s "
        f"{words / run['train_s']:>11,.0f} words/s (own cpu {run['cpu_util']:.2f}, others {run['other_cores']:.2f} cores"
        f"{'' if run['clean'] else ', NOT CLEAN'}) "
        f"prep {run['prep_s']:.2f}s{quality}",
        flush=True,
    )


def summarize(runs: list[dict], words: int) -> dict:
    """Speed from the clean runs (others <= CLEAN_OTHER_CORES) when there are any, else from all runs;
    quality (which does not depend on the machine's load) from all runs."""
    if not runs:
        return {}
    clean = [r for r in runs if r.get("clean")]
    timed = clean or runs
    rates = [words / r["train_s"] for r in timed]
    summary = {
        "runs": len(runs), "clean_runs": len(clean), "speed_from": "clean runs" if clean else "all runs (none clean)",
        "words_per_s_median": statistics.median(rates), "words_per_s_min": min(rates),
        "words_per_s_max": max(rates), "prep_s_median": statistics.median(r["prep_s"] for r in timed),
        "words_per_s_all_runs": [words / r["train_s"] for r in runs],
    }
    for key in QUALITY_KEYS:
        if key in runs[0]:
            summary[f"{key}_mean"] = statistics.mean(r[key] for r in runs)
    return summary


QUALITY_KEYS = ("analogy_acc", "analogy_semantic_acc", "analogy_syntactic_acc", "ws353_spearman", "simlex_spearman")


def quality_table(summaries: dict) -> str:
    """Mean quality of both implementations: analogies (semantic / syntactic / total), WS353, SimLex-999."""
    rows = ["| model | impl | analogy semantic | analogy syntactic | analogy total | WS353 ρ | SimLex-999 ρ |",
            "|---|---|---|---|---|---|---|"]
    for model_type, pair in summaries.items():
        for impl in ("gensim", "hfext"):
            q = pair[impl]
            rows.append(
                f"| {model_type} | {impl} | {fmt(q.get('analogy_semantic_acc_mean'))} | "
                f"{fmt(q.get('analogy_syntactic_acc_mean'))} | {fmt(q.get('analogy_acc_mean'))} | "
                f"{fmt(q.get('ws353_spearman_mean'))} | {fmt(q.get('simlex_spearman_mean'))} |"
            )
    return "\n".join(rows)


def main_table(summaries: dict) -> str:
    header = (
        "| model | gensim words/s | hfext words/s | speed ratio (hfext/gensim) | gensim analogy acc | "
        "hfext analogy acc | quality ratio | gensim WS353 ρ | hfext WS353 ρ | gensim build_vocab s | "
        "hfext vocab+encode s |"
    )
    rows = [header, "|" + "---|" * (header.count("|") - 1)]
    for model_type, pair in summaries.items():
        g, h = pair["gensim"], pair["hfext"]
        rows.append(
            f"| {model_type} | {fmt_rate(g['words_per_s_median'])} | {fmt_rate(h['words_per_s_median'])} | "
            f"{fmt(ratio(h['words_per_s_median'], g['words_per_s_median']), '.2f')} | "
            f"{fmt(g['analogy_acc_mean'])} | {fmt(h['analogy_acc_mean'])} | "
            f"{fmt(ratio(h['analogy_acc_mean'], g['analogy_acc_mean']), '.2f')} | "
            f"{fmt(g['ws353_spearman_mean'])} | {fmt(h['ws353_spearman_mean'])} | "
            f"{g['prep_s_median']:.2f} | {h['prep_s_median']:.2f} |"
        )
    return "\n".join(rows)


def spread_table(summaries: dict) -> str:
    """Best run and range: on a shared machine the fastest run is the least disturbed one."""
    rows = [("| model | gensim best words/s | hfext best words/s | best-run ratio | gensim range | hfext range | "
            "clean runs (gensim, hfext) |"), "|---|---|---|---|---|---|---|"]
    for model_type, pair in summaries.items():
        g, h = pair["gensim"], pair["hfext"]
        rows.append(
            f"| {model_type} | {fmt_rate(g['words_per_s_max'])} | {fmt_rate(h['words_per_s_max'])} | "
            f"{fmt(ratio(h['words_per_s_max'], g['words_per_s_max']), '.2f')} | "
            f"{fmt_rate(g['words_per_s_min'])}..{fmt_rate(g['words_per_s_max'])} | "
            f"{fmt_rate(h['words_per_s_min'])}..{fmt_rate(h['words_per_s_max'])} | "
            f"{g['clean_runs']}/{g['runs']}, {h['clean_runs']}/{h['runs']} |"
        )
    return "\n".join(rows)


def extra_table(title: str, rows: list[tuple]) -> str:
    lines = [f"| {title} | words/s (median) | words/s (best) | analogy acc | WS353 ρ | runs |",
             "|---|---|---|---|---|---|"]
    for name, summary, note in rows:
        if summary:
            lines.append(
                f"| {name} | {fmt_rate(summary['words_per_s_median'])} | {fmt_rate(summary['words_per_s_max'])} | "
                f"{fmt(summary.get('analogy_acc_mean'))} | "
                f"{fmt(summary.get('ws353_spearman_mean'))} | {summary['runs']} |"
            )
        else:
            lines.append(f"| {name} | skipped: {note} | | | | |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ main


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", choices=FAMILIES, default="word2vec",
                        help="word2vec (gensim Word2Vec) or fasttext (gensim FastText, subword n-grams).")
    parser.add_argument("--minn", type=int, default=3, help="fastText: shortest character n-gram (gensim min_n).")
    parser.add_argument("--maxn", type=int, default=6, help="fastText: longest character n-gram (gensim max_n).")
    parser.add_argument("--bucket", type=int, default=2_000_000, help="fastText: n-gram hash buckets.")
    parser.add_argument("--repeat", type=int, default=1, help="Repeat head500.noblanks.cor this many times.")
    parser.add_argument("--runs", type=int, default=3, help="Runs per implementation and model (alternating).")
    parser.add_argument("--workers", type=int, default=2, help="gensim workers = hfext kernel threads.")
    parser.add_argument("--models", default="skipgram,cbow", help="Comma-separated: skipgram,cbow.")
    parser.add_argument("--vector_size", type=int, default=100)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--negative", type=int, default=5)
    parser.add_argument("--sample", type=float, default=1e-3)
    parser.add_argument("--min_count", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--learning_rate", type=float, default=None, help="Both (default 0.025 sg, 0.05 cbow).")
    parser.add_argument("--centers_per_minibatch", "--centers_per_lane", dest="centers_per_minibatch", type=int,
                        default=None, help="hfext kernel batch: Word2VecTask's centers_per_minibatch (three-phase "
                        "kernel) or centers_per_lane (lanes kernel), whichever it has; default: its default.")
    parser.add_argument("--batch_words", type=int, default=None, help="hfext tokens per step (recipe default).")
    parser.add_argument("--gensim_input", choices=["iterable", "corpus_file"], default="iterable",
                        help="gensim reads a LineSentence iterable (default) or uses corpus_file mode.")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                        help="cuda: also run hfext's torch backend on the GPU (skipped with a note if none).")
    parser.add_argument("--include-torch-cpu", dest="include_torch_cpu", action="store_true",
                        help="Also run hfext's autograd torch backend on the CPU, for reference.")
    parser.add_argument("--sweep", default=None,
                        help="Comma-separated centers_per_minibatch values: hfext skip-gram, --sweep_runs each.")
    parser.add_argument("--sweep_runs", type=int, default=1)
    parser.add_argument("--profile", action="store_true",
                        help="One extra instrumented hfext run per model: chunk preparation vs kernel vs loop.")
    parser.add_argument("--wait_for_idle", type=float, default=0.0,
                        help="Before each timed call wait up to this many seconds for the rest of the machine to be "
                        "idle (useful on shared machines; 0 = don't wait).")
    parser.add_argument("--seed", type=int, default=1, help="Run r uses seed + r (both implementations).")
    parser.add_argument("--results_dir", default=os.path.join(HERE, "results"))
    parser.add_argument("--no_save", action="store_true", help="Print only; write no results files.")
    parser.add_argument("--progress", action="store_true", help="Show hfext's progress bars (off by default).")
    args = parser.parse_args(argv)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    for model_type in args.models:
        if model_type not in MODEL_TYPES:
            parser.error(f"--models: unknown model {model_type!r} (choose from {MODEL_TYPES})")
    if args.runs < 1 or args.repeat < 1 or args.workers < 1:
        parser.error("--runs, --repeat and --workers must be >= 1")
    args.sweep = [int(x) for x in args.sweep.split(",")] if args.sweep else []
    return args


def quiet_progress() -> None:
    """No progress bars in the middle of the measurements: hfext's loop passes ``disable=`` explicitly (so
    TQDM_DISABLE is ignored) and imports ``tqdm.auto.tqdm`` at each call, so swap in a disabled one."""
    import tqdm.auto

    class QuietTqdm(tqdm.auto.tqdm):
        def __init__(self, *a, **k):
            k["disable"] = True
            super().__init__(*a, **k)

    tqdm.auto.tqdm = QuietTqdm


def main(argv=None) -> dict:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not args.progress:
        quiet_progress()
    # hfext's fused (kernel) path steps the LR scheduler without optimizer.step(): torch warns once per run.
    warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)` before")
    import torch

    title = f"# hfext {args.family} vs gensim"
    print(title)
    print(f"uptime before: {_uptime()}")
    tmp = tempfile.mkdtemp(prefix="w2v_vs_gensim_")
    results: dict = {"settings": {k: v for k, v in vars(args).items()}, "uptime_before": _uptime()}
    try:
        corpus_path, words_per_epoch, num_lines = make_corpus(args.repeat, tmp)
        total_words = words_per_epoch * args.epochs
        print(f"corpus: {corpus_path} ({num_lines} lines, {words_per_epoch:,} words/epoch, x{args.epochs} epochs "
              f"= {total_words:,} raw words per run)")
        results["corpus"] = {"path": corpus_path, "repeat": args.repeat, "lines": num_lines,
                             "words_per_epoch": words_per_epoch, "raw_words_per_run": total_words}

        warm_s = warm_up_hfext(args, corpus_path, tmp)
        print(f"hfext warm-up (numba compile or cache load + tiny runs, not timed below): {warm_s:.1f}s")
        results["hfext_warmup_s"] = warm_s
        info = results["machine"] = machine_info()
        info["hfext"] = hfext_source_info()
        print(json.dumps(info, indent=1))

        runs: list[dict] = []
        summaries: dict = {}
        for model_type in args.models:
            print(f"\n## {model_type}: {args.runs} run(s) each, alternating")
            for r in range(args.runs):
                seed = args.seed + r
                order = ("gensim", "hfext") if r % 2 == 0 else ("hfext", "gensim")
                for impl in order:
                    run = run_gensim(args, model_type, corpus_path, seed) if impl == "gensim" else \
                        run_hfext(args, model_type, corpus_path, seed)
                    runs.append(run)
                    print_run(run, total_words)
                    if impl == "gensim" and run["gensim_raw_words"] != total_words:
                        print(f"  !! gensim counted {run['gensim_raw_words']:,} raw words, expected {total_words:,}")
                    if impl == "hfext" and run["corpus_raw_words"] * args.epochs != total_words:
                        print(f"  !! hfext corpus has {run['corpus_raw_words']:,} raw words/epoch, "
                              f"expected {words_per_epoch:,}")
            summaries[model_type] = {
                impl: summarize([x for x in runs if x["impl"] == impl and x["model"] == model_type
                                 and x.get("backend", "kernel") == "kernel"], total_words)
                for impl in ("gensim", "hfext")
            }

        table = main_table(summaries)
        print("\n## Results (median words/s, mean quality)\n")
        print(table)
        others = [r["other_cores"] for r in runs]
        load_note = (
            f"Other processes used {min(others):.2f}..{max(others):.2f} of the {info['usable_cores']} cores during the "
            f"timed training calls (0 = machine otherwise idle). CPU use of the benchmarked process itself: gensim "
            f"{_span(runs, 'gensim')}, hfext {_span(runs, 'hfext')} cores (ideal: {args.workers})."
        )
        dirty = sum(not r["clean"] for r in runs)
        if dirty:
            load_note += (f" WARNING: {dirty} of {len(runs)} timed runs shared the machine with other work (others > "
                          f"{CLEAN_OTHER_CORES} cores); words/s medians use the clean runs where a model/implementation "
                          "has any, else all of its runs.")
        spread = spread_table(summaries)
        print("\n" + spread)
        print("\n" + load_note)
        results.update(runs=runs, summaries=summaries, table=table, spread_table=spread, load_note=load_note)
        quality = quality_table(summaries)
        print("\n" + quality)
        results["quality_table"] = quality
        markdown = [table, spread, quality, load_note]

        # Optional: hfext's torch backend (GPU, CPU).
        extra_rows = []
        torch_runs = []
        if args.device == "cuda":
            if torch.cuda.is_available():
                for model_type in args.models:
                    got = [run_hfext(args, model_type, corpus_path, args.seed + r, backend="torch", device="cuda")
                           for r in range(args.runs)]
                    for run in got:
                        print_run(run, total_words)
                    torch_runs += got
                    extra_rows.append((f"{model_type} hfext torch/cuda", summarize(got, total_words), ""))
            else:
                note = "no CUDA device available on this machine"
                print(f"\n--device cuda: skipped ({note})")
                extra_rows += [(f"{m} hfext torch/cuda", {}, note) for m in args.models]
        if args.include_torch_cpu:
            for model_type in args.models:
                got = [run_hfext(args, model_type, corpus_path, args.seed, backend="torch", device="cpu")]
                for run in got:
                    print_run(run, total_words)
                torch_runs += got
                extra_rows.append((f"{model_type} hfext torch/cpu", summarize(got, total_words), ""))
        if extra_rows:
            extra = extra_table("hfext torch backend", extra_rows)
            print("\n" + extra)
            markdown.append(extra)
            results["torch_backend_runs"] = torch_runs

        # Optional: centers_per_minibatch sweep (skip-gram, kernel).
        if args.sweep:
            print(f"\n## {info['hfext']['kernel_batch_parameter']} sweep (hfext skip-gram kernel, "
                  f"{args.sweep_runs} run(s) each)")
            sweep_runs = []
            for r in range(args.sweep_runs):
                for cpm in args.sweep:
                    run = run_hfext(args, "skipgram", corpus_path, args.seed + r, centers_per_minibatch=cpm)
                    sweep_runs.append(run)
                    print_run(run, total_words)
            rows = [(f"cpm={cpm}", summarize([x for x in sweep_runs if x["centers_per_minibatch"] == cpm], total_words),
                     "") for cpm in args.sweep]
            sweep_table = extra_table(f"skip-gram, {kernel_batch_parameter()[0]}", rows)
            print("\n" + sweep_table)
            markdown.append(sweep_table)
            results["sweep_runs"] = sweep_runs

        # Optional: where hfext's training time goes.
        if args.profile:
            print("\n## hfext time breakdown (one instrumented run per model; wrappers add ~µs per step)")
            lines = [("| model | train s | chunk prep s (WindowChunks.chunk) | kernel s (train_chunk) | "
                     "loop/other s | prep: vocab s | tokenizer+model s | encode s | task setup s |"),
                     "|---|---|---|---|---|---|---|---|---|"]
            profiles = []
            for model_type in args.models:
                run = run_hfext(args, model_type, corpus_path, args.seed, profile=True, evaluate_vectors=False)
                profiles.append(run)
                lines.append(
                    f"| {model_type} | {run['train_s']:.2f} | {run['chunk_s']:.2f} ({run['chunk_s'] / run['train_s']:.0%}) | "
                    f"{run['kernel_s']:.2f} ({run['kernel_s'] / run['train_s']:.0%}) | {run['loop_other_s']:.2f} | "
                    f"{run['vocab_s']:.2f} | {run['model_s']:.2f} | {run['encode_s']:.2f} | {run['setup_s']:.2f} |"
                )
            profile_table = "\n".join(lines)
            print(profile_table)
            markdown.append(profile_table)
            results["profile_runs"] = profiles
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    results["uptime_after"] = _uptime()
    print(f"\nuptime after: {results['uptime_after']}")
    if not args.no_save:
        os.makedirs(args.results_dir, exist_ok=True)
        base = os.path.join(args.results_dir, f"{args.family}_vs_gensim")
        with open(base + ".json", "w") as handle:
            json.dump(results, handle, indent=1, default=str)
        header = [
            title, "",
            (f"Date: {info['date']}; CPU: {info['cpu']} ({info['usable_cores']} usable cores); torch {info['torch']}, "
            f"gensim {info['gensim']}, numba {info['numba']} ({info['numba_threading_layer']} threading layer). "
            f"hfext: commit {info['hfext'].get('git_commit')}, kernel sha256 "
            f"{info['hfext']['word2vec_kernel.py_sha256']}, uncommitted hfext files: {info['hfext'].get('git_dirty_files')}."),
            "",
            f"Corpus: head500.noblanks.cor x{args.repeat} ({words_per_epoch:,} words/epoch), {args.epochs} epochs, "
            f"dim {args.vector_size}, window {args.window}, negative {args.negative}, sample {args.sample}, "
            f"min_count {args.min_count}, workers/threads {args.workers}, gensim input: {args.gensim_input}, "
            f"hfext {info['hfext']['kernel_batch_parameter']} = {args.centers_per_minibatch or 'default'}; {args.runs} runs each, alternating. "
            "words/s = epochs x raw corpus words / wall time of the training call only."
            + (f" fastText: minn {args.minn}, maxn {args.maxn}, bucket {args.bucket:,} (gensim FastText min_n/max_n/bucket)."
               if args.family == "fasttext" else ""), "",
            f"Load (uptime) before: {results['uptime_before']}; after: {results['uptime_after']}", "",
            "Command: `python " + " ".join([os.path.relpath(__file__, os.getcwd())] + (argv or sys.argv[1:])) + "`", "",
        ]
        with open(base + ".md", "w") as handle:
            handle.write("\n".join(header) + "\n" + "\n\n".join(markdown) + "\n")
        print(f"wrote {base}.json and {base}.md")
    return results


def _span(runs: list[dict], impl: str) -> str:
    utils = [r["cpu_util"] for r in runs if r["impl"] == impl]
    return f"{min(utils):.2f}..{max(utils):.2f}" if utils else "n/a"


def _uptime() -> str:
    try:
        one, five, fifteen = os.getloadavg()
        return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f}"
    except OSError:
        return "unknown"


if __name__ == "__main__":
    main()
