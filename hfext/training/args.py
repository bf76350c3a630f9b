"""Flags every recipe shares (named as in transformers' ``*_no_trainer.py`` examples), the Accelerator
set-up, saving a model directory atomically (with its remote code and model card, see :mod:`hfext.hub`), and
pushing it to the Hub (``--push_to_hub --hub_model_id you/name [--hub_token ...] [--hub_private_repo]``:
after each epoch with its checkpoint, and at the end, from the main process only)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed

from ..errors import see


def add_data_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    group.add_argument("--train_file", nargs="+", default=None, help="Text file(s), one sentence per line.")
    group.add_argument("--dataset_name", default=None, help="A dataset on the Hugging Face Hub (or a local one).")
    group.add_argument("--dataset_config_name", default=None, help="The dataset's configuration name.")
    group.add_argument("--dataset_split", default="train", help="Which split to train on.")
    group.add_argument("--text_column", default="text", help="The dataset column holding the text.")
    group.add_argument("--streaming", action="store_true", help="Stream the dataset instead of downloading it whole.")


def add_training_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("training")
    group.add_argument("--output_dir", required=True, help="Where the model, checkpoints and results go.")
    group.add_argument("--model_name_or_path", default=None, help="Continue training a saved model (path or Hub id).")
    group.add_argument("--seed", type=int, default=42, help="Same seed + same data = the same model.")
    group.add_argument("--num_train_epochs", type=int, default=5)
    group.add_argument("--max_train_steps", type=int, default=None, help="Stop after this many steps (overrides epochs).")
    group.add_argument("--learning_rate", type=float, default=None)
    group.add_argument("--lr_scheduler_type", default=None, help="A transformers scheduler name or word2vec_linear.")
    group.add_argument("--num_warmup_steps", type=int, default=0)
    group.add_argument("--gradient_accumulation_steps", type=int, default=1)
    group.add_argument("--max_grad_norm", type=float, default=None)
    group.add_argument(
        "--checkpointing_steps", default=None, help="Save a resumable checkpoint every N steps, or 'epoch'."
    )
    group.add_argument(
        "--resume_from_checkpoint", default=None, help="A step_N/epoch_N folder, or 'latest' in --output_dir."
    )
    group.add_argument("--logging_steps", type=int, default=50, help="Report the mean training loss every N steps.")
    group.add_argument("--with_tracking", action="store_true", help="Log metrics with the --report_to trackers.")
    group.add_argument("--report_to", default="tensorboard", help="Tracker(s) for --with_tracking (accelerate names).")
    group.add_argument("--cpu", action="store_true", help="Train on the CPU even if a GPU is present.")
    group.add_argument(
        "--push_to_hub", action="store_true",
        help="Push the model (with its remote code and a model card) to the Hub after each epoch and at the end.",
    )
    group.add_argument("--hub_model_id", default=None, help="The repo to push to, e.g. 'your-name/word2vec-text8'.")
    group.add_argument("--hub_token", default=None, help="A Hub token with write access (default: `hf auth login`'s).")
    group.add_argument("--hub_private_repo", action="store_true", help="Create the Hub repo as private.")


def validate_hub_args(args: argparse.Namespace) -> None:
    if getattr(args, "push_to_hub", False) and not getattr(args, "hub_model_id", None):
        raise ValueError(
            "--push_to_hub needs --hub_model_id (the repo to push to, e.g. --hub_model_id your-name/my-model)"
            + see("push-needs-id")
        )


def validate_common_args(args: argparse.Namespace) -> None:
    validate_hub_args(args)
    if getattr(args, "train_file", None) is None and getattr(args, "dataset_name", None) is None:
        raise ValueError("pass --train_file (text, one sentence per line) or --dataset_name" + see("flags-data"))
    if args.num_train_epochs < 1:
        raise ValueError(f"--num_train_epochs must be >= 1, got {args.num_train_epochs}" + see("training-flags"))
    if args.gradient_accumulation_steps < 1:
        raise ValueError(f"--gradient_accumulation_steps must be >= 1, got {args.gradient_accumulation_steps}"
                         + see("training-flags"))
    if args.learning_rate is not None and not args.learning_rate > 0:
        raise ValueError(f"--learning_rate must be > 0, got {args.learning_rate}" + see("training-flags"))
    for path in args.train_file or []:
        if not os.path.exists(path):
            raise FileNotFoundError(f"--train_file {path!r} does not exist" + see("corpus-missing"))
    workers = getattr(args, "workers", None)  # the word-vector recipes' kernel threads
    if workers is not None and workers < 1:
        raise ValueError(f"--workers must be >= 1 kernel threads, got {workers}; leave it out to use every core"
                         + see("pretraining-flags"))
    for flag in ("analogies_file", "similarity_file"):  # checked now: a typo must not cost a whole training run
        path = getattr(args, flag, None)
        if path is not None and not os.path.isfile(path):
            raise FileNotFoundError(f"--{flag} {path!r} is not a file; pass gensim's questions-words.txt / "
                                    "wordsim353.tsv format, or leave the flag out" + see("evaluation-files"))


def setup_accelerator(args: argparse.Namespace) -> Accelerator:
    """An Accelerator from the common flags; seeds every RNG and keeps CPU threads from oversubscribing."""
    validate_hub_args(args)  # before any work: a run must not train for hours and then fail to push
    kwargs = {"gradient_accumulation_steps": args.gradient_accumulation_steps, "cpu": args.cpu}
    if args.with_tracking:
        kwargs.update(log_with=args.report_to, project_dir=args.output_dir)
    accelerator = Accelerator(**kwargs)
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        level=logging.INFO if accelerator.is_local_main_process else logging.WARNING,
    )
    set_seed(args.seed)
    if accelerator.device.type == "cpu":
        # Same seed, same data -> bit-identical weights: multi-threaded CPU scatter-adds (embedding
        # backward) otherwise round differently from run to run.
        torch.use_deterministic_algorithms(True, warn_only=True)
    if accelerator.device.type == "cpu" and accelerator.num_processes > 1:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // accelerator.num_processes))
    if accelerator.is_main_process:
        os.makedirs(args.output_dir, exist_ok=True)
    accelerator.wait_for_everyone()
    return accelerator


# Flags that may change between a run and its resumption (they don't change what is computed).
NOT_RUN_CONFIG = frozenset({"resume_from_checkpoint", "checkpointing_steps", "logging_steps", "with_tracking", "report_to",
                            "workers", "analogies_file", "similarity_file", "output_dir",
                            "push_to_hub", "hub_model_id", "hub_token", "hub_private_repo"})


def run_config(args: argparse.Namespace, model_config, exclude=NOT_RUN_CONFIG) -> dict:
    """The settings a checkpoint must be resumed with (flags and the model's config), as plain JSON values;
    :func:`hfext.training.train` refuses to resume when they changed."""
    import json

    config = {key: value for key, value in vars(args).items() if key not in exclude}
    config["model_config"] = model_config.to_dict()
    config["model_config"].pop("transformers_version", None)
    return json.loads(json.dumps(config, default=str))


def init_tracking(accelerator: Accelerator, args: argparse.Namespace, project_name: str) -> None:
    """Start the ``--report_to`` trackers with the run's scalar flags as hyperparameters (if ``--with_tracking``)."""
    if args.with_tracking:
        hyperparameters = {k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool)) and k != "hub_token"}
        accelerator.init_trackers(project_name, hyperparameters)


def load_text_dataset(args: argparse.Namespace):
    """The ``--dataset_name`` split (from the Hub or a local dataset script/folder) via `datasets`."""
    from datasets import load_dataset

    return load_dataset(
        args.dataset_name, args.dataset_config_name, split=args.dataset_split, streaming=args.streaming
    )


def save_pretrained_atomic(model, tokenizer, output_dir: str | os.PathLike, extra_files: dict | None = None,
                           card: dict | None = None, state_dict: dict | None = None) -> None:
    """``save_pretrained`` into a temporary sibling folder, then move the files in: a crash mid-save never
    leaves a half-written model in ``output_dir``. The folder is a complete Hub repo: for an hfext model it
    also gets the family's remote code + ``auto_map`` (it loads with ``trust_remote_code=True`` where hfext is
    not installed) and a model card, ``README.md`` (``card``: keyword arguments of
    :func:`hfext.hub.model_card`, e.g. ``repo_id``, ``hyperparameters``, ``datasets``; results come from
    ``all_results.json`` when ``extra_files`` holds it). ``state_dict``: the weights to save instead of the
    model's own (an FSDP run's gathered ones, see :func:`full_state_dict`)."""
    from .. import hub

    output_dir = Path(output_dir)
    tmp = output_dir / ".saving.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp, state_dict=state_dict)
    if tokenizer is not None:
        tokenizer.save_pretrained(tmp)
    for name, text in (extra_files or {}).items():
        (tmp / name).write_text(text)
    if hub.add_remote_code(tmp) is not None:
        card = dict(card or {})
        card["repo_id"] = card.get("repo_id") or output_dir.resolve().name  # not the temporary folder's name
        hub.write_model_card(tmp, **card)
    umask = os.umask(0)
    os.umask(umask)
    for item in tmp.iterdir():
        if item.is_file():
            os.chmod(item, 0o666 & ~umask)  # some writers create 0600 files; model folders are meant to be shared
        os.replace(item, output_dir / item.name)
    tmp.rmdir()


def full_state_dict(accelerator: Accelerator, model) -> dict | None:
    """The whole model's weights for saving, gathered from every process's shards under FSDP (a collective:
    every process must call it, or the run hangs); ``None`` otherwise, where the model's own are complete."""
    from accelerate.utils import DistributedType

    if accelerator.distributed_type == DistributedType.FSDP:
        return accelerator.get_state_dict(model)
    return None


def _card_info(args: argparse.Namespace, accelerator: Accelerator | None = None) -> dict:
    """What a recipe run's model card says beyond the saved files: repo, hyperparameters, datasets, base model."""
    from ..hub import card_hyperparameters

    hyperparameters = card_hyperparameters(args)
    if accelerator is not None:
        hyperparameters["num_processes"] = accelerator.num_processes
    base = getattr(args, "model_name_or_path", None)
    return {
        "repo_id": getattr(args, "hub_model_id", None),
        "hyperparameters": hyperparameters,
        "datasets": [getattr(args, "dataset_name", None)] if getattr(args, "dataset_name", None) else None,
        "base_model": base if base and not os.path.exists(base) else None,  # only a Hub id is a base model
    }


def push_output_dir(args: argparse.Namespace, commit_message: str, checkpoint: str | os.PathLike | None = None):
    """Push ``--output_dir`` (its top-level files, and ``checkpoint`` if given) to ``--hub_model_id`` (main
    process only), then copy the pushed card (it pins the pushed commit) back, so the folder equals the repo.
    Returns :class:`hfext.hub.PushedRevision`."""
    from ..hub import CARD_FILE, push_to_hub

    pushed = push_to_hub(
        args.output_dir, args.hub_model_id, token=getattr(args, "hub_token", None),
        private=True if getattr(args, "hub_private_repo", False) else None, commit_message=commit_message,
        checkpoint=checkpoint,
    )
    tmp = Path(args.output_dir) / f".{CARD_FILE}.tmp"
    tmp.write_text(pushed.card)
    os.replace(tmp, Path(args.output_dir) / CARD_FILE)
    logging.getLogger(__name__).info("pushed %s to %s at %s", args.output_dir, pushed.repo_id, pushed.commit)
    return pushed


def finish_run(accelerator: Accelerator, args: argparse.Namespace, model, tokenizer, results: dict,
               extra_files: dict | None = None) -> dict:
    """A recipe's last steps: the main process saves the model, tokenizer and ``all_results.json`` (plus
    ``extra_files``, the remote code and a model card) atomically into ``--output_dir``, prints the results and,
    with ``--push_to_hub``, pushes the folder to ``--hub_model_id``; every process waits for it, and the
    trackers are closed. Returns ``results``. A failed push raises :class:`hfext.hub.HubPushError` (on the
    main process, after every process is done) and leaves the saved folder intact."""
    error = None
    state_dict = full_state_dict(accelerator, model)
    if accelerator.is_main_process:
        files = {"all_results.json": json.dumps(results, indent=2), **(extra_files or {})}
        save_pretrained_atomic(accelerator.unwrap_model(model), tokenizer, args.output_dir, files,
                               card=_card_info(args, accelerator), state_dict=state_dict)
        accelerator.print(json.dumps(results, indent=2))
        if getattr(args, "push_to_hub", False):
            from ..hub import HubPushError

            try:
                push_output_dir(args, "End of training")
            except HubPushError as failure:
                error = failure
    accelerator.wait_for_everyone()
    if args.with_tracking:
        accelerator.end_training()
    if error is not None:
        raise error
    return results


def train_with_args(accelerator: Accelerator, args: argparse.Namespace, model, optimizer, task, tracker_name: str,
                    settings: dict | None = None, progress_unit: str = "step", default_scheduler: str = "linear",
                    on_epoch_end=None, tokenizer=None):
    """Run :func:`hfext.training.train` as every recipe does: the LR schedule spans the run's optimizer steps
    (``--num_train_epochs`` or ``--max_train_steps``, over ``--gradient_accumulation_steps``), the trackers
    start, and checkpointing/resume/logging follow the common flags. ``settings`` are what a resume must match
    (default :func:`run_config`); ``on_epoch_end(epoch, state)`` runs after each epoch. With ``--push_to_hub``,
    as in transformers' no_trainer examples, the main process then saves the model (and ``tokenizer``) into
    ``--output_dir`` and pushes it with its ``epoch_N`` checkpoint ("Training in progress epoch N"; not after
    the last epoch: :func:`finish_run` pushes that); the other processes wait, and a failed push only warns.
    Returns (the final training state, its loss summed over every process, and seconds spent in the loop)."""
    import time

    from .loop import make_scheduler, train

    total_steps = task.steps_per_epoch() * args.num_train_epochs // args.gradient_accumulation_steps
    if args.max_train_steps:
        total_steps = min(total_steps, args.max_train_steps)
    scheduler = make_scheduler(args.lr_scheduler_type or default_scheduler, optimizer, total_steps, args.num_warmup_steps)
    init_tracking(accelerator, args, tracker_name)
    if settings is None:
        settings = run_config(args, accelerator.unwrap_model(model).config)
    if getattr(args, "push_to_hub", False):
        on_epoch_end = _pushing_each_epoch(accelerator, args, model, tokenizer, on_epoch_end)
    start = time.perf_counter()
    state = train(
        accelerator, model, optimizer, scheduler, task, args.num_train_epochs, args.output_dir, run_config=settings,
        checkpointing_steps=args.checkpointing_steps, resume_from_checkpoint=args.resume_from_checkpoint,
        logging_steps=args.logging_steps, max_grad_norm=args.max_grad_norm, max_train_steps=args.max_train_steps,
        with_tracking=args.with_tracking, progress_unit=progress_unit, on_epoch_end=on_epoch_end,
    )
    seconds = time.perf_counter() - start
    if accelerator.num_processes > 1:
        # Each process summed the loss of its own batches: the run's mean training loss is over all of them.
        totals = accelerator.reduce(torch.tensor([state.loss_sum, state.loss_count], dtype=torch.float64,
                                                 device=accelerator.device), reduction="sum")
        state.loss_sum, state.loss_count = float(totals[0]), int(totals[1])
    return state, seconds


def _pushing_each_epoch(accelerator: Accelerator, args: argparse.Namespace, model, tokenizer, on_epoch_end):
    def hook(epoch: int, state) -> None:
        if on_epoch_end is not None:
            on_epoch_end(epoch, state)
        if epoch >= args.num_train_epochs - 1:
            return
        accelerator.wait_for_everyone()
        state_dict = full_state_dict(accelerator, model)
        if accelerator.is_main_process:
            from ..hub import HubPushError

            save_pretrained_atomic(accelerator.unwrap_model(model), tokenizer, args.output_dir,
                                   card=_card_info(args, accelerator), state_dict=state_dict)
            checkpoint = Path(args.output_dir) / f"epoch_{epoch}"
            try:
                push_output_dir(args, f"Training in progress epoch {epoch}",
                                checkpoint=checkpoint if checkpoint.is_dir() else None)
            except HubPushError as error:  # a Hub outage must not cost the run; the final push reports it
                logging.getLogger(__name__).warning("epoch %d was not pushed: %s", epoch, error)
        accelerator.wait_for_everyone()

    return hook
