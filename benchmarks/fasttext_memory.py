"""Peak memory of converting a Facebook fastText ``.bin`` and of loading the converted model, against the file size.

Facebook's published vectors are 7 GB ``.bin`` files (2M words + 2M n-gram buckets x 300 dimensions). The
target: conversion peaks at <= 1.5x the file size, loading (memory-mapped) well under it. This script writes a
synthetic ``.bin`` of the same layout (default: 200k words, 2M buckets, dim 100: ~0.96 GB) with its own writer,
then runs each step in a fresh subprocess and reads that process's peak RSS (``ru_maxrss``, which counts
memory-mapped file pages the process touched as well as its own allocations):

- ``convert``: ``hfext.convert.convert_fasttext_bin(src, dst)``;
- ``load``: ``KeyedVectors.from_pretrained(dst)`` plus a few in-vocabulary and OOV lookups;
- ``load+most_similar``: the same plus one ``most_similar`` (which builds the unit-normalised word matrix);
- ``gensim``: ``gensim.models.fasttext.load_facebook_model(src)`` for comparison (``--no-gensim`` skips it).

Each step also reports the RSS right after its imports (torch, transformers, ...), so the part the step itself
adds is visible. The same runs on gensim's small ``lee_fasttext.bin``. Results go to
``benchmarks/results/fasttext_memory.md`` (one section per size, kept across runs in ``fasttext_memory.json``); the synthetic file is deleted at the end.

    python benchmarks/fasttext_memory.py [--words 200000 --bucket 2000000 --dim 100] [--no-gensim]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "fasttext_memory.md"
FASTTEXT_MAGIC, FASTTEXT_VERSION = 793712314, 12


def write_synthetic_bin(path: Path, nwords: int, bucket: int, dim: int, seed: int = 0) -> None:
    """A fastText 0.9 ``.bin`` (skip-gram, negative sampling) with random words and vectors, streamed to disk."""
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
    lengths = rng.integers(3, 12, size=nwords)
    counts = np.sort(rng.zipf(1.3, size=nwords).clip(5, 10**9))[::-1]
    with open(path, "wb") as fout:
        fout.write(struct.pack("<2i", FASTTEXT_MAGIC, FASTTEXT_VERSION))
        # dim ws epoch minCount neg wordNgrams loss(ns) model(sg) bucket minn maxn lrUpdateRate t
        fout.write(struct.pack("<12id", dim, 5, 5, 5, 5, 1, 2, 2, bucket, 3, 6, 100, 1e-4))
        fout.write(struct.pack("<3iqq", nwords, nwords, 0, int(counts.sum()), -1))
        entry = struct.Struct("<qb")
        for index in range(nwords):
            # random letters + the index in base 26: realistic n-grams, unique words
            word = letters[rng.integers(0, 26, size=lengths[index])].tobytes() + np.base_repr(index, 26).lower().encode()
            fout.write(word + b"\0" + entry.pack(int(counts[index]), 0))
        for rows in (nwords + bucket, nwords):
            fout.write(b"\0" + struct.pack("<2q", rows, dim))
            step = max((64 << 20) // (4 * dim), 1)
            for start in range(0, rows, step):
                n = min(step, rows - start)
                fout.write((rng.random((n, dim), dtype=np.float32) - 0.5).astype("<f4").tobytes())


# ---------------------------------------------------------------------- child side


def _rss_now() -> int:
    with open("/proc/self/statm") as fin:
        return int(fin.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _child(step: str, src: str, dst: str) -> None:
    import resource

    if step == "gensim":
        from gensim.models.fasttext import load_facebook_model
    else:
        import hfext  # noqa: F401
        from hfext.convert import convert_fasttext_bin
        from hfext.vectors import KeyedVectors
    baseline = _rss_now()
    start = time.perf_counter()
    if step == "convert":
        convert_fasttext_bin(src, dst)
    elif step == "gensim":
        kv = load_facebook_model(src).wv
        kv["zzzunseenword"]
    else:
        kv = KeyedVectors.from_pretrained(dst)
        for word in kv.index_to_key[:3] + ["zzzunseenword", "qqqxyz", "naïveté"]:
            kv[word]
        if step == "load+most_similar":
            kv.most_similar(kv.index_to_key[10], topn=10)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    print(json.dumps({"step": step, "peak": peak, "baseline": baseline, "seconds": seconds}))


# ---------------------------------------------------------------------- parent side


def _run(step: str, src: Path, dst: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", step, str(src), str(dst)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _gib(n: float) -> str:
    if abs(n) >= 2**30:
        return f"{n / 2**30:.2f} GiB"
    return f"{n / 2**20:.0f} MiB" if abs(n) >= 2**20 else f"{n / 2**10:.0f} KiB"


def measure(src: Path, workdir: Path, gensim: bool) -> list[dict]:
    dst = workdir / (src.stem + "-hfext")
    if dst.exists():
        shutil.rmtree(dst)
    steps = ["convert", "load", "load+most_similar"] + (["gensim"] if gensim else [])
    rows = []
    for step in steps:
        result = _run(step, src, dst)
        result["file"] = src.name
        result["file_size"] = src.stat().st_size
        rows.append(result)
        print(f"{src.name:28s} {step:18s} peak {_gib(result['peak']):>10s} "
              f"({result['peak'] / result['file_size']:.2f}x file), after imports {_gib(result['baseline'])}, "
              f"{result['seconds']:.1f} s", flush=True)
    shutil.rmtree(dst)
    return rows


def write_report(runs: dict) -> None:
    """Render every stored run as ``fasttext_memory.md``."""
    lines = [
        "# fastText .bin conversion and loading: peak memory vs file size",
        "",
        ("Each step runs in a fresh process; *peak RSS* is its `ru_maxrss` (its own allocations plus the pages of "
        "memory-mapped files it touched), *after imports* its RSS before the step started (Python, torch, "
        "transformers). Target: conversion <= 1.5x the file size, loading well under it."),
        "",
        ("*load* = `KeyedVectors.from_pretrained(dir)` (a memory-mapped `FastTextKeyedVectors`) plus 3 in-vocabulary "
        "and 3 OOV lookups; *load+most_similar* adds one `most_similar` (it reads every word "
        "vector once, to compute the norms and the similarities); *gensim* = `load_facebook_model(bin).wv` plus one OOV lookup, for comparison. "
        "For the small lee_fasttext.bin (205 KiB) every figure is the interpreter and its imports. The 2M-word "
        "run skipped gensim (`--no-gensim`): gensim needs the whole model in memory, 2x the file here."),
    ]
    for config, run in runs.items():
        lines += ["", f"## `python benchmarks/fasttext_memory.py {config}`", "", f"{run['machine']}, shared with other jobs.", "",
                  "| file | size | step | peak RSS | peak / file size | after imports | step adds | time |",
                  "|---|---:|---|---:|---:|---:|---:|---:|"]
        for r in run["rows"]:
            lines.append(f"| {r['file']} | {_gib(r['file_size'])} | {r['step']} | {_gib(r['peak'])} | "
                         f"{r['peak'] / r['file_size']:.2f}x | {_gib(r['baseline'])} | "
                         f"{_gib(r['peak'] - r['baseline'])} | {r['seconds']:.1f} s |")
    lines.append("")
    RESULTS.write_text("\n".join(lines))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", nargs=3, metavar=("STEP", "SRC", "DST"), help=argparse.SUPPRESS)
    parser.add_argument("--words", type=int, default=200_000)
    parser.add_argument("--bucket", type=int, default=2_000_000)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--no-gensim", dest="gensim", action="store_false")
    parser.add_argument("--workdir", default=None, help="where the synthetic .bin goes (default: a temp folder)")
    parser.add_argument("--report-only", action="store_true", help="rewrite the .md from the stored .json")
    args = parser.parse_args(argv)
    if args.report_only:
        write_report(json.loads(RESULTS.with_suffix(".json").read_text()))
        return
    if args.child:
        _child(*args.child)
        return

    import gensim

    lee = Path(gensim.__file__).parent / "test" / "test_data" / "lee_fasttext.bin"
    workdir = Path(tempfile.mkdtemp(prefix="fasttext-memory-", dir=args.workdir))
    try:
        synthetic = workdir / f"synthetic-{args.words}w-{args.bucket}b-{args.dim}d.bin"
        start = time.perf_counter()
        write_synthetic_bin(synthetic, args.words, args.bucket, args.dim)
        print(f"wrote {synthetic.name}: {_gib(synthetic.stat().st_size)} in {time.perf_counter() - start:.1f} s")
        rows = measure(synthetic, workdir, args.gensim) + measure(lee, workdir, args.gensim)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)  # the synthetic .bin is ~1 GB

    config = f"--words {args.words} --bucket {args.bucket} --dim {args.dim}"
    store = RESULTS.with_suffix(".json")
    runs = json.loads(store.read_text()) if store.exists() else {}
    runs[config] = {"machine": f"{platform.machine()} ({os.cpu_count()} cores), Python {platform.python_version()}, "
                               f"numpy {np.__version__}", "rows": rows}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    store.write_text(json.dumps(runs, indent=1))
    write_report(runs)

    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
