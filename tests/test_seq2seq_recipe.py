"""recipes/train_seq2seq.py and hfext.training.seq2seq: a Transformer learns to reverse sequences on CPU and
reloads through the Auto classes; exact resume; datasets folders (plain and WMT-style translation columns);
the label-smoothed loss; batching across processes; the local sacreBLEU module; 2-process launch; bad input."""

import json
import os
import random
import shutil
import subprocess
import sys

import evaluate
import numpy as np
import pytest
import sacrebleu
import torch
from conftest import REPO, load_recipe
from safetensors.torch import load_file
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

import hfext  # noqa: F401
from hfext.metrics import metric_path
from hfext.training.seq2seq import (
    Seq2SeqTask,
    collate,
    label_smoothed_loss,
    load_pairs,
    train_tokenizer,
)

ALPHABET = "abcdefghijkl"
TINY = ["--d_model", "64", "--num_heads", "4", "--encoder_layers", "2", "--decoder_layers", "2", "--ffn_dim", "128",
        "--max_source_length", "16", "--max_target_length", "16", "--tokenizer_type", "wordlevel", "--logging_steps", "1000"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: threads only contend


def reversal_pairs(n, seed, lo=3, hi=8):
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        symbols = [rng.choice(ALPHABET) for _ in range(rng.randint(lo, hi))]
        pairs.append({"source": " ".join(symbols), "target": " ".join(reversed(symbols))})
    return pairs


def write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture(scope="module")
def recipe():
    return load_recipe("train_seq2seq")


# --------------------------------------------------------------------------------------------- the reversal task


def test_transformer_learns_to_reverse_and_reloads_with_auto_classes(recipe, tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", reversal_pairs(8000, seed=0))
    valid_rows = reversal_pairs(200, seed=1)
    valid = write_jsonl(tmp_path / "valid.jsonl", valid_rows)
    out = tmp_path / "reverser"
    results = recipe.main([
        "--train_file", str(train), "--validation_file", str(valid), "--output_dir", str(out), *TINY,
        "--dropout", "0", "--label_smoothing", "0", "--per_device_train_batch_size", "64", "--num_train_epochs", "5",
        "--learning_rate", "1e-3", "--lr_scheduler_type", "constant_with_warmup", "--num_warmup_steps", "100",
    ])
    assert results["eval_exact_match"] >= 0.95, results
    assert results["eval_bleu"] >= 95.0
    assert results["eval_loss"] < 0.1 < results["train_loss"]  # the mean over training includes the early steps
    assert results["train_steps"] == 5 * 125
    assert results == json.loads((out / "all_results.json").read_text())
    assert not (out / ".saving.tmp").exists()

    model = AutoModelForSeq2SeqLM.from_pretrained(out).eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert model.config.model_type == "hfext-transformer" and len(tokenizer) == 4 + len(ALPHABET)
    assert model.generation_config.max_new_tokens == 16
    sources = [row["source"] for row in valid_rows]
    batch = tokenizer(sources, padding=True, return_tensors="pt")
    with torch.no_grad():
        generated = model.generate(**batch)
    reloaded = tokenizer.batch_decode(generated, skip_special_tokens=True)
    assert reloaded == (out / "generated_predictions.txt").read_text().splitlines()
    assert np.mean([p == row["target"] for p, row in zip(reloaded, valid_rows)]) == results["eval_exact_match"]
    # a fresh input; eager attention exposes the weights: output t looks at the mirrored source position
    eager = AutoModelForSeq2SeqLM.from_pretrained(out, attn_implementation="eager").eval()
    inputs = tokenizer(["a b c d e f g"], return_tensors="pt")
    with torch.no_grad():
        generated = eager.generate(**inputs)
        cross = eager(**inputs, decoder_input_ids=generated, output_attentions=True).cross_attentions
    assert tokenizer.decode(generated[0], skip_special_tokens=True) == "g f e d c b a"
    focus = cross[-1][0].mean(0).argmax(-1)[:7]  # last layer, mean over heads: (T, S) -> source position per step
    assert focus.tolist() == [6, 5, 4, 3, 2, 1, 0]


def test_resume_from_checkpoint_is_exact(recipe, tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", reversal_pairs(300, seed=3))
    common = ["--train_file", str(train), *TINY, "--d_model", "32", "--ffn_dim", "64", "--dropout", "0.1",
              "--per_device_train_batch_size", "32", "--num_train_epochs", "2", "--num_warmup_steps", "5",
              "--checkpointing_steps", "7"]
    full = recipe.main([*common, "--output_dir", str(tmp_path / "full")])
    assert full["train_steps"] == 20 and (tmp_path / "full" / "step_7").is_dir()
    resumed = recipe.main([*common, "--output_dir", str(tmp_path / "resumed"),
                           "--resume_from_checkpoint", str(tmp_path / "full" / "step_7")])
    assert resumed["train_steps"] == 20
    a = load_file(tmp_path / "full" / "model.safetensors")
    b = load_file(tmp_path / "resumed" / "model.safetensors")
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    assert resumed["train_loss"] == pytest.approx(full["train_loss"], rel=1e-9)
    with pytest.raises(ValueError, match="settings changed"):
        recipe.main([*common, "--output_dir", str(tmp_path / "other"), "--label_smoothing", "0.2",
                     "--resume_from_checkpoint", str(tmp_path / "full" / "step_14")])
    # --model_name_or_path continues from the saved model (and its tokenizer): lower loss than a fresh start
    short = ["--train_file", str(train), *TINY, "--d_model", "32", "--ffn_dim", "64", "--max_train_steps", "3"]
    fresh = recipe.main([*short, "--output_dir", str(tmp_path / "fresh")])
    continued = recipe.main([*short, "--output_dir", str(tmp_path / "continued"),
                             "--model_name_or_path", str(tmp_path / "full")])
    assert continued["train_loss"] < fresh["train_loss"] - 0.3
    assert (tmp_path / "continued" / "tokenizer.json").read_text() == (tmp_path / "full" / "tokenizer.json").read_text()


def test_dataset_folder_with_translation_column_and_bpe_tokenizer(recipe, tmp_path):
    rng = random.Random(5)
    words = {"house": "Haus", "tree": "Baum", "small": "klein", "big": "groß", "the": "das", "green": "grün"}
    def rows(n):
        out = []
        for _ in range(n):
            picked = [rng.choice(list(words)) for _ in range(rng.randint(2, 5))]
            out.append({"translation": {"en": " ".join(picked), "de": " ".join(words[w] for w in picked)}, "id": "x"})
        return out
    folder = tmp_path / "wmt_like"
    write_jsonl(folder / "train.jsonl", rows(200))
    write_jsonl(folder / "validation.jsonl", rows(11))
    out = tmp_path / "out"
    results = recipe.main([
        "--dataset_name", str(folder), "--source_lang", "en", "--target_lang", "de", "--output_dir", str(out),
        "--d_model", "32", "--num_heads", "2", "--encoder_layers", "1", "--decoder_layers", "1", "--ffn_dim", "64",
        "--vocab_size", "60", "--max_train_steps", "3", "--per_device_train_batch_size", "16", "--num_beams", "2",
        "--max_new_tokens", "6", "--logging_steps", "1000",
    ])
    assert results["train_steps"] == 3 and results["eval_samples"] == 11
    assert 0.0 <= results["eval_bleu"] <= 100.0
    assert len((out / "generated_predictions.txt").read_text().splitlines()) == 11
    tokenizer = AutoTokenizer.from_pretrained(out)
    for text in ("das grüne Haus", "the small tree", "Baum klein"):  # BPE with Metaspace: decoding restores the text
        assert tokenizer.decode(tokenizer(text)["input_ids"], skip_special_tokens=True) == text
    assert tokenizer("the tree")["input_ids"][-1] == tokenizer.eos_token_id


# ------------------------------------------------------------------------------------------------- the pieces


def test_label_smoothed_loss_is_the_smoothed_cross_entropy():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 7)
    labels = torch.tensor([[1, 2, -100], [4, -100, -100]])
    for eps in (0.0, 0.1):
        total, count = label_smoothed_loss(logits, labels, eps)
        expected = 0.0
        for b, t in [(0, 0), (0, 1), (1, 0)]:
            log_p = torch.log_softmax(logits[b, t], -1)
            # target distribution (1 - eps) one-hot + eps / V uniform
            expected += -((1 - eps) * log_p[labels[b, t]] + eps * log_p.mean())
        assert count == 3
        assert total.item() == pytest.approx(expected.item(), rel=1e-5)


def test_task_batches_cover_every_pair_once_per_epoch_across_processes():
    sources = [[i + 3, 2] for i in range(10)]
    targets = [[2] for _ in range(10)]
    tasks = [Seq2SeqTask(sources, targets, 3, seed=1, pad_token_id=0, decoder_start_token_id=1, rank=r, world_size=2)
             for r in range(2)]
    assert tasks[0].steps_per_epoch() == 2  # 4 batches of <= 3 over 2 processes
    seen = sorted(int(row[0]) - 3 for task in tasks for step in range(2)
                  for row in task.batch(0, step)["input_ids"])
    assert seen == list(range(10))
    again = Seq2SeqTask(sources, targets, 3, seed=1, pad_token_id=0, decoder_start_token_id=1, rank=0, world_size=2)
    assert torch.equal(again.batch(1, 1)["input_ids"], tasks[0].batch(1, 1)["input_ids"])  # resumable order
    orders = {tuple(tasks[0].batch(epoch, 0)["input_ids"][:, 0].tolist()) for epoch in range(5)}
    assert len(orders) > 1  # reshuffled every epoch
    grouped = Seq2SeqTask([[3] * n for n in range(1, 41)], [[2]] * 40, 4, seed=0, pad_token_id=0,
                          decoder_start_token_id=1, group_by_length=True)
    widths = [grouped.batch(0, s)["attention_mask"].sum(1) for s in range(10)]
    assert all(int(w.max() - w.min()) <= 3 for w in widths)  # sorted chunk: batches of near-equal length


def test_collate_pads_and_masks_by_length():
    batch = collate([[5, 6, 2], [0, 2]], [[7, 2], [8, 9, 2]], pad_token_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 2], [0, 2, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]  # a real token 0 is kept, padding is not
    assert batch["labels"].tolist() == [[7, 2, -100], [8, 9, 2]]


def test_local_sacrebleu_module_matches_sacrebleu():
    bleu = evaluate.load(metric_path("sacrebleu"))
    predictions = ["the cat sat on the mat", "a quick brown fox jumps", "hello"]
    references = [["the cat sat on a mat", "there is a cat on the mat"], ["the quick brown fox jumped", "a fast fox"],
                  ["hello there", "hi"]]
    ours = bleu.compute(predictions=predictions, references=references)
    theirs = sacrebleu.corpus_bleu(predictions, [list(r) for r in zip(*references)])
    assert ours["score"] == pytest.approx(theirs.score) and ours["counts"] == theirs.counts
    assert bleu.compute(predictions=["the same four words"], references=["the same four words"])["score"] == pytest.approx(100)
    with pytest.raises(ValueError, match="same number of references"):
        bleu.compute(predictions=["a", "b"], references=[["a"], ["b", "c"]])
    with pytest.raises(FileNotFoundError, match="no local metric 'bleurt'"):
        metric_path("bleurt")


def test_bad_input(recipe, tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", reversal_pairs(20, seed=0))
    out = ["--output_dir", str(tmp_path / "out")]
    with pytest.raises(ValueError, match="pass --train_file"):
        recipe.main(out)
    with pytest.raises(FileNotFoundError, match="--train_file 'nope.jsonl' does not exist"):
        recipe.main(["--train_file", "nope.jsonl", *out])
    with pytest.raises(FileNotFoundError, match="--validation_file"):
        recipe.main(["--train_file", str(train), "--validation_file", "nope.jsonl", *out])
    with pytest.raises(KeyError, match=r"no column 'src' \(--source_column\); its columns are \['source', 'target'\]"):
        recipe.main(["--train_file", str(train), "--source_column", "src", *out])
    with pytest.raises(ValueError, match=r"--label_smoothing must be in \[0, 1\), got 1.0"):
        recipe.main(["--train_file", str(train), "--label_smoothing", "1.0", *out])
    with pytest.raises(ValueError, match=r"--max_source_length 16 exceeds the model's max_position_embeddings \(8\)"):
        recipe.main(["--train_file", str(train), *TINY, "--max_position_embeddings", "8", *out])
    with pytest.raises(ValueError, match=r"d_model \(30\) is not a multiple of num_heads \(4\)"):
        recipe.main(["--train_file", str(train), *TINY, "--d_model", "30", *out])
    with pytest.raises(KeyError, match="no 'translation' column"):
        recipe.main(["--train_file", str(train), "--source_lang", "en", "--target_lang", "de", *out])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"source": "a b", "target": "b a"}\nnot json\n')
    with pytest.raises(ValueError, match="as JSON lines"):
        load_pairs(train_file=[str(bad)])
    numbers = write_jsonl(tmp_path / "numbers.jsonl", [{"source": 1, "target": "x"}])
    with pytest.raises(TypeError, match="must be strings, got int and str"):
        load_pairs(train_file=[str(numbers)])
    with pytest.raises(ValueError, match="--tokenizer_type must be one of"):
        train_tokenizer(["a b"], tokenizer_type="unigram")
    with pytest.raises(ValueError, match="--vocab_size must be > 4"):
        train_tokenizer(["a b"], vocab_size=4)


# ------------------------------------------------------------------------------------------------ two processes


def test_two_process_accelerate_launch(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", reversal_pairs(400, seed=0))
    valid_rows = reversal_pairs(37, seed=1)  # odd: the last batch is uneven across processes
    valid = write_jsonl(tmp_path / "valid.jsonl", valid_rows)
    out = tmp_path / "ddp"
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0",
        str(REPO / "recipes" / "train_seq2seq.py"), "--train_file", str(train), "--validation_file", str(valid),
        "--output_dir", str(out), *TINY, "--d_model", "32", "--ffn_dim", "64", "--per_device_train_batch_size", "32",
        "--num_train_epochs", "2", "--per_device_eval_batch_size", "8", "--max_new_tokens", "10",
    ]
    done = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((out / "all_results.json").read_text())
    assert results["train_steps"] == 2 * 7  # 13 batches of 32 dealt to 2 processes: 7 steps each per epoch
    assert results["eval_samples"] == 37  # gather_for_metrics dropped the duplicates that even out the last batch
    predictions = (out / "generated_predictions.txt").read_text().splitlines()
    assert len(predictions) == 37
    # the order survived the gather: one process regenerating every source gives the same lines
    model = AutoModelForSeq2SeqLM.from_pretrained(out).eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    again = []
    for start in range(0, 37, 8):
        batch = tokenizer([r["source"] for r in valid_rows[start : start + 8]], padding=True, return_tensors="pt")
        again += tokenizer.batch_decode(model.generate(**batch, max_new_tokens=10), skip_special_tokens=True)
    assert [" ".join(p.split()) for p in again] == predictions
    shutil.rmtree(out)
