"""Recipes across processes, and the accelerate config files in recipes/configs/.

Every recipe family already has its own 2-process launch test (test_training.py, test_fasttext_training.py,
test_glove.py, test_elmo_training.py, test_gpt_recipe.py, test_bert_recipe.py, test_seq2seq_recipe.py); this
file adds the properties those don't check, on one representative launch (pretrain_gpt, tiny) started with
recipes/configs/cpu_2proc.yaml: two processes with per-device batch B train the same model as one process with
batch 2B (DDP averages the gradients), the evaluation over an odd number of held-out blocks counts each
once, the LR schedule is stepped once per optimizer step (not once per process, not once per accumulation
micro-step), and only the main process writes the output folder.
"""

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from accelerate.commands.config.config_args import load_config_from_file
from accelerate.commands.launch import _validate_launch_command, launch_command_parser
from accelerate.utils.launch import prepare_multi_gpu_env
from conftest import REPO, load_recipe
from safetensors.torch import load_file

CONFIGS = REPO / "recipes" / "configs"
TINY = ["--block_size", "32", "--n_embd", "32", "--n_layer", "1", "--n_head", "2", "--dropout", "0.0",
        "--num_samples", "0", "--num_warmup_steps", "2", "--learning_rate", "3e-3", "--logging_steps", "1"]

# Run a recipe under an audit hook that logs, per process (RANK), every file it opens for writing, renames,
# creates or removes below the output folder: Python's audit events see what the recipe really does.
AUDIT_WRAPPER = textwrap.dedent('''
    import os, runpy, sys
    out = os.path.realpath(sys.argv[1])
    log = open(sys.argv[2] + "." + os.environ.get("RANK", "0"), "w", buffering=1)
    WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def below(path):
        try:
            path = os.path.realpath(os.fsdecode(path))
        except TypeError:  # a file descriptor
            return None
        return os.path.relpath(path, out) if path == out or path.startswith(out + os.sep) else None

    def hook(event, args):
        paths = []
        if event == "open" and args[2] & WRITE:
            paths = [args[0]]
        elif event in ("os.rename", "os.mkdir", "os.remove", "os.rmdir", "shutil.rmtree"):
            paths = [a for a in args[:2] if isinstance(a, (str, bytes, os.PathLike))]
        for path in paths:
            relative = below(path)
            if relative is not None:
                log.write(event + " " + relative + "\\n")

    sys.addaudithook(hook)
    if os.environ.get("RANK") == "1":  # a process that is late with its share of a checkpoint (busy, descheduled)
        import time
        import accelerate.accelerator

        original = accelerate.accelerator.save_accelerator_state

        def late(*args, **kwargs):
            time.sleep(1.0)
            return original(*args, **kwargs)

        accelerate.accelerator.save_accelerator_state = late
    script = sys.argv[3]
    sys.argv = sys.argv[3:]
    runpy.run_path(script, run_name="__main__")
''')


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: threads only contend


def load_config(name):
    return load_config_from_file(str(CONFIGS / name))


def test_config_files_load_with_accelerate():
    configs = {path.name: load_config(path.name) for path in sorted(CONFIGS.glob("*.yaml"))}
    assert set(configs) == {"cpu_2proc.yaml", "gpu_bf16.yaml", "multi_gpu_ddp.yaml", "fsdp.yaml", "multi_node.yaml"}
    cpu = configs["cpu_2proc.yaml"]
    assert (cpu.distributed_type, cpu.num_processes, cpu.num_machines, cpu.mixed_precision, cpu.use_cpu) == (
        "MULTI_GPU", 2, 1, "no", True)
    gpu = configs["gpu_bf16.yaml"]
    assert (gpu.distributed_type, gpu.num_processes, gpu.mixed_precision, gpu.use_cpu) == ("NO", 1, "bf16", False)
    ddp = configs["multi_gpu_ddp.yaml"]
    assert (ddp.distributed_type, ddp.num_machines, ddp.gpu_ids, ddp.mixed_precision) == ("MULTI_GPU", 1, "all", "bf16")
    fsdp = configs["fsdp.yaml"]
    assert fsdp.distributed_type == "FSDP" and fsdp.fsdp_config["fsdp_version"] == 2
    assert fsdp.fsdp_config["fsdp_auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"  # wraps the _no_split_modules
    assert fsdp.fsdp_config["fsdp_state_dict_type"] == "SHARDED_STATE_DICT"
    node = configs["multi_node.yaml"]
    assert (node.distributed_type, node.num_machines, node.num_processes, node.machine_rank) == ("MULTI_GPU", 2, 16, 0)
    assert node.main_process_ip and node.main_process_port == 29500


@pytest.mark.parametrize("rank", [0, 1])
def test_each_machine_of_a_multi_node_launch_gets_its_rank(rank):
    """What ``accelerate launch --config_file multi_node.yaml --machine_rank R --main_process_ip IP`` hands to
    torchrun on each machine (accelerate's own argument handling; nothing is started)."""
    args = launch_command_parser().parse_args([
        "--config_file", str(CONFIGS / "multi_node.yaml"), "--machine_rank", str(rank), "--main_process_ip",
        "192.168.1.7", "recipes/pretrain_gpt.py", "--output_dir", "out",
    ])
    args, _, _ = _validate_launch_command(args)
    env = prepare_multi_gpu_env(args)
    assert (args.nnodes, args.node_rank, args.nproc_per_node) == ("2", rank, "8")  # 16 processes over 2 machines
    assert args.rdzv_endpoint == "192.168.1.7:29500"
    assert env["ACCELERATE_MIXED_PRECISION"] == "bf16"


def test_fsdp_config_reaches_the_processes_as_fsdp2():
    args = launch_command_parser().parse_args(["--config_file", str(CONFIGS / "fsdp.yaml"), "--num_processes", "4",
                                               "recipes/pretrain_gpt.py"])
    args, _, _ = _validate_launch_command(args)
    env = prepare_multi_gpu_env(args)
    assert args.use_fsdp and args.nproc_per_node == "4"
    assert (env["ACCELERATE_USE_FSDP"], env["FSDP_VERSION"], env["FSDP_AUTO_WRAP_POLICY"]) == (
        "true", "2", "TRANSFORMER_BASED_WRAP")


@pytest.fixture(scope="module")
def data(tmp_path_factory, gensim_data):
    """Training text, an odd number of held-out blocks, and one saved tokenizer both runs share."""
    from hfext.training.causal_lm import train_byte_level_bpe

    root = tmp_path_factory.mktemp("data")
    lines = [line.strip() for line in (gensim_data / "lee_background.cor").read_text().splitlines() if line.strip()]
    tokenizer = train_byte_level_bpe(lines, vocab_size=400)
    tokenizer.save_pretrained(root / "tokenizer")
    (root / "train.txt").write_text("\n".join(lines[:200]) + "\n")
    words = " ".join(lines[250:]).split()
    count = 1
    while len(tokenizer(" ".join(words[:count]))["input_ids"]) + 1 < 7 * 32:  # + end-of-text
        count += 1  # 7 blocks: the processes get 4 and 3
    (root / "valid.txt").write_text(" ".join(words[:count]) + "\n")
    return root


def test_two_processes_train_like_one_process_with_the_global_batch(data, tmp_path):
    flags = ["--train_file", str(data / "train.txt"), "--validation_file", str(data / "valid.txt"), "--tokenizer_name",
             str(data / "tokenizer"), *TINY, "--gradient_accumulation_steps", "2", "--max_train_steps", "4",
             "--checkpointing_steps", "8"]
    single = load_recipe("pretrain_gpt").main([*flags, "--output_dir", str(tmp_path / "one"),
                                               "--per_device_train_batch_size", "8"])

    out = tmp_path / "two"
    (tmp_path / "audit.py").write_text(AUDIT_WRAPPER)
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(CONFIGS / "cpu_2proc.yaml"),
        str(tmp_path / "audit.py"), str(out), str(tmp_path / "writes"), str(REPO / "recipes" / "pretrain_gpt.py"),
        *flags, "--output_dir", str(out), "--per_device_train_batch_size", "4",
    ]
    done = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    double = json.loads((out / "all_results.json").read_text())

    # the same optimizer steps on the same global batches: the same model, the same held-out loss
    assert double["train_steps"] == single["train_steps"] == 4
    assert double["eval_loss"] == pytest.approx(single["eval_loss"], rel=1e-5)
    assert double["train_loss"] == pytest.approx(single["train_loss"], rel=1e-4)  # both processes' batches
    one, two = load_file(tmp_path / "one" / "model.safetensors"), load_file(out / "model.safetensors")
    for name, value in one.items():
        torch.testing.assert_close(two[name], value, rtol=1e-4, atol=1e-5, msg=name)

    # each of the 7 held-out blocks counted once: one process evaluating them all gives the reported loss
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from hfext.training.causal_lm import group_texts

    tokenizer = AutoTokenizer.from_pretrained(out)
    blocks = group_texts(tokenizer, (data / "valid.txt").read_text().splitlines(), 32)
    assert len(blocks) == 7
    model = AutoModelForCausalLM.from_pretrained(out).eval()
    with torch.no_grad():
        assert float(model(input_ids=blocks, labels=blocks).loss) == pytest.approx(double["eval_loss"], rel=1e-5)
        without_last = float(model(input_ids=blocks[:6], labels=blocks[:6]).loss)
    assert abs(without_last - double["eval_loss"]) > 1e-4  # a dropped or doubled block would show

    # the LR schedule stepped once per optimizer step: 8 data steps / 2 accumulation = 4 (warmup 2, then cosine)
    state = json.loads((out / "step_8" / "hfext_training_state.json").read_text())
    assert state["global_step"] == 4 and state["step_in_epoch"] == 8
    scheduler = torch.load(out / "step_8" / "custom_checkpoint_0.pkl", weights_only=False)
    assert scheduler["last_epoch"] == scheduler["_step_count"] - 1 == 4
    expected = 3e-3 * 0.5 * (1.0 + math.cos(math.pi * (4 - 2) / (4 - 2)))  # transformers' cosine at the end: 0
    assert scheduler["_last_lr"][0] == pytest.approx(expected, abs=1e-12)
    optimizer = torch.load(out / "step_8" / "optimizer.bin", weights_only=False)
    assert {float(s["step"]) for s in optimizer["state"].values()} == {4.0}  # AdamW updated 4 times, not 8

    # every process's share of the checkpoint is in it, even when one is late (no rename before all have written)
    assert {"random_states_0.pkl", "random_states_1.pkl", "model.safetensors", "optimizer.bin"} <= {
        p.name for p in (out / "step_8").iterdir()}

    # only the main process wrote the output folder; the other wrote at most into the checkpoint being assembled
    writes = {rank: Path(f"{tmp_path / 'writes'}.{rank}").read_text().splitlines() for rank in (0, 1)}
    assert any(line.endswith(" all_results.json") for line in writes[0])
    assert any(line.startswith("os.rename ") and "model.safetensors" in line for line in writes[0])
    assert any(".step_8.tmp" in line for line in writes[0])
    stray = [line for line in writes[1] if not line.split(" ", 1)[1].startswith((".step_4.tmp", ".step_8.tmp"))]
    assert stray == [], stray


def test_token_classification_on_two_processes_predicts_each_sentence_once(tmp_path):
    """finetune_ner (the fine-tuning family without a 2-process test of its own): sentences of different lengths
    are padded across processes before gathering; the 21 validation sentences (not a multiple of 2 x 4) are each
    predicted once, in order, exactly as one process predicts them with the saved model, and the reported
    seqeval scores are those of these predictions. (Training itself is not compared with one process: the token
    loss is a mean over each process's labelled tokens, so DDP's average differs from one large batch.)"""
    from seqeval.metrics import f1_score
    from transformers import (
        AutoConfig,
        AutoModelForPreTraining,
        AutoModelForTokenClassification,
        AutoTokenizer,
    )

    from hfext.data.token_classification import read_conll, word_predictions
    from hfext.training.bert import train_wordpiece

    conll = REPO / "tests" / "fixtures" / "conll2003"
    tokenizer = train_wordpiece([" ".join(r["tokens"]) for r in read_conll(conll / "train.txt")], vocab_size=300,
                                lowercase=False)
    config = AutoConfig.for_model("hfext-bert", vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1,
                                  num_attention_heads=2, intermediate_size=64, max_position_embeddings=64,
                                  pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    AutoModelForPreTraining.from_config(config).save_pretrained(tmp_path / "bert")
    tokenizer.save_pretrained(tmp_path / "bert")
    out = tmp_path / "two"
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(CONFIGS / "cpu_2proc.yaml"),
               str(REPO / "recipes" / "finetune_ner.py"), "--model_name_or_path", str(tmp_path / "bert"),
               "--train_file", str(conll / "train.txt"), "--validation_file", str(conll / "valid.txt"),
               "--max_eval_samples", "21", "--max_seq_length", "64", "--num_train_epochs", "5", "--learning_rate",
               "3e-3", "--per_device_train_batch_size", "8", "--per_device_eval_batch_size", "4",
               "--output_dir", str(out)]
    done = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((out / "all_results.json").read_text())
    assert results["eval_sentences"] == 21

    sentences = [block.splitlines() for block in (out / "predictions.txt").read_text().split("\n\n") if block.strip()]
    rows = read_conll(conll / "valid.txt")[:21]
    assert [[line.split(" ")[0] for line in block] for block in sentences] == [r["tokens"] for r in rows]
    predicted = [[line.split(" ")[2] for line in block] for block in sentences]
    model = AutoModelForTokenClassification.from_pretrained(out).eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    expected = []
    with torch.no_grad():
        for row in rows:  # one sentence at a time, no padding: nothing shared with the distributed batches
            encoded = tokenizer(row["tokens"], is_split_into_words=True, truncation=True, max_length=64,
                                return_tensors="pt")
            ids = [-1 if w is None else w for w in encoded.word_ids()]
            expected.append(word_predictions(ids, model(**encoded).logits[0].argmax(-1).tolist(), len(row["tokens"]),
                                             labels))
    assert predicted == expected
    assert len({tag for tags in predicted for tag in tags}) > 2  # the model tags entities: not a trivial all-"O"
    assert results["eval_f1"] == pytest.approx(f1_score([r["ner_tags"] for r in rows], predicted), abs=1e-12)
