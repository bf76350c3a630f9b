"""Kill and resume: a recipe killed with SIGKILL in the middle of its run and resumed with
``--resume_from_checkpoint latest`` ends with exactly the weights and metrics of an uninterrupted run, and a
checkpoint torn by a kill during its write is never picked as the latest."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from accelerate import Accelerator
from conftest import REPO
from safetensors.torch import load_file

from hfext.training.loop import STATE_FILE, latest_checkpoint

TINY = ["--block_size", "32", "--n_embd", "32", "--n_layer", "1", "--n_head", "2", "--dropout", "0.1",
        "--num_samples", "0", "--num_warmup_steps", "2", "--learning_rate", "3e-3", "--logging_steps", "1",
        "--per_device_train_batch_size", "4", "--max_train_steps", "40"]


@pytest.fixture(scope="module")
def data(tmp_path_factory, gensim_data):
    from hfext.training.causal_lm import train_byte_level_bpe

    root = tmp_path_factory.mktemp("data")
    lines = [line.strip() for line in (gensim_data / "lee_background.cor").read_text().splitlines() if line.strip()]
    train_byte_level_bpe(lines, vocab_size=300).save_pretrained(root / "tokenizer")
    (root / "train.txt").write_text("\n".join(lines[:60]) + "\n")
    (root / "valid.txt").write_text("\n".join(lines[60:70]) + "\n")
    return root


def command(data, output_dir, *extra):
    return [sys.executable, str(REPO / "recipes" / "pretrain_gpt.py"), "--train_file", str(data / "train.txt"),
            "--validation_file", str(data / "valid.txt"), "--tokenizer_name", str(data / "tokenizer"), *TINY,
            "--output_dir", str(output_dir), *extra]


ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def run(data, output_dir, *extra):
    done = subprocess.run(command(data, output_dir, *extra), check=False, env=ENV, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((output_dir / "all_results.json").read_text())


def complete_steps(output_dir):
    return sorted(int(p.name.split("_")[1]) for p in output_dir.glob("step_*") if (p / STATE_FILE).exists())


def test_sigkill_mid_run_then_resume_latest_equals_an_uninterrupted_run(data, tmp_path):
    straight = run(data, tmp_path / "straight")

    killed = tmp_path / "killed"
    process = subprocess.Popen(command(data, killed, "--checkpointing_steps", "1"), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    try:
        while len(complete_steps(killed)) < 5 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.005)
        assert process.poll() is None, "the run finished before it could be killed: " + process.stderr.read().decode()[-2000:]
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    steps = complete_steps(killed)
    assert 5 <= steps[-1] < 40 and not (killed / "all_results.json").exists()  # killed mid-run, nothing final
    # what a kill during a checkpoint write leaves (whether or not this kill happened to land there): a
    # .step_N.tmp folder, possibly already holding its state file; and a step folder missing its state file
    torn = killed / f".step_{steps[-1] + 1}.tmp"
    if not torn.exists():
        shutil.copytree(killed / f"step_{steps[-1]}", torn)
    (torn / STATE_FILE).write_text(json.dumps({"global_step": steps[-1] + 1}))
    half = killed / f"step_{steps[-1] + 2}"
    half.mkdir(exist_ok=True)
    (half / "model.safetensors").write_bytes(b"")
    assert latest_checkpoint(killed) == killed / f"step_{steps[-1]}"

    resumed = run(data, killed, "--resume_from_checkpoint", "latest")
    assert resumed["train_steps"] == straight["train_steps"] == 40
    assert resumed["eval_loss"] == straight["eval_loss"]  # bit-identical: weights, optimizer, schedule, RNG, data
    assert resumed["train_loss"] == pytest.approx(straight["train_loss"], rel=1e-12)
    a, b = load_file(tmp_path / "straight" / "model.safetensors"), load_file(killed / "model.safetensors")
    assert a.keys() == b.keys()
    for name in a:
        assert (a[name] == b[name]).all(), name


def test_latest_checkpoint_skips_torn_ones(tmp_path):
    def complete(name, global_step):
        path = tmp_path / name
        path.mkdir()
        (path / STATE_FILE).write_text(json.dumps({"global_step": global_step}))
        return path

    assert latest_checkpoint(tmp_path / "missing") is None
    assert latest_checkpoint(tmp_path) is None
    complete("step_2", 2)
    best = complete("step_10", 10)  # newest by global step, not by name order
    complete("epoch_0", 4)
    complete(".step_12.tmp", 12)  # killed after the state file, before the rename
    (tmp_path / "step_11").mkdir()  # no state file
    complete("step_13_backup", 13)  # not a checkpoint name
    assert latest_checkpoint(tmp_path) == best


def test_a_torn_checkpoint_is_refused_by_name_and_latest_needs_one(tmp_path):
    from hfext.training.loop import StepResult, TrainingTask, train

    class Idle(TrainingTask):
        fused = True

        def steps_per_epoch(self):
            return 2

        def step(self, model, epoch, step, lr, next_lr):
            return StepResult(0.0, 1)

    (tmp_path / "step_1").mkdir()
    with pytest.raises(FileNotFoundError, match=r"step_1' is not an hfext checkpoint \(hfext_training_state.json missing\)"):
        train(Accelerator(cpu=True), None, None, None, Idle(), 1, tmp_path, resume_from_checkpoint=str(tmp_path / "step_1"))
    with pytest.raises(FileNotFoundError, match="--resume_from_checkpoint latest: no checkpoint found"):
        train(Accelerator(cpu=True), None, None, None, Idle(), 1, tmp_path, resume_from_checkpoint="latest")


@pytest.mark.slow
def test_two_process_run_killed_and_resumed_equals_an_uninterrupted_one(data, tmp_path):
    """The same under ``accelerate launch`` on 2 CPU processes: the whole process group is SIGKILLed (a lost
    machine), and the resumed run restores each process's RNG state and data shard."""
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
              str(REPO / "recipes" / "configs" / "cpu_2proc.yaml")]
    env = {**ENV, "ACCELERATE_USE_CPU": "1"}

    def launched(output_dir, *extra):
        return [*launch, *command(data, output_dir, *extra)[1:]]

    done = subprocess.run(launched(tmp_path / "straight"), check=False, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    killed = tmp_path / "killed"
    process = subprocess.Popen(launched(killed, "--checkpointing_steps", "1"), env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 240
    try:
        while len(complete_steps(killed)) < 3 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.005)
        assert process.poll() is None, "the run finished before it could be killed"
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the launcher and both workers at once
        process.wait()
    assert 3 <= complete_steps(killed)[-1] < 40 and not (killed / "all_results.json").exists()
    done = subprocess.run(launched(killed, "--resume_from_checkpoint", "latest"), check=False, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    straight = json.loads((tmp_path / "straight" / "all_results.json").read_text())
    resumed = json.loads((killed / "all_results.json").read_text())
    assert resumed["train_steps"] == straight["train_steps"] and resumed["eval_loss"] == straight["eval_loss"]
    a, b = load_file(tmp_path / "straight" / "model.safetensors"), load_file(killed / "model.safetensors")
    for name in a:
        assert (a[name] == b[name]).all(), name


def test_resaving_a_checkpoint_replaces_it_whole(tmp_path):
    """Resuming from an older checkpoint saves the later ones again: each is replaced in one step (moved aside,
    then deleted), so no half-deleted folder with a state file can be left for ``latest`` to pick."""
    import torch

    from hfext.training.loop import StepResult, TrainingTask, train

    class Regression(TrainingTask):
        def steps_per_epoch(self):
            return 6

        def step(self, model, epoch, step, lr, next_lr):
            x = torch.full((4, 2), float(step + 1))
            loss = ((model(x) - 1.0) ** 2).mean()
            return StepResult(float(loss.detach()) * 4, 4, loss=loss)

    def run_loop(output_dir, resume=None):
        torch.manual_seed(0)
        accelerator = Accelerator(cpu=True)
        model = torch.nn.Linear(2, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
        model, optimizer = accelerator.prepare(model, optimizer)
        train(accelerator, model, optimizer, None, Regression(), 1, output_dir, checkpointing_steps=1,
              resume_from_checkpoint=resume)
        return accelerator.unwrap_model(model).weight.detach().clone()

    straight = run_loop(tmp_path / "a")
    (tmp_path / "a" / "step_5" / "marker").write_text("from the first run")
    again = run_loop(tmp_path / "a", resume=str(tmp_path / "a" / "step_3"))
    assert torch.equal(again, straight)
    assert not (tmp_path / "a" / "step_5" / "marker").exists()  # step_5 was saved anew, not merged into
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [f"step_{i}" for i in range(1, 7)]  # no leftovers
    assert latest_checkpoint(tmp_path / "a") == tmp_path / "a" / "step_6"
