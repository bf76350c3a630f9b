"""The shared Accelerate loop and the word2vec recipe: learning, reproducibility, exact resume, clear
errors, and the 2-process `accelerate launch`."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from accelerate import Accelerator
from conftest import REPO, load_recipe
from hfext_word2vec import CBOWModel, SkipGramModel
from safetensors.numpy import load_file
from transformers import AutoModel

import hfext  # noqa: F401
from hfext.training import StepResult, TrainingDivergedError, TrainingTask, train
from hfext.training.word2vec import Word2VecTask
from hfext.vectors import KeyedVectors

recipe = load_recipe("pretrain_word2vec")


def run(gensim_data, output_dir, *extra):
    argv = ["--train_file", str(gensim_data / "lee_background.cor"), "--output_dir", str(output_dir),
            "--num_train_epochs", "2", "--batch_words", "2000", "--logging_steps", "5", *extra]
    return recipe.main(argv)


def weights(output_dir):
    return load_file(os.path.join(output_dir, "model.safetensors"))


def assert_same_weights(a, b):
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert np.array_equal(wa[key], wb[key]), key


@pytest.fixture(scope="module")
def trained(tmp_path_factory, gensim_data):
    output_dir = tmp_path_factory.mktemp("skipgram")
    results = run(gensim_data, output_dir, "--similarity_file", str(gensim_data / "wordsim353.tsv"))
    return output_dir, results


def test_recipe_learns_and_saves_a_loadable_model(trained):
    output_dir, results = trained
    # u starts at zero, so the first loss is (K + 1) log 2 = 4.16 per pair; training must go well below it
    assert results["train_loss"] < 3.4
    assert json.loads((output_dir / "all_results.json").read_text())["train_loss"] == results["train_loss"]
    model = AutoModel.from_pretrained(output_dir)
    assert isinstance(model, SkipGramModel)
    vectors = KeyedVectors.from_pretrained(output_dir)
    assert "[UNK]" not in vectors and len(vectors) == results["vocab_size"]
    assert not list(output_dir.glob(".saving.tmp"))


@pytest.mark.parametrize(
    "extra, min_accuracy, min_spearman",
    [([], 0.02, 0.33), (["--hs"], 0.03, 0.5), (["--model_type", "cbow"], 0.005, 0.2),
     (["--backend", "torch"], 0.015, 0.4)],
    ids=["skipgram-negative", "skipgram-hs", "cbow-negative", "skipgram-torch-backend"],
)
def test_vectors_reach_gensim_quality_on_a_real_corpus(gensim_data, tmp_path, extra, min_accuracy, min_spearman):
    """head500 (330k words), word2vec defaults. gensim 4.4 here: skip-gram analogy 0.033 / WordSim353
    rho 0.38; skip-gram hs 0.064 / 0.64; CBOW 0.005-0.017 / 0.05-0.29. The autograd backend (Adam,
    minibatches) measured 0.027 / 0.55."""
    results = recipe.main([
        "--train_file", str(gensim_data / "head500.noblanks.cor"), "--output_dir", str(tmp_path), "--seed", "1",
        "--analogies_file", str(gensim_data / "questions-words.txt"),
        "--similarity_file", str(gensim_data / "wordsim353.tsv"), *extra,
    ])
    assert results["analogy_accuracy"] > min_accuracy
    assert results["similarity_spearman"] > min_spearman


def test_same_seed_gives_bit_identical_vectors(trained, gensim_data, tmp_path):
    output_dir, _ = trained
    run(gensim_data, tmp_path, "--similarity_file", str(gensim_data / "wordsim353.tsv"))
    assert_same_weights(output_dir, tmp_path)
    run(gensim_data, tmp_path / "other", "--seed", "7")
    assert not np.array_equal(weights(output_dir)["center_embeddings.weight"], weights(tmp_path / "other")["center_embeddings.weight"])


def test_resume_mid_epoch_reaches_the_uninterrupted_result(trained, gensim_data, tmp_path, monkeypatch):
    output_dir, _ = trained
    original = Word2VecTask.step

    def crash_at_step_9(self, model, epoch, step, lr, next_lr):
        if epoch == 0 and step == 9:
            raise KeyboardInterrupt("simulated crash")
        return original(self, model, epoch, step, lr, next_lr)

    monkeypatch.setattr(Word2VecTask, "step", crash_at_step_9)
    with pytest.raises(KeyboardInterrupt):
        run(gensim_data, tmp_path, "--checkpointing_steps", "4", "--similarity_file", str(gensim_data / "wordsim353.tsv"))
    assert sorted(p.name for p in tmp_path.glob("step_*")) == ["step_4", "step_8"]
    monkeypatch.setattr(Word2VecTask, "step", original)
    results = run(gensim_data, tmp_path, "--checkpointing_steps", "4", "--resume_from_checkpoint", "latest",
                  "--similarity_file", str(gensim_data / "wordsim353.tsv"))
    assert_same_weights(output_dir, tmp_path)  # optimizer, LR position and data order all restored
    assert results["train_loss"] == pytest.approx(json.loads((output_dir / "all_results.json").read_text())["train_loss"])


def test_resume_on_the_autograd_backend_is_exact(gensim_data, tmp_path, monkeypatch):
    """The torch backend resumes through the same state: SGD, schedule and data position."""
    flags = ["--backend", "torch", "--batch_words", "1000", "--num_train_epochs", "1", "--checkpointing_steps", "10"]
    run(gensim_data, tmp_path / "full", *flags)
    original = Word2VecTask.step

    def crash_at_step_25(self, model, epoch, step, lr, next_lr):
        if step == 25:
            raise KeyboardInterrupt("simulated crash")
        return original(self, model, epoch, step, lr, next_lr)

    monkeypatch.setattr(Word2VecTask, "step", crash_at_step_25)
    with pytest.raises(KeyboardInterrupt):
        run(gensim_data, tmp_path / "resumed", *flags)
    monkeypatch.setattr(Word2VecTask, "step", original)
    run(gensim_data, tmp_path / "resumed", *flags, "--resume_from_checkpoint", "latest")
    assert_same_weights(tmp_path / "full", tmp_path / "resumed")


def test_resume_with_changed_settings_is_refused(gensim_data, tmp_path):
    run(gensim_data, tmp_path, "--checkpointing_steps", "10", "--max_train_steps", "10")
    with pytest.raises(ValueError, match=r"settings changed \(.*window: 5 -> 3"):
        run(gensim_data, tmp_path, "--checkpointing_steps", "10", "--max_train_steps", "10", "--window", "3",
            "--resume_from_checkpoint", str(tmp_path / "step_10"))
    with pytest.raises(FileNotFoundError, match="not an hfext checkpoint"):
        run(gensim_data, tmp_path, "--resume_from_checkpoint", str(tmp_path))


def test_cbow_learns(gensim_data, tmp_path):
    results = run(gensim_data, tmp_path, "--model_type", "cbow")
    assert isinstance(AutoModel.from_pretrained(tmp_path), CBOWModel)
    assert results["train_loss"] < 0.85 * 6 * np.log(2)  # negative sampling starts at (K + 1) log 2


def test_torch_backend_learns_like_the_kernel(gensim_data, tmp_path):
    results = run(gensim_data, tmp_path, "--backend", "torch", "--batch_words", "500")
    assert results["backend"] == "torch" and results["train_loss"] < 3.6


def test_full_softmax_picks_the_autograd_backend_by_default(gensim_data, tmp_path):
    # the fused kernels have no full softmax: --backend auto must not pick them for --softmax
    results = run(gensim_data, tmp_path, "--softmax", "--batch_words", "500", "--max_train_steps", "3")
    assert results["backend"] == "torch" and results["train_steps"] == 3 and np.isfinite(results["train_loss"])


def test_evaluation_files_are_checked_before_training_and_never_cost_the_model(gensim_data, tmp_path, caplog):
    with pytest.raises(ValueError, match="--workers must be >= 1 kernel threads, got 0"):
        run(gensim_data, tmp_path / "a", "--workers", "0")
    with pytest.raises(FileNotFoundError, match="--analogies_file 'nothere.txt' is not a file") as error:
        run(gensim_data, tmp_path / "a", "--analogies_file", "nothere.txt")
    assert str(error.value).endswith("(see docs/troubleshooting.md#evaluation-files)")
    assert not (tmp_path / "a").exists()  # refused before any work
    # a file in the wrong format is found only when evaluating: a warning, and the trained model is saved
    corpus = str(gensim_data / "lee_background.cor")
    results = run(gensim_data, tmp_path / "b", "--similarity_file", corpus, "--max_train_steps", "2")
    assert "similarity_spearman" not in results and (tmp_path / "b" / "model.safetensors").is_file()
    assert "evaluation skipped, the model is saved anyway" in caplog.text


def test_continue_training_from_a_saved_model(trained, gensim_data, tmp_path):
    output_dir, results = trained
    more = run(gensim_data, tmp_path, "--model_name_or_path", str(output_dir), "--num_train_epochs", "1")
    assert more["train_loss"] < results["train_loss"] + 0.05  # starts from trained vectors


def test_bad_inputs_give_clear_errors(trained, gensim_data, tmp_path):
    output_dir, _ = trained
    with pytest.raises(SystemExit):
        run(gensim_data, tmp_path, "--negative", "0")
    with pytest.raises(ValueError, match="window must be >= 1"):
        run(gensim_data, tmp_path, "--window", "0")
    with pytest.raises(ValueError, match="vector_size must be >= 1"):
        run(gensim_data, tmp_path, "--vector_size", "0")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(ValueError, match="empty"):
        recipe.main(["--train_file", str(empty), "--output_dir", str(tmp_path / "o")])
    with pytest.raises(ValueError, match="no word reaches min_count=50000"):
        run(gensim_data, tmp_path, "--min_count", "50000")
    # checkpoints of another model type, or with missing / corrupt weights
    other = tmp_path / "other_type"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ValueError, match="'bert' model"):
        run(gensim_data, tmp_path, "--model_name_or_path", str(other))
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (broken / name).write_bytes((output_dir / name).read_bytes())
    with pytest.raises(FileNotFoundError, match="no model.safetensors"):
        run(gensim_data, tmp_path, "--model_name_or_path", str(broken))
    (broken / "model.safetensors").write_bytes((output_dir / "model.safetensors").read_bytes()[:1000])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        run(gensim_data, tmp_path, "--model_name_or_path", str(broken))


class NaNTask(TrainingTask):
    fused = True

    def steps_per_epoch(self):
        return 5

    def step(self, model, epoch, step, lr, next_lr):
        return StepResult(float("nan") if step == 3 else 1.0, 1)


def test_loop_stops_clearly_on_nan(tmp_path):
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TrainingDivergedError, match="loss became nan at epoch 0, step 3"):
        train(Accelerator(cpu=True), model, optimizer, None, NaNTask(), 1, tmp_path)


class ConstantTask(TrainingTask):
    fused = True

    def steps_per_epoch(self):
        return 4

    def step(self, model, epoch, step, lr, next_lr):
        return StepResult(1.0, 1)


def test_on_epoch_end_runs_after_each_epoch_and_its_checkpoint(tmp_path):
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    seen = []

    def on_epoch_end(epoch, state):
        seen.append((epoch, state.global_step, (tmp_path / f"epoch_{epoch}").is_dir()))

    train(Accelerator(cpu=True), model, optimizer, None, ConstantTask(), 3, tmp_path, checkpointing_steps="epoch",
          on_epoch_end=on_epoch_end)
    assert seen == [(0, 4, True), (1, 8, True), (2, 12, True)]


def test_two_process_accelerate_launch(gensim_data, tmp_path):
    env = dict(os.environ, ACCELERATE_USE_CPU="1", OMP_NUM_THREADS="1")
    outputs = []
    for name in ("a", "b"):
        command = [
            sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
            "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0",
            str(REPO / "recipes" / "pretrain_word2vec.py"), "--train_file", str(gensim_data / "lee_background.cor"),
            "--output_dir", str(tmp_path / name), "--num_train_epochs", "2",
        ]
        done = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        outputs.append(tmp_path / name)
    results = json.loads((outputs[0] / "all_results.json").read_text())
    assert results["backend"] == "torch" and results["train_loss"] < 3.6
    assert isinstance(AutoModel.from_pretrained(outputs[0]), SkipGramModel)
    assert_same_weights(*outputs)  # deterministic for a given seed under 2 processes


def test_dataset_input_equals_file_input(gensim_data, tmp_path, monkeypatch):
    """`--dataset_name` (here a local folder of text files read by `datasets`) streams the same corpus
    as `--train_file`, so the models are identical."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tmp_path / "dataset"
    folder.mkdir()
    (folder / "train.txt").write_bytes((gensim_data / "lee_background.cor").read_bytes())
    run(gensim_data, tmp_path / "from_file", "--num_train_epochs", "1")
    recipe.main(["--dataset_name", str(folder), "--text_column", "text", "--output_dir", str(tmp_path / "from_dataset"),
                 "--num_train_epochs", "1", "--batch_words", "2000"])
    assert_same_weights(tmp_path / "from_file", tmp_path / "from_dataset")
    with pytest.raises(ValueError, match="no column 'body'"):
        recipe.main(["--dataset_name", str(folder), "--text_column", "body", "--output_dir", str(tmp_path / "x")])


def test_tracking_writes_tensorboard_events_with_the_mean_loss(gensim_data, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run(gensim_data, tmp_path, "--with_tracking", "--num_train_epochs", "1")
    event_files = list(tmp_path.rglob("events.out.tfevents.*"))
    assert event_files
    events = EventAccumulator(str(event_files[0].parent))
    events.Reload()
    losses = [e.value for e in events.Scalars("train_loss")]
    assert len(losses) >= 4 and losses[-1] < losses[0]  # one true mean per logging interval, decreasing
