"""`hfext convert hf-gpt2`: a randomly initialised local transformers GPT-2 (no downloads) becomes an hfext-gpt
directory whose logits match to 1e-4 in float32, whose greedy generation is token-identical, and which keeps
the tokenizer; a checkpoint that is not GPT-2 is refused by name."""

import json

import pytest
import torch
from hfext_gpt import GPTForCausalLM
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    BertConfig,
    BertModel,
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedTokenizerFast,
)

from hfext.cli import main
from hfext.convert import GPT2FormatError, convert_hf_gpt2

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: threads only contend


def byte_level_tokenizer():
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(["the cat sat on the mat", "a dog and a cat"] * 5, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<|endoftext|>", eos_token="<|endoftext|>")


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory):
    tokenizer = byte_level_tokenizer()
    torch.manual_seed(0)
    # a wide init (0.2) keeps greedy choices clear of float rounding; gelu_new as in the released GPT-2
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=48, n_layer=3, n_head=4,
                        initializer_range=0.2, bos_token_id=0, eos_token_id=0)
    model = GPT2LMHeadModel(config).eval()
    path = tmp_path_factory.mktemp("gpt2")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path, model


def test_converted_gpt2_matches_logits_and_greedy_tokens(gpt2_dir, tmp_path):
    src, reference = gpt2_dir
    convert_hf_gpt2(src, tmp_path)
    model = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert type(model) is GPTForCausalLM
    assert model.lm_head.weight is model.transformer.wte.weight
    ids = torch.randint(0, reference.config.vocab_size, (2, 24), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        diff = (model(input_ids=ids).logits - reference(input_ids=ids).logits).abs().max().item()
    assert diff < 1e-4
    prompt = ids[:1, :6]
    ours = model.generate(prompt, max_new_tokens=32, do_sample=False, eos_token_id=None)
    theirs = reference.generate(prompt, max_new_tokens=32, do_sample=False, eos_token_id=None)
    assert ours.shape == (1, 38) and torch.equal(ours, theirs)
    # the tokenizer travelled with it
    tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    assert tokenizer("the cat").input_ids == AutoTokenizer.from_pretrained(src)("the cat").input_ids


def test_cli_converts_and_refuses_a_checkpoint_that_is_not_gpt2(gpt2_dir, tmp_path, capsys):
    src, _ = gpt2_dir
    assert main(["convert", "hf-gpt2", str(src), str(tmp_path / "gpt")]) == 0
    assert json.loads((tmp_path / "gpt" / "config.json").read_text())["model_type"] == "hfext-gpt"
    assert "3 layers, width 48" in capsys.readouterr().out
    bert = tmp_path / "bert"
    BertModel(BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32)).save_pretrained(bert)
    with pytest.raises(GPT2FormatError, match="'bert' checkpoint, not GPT-2") as err:
        convert_hf_gpt2(bert, tmp_path / "out")
    assert str(err.value).endswith("(see docs/troubleshooting.md#convert-gpt2)")
    assert main(["convert", "hf-gpt2", str(bert), str(tmp_path / "out2")]) == 2
    assert "not GPT-2" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="no config.json") as err:
        convert_hf_gpt2(tmp_path / "empty", tmp_path / "out3")
    assert str(err.value).endswith("(see docs/troubleshooting.md#convert-gpt2)")
    unsupported = json.loads((src / "config.json").read_text())
    unsupported["scale_attn_by_inverse_layer_idx"] = True
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "config.json").write_text(json.dumps(unsupported))
    with pytest.raises(GPT2FormatError, match="scale_attn_by_inverse_layer_idx=True"):
        convert_hf_gpt2(tmp_path / "odd", tmp_path / "out4")
