"""hfext.loading: the one safe loader refuses pickle weights (unless opted in), missing or damaged safetensors,
a config of another model type and a tokenizer larger than the model's vocabulary, each with a message that
names the bad file or value and the fix."""

import json
import shutil

import pytest
import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
)

import hfext  # noqa: F401
from hfext.loading import (
    CorruptWeightsError,
    LoadingError,
    ModelTypeMismatchError,
    TokenizerMismatchError,
    UnsafeWeightsError,
    check_tokenizer_fits,
    load_pretrained,
    load_tokenizer_for,
)
from hfext.training.causal_lm import train_byte_level_bpe

TEXTS = ["the cat sat on the mat", "a dog ran in the park", "birds sing in the morning light"] * 20


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: threads only contend


@pytest.fixture(scope="module")
def tokenizer():
    return train_byte_level_bpe(TEXTS, vocab_size=300)


@pytest.fixture(scope="module")
def saved(tmp_path_factory, tokenizer):
    """A tiny hfext-gpt folder (safetensors weights, config, tokenizer)."""
    torch.manual_seed(0)
    config = AutoConfig.for_model("hfext-gpt", vocab_size=len(tokenizer), n_positions=32, n_embd=32, n_layer=1,
                                  n_head=2, bos_token_id=0, eos_token_id=0, pad_token_id=0)
    model = AutoModelForCausalLM.from_config(config)
    directory = tmp_path_factory.mktemp("gpt")
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory, model.state_dict()


def copy_of(saved, tmp_path, keep=("config.json", "tokenizer.json", "tokenizer_config.json")):
    source, _ = saved
    target = tmp_path / "copy"
    target.mkdir()
    for name in keep:
        shutil.copy(source / name, target / name)
    return target


def assert_weights(model, state_dict):
    loaded = model.state_dict()
    for name, value in state_dict.items():
        assert torch.equal(loaded[name], value), name


def test_a_good_folder_loads_with_its_tokenizer(saved):
    directory, weights = saved
    model = load_pretrained(directory, AutoModelForCausalLM, model_types=["hfext-gpt"])
    assert type(model).__name__ == "GPTForCausalLM"
    assert_weights(model, weights)
    tokenizer = load_tokenizer_for(model)  # default: the folder the model came from
    assert len(tokenizer) == model.config.vocab_size


def test_pickle_weights_are_refused_unless_the_caller_opts_in(saved, tmp_path):
    _, weights = saved
    target = copy_of(saved, tmp_path)
    torch.save(weights, target / "pytorch_model.bin")
    with pytest.raises(UnsafeWeightsError, match=r"only as pickle \(pytorch_model.bin\).*allow_pickle=True") as info:
        load_pretrained(target, AutoModelForCausalLM)
    assert "model.safetensors" in str(info.value)  # says how to convert
    assert_weights(load_pretrained(target, AutoModelForCausalLM, allow_pickle=True), weights)
    # other pickle names count too, not just transformers' own
    (target / "pytorch_model.bin").rename(target / "weights.pt")
    with pytest.raises(UnsafeWeightsError, match=r"weights.pt"):
        load_pretrained(target, AutoModelForCausalLM)


def test_safetensors_win_over_a_pickle_file_beside_them(saved, tmp_path):
    _, weights = saved
    target = copy_of(saved, tmp_path, keep=("config.json", "model.safetensors"))
    torch.save({name: torch.zeros_like(value) for name, value in weights.items()}, target / "pytorch_model.bin")
    assert_weights(load_pretrained(target, AutoModelForCausalLM), weights)  # the .bin was never unpickled


def test_missing_or_damaged_safetensors_name_the_file(saved, tmp_path):
    directory, _ = saved
    target = copy_of(saved, tmp_path)
    with pytest.raises(FileNotFoundError, match=r"has no model.safetensors; the checkpoint is incomplete"):
        load_pretrained(target, AutoModelForCausalLM)
    data = (directory / "model.safetensors").read_bytes()
    (target / "model.safetensors").write_bytes(data[: len(data) // 2])  # a download or write cut short
    with pytest.raises(CorruptWeightsError, match=r"model.safetensors' is not a readable safetensors file.*truncated"):
        load_pretrained(target, AutoModelForCausalLM)
    (target / "model.safetensors").write_bytes(b"\x00" * 64)  # garbage header
    with pytest.raises(CorruptWeightsError, match=r"model.safetensors"):
        load_pretrained(target, AutoModelForCausalLM)


def test_sharded_checkpoints_check_every_shard(saved, tmp_path):
    directory, weights = saved
    model = load_pretrained(directory, AutoModelForCausalLM)
    sharded = tmp_path / "sharded"
    model.save_pretrained(sharded, max_shard_size="20KB")
    shards = sorted(sharded.glob("model-*.safetensors"))
    assert len(shards) > 1 and (sharded / "model.safetensors.index.json").exists()
    assert_weights(load_pretrained(sharded, AutoModelForCausalLM), weights)
    data = shards[-1].read_bytes()
    shards[-1].write_bytes(data[:-10])
    with pytest.raises(CorruptWeightsError, match=shards[-1].name):
        load_pretrained(sharded, AutoModelForCausalLM)
    shards[-1].unlink()
    with pytest.raises(FileNotFoundError, match=rf"missing the weight shard\(s\) \['{shards[-1].name}'\]"):
        load_pretrained(sharded, AutoModelForCausalLM)


def test_a_config_of_another_model_type_names_both_types(saved, tmp_path):
    directory, _ = saved
    with pytest.raises(ModelTypeMismatchError, match=r"holds a 'hfext-gpt' model \(GPTConfig\), not 'hfext-bert'"):
        load_pretrained(directory, model_types=["hfext-bert"])
    # the Auto class itself has no model for the type: say which Auto classes do load it
    with pytest.raises(ModelTypeMismatchError, match=r"AutoModelForSeq2SeqLM cannot load.*AutoModelForCausalLM"):
        load_pretrained(directory, AutoModelForSeq2SeqLM)
    unknown = tmp_path / "unknown"
    unknown.mkdir()
    (unknown / "config.json").write_text(json.dumps({"model_type": "hfext-nonexistent"}))
    with pytest.raises(LoadingError, match=r"(?s)cannot read a model config from .*unknown.*install the plugin"):
        load_pretrained(unknown)
    with pytest.raises(OSError, match=r"cannot read a model config from .*nowhere"):
        load_pretrained(tmp_path / "nowhere")


def test_a_tokenizer_larger_than_the_vocabulary_is_refused(saved, tmp_path):
    directory, _ = saved
    model = load_pretrained(directory, AutoModelForCausalLM)
    bigger = AutoTokenizer.from_pretrained(directory)
    bigger.add_tokens(["<new1>", "<new2>"])  # added tokens, model not resized: ids past the embedding
    bigger.save_pretrained(tmp_path / "bigger")
    with pytest.raises(TokenizerMismatchError, match=rf"has {len(bigger)} tokens but the 'hfext-gpt' model embeds only "
                                                     rf"{model.config.vocab_size}.*resize_token_embeddings"):
        load_tokenizer_for(model, tmp_path / "bigger")
    # after growing the embedding the same tokenizer fits
    model.resize_token_embeddings(len(bigger))
    check_tokenizer_fits(AutoTokenizer.from_pretrained(tmp_path / "bigger"), model)
    with pytest.raises(OSError, match=r"no tokenizer found at .*nothing"):
        load_tokenizer_for(model, tmp_path / "nothing")


def test_recipes_refuse_before_training(saved, tmp_path, gensim_data):
    """``--model_name_or_path`` in a recipe goes through the same checks, before any training starts."""
    from conftest import load_recipe

    directory, weights = saved
    recipe = load_recipe("pretrain_gpt")
    corpus = str(gensim_data / "lee_background.cor")
    common = ["--train_file", corpus, "--block_size", "16", "--max_train_steps", "1", "--num_samples", "0"]
    pickled = copy_of(saved, tmp_path)
    torch.save(weights, pickled / "pytorch_model.bin")
    with pytest.raises(UnsafeWeightsError, match="allow_pickle=True"):
        recipe.main([*common, "--model_name_or_path", str(pickled), "--output_dir", str(tmp_path / "a")])
    bigger = AutoTokenizer.from_pretrained(directory)
    bigger.add_tokens(["<new>"])
    bigger.save_pretrained(tmp_path / "bigger")
    with pytest.raises(TokenizerMismatchError, match=rf"the tokenizer of '.*bigger' has {len(bigger)} tokens"):
        recipe.main([*common, "--model_name_or_path", str(directory), "--tokenizer_name", str(tmp_path / "bigger"),
                     "--output_dir", str(tmp_path / "b")])
    with pytest.raises(ModelTypeMismatchError, match=r"'hfext-gpt' model.*not 'hfext-skipgram' or 'hfext-cbow'"):
        load_recipe("pretrain_word2vec").main(["--train_file", corpus, "--model_name_or_path", str(directory),
                                                "--output_dir", str(tmp_path / "c")])


HUB_CLIENT = """
import sys
import torch
from huggingface_hub import HfApi
from transformers import AutoModelForCausalLM

from hfext.loading import UnsafeWeightsError, load_pretrained

folder, pickled = sys.argv[1], sys.argv[2]
api = HfApi()
for name, path in (("tester/safe", folder), ("tester/pickled", pickled)):
    api.create_repo(name)
    api.upload_folder(repo_id=name, folder_path=path)
first = api.list_repo_commits("tester/safe")[0].commit_id
model = load_pretrained("tester/safe", AutoModelForCausalLM, model_types=["hfext-gpt"], revision=first)
reference = AutoModelForCausalLM.from_pretrained(folder)
assert all(torch.equal(v, reference.state_dict()[k]) for k, v in model.state_dict().items())
try:
    load_pretrained("tester/pickled", AutoModelForCausalLM)
except UnsafeWeightsError as error:
    print("REFUSED:", error)
    from huggingface_hub import try_to_load_from_cache
    assert not isinstance(try_to_load_from_cache("tester/pickled", "pytorch_model.bin"), str), "pickle was downloaded"
else:
    raise SystemExit("a pickle-only Hub repo was loaded")
opted_in = load_pretrained("tester/pickled", AutoModelForCausalLM, allow_pickle=True)
assert all(torch.equal(v, reference.state_dict()[k]) for k, v in opted_in.state_dict().items())
print("OK")
"""


def test_hub_repos_get_the_same_checks(saved, tmp_path):
    """A Hub id: a repo with only pickle weights is refused before any weights are downloaded (its file list is
    read first); a safetensors repo loads at a pinned revision. Real client, loopback Hub (tests/hub_server.py)."""
    import os
    import subprocess
    import sys

    from hub_server import HubServer

    directory, weights = saved
    pickled = copy_of(saved, tmp_path)
    torch.save(weights, pickled / "pytorch_model.bin")
    server = HubServer(tmp_path / "hub").start()
    try:
        env = {**os.environ, "HF_ENDPOINT": server.url, "HF_TOKEN": server.token, "HF_HOME": str(tmp_path / "home"),
               "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "OMP_NUM_THREADS": "1"}
        env.pop("HF_HUB_OFFLINE", None)
        done = subprocess.run([sys.executable, "-c", HUB_CLIENT, str(directory), str(pickled)], env=env,
                              capture_output=True, text=True, check=False, timeout=300)
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr[-3000:]
    assert "REFUSED: Hub repo 'tester/pickled' holds weights only as pickle (pytorch_model.bin)" in done.stdout
    assert "allow_pickle=True" in done.stdout and done.stdout.rstrip().endswith("OK")


def test_a_checkpoint_folder_or_a_mistyped_path_is_named_as_such(tmp_path, monkeypatch):
    import argparse

    from hfext.training.finetune import load_tokenizer
    from hfext.training.loop import STATE_FILE

    checkpoint = tmp_path / "run" / "step_10"
    checkpoint.mkdir(parents=True)
    (checkpoint / STATE_FILE).write_text("{}")
    with pytest.raises((OSError, ValueError), match=r"is a training checkpoint \(pass it to --resume_from_checkpoint\), not a saved "
                                      rf"model; pass the run's --output_dir '{tmp_path / 'run'}'") as error:
        load_pretrained(str(checkpoint))
    assert str(error.value).endswith("(see docs/troubleshooting.md#model-dir)")
    with pytest.raises(OSError, match="there is no folder '.*/no/such/model' .check the path.") as error:
        load_tokenizer(argparse.Namespace(tokenizer_name=None, model_name_or_path=str(tmp_path / "no/such/model")))
    assert str(error.value).endswith("(see docs/troubleshooting.md#model-dir)")
    monkeypatch.chdir(tmp_path)  # a bare name that is no folder here: the Hub is tried, and that is said
    with pytest.raises(OSError, match="'bret' is no local folder .check the path., and loading it as a Hub model id"):
        load_tokenizer(argparse.Namespace(tokenizer_name=None, model_name_or_path="bret"))
