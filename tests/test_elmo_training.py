"""ELMo pretraining on the shared loop: the recipe learns (per-direction perplexities), resumes exactly, runs
under `accelerate launch` with two processes; and the lecture's point: after training, ELMo gives a word
different vectors in different sentences while word2vec gives it one."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import REPO, load_recipe
from hfext_elmo import ElmoForBiLM, ElmoModel
from transformers import AutoModel, AutoModelForPreTraining, AutoTokenizer

import hfext  # noqa: F401
from hfext.training.elmo import ElmoSentences, evaluate_perplexity

# A tiny model (AllenNLP's layout, small widths) so a few seconds of CPU training show learning.
TINY = ["--projection_dim", "32", "--lstm_dim", "64", "--filters", "[[1, 16], [2, 16], [3, 32], [4, 32]]"]
COMMON = [*TINY, "--min_count", "3", "--max_seq_length", "40", "--per_device_train_batch_size", "32",
          "--learning_rate", "5e-3", "--logging_steps", "1000", "--lr_scheduler_type", "constant"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: threads only contend


def run_recipe(output_dir, corpus, *extra):
    recipe = load_recipe("pretrain_elmo")
    return recipe.main(["--train_file", str(corpus), "--output_dir", str(output_dir), *COMMON, *extra])


@pytest.fixture(scope="module")
def trained(tmp_path_factory, gensim_data):
    """An ELMo trained for 60 steps (about two epochs) on lee_background.cor, and its results."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    output = tmp_path_factory.mktemp("elmo") / "model"
    results = run_recipe(output, gensim_data / "lee_background.cor", "--max_train_steps", "60", "--num_train_epochs", "3")
    torch.set_num_threads(threads)
    return output, results


def test_recipe_learns_both_directions(trained, gensim_data):
    output, results = trained
    saved = json.loads((output / "all_results.json").read_text())
    assert saved == pytest.approx(results)
    vocab = results["vocab_size"]
    assert vocab == 2919 and results["train_steps"] == 60  # 2916 words seen 3 times + </S>, <S>, <UNK>
    # An untrained model is near-uniform: perplexity ~ the vocabulary size in each direction.
    tokenizer = AutoTokenizer.from_pretrained(output)
    model = AutoModelForPreTraining.from_pretrained(output)
    assert type(model) is ElmoForBiLM and len(tokenizer) == vocab
    lines = [line.split() for line in (gensim_data / "lee_background.cor").read_text().splitlines()[:40] if line.split()]
    untrained = ElmoForBiLM(model.config)
    before = evaluate_perplexity(untrained, ElmoSentences(lines, tokenizer, 40), 64, "cpu")
    assert before["forward_perplexity"] > 0.5 * vocab and before["backward_perplexity"] > 0.5 * vocab
    for direction in ("forward", "backward"):  # held-out perplexity fell to a fraction of that
        assert results[f"eval_{direction}_perplexity"] < 0.25 * vocab, results
        assert results[f"train_{direction}_perplexity"] < before[f"{direction}_perplexity"]
    assert results["eval_loss"] == pytest.approx(
        np.log(results["eval_forward_perplexity"]) + np.log(results["eval_backward_perplexity"]))
    assert results["num_parameters"] == sum(p.numel() for p in model.elmo.parameters())


def test_recipe_continues_a_saved_model(trained, tmp_path, gensim_data):
    output, results = trained
    more = run_recipe(tmp_path / "more", gensim_data / "lee_background.cor", "--model_name_or_path", str(output),
                      "--max_train_steps", "3")
    assert more["vocab_size"] == results["vocab_size"] and more["train_steps"] == 3
    assert more["train_forward_perplexity"] < 0.5 * results["vocab_size"]  # starts where the saved model was
    assert AutoTokenizer.from_pretrained(tmp_path / "more").get_vocab() == AutoTokenizer.from_pretrained(output).get_vocab()
    before = AutoModelForPreTraining.from_pretrained(output).lm_head.weight
    assert not torch.equal(AutoModelForPreTraining.from_pretrained(tmp_path / "more").lm_head.weight, before)


def cosine(a, b) -> float:
    return float(torch.nn.functional.cosine_similarity(a, b, dim=0))


def write_fire_corpus(path, n=600, seed=0):
    """'fire' the noun (something burns) and 'fire' the verb (someone loses a job), in simple sentences."""
    rng = np.random.default_rng(seed)

    def pick(options):
        return options[rng.integers(len(options))]

    when = ["yesterday", "today", "overnight", "again"]
    lines = []
    for _ in range(n):
        if rng.random() < 0.5:
            lines.append(f"the fire {pick(['burned', 'destroyed', 'reached'])} the "
                         f"{pick(['house', 'barn', 'forest', 'school', 'factory'])} {pick(when)}")
        else:
            lines.append(f"{pick(['they', 'bosses', 'owners'])} will fire the "
                         f"{pick(['workers', 'staff', 'manager', 'coach', 'players'])} {pick(when)}")
    path.write_text("\n".join(lines) + "\n")


def test_same_word_different_context_gets_different_elmo_vectors_but_one_word2vec_vector(tmp_path):
    """The lecture's point: word2vec/GloVe give 'fire' one vector whatever its context; ELMo's biLM, trained
    briefly, gives it one per sentence (it must: the next words differ)."""
    corpus = tmp_path / "fire.txt"
    write_fire_corpus(corpus)
    results = run_recipe(tmp_path / "elmo", corpus, "--min_count", "1", "--max_train_steps", "300",
                         "--num_train_epochs", "20")
    assert results["eval_forward_perplexity"] < 3 and results["eval_backward_perplexity"] < 3  # of 26 words
    elmo = AutoModel.from_pretrained(tmp_path / "elmo").eval()  # ElmoModel: every layer + an even scalar mix
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "elmo")
    assert type(elmo) is ElmoModel
    sentences = [["the", "fire", "burned", "the", "barn", "today"], ["they", "will", "fire", "the", "coach", "today"]]
    position = [s.index("fire") + 1 for s in sentences]  # +1 for <S>
    with torch.no_grad():
        out = elmo(**tokenizer(sentences, is_split_into_words=True, return_tensors="pt"))
    token_layer, *lstm_layers = [cosine(layer[0, position[0]], layer[1, position[1]]) for layer in out.hidden_states]
    mixed = cosine(out.elmo_representations[0, position[0]], out.elmo_representations[1, position[1]])
    print(f"ELMo cosine of 'fire' across the two sentences: token layer {token_layer:.3f}, "
          f"LSTM layers {[round(v, 3) for v in lstm_layers]}, scalar mix {mixed:.3f}")
    assert token_layer == pytest.approx(1.0, abs=1e-6)  # the char-CNN layer is context-free, like word2vec
    assert lstm_layers[0] < 0.97 and lstm_layers[1] < 0.8 and mixed < 0.9  # the LSTM layers are not

    # word2vec trained on the same corpus: the vector is a table row, the same in every sentence.
    load_recipe("pretrain_word2vec").main([
        "--train_file", str(corpus), "--output_dir", str(tmp_path / "w2v"), "--num_train_epochs", "2",
        "--min_count", "1", "--vector_size", "16", "--logging_steps", "1000",
    ])
    w2v = AutoModel.from_pretrained(tmp_path / "w2v")
    w2v_tokenizer = AutoTokenizer.from_pretrained(tmp_path / "w2v")
    with torch.no_grad():
        rows = [w2v.get_input_embeddings()(torch.tensor(w2v_tokenizer(" ".join(s))["input_ids"]))[position[i] - 1]
                for i, s in enumerate(sentences)]
    assert torch.equal(rows[0], rows[1]) and cosine(rows[0], rows[1]) == pytest.approx(1.0)


def test_exact_resume(tmp_path, gensim_data):
    corpus = gensim_data / "lee_background.cor"
    common = ["--max_train_steps", "6", "--per_device_train_batch_size", "8", "--validation_split_percentage", "0"]
    straight = run_recipe(tmp_path / "straight", corpus, *common)
    run_recipe(tmp_path / "resumed", corpus, *common, "--checkpointing_steps", "3")
    (tmp_path / "resumed" / "model.safetensors").unlink()
    resumed = run_recipe(tmp_path / "resumed", corpus, *common, "--resume_from_checkpoint", str(tmp_path / "resumed" / "step_3"))
    assert resumed["train_steps"] == straight["train_steps"] == 6
    a = AutoModelForPreTraining.from_pretrained(tmp_path / "straight").state_dict()
    b = AutoModelForPreTraining.from_pretrained(tmp_path / "resumed").state_dict()
    for name, value in a.items():
        assert torch.equal(value, b[name]), name  # dropout masks and batch order resume too
    with pytest.raises(ValueError, match="settings changed"):
        run_recipe(tmp_path / "resumed", corpus, *common, "--dropout", "0.2", "--resume_from_checkpoint", "latest")


def test_two_processes(tmp_path, gensim_data):
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0",
        str(REPO / "recipes" / "pretrain_elmo.py"), "--train_file", str(gensim_data / "lee_background.cor"),
        "--output_dir", str(tmp_path / "ddp"), *COMMON, "--num_train_epochs", "1", "--max_train_steps", "8",
        "--per_device_train_batch_size", "16",
    ]
    done = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "ddp" / "all_results.json").read_text())
    assert results["train_steps"] == 8
    for direction in ("forward", "backward"):  # both processes' held-out shards are counted
        assert 1 < results[f"eval_{direction}_perplexity"] < results["vocab_size"]
    assert results["eval_num_targets"] > 2000  # 5% of the lines, split into 40-token pieces
    assert type(AutoModel.from_pretrained(tmp_path / "ddp")) is ElmoModel


def test_recipe_bad_input(tmp_path, gensim_data):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    with pytest.raises(ValueError, match="no sentences to train on|corpus is empty"):
        run_recipe(tmp_path / "a", empty)
    with pytest.raises(ValueError, match="--max_seq_length must be >= 3"):
        run_recipe(tmp_path / "b", gensim_data / "lee_background.cor", "--max_seq_length", "2")
    with pytest.raises(ValueError, match="--filters must be JSON"):
        run_recipe(tmp_path / "c", gensim_data / "lee_background.cor", "--filters", "[[1, 16]")


def test_sentence_classification_example(tmp_path):
    """examples/elmo_sentence_classification.py: frozen ELMo + trained scalar mix + linear classifier."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("elmo_example", REPO / "examples" / "elmo_sentence_classification.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    results = example.run(["--output_dir", str(tmp_path), "--num_examples", "200"])
    assert results["sentence_accuracy"] >= 0.9
    assert results["fire_only_accuracy"] >= 0.9  # the contextual vector of "fire" alone knows its sense
    # the token layer gives "fire" one vector in every sentence: no better than guessing the majority
    assert results["fire_token_layer_accuracy"] <= results["majority_baseline"] + 1e-6
    assert sum(results["scalar_mix_weights"]) == pytest.approx(1.0)
    assert json.loads((tmp_path / "results.json").read_text())["sentence_accuracy"] == results["sentence_accuracy"]
