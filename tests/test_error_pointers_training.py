"""The training, recipe, Hub and loading errors end with the troubleshooting section that explains them.

One representative error of each section (``docs/troubleshooting.md``), raised the way a user meets it: a bad
flag to a recipe's ``parse_args``, bad data or a bad tokenizer given to the training helpers, a folder that
holds no model. Each check is cheap: nothing trains.
"""

import argparse
import json

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from conftest import load_recipe

import hfext  # noqa: F401  (registers the hfext families with the Auto classes)
from hfext.errors import see


def message(error: BaseException) -> str:
    return error.args[0]  # (str() of a KeyError quotes the message)


@pytest.fixture()
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("the cat sat on the mat\nthe dog sat on the log\n")
    return str(path)


@pytest.fixture()
def bare_tokenizer(tmp_path):
    """A saved fast tokenizer with an unknown token only: no mask, end-of-text or pad token."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.WordLevel({"[UNK]": 0, "the": 1, "cat": 2}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    path = tmp_path / "tokenizer"
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]").save_pretrained(path)
    return str(path)


def test_a_shared_training_flag_out_of_range(corpus, tmp_path):
    recipe = load_recipe("pretrain_gpt")
    base = ["--train_file", corpus, "--output_dir", str(tmp_path / "out")]
    with pytest.raises(ValueError, match="--num_train_epochs must be >= 1, got 0") as error:
        recipe.parse_args([*base, "--num_train_epochs", "0"])
    assert message(error.value).endswith(see("training-flags"))
    with pytest.raises(ValueError, match="--n_layer must be >= 1, got 0") as error:
        recipe.parse_args([*base, "--n_layer", "0"])
    assert message(error.value).endswith(see("training-flags"))


def test_a_pretraining_flag_out_of_range(corpus, tmp_path, capsys):
    base = ["--train_file", corpus, "--output_dir", str(tmp_path / "out")]
    with pytest.raises(ValueError, match=r"--mlm_probability must be in \(0, 1\), got 1.5") as error:
        load_recipe("pretrain_bert").parse_args([*base, "--mlm_probability", "1.5"])
    assert message(error.value).endswith(see("pretraining-flags"))
    with pytest.raises(ValueError, match="--x_max must be > 0") as error:
        load_recipe("pretrain_glove").parse_args([*base, "--x_max", "0"])
    assert message(error.value).endswith(see("pretraining-flags"))
    # argparse's own exit (status 2) for the word2vec/fastText objective and n-gram flags
    with pytest.raises(SystemExit):
        load_recipe("pretrain_fasttext").parse_args([*base, "--minn", "5", "--maxn", "3"])
    assert capsys.readouterr().err.rstrip().endswith(see("pretraining-flags"))

    from hfext.training.causal_lm import group_texts

    with pytest.raises(ValueError, match="--block_size must be >= 2, got 1") as error:
        group_texts(None, ["a text"], block_size=1)
    assert message(error.value).endswith(see("pretraining-flags"))


def test_the_kernel_backend_outside_one_cpu_process():
    from hfext.training import glove, word2vec

    for module in (word2vec, glove):
        with pytest.raises(ValueError, match="--backend torch") as error:
            module.resolve_backend("kernel", torch.device("cpu"), 2)
        assert message(error.value).endswith(see("kernel-backend"))


def test_a_fine_tuning_task_the_recipe_does_not_know(tmp_path):
    train = tmp_path / "train.csv"
    train.write_text("sentence,label\ngood,1\nbad,0\n")
    base = ["--model_name_or_path", str(tmp_path), "--train_file", str(train), "--output_dir", str(tmp_path / "out")]
    with pytest.raises(ValueError, match="--task_name 'sst3' is not a GLUE task") as error:
        load_recipe("finetune_glue").parse_args([*base, "--task_name", "sst3"])
    assert message(error.value).endswith(see("finetune-task"))
    train = tmp_path / "train.json"
    train.write_text("{}")
    squad = ["--model_name_or_path", str(tmp_path), "--train_file", str(train), "--validation_file", str(train),
             "--output_dir", str(tmp_path / "out")]
    with pytest.raises(ValueError, match=r"--doc_stride \(64\) must be smaller than --max_seq_length \(64\)") as error:
        load_recipe("finetune_squad").parse_args([*squad, "--max_seq_length", "64", "--doc_stride", "64"])
    assert message(error.value).endswith(see("finetune-task"))


def test_fine_tuning_data_the_task_cannot_use():
    from hfext.training.finetune import FinetuneTask

    with pytest.raises(ValueError, match="the training data is empty after preprocessing") as error:
        FinetuneTask([], collator=None, batch_size=8, seed=0)
    assert message(error.value).endswith(see("finetune-data"))


def test_a_data_file_of_an_unsupported_format(tmp_path):
    from hfext.training.finetune import file_builder, validate_finetune_args

    with pytest.raises(ValueError, match="unsupported extension '.txt'") as error:
        file_builder("train.txt", "train_file")
    assert message(error.value).endswith(see("data-files"))
    train = tmp_path / "train.csv"
    train.write_text("sentence,label\ngood,1\n")
    args = argparse.Namespace(
        dataset_name=None, train_file=str(train), validation_file=str(tmp_path / "dev.csv"), test_file=None,
        num_train_epochs=1, gradient_accumulation_steps=1, learning_rate=1e-4, push_to_hub=False)
    with pytest.raises(FileNotFoundError, match="--validation_file .* does not exist") as error:
        validate_finetune_args(args)
    assert message(error.value).endswith(see("data-files"))


def test_translation_pairs_without_the_expected_columns(tmp_path):
    from hfext.training.seq2seq import Seq2SeqTask, load_pairs

    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps({"de": "ein Haus", "en": "a house"}) for _ in range(3)) + "\n")
    with pytest.raises(KeyError, match="has no column 'source' .--source_column.") as error:
        load_pairs(train_file=[str(path)])
    assert message(error.value).endswith(see("seq2seq-data"))
    with pytest.raises(ValueError, match="pass both --source_lang and --target_lang") as error:
        load_pairs(train_file=[str(path)], source_lang="de")
    assert message(error.value).endswith(see("seq2seq-data"))
    with pytest.raises(ValueError, match="2 sources but 1 targets") as error:
        Seq2SeqTask([[1], [2]], [[1]], batch_size=1, seed=0, pad_token_id=0, decoder_start_token_id=1)
    assert message(error.value).endswith(see("seq2seq-data"))


def test_a_tokenizer_without_the_tokens_the_recipe_needs(bare_tokenizer):
    args = argparse.Namespace(tokenizer_name=bare_tokenizer, model_name_or_path=None)
    with pytest.raises(ValueError, match="has no mask token") as error:
        load_recipe("pretrain_bert").load_tokenizer(args, None, [])
    assert message(error.value).endswith(see("tokenizer-tokens"))
    with pytest.raises(ValueError, match=r"needs an end-of-text token \(eos_token_id\)") as error:
        load_recipe("pretrain_gpt").load_tokenizer(args, None, [])
    assert message(error.value).endswith(see("tokenizer-tokens"))
    with pytest.raises(ValueError, match="needs a pad and an end-of-sequence token") as error:
        load_recipe("train_seq2seq").load_tokenizer(args, None, [])
    assert message(error.value).endswith(see("tokenizer-tokens"))


def test_too_little_text_to_train_on():
    from hfext.training.bert import BertPretrainingTask
    from hfext.training.glove import GloVeTask

    with pytest.raises(ValueError, match="no pretraining examples") as error:
        BertPretrainingTask([], collator=None, batch_size=8, seed=0)
    assert message(error.value).endswith(see("too-little-data"))
    with pytest.raises(ValueError, match="the co-occurrence matrix has no non-zero entries") as error:
        GloVeTask(sp.coo_matrix((3, 3), dtype=np.float64), batch_entries=16, seed=0, backend="torch", optimizer=None)
    assert message(error.value).endswith(see("too-little-data"))


def test_hub_folders_without_a_model(tmp_path):
    from hfext.hub import add_remote_code, push_to_hub

    with pytest.raises(FileNotFoundError, match="has no config.json") as error:
        add_remote_code(tmp_path)
    assert message(error.value).endswith(see("hub-no-model"))
    with pytest.raises(FileNotFoundError, match=r"holds no saved model \(config.json missing\)") as error:
        push_to_hub(tmp_path, "tester/nothing")
    assert message(error.value).endswith(see("hub-no-model"))


def test_remote_code_for_a_class_no_auto_class_loads():
    from transformers import AutoConfig, AutoModelForCausalLM

    from hfext.hub import enable_remote_code

    config = AutoConfig.for_model("hfext-gpt", vocab_size=16, n_positions=8, n_embd=8, n_layer=1, n_head=1)
    model = AutoModelForCausalLM.from_config(config)
    model.__class__ = type("MyGPT", (type(model),), {})  # a subclass of the user's own: its plugin lists no such class
    with pytest.raises(ValueError, match="MyGPT is registered with no Auto class") as error:
        enable_remote_code(model)
    assert message(error.value).endswith(see("no-auto-class"))


def test_loading_a_folder_without_weights_or_tokenizer(tmp_path):
    from transformers import AutoConfig, AutoModelForCausalLM

    from hfext.loading import check_local_weights, load_tokenizer_for

    with pytest.raises(FileNotFoundError, match="has no model.safetensors") as error:
        check_local_weights(tmp_path)
    assert message(error.value).endswith(see("corrupt-weights"))
    config = AutoConfig.for_model("hfext-gpt", vocab_size=16, n_positions=8, n_embd=8, n_layer=1, n_head=1)
    with pytest.raises(OSError, match="no tokenizer found at") as error:
        load_tokenizer_for(AutoModelForCausalLM.from_config(config), tmp_path)
    assert message(error.value).endswith(see("no-tokenizer"))
