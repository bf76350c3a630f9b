"""recipes/pretrain_bert.py: a tiny BERT pretrained with MLM + NSP on gensim's Lee corpus learns (held-out
MLM loss below uniform and falling), the output folder loads with the Auto classes and the fill-mask
pipeline; documents are read in both text layouts; MLM-only runs; two processes under `accelerate launch`."""

import json
import math
import os
import subprocess
import sys

import pytest
import torch
from conftest import REPO, load_recipe
from transformers import AutoConfig, AutoModelForPreTraining, AutoTokenizer, pipeline

import hfext  # noqa: F401
from hfext.training.bert import read_documents, train_wordpiece

TINY = ["--max_seq_length", "64", "--vocab_size", "1000", "--hidden_size", "64", "--num_hidden_layers", "2",
        "--num_attention_heads", "4", "--dropout", "0.0", "--per_device_train_batch_size", "16",
        "--num_warmup_steps", "10", "--learning_rate", "1e-3", "--logging_steps", "20", "--validation_split_percentage", "10"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: threads only contend


@pytest.fixture(scope="module")
def recipe():
    return load_recipe("pretrain_bert")


def test_tiny_bert_learns_the_lee_corpus_and_reloads(recipe, gensim_data, tmp_path):
    out = tmp_path / "bert"
    results = recipe.main(["--train_file", str(gensim_data / "lee_background.cor"), "--output_dir", str(out), *TINY,
                           "--max_train_steps", "60", "--eval_steps", "20", "--whole_word_mask"])
    history = [entry["eval_mlm_loss"] for entry in results["eval_history"]]
    assert [entry["step"] for entry in results["eval_history"]] == [20, 40, 60]
    assert history[-1] < history[0] < math.log(results["vocab_size"])  # below uniform guessing, and falling
    assert 0.0 <= results["eval_nsp_accuracy"] <= 1.0 and results["train_steps"] == 60
    assert json.loads((out / "all_results.json").read_text())["eval_mlm_loss"] == pytest.approx(history[-1])
    model = AutoModelForPreTraining.from_pretrained(out)
    assert model.config.model_type == "hfext-bert" and model.config.max_position_embeddings == 64
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer("fire", "rain")["token_type_ids"][-1] == 1
    predictions = pipeline("fill-mask", model=str(out), device="cpu")("The fire was [MASK] by the wind.", top_k=2)
    assert len(predictions) == 2 and predictions[0]["score"] >= predictions[1]["score"]


def test_mlm_only_and_documents(recipe, gensim_data, tmp_path):
    results = recipe.main(["--train_file", str(gensim_data / "lee_background.cor"), "--output_dir", str(tmp_path / "m"),
                           *TINY, "--max_train_steps", "5", "--no_nsp"])
    assert "eval_nsp_accuracy" not in results and results["train_steps"] == 5
    assert read_documents(["One. Two! Three?\n", "Four.\n"]) == [["One.", "Two!", "Three?"], ["Four."]]
    assert read_documents(["a b\n", "c d\n", "\n", "e f\n"]) == [["a b", "c d"], ["e f"]]  # BERT's blank-line format
    tokenizer = train_wordpiece(["the cat sat on the mat"] * 5, vocab_size=60)
    assert tokenizer.mask_token == "[MASK]" and tokenizer.convert_ids_to_tokens(tokenizer("cat")["input_ids"])[0] == "[CLS]"
    with pytest.raises(ValueError, match="--mlm_probability must be in"):
        recipe.parse_args(["--train_file", str(gensim_data / "lee_background.cor"), "--output_dir", str(tmp_path),
                           "--mlm_probability", "0"])
    (tmp_path / "one.txt").write_text("Only one document here.\n")
    with pytest.raises(ValueError, match=r"found 1 document\(s\); BERT pretraining needs at least 2"):
        recipe.main(["--train_file", str(tmp_path / "one.txt"), "--output_dir", str(tmp_path / "o"), *TINY])


def test_two_process_accelerate_launch(tmp_path, gensim_data):
    out = tmp_path / "ddp"
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0",
        str(REPO / "recipes" / "pretrain_bert.py"), "--train_file", str(gensim_data / "lee_background.cor"),
        "--output_dir", str(out), *TINY, "--max_train_steps", "10",
    ]
    done = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((out / "all_results.json").read_text())
    assert results["train_steps"] == 10 and math.isfinite(results["eval_mlm_loss"])
    assert AutoModelForPreTraining.from_pretrained(out).config.model_type == "hfext-bert"


def test_resume_after_a_crash_reaches_the_uninterrupted_weights(recipe, gensim_data, tmp_path, monkeypatch):
    """Checkpointed optimizer, schedule, data position and the per-step seeded masking restore exactly."""
    from safetensors.torch import load_file

    from hfext.training.bert import BertPretrainingTask

    # One tokenizer for both runs: the WordPiece trainer breaks frequency ties in hash-map order.
    lines = [line.strip() for line in (gensim_data / "lee_background.cor").read_text().splitlines() if line.strip()]
    train_wordpiece(lines, 1000).save_pretrained(tmp_path / "tokenizer")
    flags = ["--train_file", str(gensim_data / "lee_background.cor"), *TINY, "--max_train_steps", "8",
             "--checkpointing_steps", "3", "--validation_split_percentage", "0", "--tokenizer_name", str(tmp_path / "tokenizer")]
    recipe.main([*flags, "--output_dir", str(tmp_path / "full")])
    original = BertPretrainingTask.step

    def crash_at_step_5(self, model, epoch, step, lr, next_lr):
        if step == 5:
            raise KeyboardInterrupt("simulated crash")
        return original(self, model, epoch, step, lr, next_lr)

    monkeypatch.setattr(BertPretrainingTask, "step", crash_at_step_5)
    with pytest.raises(KeyboardInterrupt):
        recipe.main([*flags, "--output_dir", str(tmp_path / "resumed")])
    monkeypatch.setattr(BertPretrainingTask, "step", original)
    recipe.main([*flags, "--output_dir", str(tmp_path / "resumed"), "--resume_from_checkpoint", "latest"])
    full = load_file(tmp_path / "full" / "model.safetensors")
    resumed = load_file(tmp_path / "resumed" / "model.safetensors")
    assert full.keys() == resumed.keys()
    for name in full:
        torch.testing.assert_close(resumed[name], full[name], rtol=0, atol=0)


class ProcessView:
    """One process's view of a run on ``num_processes`` (accelerate's attributes); ``reduce`` keeps this
    process's own sums so the test can add them up."""

    def __init__(self, process_index: int, num_processes: int):
        self.process_index, self.num_processes, self.device, self.sums = process_index, num_processes, torch.device("cpu"), None

    def reduce(self, tensor, reduction):
        self.sums = tensor.clone()
        return tensor


def test_evaluation_scores_the_same_masks_on_any_number_of_processes(gensim_data):
    from hfext.data import DataCollatorForBertPretraining, build_nsp_examples
    from hfext.training.bert import evaluate_pretraining

    lines = (gensim_data / "lee_background.cor").read_text().splitlines()[:60]
    tokenizer = train_wordpiece(lines, vocab_size=500)
    examples = build_nsp_examples(read_documents(lines), tokenizer, max_seq_length=48, seed=1)
    assert len(examples) > 20
    config = AutoConfig.for_model("hfext-bert", vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1,
                                  num_attention_heads=2, intermediate_size=64, max_position_embeddings=48)
    model = AutoModelForPreTraining.from_config(config)
    collator = DataCollatorForBertPretraining(tokenizer)
    one = ProcessView(0, 1)
    single = evaluate_pretraining(one, model, examples, collator, batch_size=4, seed=7)
    views = [ProcessView(rank, 3) for rank in range(3)]
    for view in views:
        evaluate_pretraining(view, model, examples, collator, batch_size=4, seed=7)
    combined = sum(view.sums for view in views)
    assert torch.allclose(combined, one.sums, rtol=1e-9)  # same masked tokens, same NSP pairs, same losses
    assert one.sums[2] > 0 and single["eval_mlm_loss"] > 0
