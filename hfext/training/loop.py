"""The one Accelerate training loop every hfext recipe uses.

A recipe describes its work as a :class:`TrainingTask` (how many steps an epoch has, and what one step
does); :func:`train` runs it with everything a recipe should not rewrite: the LR schedule, gradient
accumulation, checkpoints every ``--checkpointing_steps`` that resume to exactly the uninterrupted
result (weights, optimizer, schedule, RNG and the mid-epoch data position), a progress bar on the main
process, tracking, the mean training loss per logging interval, and a clear stop on a non-finite loss.

A task either returns a loss for the loop to back-propagate (``fused = False``: any model, any device,
DDP across processes), or applies its own update and returns the loss it measured (``fused = True``:
e.g. word2vec's multi-threaded CPU kernel).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator

from ..errors import DocumentedError, see

logger = logging.getLogger(__name__)

STATE_FILE = "hfext_training_state.json"


class TrainingDivergedError(DocumentedError, FloatingPointError):
    """The training loss became NaN or infinite."""

    docs = "diverged"


@dataclass
class StepResult:
    loss_sum: float  # summed loss over the step's examples
    count: int  # number of examples (pairs, tokens, sequences...) the loss was summed over
    words: int = 0  # input words consumed, for words/s (0 if not meaningful)
    loss: torch.Tensor | None = None  # for non-fused tasks: the tensor to back-propagate


class TrainingTask:
    """What a recipe plugs into :func:`train`."""

    fused: bool = False

    def steps_per_epoch(self) -> int:
        raise NotImplementedError

    def step(self, model, epoch: int, step: int, lr: float, next_lr: float) -> StepResult:
        """Run one step. ``lr``/``next_lr``: the learning rate now and after this step (fused tasks decay
        within the step)."""
        raise NotImplementedError


@dataclass
class TrainingState:
    global_step: int = 0  # optimizer steps done
    epoch: int = 0
    step_in_epoch: int = 0  # data steps done in `epoch`
    loss_sum: float = 0.0
    loss_count: int = 0
    words: int = 0
    run_config: dict[str, Any] = field(default_factory=dict)

    @property
    def mean_loss(self) -> float:
        """The training loss per prediction over everything trained so far."""
        return self.loss_sum / max(self.loss_count, 1)


def linear_word2vec_schedule(optimizer, num_training_steps: int, min_ratio: float = 1e-4):
    """word2vec.c's learning rate: linear from the initial value down to ``min_ratio`` times it."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: max(min_ratio, 1.0 - step / max(1, num_training_steps))
    )


def make_scheduler(name: str, optimizer, num_training_steps: int, num_warmup_steps: int = 0):
    if name == "word2vec_linear":
        return linear_word2vec_schedule(optimizer, num_training_steps)
    from transformers import get_scheduler

    return get_scheduler(name, optimizer, num_warmup_steps=num_warmup_steps, num_training_steps=num_training_steps)


def parse_checkpointing_steps(value: str | int | None) -> int | str | None:
    if value in (None, "", "none", "None"):
        return None
    if isinstance(value, int) or str(value).isdigit():
        return int(value)
    if value == "epoch":
        return "epoch"
    raise ValueError(f"`checkpointing_steps` must be either a number or `epoch`. `{value}` passed." + see("checkpointing-steps"))


def latest_checkpoint(output_dir: str | os.PathLike) -> Path | None:
    """The newest ``step_N`` / ``epoch_N`` folder holding a complete checkpoint, if any."""
    directory = Path(output_dir)
    if not directory.is_dir():
        return None
    candidates = [p for p in directory.iterdir() if re.fullmatch(r"(step|epoch)_\d+", p.name) and (p / STATE_FILE).exists()]
    if not candidates:
        return None
    return max(candidates, key=lambda p: json.loads((p / STATE_FILE).read_text())["global_step"])


def _save_checkpoint(accelerator: Accelerator, state: TrainingState, output_dir: Path, name: str) -> None:
    final = output_dir / name
    tmp = output_dir / f".{name}.tmp"
    if accelerator.is_main_process and tmp.exists():
        shutil.rmtree(tmp)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    # save_state returns without a barrier: every process (each writes its RNG state) must be done before the
    # folder is renamed under the late ones.
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (tmp / STATE_FILE).write_text(json.dumps(state.__dict__, indent=2))
        if final.exists():
            # Move the old copy aside in one step: a kill while deleting it in place could leave a folder that
            # still holds its state file but not all its weights, which latest_checkpoint would pick.
            stale = output_dir / f".{name}.old"
            if stale.exists():
                shutil.rmtree(stale)
            os.replace(final, stale)
            os.replace(tmp, final)
            shutil.rmtree(stale)
        else:
            os.replace(tmp, final)  # a checkpoint folder only ever exists complete
    accelerator.wait_for_everyone()


def _flatten(config: dict, prefix: str = "") -> dict:
    """{"model": {"window": 5}} -> {"model.window": 5}."""
    flat = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _load_checkpoint(accelerator: Accelerator, path: Path, run_config: dict) -> TrainingState:
    state_path = path / STATE_FILE
    if not state_path.exists():
        raise FileNotFoundError(
            f"{str(path)!r} is not an hfext checkpoint ({STATE_FILE} missing); pass a step_N or epoch_N folder "
            "written with --checkpointing_steps, or 'latest'" + see("resume-no-checkpoint")
        )
    saved = json.loads(state_path.read_text())
    # nested settings (the model config) compare key by key, so the message names `model.window`, not two dicts
    old_config, new_config = _flatten(saved["run_config"]), _flatten(json.loads(json.dumps(run_config)))
    changed = {key: (old_config.get(key), value) for key, value in new_config.items() if old_config.get(key) != value}
    if changed:
        details = ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in sorted(changed.items()))
        raise ValueError(
            f"cannot resume from {str(path)!r}: the run's settings changed ({details}); resume with the original "
            "settings or start a new run in another --output_dir" + see("resume-settings-changed")
        )
    accelerator.load_state(str(path))
    return TrainingState(**saved)


def train(
    accelerator: Accelerator,
    model,
    optimizer,
    scheduler,
    task: TrainingTask,
    num_epochs: int,
    output_dir: str | os.PathLike,
    run_config: dict | None = None,
    checkpointing_steps: int | str | None = None,
    resume_from_checkpoint: str | None = None,
    logging_steps: int = 50,
    max_grad_norm: float | None = None,
    max_train_steps: int | None = None,
    with_tracking: bool = False,
    progress_unit: str = "step",
    on_epoch_end=None,
) -> TrainingState:
    """Run ``task`` for ``num_epochs`` epochs (or ``max_train_steps`` steps); returns the final state.

    ``model``, ``optimizer`` must already be ``accelerator.prepare``-d; ``scheduler`` is stepped once per
    optimizer step and saved with the checkpoints (it must not be prepared, which would step it once per
    process). ``on_epoch_end(epoch, state)``, if given, runs on every process after each completed epoch
    (after its ``epoch`` checkpoint): per-epoch evaluation, pushing to the Hub."""
    from tqdm.auto import tqdm

    output_dir = Path(output_dir)
    checkpointing_steps = parse_checkpointing_steps(checkpointing_steps)
    accumulation = accelerator.gradient_accumulation_steps
    steps_per_epoch = task.steps_per_epoch()
    total_data_steps = steps_per_epoch * num_epochs
    if max_train_steps is not None:
        total_data_steps = min(total_data_steps, max_train_steps * accumulation)
    if scheduler is not None:
        accelerator.register_for_checkpointing(scheduler)
    state = TrainingState(run_config=dict(run_config or {}))

    if resume_from_checkpoint:
        path = latest_checkpoint(output_dir) if resume_from_checkpoint == "latest" else Path(resume_from_checkpoint)
        if path is None:
            raise FileNotFoundError(f"--resume_from_checkpoint latest: no checkpoint found in {str(output_dir)!r}"
                                        + see("resume-no-checkpoint"))
        state = _load_checkpoint(accelerator, path, state.run_config)
        accelerator.print(f"Resumed from {path} at epoch {state.epoch}, step {state.step_in_epoch}")

    done = state.epoch * steps_per_epoch + state.step_in_epoch
    progress = tqdm(
        total=total_data_steps, initial=done, disable=not accelerator.is_local_main_process, unit=progress_unit,
        desc="training",
    )
    interval_loss, interval_count, interval_words = 0.0, 0, 0
    interval_start = time.perf_counter()
    if scheduler is not None:
        base_lrs = list(scheduler.base_lrs)  # not the param groups: a resumed schedule has changed those
    else:
        base_lrs = [group["lr"] for group in optimizer.param_groups] if optimizer is not None else [0.0]

    def current_lr(offset: int = 0) -> float:
        if scheduler is None:
            return base_lrs[0]
        if offset == 0:
            return scheduler.get_last_lr()[0]
        # The lr after `offset` more optimizer steps, without touching the scheduler's state.
        lambdas = getattr(scheduler, "lr_lambdas", None)
        if lambdas:
            return base_lrs[0] * lambdas[0](scheduler.last_epoch + offset)
        return scheduler.get_last_lr()[0]

    epoch = state.epoch
    while epoch < num_epochs and done < total_data_steps:
        for step in range(state.step_in_epoch, steps_per_epoch):
            if done >= total_data_steps:
                break
            if task.fused:
                result = task.step(model, epoch, step, current_lr(), current_lr(1))
                if scheduler is not None:
                    with warnings.catch_warnings():  # the fused task updates without optimizer.step()
                        warnings.filterwarnings("ignore", message=".*lr_scheduler.step.*before.*optimizer.step")
                        scheduler.step()
                state.global_step += 1
            else:
                with accelerator.accumulate(model):
                    result = task.step(model, epoch, step, current_lr(), current_lr(1))
                    accelerator.backward(result.loss)
                    if max_grad_norm and accelerator.sync_gradients:
                        accelerator.clip_grad_norm_(model.parameters(), max_grad_norm)
                    optimizer.step()
                    if accelerator.sync_gradients and scheduler is not None:
                        scheduler.step()
                    optimizer.zero_grad(set_to_none=True)
                if accelerator.sync_gradients:
                    state.global_step += 1
            if not math.isfinite(result.loss_sum):
                raise TrainingDivergedError(
                    f"training loss became {result.loss_sum} at epoch {epoch}, step {step} (learning rate "
                    f"{current_lr():.3g}); lower --learning_rate, add --max_grad_norm, or check the data"
                )
            done += 1
            state.step_in_epoch = step + 1
            state.loss_sum += result.loss_sum
            state.loss_count += result.count
            state.words += result.words
            interval_loss += result.loss_sum
            interval_count += result.count
            interval_words += result.words
            progress.update(1)
            if done % logging_steps == 0 or done == total_data_steps:
                elapsed = max(time.perf_counter() - interval_start, 1e-9)
                mean_loss = interval_loss / max(interval_count, 1)  # a true mean over the interval's examples
                logs = {"train_loss": mean_loss, "learning_rate": current_lr(), "epoch": epoch + state.step_in_epoch / steps_per_epoch}
                if interval_words:
                    logs["words_per_second"] = interval_words * accelerator.num_processes / elapsed
                progress.set_postfix(loss=f"{mean_loss:.4f}", lr=f"{current_lr():.2e}")
                logger.info("step %d: %s", done, logs)
                if with_tracking:
                    accelerator.log(logs, step=done)
                interval_loss, interval_count, interval_words = 0.0, 0, 0
                interval_start = time.perf_counter()
            if isinstance(checkpointing_steps, int) and done % checkpointing_steps == 0:
                _save_checkpoint(accelerator, state, output_dir, f"step_{done}")
        epoch += 1
        if state.step_in_epoch >= steps_per_epoch:
            state.epoch, state.step_in_epoch = epoch, 0
            if checkpointing_steps == "epoch":
                _save_checkpoint(accelerator, state, output_dir, f"epoch_{epoch - 1}")
            if on_epoch_end is not None:
                on_epoch_end(epoch - 1, state)
    progress.close()
    return state
