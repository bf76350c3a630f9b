"""The guided tour (docs/tour/, hfext/tour.py, examples/): `hfext tour --smoke` runs every chapter's example in
seconds, writes every picture, and prints the numbers the chapters quote."""

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hfext.cli import main as hfext
from hfext.tour import CHAPTERS, EXAMPLES_DIR, quiet, run_tour

REPO = Path(__file__).resolve().parent.parent
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# The lecture's slide: "I like deep learning. I like NLP. I enjoy flying.", window 1.
SLIDE = {
    "I": [0, 2, 1, 0, 0, 0, 0, 0],
    "like": [2, 0, 0, 1, 0, 1, 0, 0],
    "enjoy": [1, 0, 0, 0, 0, 0, 1, 0],
    "deep": [0, 1, 0, 0, 1, 0, 0, 0],
    "learning": [0, 0, 0, 1, 0, 0, 0, 1],
    "NLP": [0, 1, 0, 0, 0, 0, 0, 1],
    "flying": [0, 0, 1, 0, 0, 0, 0, 1],
    ".": [0, 0, 0, 0, 1, 1, 1, 0],
}


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk, after checking the signature."""
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and data[12:16] == b"IHDR", f"{path} is not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.fixture(scope="module")
def smoke_tour(tmp_path_factory):
    """One `hfext tour --smoke` run in a fresh process (as CI and a user run it); its output and folders."""
    tmp = tmp_path_factory.mktemp("tour")
    out_dir, work_dir = tmp / "pictures", tmp / "models"
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    proc = subprocess.run(
        [sys.executable, "-m", "hfext.cli", "tour", "--smoke", "--out_dir", str(out_dir), "--work_dir", str(work_dir)],
        check=False, capture_output=True, text=True, env=env, cwd=tmp, timeout=900,
    )
    return proc, out_dir, work_dir


def test_tour_smoke_runs_every_chapter_and_writes_every_picture(smoke_tour):
    proc, out_dir, _ = smoke_tour
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    summary = proc.stdout[proc.stdout.rindex("#  chapter"):].splitlines()[2:]
    assert len(summary) == len(CHAPTERS)
    assert all(line.rstrip().endswith("ok") for line in summary), summary
    for chapter in CHAPTERS:
        assert f"chapter {chapter.number}: ok in" in proc.stdout
        for picture in chapter.pictures:
            width, height = png_size(out_dir / picture)
            assert width >= 300 and height >= 200
            assert (out_dir / picture).stat().st_size < 150_000  # small enough to commit


def test_chapter_1_prints_the_lecture_slide(smoke_tour):
    stdout = smoke_tour[0].stdout
    for word, counts in SLIDE.items():
        line = next(line for line in stdout.splitlines() if line.split()[:1] == [word] and len(line.split()) == 9)
        assert [int(x) for x in line.split()[1:]] == counts
    assert "cosine(one_hot(like), one_hot(enjoy)) = 0.000" in stdout  # distinct one-hot vectors are orthogonal
    assert "cosine(row(like), row(enjoy)) = 0.577" in stdout  # co-occurrence rows are not


def test_chapters_print_sane_numbers(smoke_tour):
    stdout = smoke_tour[0].stdout
    # 2: both architectures, one score line per epoch
    assert len(re.findall(r"epoch +\d+: WordSim353 rho -?0\.\d+, analogy accuracy 0\.\d+", stdout)) == 4
    # 4: fastText has a vector for a word it never saw; word2vec does not
    assert "'computerz' is NOT in word2vec's vocabulary; fastText: cosine to 'comput'" in stdout
    # 5: ELMo's token layer is context-free; its LSTM layers are not
    match = re.search(r"token layer \(char CNN\) ([\d.]+), LSTM layer 1 ([\d.]+), LSTM layer 2 ([\d.]+)", stdout)
    assert match and float(match[1]) == pytest.approx(1.0, abs=1e-3) and float(match[3]) < 0.999
    # 6: attention pooling beats average pooling; hfext's attention matches PyTorch's
    mse = [float(x) for x in re.findall(r"\(MSE ([\d.]+)\)", stdout)]
    assert len(mse) == 3 and mse[0] > mse[1] > mse[2]
    diffs = re.findall(r"max \|[^|]+\|(?: =)? ([\d.e+-]+)", stdout)
    assert diffs and all(float(d) < 1e-5 for d in diffs)
    # 8: validation perplexity is finite and the samples start with the prompt
    assert re.search(r"step +30: validation loss [\d.]+, perplexity [\d.]+", stdout)
    assert stdout.count("sample: the war") == 3
    # 9: five fill-mask predictions with probabilities
    assert len(re.findall(r"^  \d\. \S+ +0\.\d{3}$", stdout, flags=re.MULTILINE)) == 5
    # 10: both starting points fine-tuned on 17 countries' pairs, validated on the 6 others' (balanced labels)
    assert "task: 850 training pairs about 17 countries, 300 validation pairs about 6 others" in stdout
    for name in ("pretrained", "from scratch"):
        match = re.search(rf"{name}: validation accuracy per epoch (0\.\d{{3}}|1\.000); training loss ([\d.]+)", stdout)
        assert match and float(match[2]) > 0, name


def chapter_10_accuracies(stdout: str) -> dict[str, list[float]]:
    """Chapter 10's validation accuracy per epoch for both starting points, from what it prints."""
    accuracies = {}
    for name in ("pretrained", "from scratch"):
        match = re.search(rf"{name}: validation accuracy per epoch ([\d. ]+);", stdout)
        assert match, f"no accuracy line for {name!r} in:\n{stdout[-2000:]}"
        accuracies[name] = [float(x) for x in match[1].split()]
    return accuracies


def run_example(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    proc = subprocess.run([sys.executable, str(EXAMPLES_DIR / script), *args], check=False, capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc


def test_chapter_10_repeats_exactly(smoke_tour, tmp_path):
    # The tokenizer is a sorted whole-word vocabulary and every run is seeded, so chapter 10 run on its own
    # trains bit-identical models to the ones it trained inside the tour (after the other chapters).
    tour_dir = smoke_tour[2] / "finetune_bert"
    proc = run_example("finetune_bert.py", "--smoke", "--output_dir", str(tmp_path / "models"),
                       "--out_dir", str(tmp_path / "pictures"), cwd=tmp_path)
    for model in ("tokenizer/tokenizer.json", "pretrained/model.safetensors", "rte-pretrained/model.safetensors",
                  "rte-from-scratch/model.safetensors"):
        assert (tmp_path / "models" / model).read_bytes() == (tour_dir / model).read_bytes(), model
    assert chapter_10_accuracies(proc.stdout) == chapter_10_accuracies(smoke_tour[0].stdout)
    mlm = re.findall(r"held-out MLM accuracy ([\d.]+)", proc.stdout + smoke_tour[0].stdout)
    assert len(mlm) == 2 and mlm[0] == mlm[1]


@pytest.mark.slow
def test_chapter_10_pretraining_clearly_beats_scratch_on_unseen_countries(tmp_path):
    # the full chapter (a few minutes): the numbers docs/tour/10_fine_tuning.md quotes
    proc = run_example("finetune_bert.py", "--output_dir", str(tmp_path / "models"), "--out_dir", str(tmp_path),
                       cwd=tmp_path)
    accuracies = chapter_10_accuracies(proc.stdout)
    assert len(accuracies["pretrained"]) == len(accuracies["from scratch"]) == 10
    # the chapter's run: 0.813 vs 0.500 after 10 epochs (--seed 1: 0.947, --seed 2: 0.977)
    assert min(accuracies["pretrained"][1:]) >= 0.75, accuracies
    assert max(accuracies["from scratch"]) <= 0.6, accuracies
    assert accuracies["pretrained"][-1] - accuracies["from scratch"][-1] >= 0.25, accuracies
    assert (tmp_path / "bert_finetuning.png").stat().st_size < 150_000


def test_every_chapter_has_an_example_with_the_tour_flags():
    for chapter in CHAPTERS:
        text = (EXAMPLES_DIR / chapter.script).read_text()
        assert "--smoke" in text and "--out_dir" in text and "def main(" in text, chapter.script


def test_unknown_chapter_is_a_usage_error(tmp_path, capsys):
    assert hfext(["tour", "--chapters", "12", "--out_dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no tour chapter 12; the chapters are 1..10" in err
    assert err.rstrip().endswith("(see docs/troubleshooting.md#recipes-and-tour)")
    with pytest.raises(ValueError, match="no tour chapter 0"):
        run_tour(tmp_path, chapters=[0])


def test_a_failing_chapter_is_reported_and_the_tour_goes_on(tmp_path, capsys):
    # chapter 1 fails: a folder stands where its picture should be written
    out_dir = tmp_path / "pictures"
    out_dir.mkdir()
    (out_dir / "cooccurrence_matrix.png").mkdir()  # the heatmap cannot be written over a folder
    assert hfext(["tour", "--chapters", "1", "6", "--out_dir", str(out_dir)]) == 1
    captured = capsys.readouterr()
    table = captured.out[captured.out.rindex("#  chapter"):]
    assert re.search(r"1 +one-hot.*FAILED", table) and re.search(r"6 +attention.*ok", table)
    assert (out_dir / "nadaraya_watson.png").is_file()


def test_quiet_hides_a_recipes_output_and_restores_logging(capsys):
    root = logging.getLogger()
    level = root.level
    with quiet():
        print("recipe chatter")
        logging.basicConfig(level=logging.INFO)  # as a recipe's setup_accelerator does
        logging.getLogger("hfext.x").info("progress")
        print("more", file=sys.stderr)
    assert capsys.readouterr() == ("", "")
    assert root.level == level
    with pytest.raises(RuntimeError), quiet():
        print("what failed")
        raise RuntimeError("boom")
    assert "what failed" in capsys.readouterr().out  # shown when the block fails


def test_a_smoke_run_never_draws_over_the_docs_pictures(tmp_path):
    from hfext.tour import PICTURES_DIR, SMOKE_PICTURES_DIR, pictures_dir

    assert pictures_dir(None, smoke=False) == str(PICTURES_DIR)
    assert pictures_dir(None, smoke=True) == str(SMOKE_PICTURES_DIR) and "docs" not in SMOKE_PICTURES_DIR.parts
    assert pictures_dir(tmp_path, smoke=True) == str(tmp_path)
    committed = PICTURES_DIR / "nadaraya_watson.png"
    before = committed.stat().st_mtime_ns
    proc = run_example("attention_pooling.py", "--smoke", cwd=tmp_path)  # no --out_dir
    assert committed.stat().st_mtime_ns == before
    assert str(SMOKE_PICTURES_DIR / "nadaraya_watson.png") in proc.stdout
