"""recipes/pretrain_gpt.py: a tiny GPT pretrained on gensim's Lee corpus learns (validation perplexity far
below uniform, and falling), the output folder loads with the Auto classes and generates; the byte-level BPE,
block grouping and AdamW groups do what they claim; two processes under `accelerate launch` agree with one."""

import json
import os
import subprocess
import sys

import pytest
import torch
from conftest import REPO, load_recipe
from transformers import AutoModelForCausalLM, AutoTokenizer

import hfext  # noqa: F401
from hfext.training.causal_lm import (
    CausalLMTask,
    group_texts,
    parameter_groups,
    train_byte_level_bpe,
    unigram_perplexity,
)

TINY = ["--block_size", "64", "--vocab_size", "512", "--n_embd", "64", "--n_layer", "2", "--n_head", "4",
        "--dropout", "0.0", "--per_device_train_batch_size", "16", "--num_warmup_steps", "10", "--learning_rate", "3e-3",
        "--logging_steps", "20", "--max_new_tokens", "10", "--num_samples", "2"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: threads only contend


@pytest.fixture(scope="module")
def recipe():
    return load_recipe("pretrain_gpt")


def test_tiny_gpt_learns_the_lee_corpus_and_reloads(recipe, gensim_data, tmp_path):
    out = tmp_path / "gpt"
    results = recipe.main(["--train_file", str(gensim_data / "lee_background.cor"), "--output_dir", str(out), *TINY,
                           "--max_train_steps", "200", "--num_train_epochs", "10", "--eval_steps", "50",
                           "--validation_split_percentage", "10"])
    history = [entry["perplexity"] for entry in results["eval_history"]]
    assert [entry["step"] for entry in results["eval_history"]] == [50, 100, 150, 200]
    assert history[-1] < history[0] and history[-1] < 0.45 * results["vocab_size"]  # uniform guessing = vocab_size
    assert results["train_steps"] == 200
    # measured 124 vs 197: context was learned, not just token frequencies
    assert results["perplexity"] < 0.8 * results["unigram_perplexity"]
    saved = json.loads((out / "all_results.json").read_text())
    assert saved["perplexity"] == pytest.approx(results["perplexity"])
    assert len((out / "samples.txt").read_text().splitlines()) == 2
    model = AutoModelForCausalLM.from_pretrained(out).eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert model.config.model_type == "hfext-gpt" and model.config.n_positions == 64
    assert tokenizer.decode(tokenizer("The court ruled").input_ids) == "The court ruled"  # byte-level round trip
    # the saved model's own perplexity on the held-out blocks is the reported one
    lines = [line.strip() for line in (gensim_data / "lee_background.cor").read_text().splitlines() if line.strip()]
    blocks = group_texts(tokenizer, lines[-int(len(lines) * 0.1):], 64)
    with torch.no_grad():
        loss = model(input_ids=blocks, labels=blocks).loss
    assert float(loss) == pytest.approx(results["eval_loss"], rel=1e-4)


def test_bpe_blocks_and_optimizer_groups():
    tokenizer = train_byte_level_bpe(["héllo wörld", "hello world"] * 10, vocab_size=300)
    assert tokenizer.decode(tokenizer("naïve 🙂 text").input_ids) == "naïve 🙂 text"  # no unknown bytes
    assert tokenizer.eos_token == tokenizer.pad_token == "<|endoftext|>"
    blocks = group_texts(tokenizer, ["hello world"] * 10, 8)
    ids = tokenizer("hello world", add_special_tokens=False).input_ids
    stream = (ids + [tokenizer.eos_token_id]) * 10
    assert blocks.shape == (len(stream) // 8, 8) and blocks.flatten().tolist() == stream[: blocks.numel()]
    two = torch.tensor([[5, 6] * 4])
    assert unigram_perplexity(two, two, 300) == pytest.approx(308 / 5)  # add-one: p = (4 + 1) / (8 + 300) for both
    with pytest.raises(ValueError, match="fewer than one --block_size block"):
        group_texts(tokenizer, ["hi"], 64)
    from hfext_gpt import GPTConfig, GPTForCausalLM

    model = GPTForCausalLM(GPTConfig(vocab_size=300, n_positions=16, n_embd=16, n_layer=1, n_head=2))
    decay, no_decay = parameter_groups(model, 0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert {names[id(p)] for p in no_decay["params"]} == {n for n, p in model.named_parameters() if p.ndim == 1}
    assert any("ln_1" in names[id(p)] for p in no_decay["params"]) and any(".bias" in names[id(p)] for p in no_decay["params"])
    assert "transformer.wte.weight" in {names[id(p)] for p in decay["params"]}
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))  # tied matrix once
    task = CausalLMTask(torch.arange(50).view(10, 5), batch_size=3, seed=0, rank=1, world_size=2)
    assert task.steps_per_epoch() == 2
    seen = torch.cat([CausalLMTask(task.blocks, 3, 0, r, 2).batch(0, s) for s in range(2) for r in range(2)])
    assert sorted(seen[:, 0].tolist())[:10] == list(range(0, 50, 5))  # every block in the epoch


def test_bad_input(recipe, tmp_path, gensim_data):
    corpus = str(gensim_data / "lee_background.cor")
    with pytest.raises(ValueError, match="--block_size must be >= 1"):
        recipe.parse_args(["--train_file", corpus, "--output_dir", str(tmp_path), "--block_size", "0"])
    with pytest.raises(FileNotFoundError, match="--validation_file"):
        recipe.parse_args(["--train_file", corpus, "--output_dir", str(tmp_path), "--validation_file", "nope.txt"])
    with pytest.raises(ValueError, match=r"n_embd \(64\) is not a multiple of n_head \(5\)"):
        recipe.main(["--train_file", corpus, "--output_dir", str(tmp_path), *TINY, "--n_head", "5", "--max_train_steps", "1"])


def test_two_process_accelerate_launch(tmp_path, gensim_data):
    out = tmp_path / "ddp"
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0",
        str(REPO / "recipes" / "pretrain_gpt.py"), "--train_file", str(gensim_data / "lee_background.cor"),
        "--output_dir", str(out), *TINY, "--max_train_steps", "10", "--validation_split_percentage", "10",
    ]
    done = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((out / "all_results.json").read_text())
    assert results["train_steps"] == 10
    # the perplexity reduced over two processes equals one process evaluating every held-out block
    model = AutoModelForCausalLM.from_pretrained(out).eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    lines = [line.strip() for line in (gensim_data / "lee_background.cor").read_text().splitlines() if line.strip()]
    blocks = group_texts(tokenizer, lines[-int(len(lines) * 0.1):], 64)
    with torch.no_grad():
        loss = model(input_ids=blocks, labels=blocks).loss
    assert float(loss) == pytest.approx(results["eval_loss"], rel=1e-4)


def test_torch_compile_trains_like_eager_and_saves_plain_weights(recipe, gensim_data, tmp_path):
    """``--torch_compile``: the compiled model computes what the eager one does (same losses, same weights up to
    float rounding), checkpoints resume in an eager run, and the saved folder has no ``_orig_mod.`` names."""
    pytest.importorskip("torch._inductor")
    corpus = str(gensim_data / "lee_background.cor")
    common = ["--train_file", corpus, *TINY, "--max_train_steps", "6", "--eval_steps", "0", "--num_samples", "0",
              "--validation_split_percentage", "10", "--checkpointing_steps", "3"]
    eager = recipe.main([*common, "--output_dir", str(tmp_path / "eager")])
    compiled = recipe.main([*common, "--output_dir", str(tmp_path / "compiled"), "--torch_compile"])
    assert compiled["train_loss"] == pytest.approx(eager["train_loss"], rel=1e-4)
    assert compiled["eval_loss"] == pytest.approx(eager["eval_loss"], rel=1e-4)
    from safetensors import safe_open

    with safe_open(str(tmp_path / "compiled" / "model.safetensors"), "pt") as f:
        names = list(f.keys())
    assert names and not any("_orig_mod" in name for name in names)
    # a compiled run's checkpoint resumes without compiling, to the eager run's result
    resumed = recipe.main([*common, "--output_dir", str(tmp_path / "compiled"),
                           "--resume_from_checkpoint", str(tmp_path / "compiled" / "step_3")])
    assert resumed["eval_loss"] == pytest.approx(eager["eval_loss"], rel=1e-4)
