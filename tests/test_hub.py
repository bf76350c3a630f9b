"""Hub sharing against a Hub-compatible loopback server (tests/hub_server.py) with the real huggingface_hub
client: every family is pushed, then loaded with trust_remote_code=True in a process where `import hfext`
fails; revisions pin weights; the model card's metadata; recipes pushing each epoch and at the end (one
and two processes); clear errors.

The client runs in subprocesses because HF_ENDPOINT must be set before huggingface_hub is imported.
Helpers below the tests run in those subprocesses (this module imports nothing of hfext at the top, so the
hfext-less process can import it too).
"""

import hashlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from hub_server import HubServer

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
WORDS = ["the", "cat", "sat", "on", "mat", "dog", "a", "rug"]
SENTENCE = "the cat sat on a rug"
# Makes `import hfext` (and every hfext_* plugin package) fail, as on a machine without hfext installed.
BLOCK_HFEXT = """
import importlib.abc, sys
class _NoHfext(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "hfext" or name.startswith(("hfext.", "hfext_")):
            raise ModuleNotFoundError(f"No module named {name!r} (hfext is not installed here)")
sys.meta_path.insert(0, _NoHfext())
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    server = HubServer(tmp_path_factory.mktemp("hub")).start()
    yield server
    server.stop()


def client_env(hub, home: Path, **extra) -> dict:
    env = {
        **os.environ, "HF_ENDPOINT": hub.url, "HF_TOKEN": hub.token, "HF_HOME": str(home / "hf_home"),
        "HF_MODULES_CACHE": str(home / "modules"), "HF_HUB_DISABLE_TELEMETRY": "1", "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "TRANSFORMERS_VERBOSITY": "error",
        **extra,
    }
    env.pop("HF_HUB_OFFLINE", None)
    return env


def run_python(code: str, env: dict, *args, cwd=None, timeout=300):
    done = subprocess.run([sys.executable, "-c", code, *map(str, args)], env=env, capture_output=True, text=True, check=False,
                          timeout=timeout, cwd=cwd)
    assert done.returncode == 0, done.stderr[-4000:]
    return done


def call_here(function: str, *args, block_hfext=False) -> str:
    """Code for `python -c` that calls this module's `function(*sys.argv[1:])`."""
    prelude = BLOCK_HFEXT if block_hfext else ""
    return f"{prelude}\nimport sys\nsys.path.insert(0, {str(TESTS)!r})\nimport test_hub\ntest_hub.{function}(*sys.argv[1:])\n"


# --------------------------------------------------------------------------------------------------------
# every family: push, then load without hfext


@pytest.fixture(scope="module")
def pushed_and_loaded(hub, tmp_path_factory):
    """Push all seven families (and the transformers push_to_hub route) in one process with hfext, load them
    all in one process without it; returns (what was pushed, what was loaded, seconds)."""
    work = tmp_path_factory.mktemp("families")
    env = client_env(hub, work)
    run_python(call_here("_push_all"), env, work / "pushed.json", work, cwd=work)
    pushed = json.loads((work / "pushed.json").read_text())
    run_python(call_here("_load_all", block_hfext=True), env, work / "pushed.json", work / "loaded.json", cwd=work)
    return pushed, json.loads((work / "loaded.json").read_text())


FAMILIES = ["word2vec", "glove", "fasttext", "elmo", "transformer", "gpt", "bert"]


@pytest.mark.parametrize("family", FAMILIES)
def test_family_loads_from_the_hub_without_hfext(pushed_and_loaded, hub, family):
    pushed, loaded = pushed_and_loaded
    sent, got = pushed[family], loaded[family]
    assert got["hfext_importable"] is False
    files = hub.files(sent["repo"], sent["commit"])
    config = json.loads(files["config.json"])
    # auto_map covers every Auto class the family registers, plus AutoConfig; the code files are in the commit
    assert set(sent["autos"]) | {"AutoConfig"} <= set(config["auto_map"])
    for target in config["auto_map"].values():
        assert f"{target.split('.')[0]}.py" in files
    assert "model.safetensors" in files and "README.md" not in files  # the card is the next commit
    for auto in sent["autos"]:
        assert got[auto]["module"].startswith("transformers_modules."), got[auto]["module"]
        assert got[auto]["state"] == sent[auto]["state"], auto  # every weight and buffer, bit for bit
        assert got[auto]["output"] == pytest.approx(sent[auto]["output"], rel=1e-5, abs=1e-6), auto
    assert got["tokenizer"]["ids"] == sent["tokenizer"]["ids"]
    # and the task class gives what the original model gave
    assert got[sent["autos"][0]]["output"] == pytest.approx(sent["original_output"], rel=1e-5, abs=1e-6)
    if family == "elmo":  # its own tokenizer class travels as remote code too
        assert got["tokenizer"]["module"].startswith("transformers_modules.")


@pytest.mark.parametrize("family", ["gpt", "word2vec"])
def test_revisions_pin_the_weights(pushed_and_loaded, hub, family):
    pushed, loaded = pushed_and_loaded
    sent, got = pushed[family], loaded[family]
    history = [c.id for c in hub.commits(sent["repo"])]
    assert sent["commit"] in history and sent["commit_v2"] == history[1]  # v2 weights, then its card on top
    auto = sent["autos"][0]
    assert sent["v2"]["state"] != sent[auto]["state"]
    assert got[auto]["state"] == sent[auto]["state"]  # the older revision still gives the older weights
    assert got["v2"]["state"] == sent["v2"]["state"]  # and the branch head the new ones


def test_branches_and_private_repos(pushed_and_loaded, hub):
    pushed, _ = pushed_and_loaded
    gpt = hub.repos["tester/gpt"]
    branch = [c.id for c in hub.commits("tester/gpt", "experiment")]
    assert pushed["gpt"]["branch_commit"] == branch[1] and branch[2] == gpt.branches["main"]  # forked from main
    assert pushed["gpt"]["branch_commit"] not in [c.id for c in hub.commits("tester/gpt")]  # main is untouched
    assert hub.repos["tester/secret"].private and not gpt.private


def test_card_pins_the_commit_holding_weights_and_code(pushed_and_loaded, hub):
    from huggingface_hub import ModelCard

    pushed, _ = pushed_and_loaded
    sent = pushed["gpt"]
    card = ModelCard(hub.files(sent["repo"])["README.md"].decode())
    head_files = hub.files(sent["repo"], sent["commit_v2"])
    assert f'revision="{sent["commit_v2"]}", trust_remote_code=True' in card.text
    assert {"model.safetensors", "modeling_gpt.py", "configuration_gpt.py", "tokenizer.json"} <= set(head_files)
    assert card.data.library_name == "transformers" and {"hfext", "hfext-gpt"} <= set(card.data.tags)
    assert card.data.pipeline_tag == "text-generation"
    assert 'AutoModelForCausalLM.from_pretrained("tester/gpt"' in card.text


def test_transformers_push_to_hub_carries_remote_code_after_enable_remote_code(pushed_and_loaded, hub):
    pushed, loaded = pushed_and_loaded
    sent, got = pushed["elmo-mixin"], loaded["elmo-mixin"]
    files = hub.files(sent["repo"])
    assert {"modeling_elmo.py", "configuration_elmo.py", "tokenization_elmo.py", "README.md"} <= set(files)
    assert set(json.loads(files["config.json"])["auto_map"]) == {"AutoConfig", "AutoModel", "AutoModelForPreTraining"}
    assert "hfext-elmo" in files["README.md"].decode()
    assert got["AutoModelForPreTraining"]["state"] == sent["AutoModelForPreTraining"]["state"]
    assert got["tokenizer"]["module"].startswith("transformers_modules.")
    assert got["tokenizer"]["ids"] == sent["tokenizer"]["ids"]


def test_a_refused_token_is_a_clear_error(pushed_and_loaded):
    pushed, _ = pushed_and_loaded
    assert "HubPushError" in pushed["bad_token"] and "refused the push to 'tester/refused'" in pushed["bad_token"]
    assert "--hub_token" in pushed["bad_token"]


# --------------------------------------------------------------------------------------------------------
# cards and remote code, no server


def test_model_card_metadata_and_results(tmp_path):
    from hfext_bert import BertConfig, BertForMaskedLM
    from huggingface_hub import ModelCard

    import hfext  # noqa: F401
    from hfext.hub import model_card
    from hfext.training.args import save_pretrained_atomic

    model = BertForMaskedLM(BertConfig(vocab_size=16, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                                       intermediate_size=64, max_position_embeddings=16))
    results = {"eval_accuracy": 0.5, "eval_loss": 2.25, "train_loss": 2.5, "train_runtime": 3.0, "backend": "torch"}
    save_pretrained_atomic(model, None, tmp_path, {"all_results.json": json.dumps(results)},
                           card={"repo_id": "tester/bert", "hyperparameters": {"learning_rate": 1e-4},
                                 "datasets": ["wikitext"]})
    card = ModelCard.load(tmp_path / "README.md")  # written with every saved folder
    assert card.data.library_name == "transformers" and card.data.datasets == ["wikitext"]
    assert {"hfext", "hfext-bert"} <= set(card.data.tags) and card.data.pipeline_tag == "fill-mask"
    assert sorted(card.data.metrics) == ["accuracy", "loss"]  # evaluation metrics, not training figures
    [index] = card.data.to_dict()["model-index"]
    assert index["name"] == "tester/bert"
    [result] = index["results"]
    assert result["task"]["type"] == "fill-mask" and result["dataset"]["name"] == "wikitext"
    assert {m["name"]: m["value"] for m in result["metrics"]} == {"eval_accuracy": 0.5, "eval_loss": 2.25}
    assert "- learning_rate: 0.0001" in card.text and "| train_runtime | 3 |" in card.text
    assert "revision=" not in card.text.split("```")[1]  # nothing to pin before a push
    pinned = model_card(tmp_path, repo_id="tester/bert", revision="a" * 40)
    assert f'AutoModelForMaskedLM.from_pretrained("tester/bert", revision="{"a" * 40}", trust_remote_code=True)' in str(pinned)


def test_add_remote_code_is_idempotent_and_leaves_other_models_alone(tmp_path):
    from hfext_glove import GloVeConfig, GloVeModel
    from transformers import GPT2Config, GPT2Model

    import hfext  # noqa: F401
    from hfext.hub import add_remote_code

    GloVeModel(GloVeConfig(vocab_size=5, vector_size=4)).save_pretrained(tmp_path / "glove")
    first = add_remote_code(tmp_path / "glove")
    config = (tmp_path / "glove" / "config.json").read_text()
    assert add_remote_code(tmp_path / "glove") == first and (tmp_path / "glove" / "config.json").read_text() == config
    assert json.loads(config)["auto_map"] == {"AutoConfig": "configuration_glove.GloVeConfig",
                                              "AutoModel": "modeling_glove.GloVeModel"}
    GPT2Model(GPT2Config(n_layer=1, n_embd=8, n_head=2, vocab_size=10)).save_pretrained(tmp_path / "gpt2")
    assert add_remote_code(tmp_path / "gpt2") is None
    assert "auto_map" not in json.loads((tmp_path / "gpt2" / "config.json").read_text())
    assert not list((tmp_path / "gpt2").glob("*.py"))
    with pytest.raises(FileNotFoundError, match="has no config.json"):
        add_remote_code(tmp_path / "nothing")


def test_a_saved_folder_card_is_named_after_the_folder(tmp_path):
    from hfext_glove import GloVeConfig, GloVeModel

    from hfext.training.args import save_pretrained_atomic

    save_pretrained_atomic(GloVeModel(GloVeConfig(vocab_size=5, vector_size=4)), None, tmp_path / "my-glove")
    card = (tmp_path / "my-glove" / "README.md").read_text()
    assert "# my-glove" in card and 'from_pretrained("my-glove"' in card and ".saving" not in card


# --------------------------------------------------------------------------------------------------------
# recipes


def write_corpus(path: Path) -> Path:
    import random

    rng = random.Random(0)
    path.write_text("\n".join(" ".join(rng.choice(WORDS) for _ in range(8)) for _ in range(120)) + "\n")
    return path


def recipe_command(corpus: Path, output_dir: Path, *extra) -> list:
    return [str(REPO / "recipes" / "pretrain_word2vec.py"), "--train_file", str(corpus), "--output_dir",
            str(output_dir), "--num_train_epochs", "2", "--min_count", "1", "--vector_size", "8", "--backend",
            "torch", "--batch_words", "400", "--sample", "0", "--logging_steps", "100", *extra]


def assert_repo_equals_folder(hub, repo_id: str, folder: Path) -> dict:
    files = hub.files(repo_id)
    top = {name: data for name, data in files.items() if "/" not in name and name != ".gitattributes"}
    local = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    assert sorted(top) == sorted(local)
    for name, data in local.items():
        assert top[name] == data, name
    return files


def test_recipe_pushes_each_epoch_and_at_the_end(hub, tmp_path):
    output_dir = tmp_path / "w2v"
    corpus = write_corpus(tmp_path / "corpus.txt")
    env = client_env(hub, tmp_path)
    command = [sys.executable, *recipe_command(corpus, output_dir, "--push_to_hub", "--hub_model_id", "tester/w2v",
                                               "--checkpointing_steps", "epoch", "--hub_token", hub.token)]
    done = subprocess.run(command, env={**env, "HF_TOKEN": ""}, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    titles = [c.title for c in reversed(hub.commits("tester/w2v"))]
    assert titles[0] == "initial commit" and titles[1] == "Training in progress epoch 0"
    assert titles[3] == "End of training" and titles[2].startswith("Model card for") and len(titles) == 5
    files = assert_repo_equals_folder(hub, "tester/w2v", output_dir)  # the output dir is exactly what was pushed
    assert any(name.startswith("epoch_0/") for name in files)  # with the epoch's checkpoint
    first_epoch = hub.files("tester/w2v", hub.commits("tester/w2v")[3].id)
    assert "model.safetensors" in first_epoch and "all_results.json" not in first_epoch
    end_commit = hub.commits("tester/w2v")[1].id
    from huggingface_hub import ModelCard

    card = ModelCard.load(output_dir / "README.md")
    assert f'AutoModel.from_pretrained("tester/w2v", revision="{end_commit}", trust_remote_code=True)' in card.text
    results = json.loads((output_dir / "all_results.json").read_text())
    assert f"| train_loss | {results['train_loss']:.6g} |" in card.text
    assert "hub_token" not in card.text and "- min_count: 1" in card.text
    assert not [name for name, data in files.items() if hub.token.encode() in data]  # the token is pushed nowhere
    assert {"hfext", "hfext-word2vec", "hfext-skipgram"} <= set(card.data.tags)
    # a copy of the output dir and the pinned Hub commit both load without hfext
    env_load = client_env(hub, tmp_path / "load")
    loaded = run_python(call_here("_load_word2vec", block_hfext=True), env_load, output_dir, end_commit).stdout
    report = json.loads(loaded.strip().splitlines()[-1])
    assert report["local"] == report["hub"] and report["modules"] == ["transformers_modules", "transformers_modules"]


def test_two_process_run_pushes_only_from_the_main_process(hub, tmp_path):
    corpus = write_corpus(tmp_path / "corpus.txt")
    env = client_env(hub, tmp_path, ACCELERATE_USE_CPU="1")
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines",
        "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0",
        *recipe_command(corpus, tmp_path / "out", "--push_to_hub", "--hub_model_id", "tester/w2v-ddp"),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    titles = [c.title for c in reversed(hub.commits("tester/w2v-ddp"))]
    assert titles[:2] == ["initial commit", "Training in progress epoch 0"] and titles[3] == "End of training"
    assert len(titles) == 5  # one push per epoch and one at the end: the second process never pushed
    # (an identical second push would make no commit, but it would list the repo and ask to pre-upload)
    requests = [path for method, path, _ in hub.log if "/tester/w2v-ddp/" in path and method == "POST"]
    assert sum("/preupload/" in path for path in requests) == 4 and sum("/commit/" in path for path in requests) == 4
    assert sum("/tester/w2v-ddp/tree/" in path for _, path, _ in hub.log) == 2
    assert_repo_equals_folder(hub, "tester/w2v-ddp", tmp_path / "out")


def test_push_to_hub_needs_a_repo_name(tmp_path):
    from conftest import load_recipe

    recipe = load_recipe("pretrain_word2vec")
    corpus = write_corpus(tmp_path / "corpus.txt")
    with pytest.raises(ValueError, match=r"--push_to_hub needs --hub_model_id .*--hub_model_id your-name/"):
        recipe.main(recipe_command(corpus, tmp_path / "out", "--push_to_hub")[1:])
    assert not (tmp_path / "out" / "model.safetensors").exists()


def test_unreachable_hub_fails_clearly_and_keeps_the_files(hub, tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = client_env(hub, tmp_path, HF_ENDPOINT=f"http://127.0.0.1:{port}")
    corpus = write_corpus(tmp_path / "corpus.txt")
    command = [sys.executable, *recipe_command(corpus, tmp_path / "out", "--push_to_hub", "--hub_model_id", "tester/x")]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode != 0
    assert f"could not reach the Hub at http://127.0.0.1:{port} to push 'tester/x'" in done.stderr
    assert "epoch 0 was not pushed" in done.stderr  # the per-epoch push only warned; training went on
    assert f"the files are saved in {str(tmp_path / 'out')!r}" in done.stderr
    for name in ("model.safetensors", "config.json", "tokenizer.json", "all_results.json", "README.md",
                 "modeling_word2vec.py"):
        assert (tmp_path / "out" / name).is_file(), name


# --------------------------------------------------------------------------------------------------------
# run in subprocesses


def _fingerprint(model) -> dict:
    return {name: hashlib.sha256(t.detach().contiguous().cpu().numpy().tobytes()).hexdigest()
            for name, t in model.state_dict().items()}


def _output(model, inputs: dict) -> list:
    import torch

    tensors = {key: torch.tensor(value) for key, value in inputs.items()}
    with torch.no_grad():
        out = model(**tensors)
    return torch.cat([v.detach().flatten().float() for v in out.values() if torch.is_tensor(v)]).tolist()


def _families(seed: int) -> dict:
    """family -> (model, tokenizer, inputs, the Auto classes to load it with (task class first))."""
    import torch
    from hfext_bert import BertConfig, BertForPreTraining
    from hfext_elmo import ElmoCharacterTokenizer, ElmoConfig, ElmoForBiLM
    from hfext_fasttext import FastTextConfig, FastTextModel
    from hfext_glove import GloVeConfig, GloVeModel
    from hfext_gpt import GPTConfig, GPTForCausalLM
    from hfext_transformer import TransformerConfig, TransformerForConditionalGeneration
    from hfext_word2vec import SkipGramConfig, SkipGramModel

    from hfext.data import Vocabulary

    counts = list(range(80, 0, -10))
    tokenizer = Vocabulary(WORDS, counts).to_tokenizer()  # ids 0..7, [UNK] = 8
    vocab = len(WORDS) + 1
    sequence = {"input_ids": [[2, 3, 4, 5, 1]]}
    built = {}

    def seeded(build):
        torch.manual_seed(seed)
        return build().eval()

    word2vec = seeded(lambda: SkipGramModel(SkipGramConfig(vocab_size=vocab, vector_size=8)))
    with torch.no_grad():
        word2vec.context_embeddings.weight.normal_(0, 0.5)  # u starts at zero; make the loss depend on it
    word2vec.set_word_counts(torch.tensor([*counts, 1]))
    built["word2vec"] = (word2vec, tokenizer, {"input_ids": [1, 2], "labels": [3, 4], "negative_ids": [[5], [6]]},
                         ["AutoModel"])
    built["glove"] = (seeded(lambda: GloVeModel(GloVeConfig(vocab_size=vocab, vector_size=8))), tokenizer,
                      {"input_ids": [1, 2, 3]}, ["AutoModel"])
    fasttext = seeded(lambda: FastTextModel(FastTextConfig(vocab_size=vocab, vector_size=6, bucket=97)))
    fasttext.set_vocabulary(WORDS, counts)
    built["fasttext"] = (fasttext, tokenizer, {"input_ids": [1, 2, 3]}, ["AutoModel"])
    elmo_tokenizer = ElmoCharacterTokenizer.from_words(WORDS)
    elmo = seeded(lambda: ElmoForBiLM(ElmoConfig(filters=[[1, 4], [2, 8]], n_highway=1, projection_dim=6, lstm_dim=10,
                                                 char_embedding_dim=4, vocab_size=len(elmo_tokenizer))))
    built["elmo"] = (elmo, elmo_tokenizer, dict(elmo_tokenizer([SENTENCE])), ["AutoModelForPreTraining", "AutoModel"])
    built["transformer"] = (
        seeded(lambda: TransformerForConditionalGeneration(TransformerConfig(
            vocab_size=vocab, d_model=16, num_heads=2, encoder_layers=1, decoder_layers=1, ffn_dim=32,
            max_position_embeddings=16, dropout=0.0))),
        tokenizer, {**sequence, "decoder_input_ids": [[2, 6, 7]]}, ["AutoModelForSeq2SeqLM", "AutoModel"],
    )
    built["gpt"] = (seeded(lambda: GPTForCausalLM(GPTConfig(vocab_size=vocab, n_positions=16, n_embd=16, n_layer=1,
                                                             n_head=2, dropout=0.0, attention_dropout=0.0))),
                    tokenizer, sequence, ["AutoModelForCausalLM", "AutoModel"])
    built["bert"] = (seeded(lambda: BertForPreTraining(BertConfig(
        vocab_size=vocab, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=16, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0))),
        tokenizer, {**sequence, "attention_mask": [[1, 1, 1, 1, 1]]}, ["AutoModelForPreTraining", "AutoModel"])
    return built


def _reference(folder: Path, autos: list, inputs: dict) -> dict:
    """What each Auto class gives for the folder with hfext's own (local) classes."""
    import torch
    import transformers

    out = {}
    for auto in autos:
        torch.manual_seed(0)  # weights a head checkpoint lacks are initialised the same way on both sides
        model = getattr(transformers, auto).from_pretrained(folder).eval()
        out[auto] = {"state": _fingerprint(model), "output": _output(model, inputs)}
    return out


def _push_all(out_path: str, work: str) -> None:
    import torch

    import hfext  # noqa: F401
    from hfext.hub import HubPushError, enable_remote_code, push_to_hub

    torch.set_num_threads(1)
    work = Path(work)
    report = {}
    for family, (model, tokenizer, inputs, autos) in _families(seed=0).items():
        pushed = push_to_hub(model, f"tester/{family}", tokenizer=tokenizer, commit_message=f"{family} v1")
        local = work / family
        model.save_pretrained(local)
        entry = {"repo": pushed.repo_id, "commit": pushed.commit, "autos": autos, "inputs": inputs,
                 **_reference(local, autos, inputs),
                 "tokenizer": {"ids": tokenizer([SENTENCE])["input_ids"]}}
        entry["original_output"] = _output(model, inputs)
        report[family] = entry
    for family, (model, tokenizer, inputs, autos) in _families(seed=1).items():
        if family in ("gpt", "word2vec"):  # a second version on top: the first stays reachable by its commit
            pushed = push_to_hub(model, f"tester/{family}", tokenizer=tokenizer, commit_message=f"{family} v2")
            report[family]["commit_v2"] = pushed.commit
            report[family]["v2"] = {"state": _fingerprint(model)}
    # a branch, and a private repo
    model, tokenizer, _, _ = _families(seed=3)["gpt"]
    report["gpt"]["branch_commit"] = push_to_hub(model, "tester/gpt", tokenizer=tokenizer, revision="experiment").commit
    push_to_hub(model, "tester/secret", private=True)
    # transformers' own push_to_hub (the PushToHubMixin) once enable_remote_code() marked the instances
    model, tokenizer, inputs, _ = _families(seed=2)["elmo"]
    enable_remote_code(model, tokenizer)
    model.push_to_hub("tester/elmo-mixin")
    tokenizer.push_to_hub("tester/elmo-mixin")
    report["elmo-mixin"] = {"repo": "tester/elmo-mixin", "commit": "main", "autos": ["AutoModelForPreTraining"],
                            "inputs": inputs, "AutoModelForPreTraining": {"state": _fingerprint(model),
                                                                          "output": _output(model, inputs)},
                            "tokenizer": {"ids": tokenizer([SENTENCE])["input_ids"]}}
    try:
        push_to_hub(model, "tester/refused", token="hf_not_a_valid_token")
        report["bad_token"] = "pushed"
    except HubPushError as error:
        report["bad_token"] = f"HubPushError: {error}"
    Path(out_path).write_text(json.dumps(report))


def _load_all(pushed_path: str, out_path: str) -> None:
    import torch
    import transformers

    torch.set_num_threads(1)
    pushed = json.loads(Path(pushed_path).read_text())
    report = {}
    for family, sent in pushed.items():
        if family == "bad_token":
            continue
        got = {}
        for auto in sent["autos"]:
            torch.manual_seed(0)
            model = getattr(transformers, auto).from_pretrained(sent["repo"], revision=sent["commit"],
                                                                trust_remote_code=True).eval()
            got[auto] = {"module": type(model).__module__, "state": _fingerprint(model),
                         "output": _output(model, sent["inputs"])}
        if "commit_v2" in sent:
            model = getattr(transformers, sent["autos"][0]).from_pretrained(sent["repo"], trust_remote_code=True)
            got["v2"] = {"state": _fingerprint(model)}
        tokenizer = transformers.AutoTokenizer.from_pretrained(sent["repo"], revision=sent["commit"],
                                                               trust_remote_code=True)
        got["tokenizer"] = {"module": type(tokenizer).__module__, "ids": tokenizer([SENTENCE])["input_ids"]}
        try:
            import hfext  # noqa: F401

            got["hfext_importable"] = True
        except ImportError:
            got["hfext_importable"] = False
        report[family] = got
    Path(out_path).write_text(json.dumps(report))


def _load_word2vec(folder: str, commit: str) -> None:
    import transformers

    local = transformers.AutoModel.from_pretrained(folder, trust_remote_code=True)
    remote = transformers.AutoModel.from_pretrained("tester/w2v", revision=commit, trust_remote_code=True)
    print(json.dumps({"local": _fingerprint(local), "hub": _fingerprint(remote),
                      "modules": [type(m).__module__.split(".")[0] for m in (local, remote)]}))


def test_hfext_push_command(hub, tmp_path):
    from hfext_glove import GloVeConfig, GloVeModel

    GloVeModel(GloVeConfig(vocab_size=5, vector_size=4)).save_pretrained(tmp_path / "glove")
    (tmp_path / "plain").mkdir()
    code = "import sys\nfrom hfext.cli import main\nsys.exit(main(sys.argv[1:]))"
    done = run_python(code, client_env(hub, tmp_path), "push", tmp_path / "glove", "tester/glove-cli", "--private")
    weights_commit, card_commit = hub.commits("tester/glove-cli")[1], hub.commits("tester/glove-cli")[0]  # newest first
    assert f"at commit {weights_commit.id} (model card: {card_commit.id})" in done.stdout
    assert f"revision='{weights_commit.id}', trust_remote_code=True" in done.stdout
    assert {"config.json", "model.safetensors", "configuration_glove.py", "modeling_glove.py", "README.md"} <= set(card_commit.files)
    assert (tmp_path / "glove" / "modeling_glove.py").is_file()  # the folder itself got its remote code too
    failed = subprocess.run([sys.executable, "-c", code, "push", str(tmp_path / "plain"), "tester/x"],
                            env=client_env(hub, tmp_path), capture_output=True, text=True, check=False, timeout=120)
    assert failed.returncode == 2 and "is not a model folder (no config.json)" in failed.stderr
