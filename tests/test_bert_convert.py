"""`hfext convert hf-bert`: randomly initialised local transformers BERT checkpoints (no downloads) become
hfext-bert directories computing the same function (last hidden state, pooler output, MLM and NSP logits
to 1e-5 in float32, with and without padding, with token_type_ids), tokenizer included; bad sources
give clear errors."""

import json

import pytest
import torch
import transformers
from hfext_bert import BertForMaskedLM, BertForPreTraining, BertModel
from test_bert_model import wordpiece_tokenizer
from transformers import (
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForPreTraining,
    AutoTokenizer,
)

import hfext  # noqa: F401
from hfext.cli import main
from hfext.convert import BertCheckpointError, convert_hf_bert

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: threads only contend


def hf_config(vocab_size, **kwargs):
    defaults = {"vocab_size": vocab_size, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
                "intermediate_size": 64, "max_position_embeddings": 24, "type_vocab_size": 2}
    return transformers.BertConfig(**{**defaults, **kwargs})


def hf_checkpoint(path, cls_name, seed=0, **kwargs):
    tokenizer = wordpiece_tokenizer()
    torch.manual_seed(seed)
    model = getattr(transformers, cls_name)(hf_config(len(tokenizer), **kwargs)).eval()
    with torch.no_grad():  # non-trivial LayerNorms and biases, so a swapped name would show
        for name, parameter in model.named_parameters():
            if "LayerNorm" in name or name.endswith("bias"):
                parameter.add_(torch.randn_like(parameter) * 0.1)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return model, tokenizer


def inputs(tokenizer):
    encoded = tokenizer(["The cat sat on the mat.", "Paris"], ["A dog played in the garden.", "is big"],
                        padding=True, return_tensors="pt")
    assert encoded["attention_mask"][1].min() == 0 and encoded["token_type_ids"].max() == 1  # padding + segments
    return encoded


def max_diff(a, b):
    return float((a - b).abs().max())


def test_pretraining_checkpoint_matches_to_1e_5(tmp_path):
    hf, tokenizer = hf_checkpoint(tmp_path / "hf", "BertForPreTraining")
    convert_hf_bert(tmp_path / "hf", tmp_path / "ours")
    ours = AutoModelForPreTraining.from_pretrained(tmp_path / "ours").eval()
    assert type(ours) is BertForPreTraining
    assert ours.predictions.decoder.weight is ours.bert.embeddings.word_embeddings.weight
    batch = inputs(tokenizer)
    real = batch["attention_mask"].bool()
    with torch.no_grad():
        a, b = hf(**batch, output_hidden_states=True), ours(**batch, output_hidden_states=True)
        ha, hb = hf.bert(**batch), ours.bert(**batch)
    assert max_diff(ha.last_hidden_state[real], hb.last_hidden_state[real]) < 1e-5
    assert max_diff(ha.last_hidden_state, hb.last_hidden_state) < 1e-5  # padded positions too
    assert max_diff(ha.pooler_output, hb.pooler_output) < 1e-5
    assert max_diff(a.prediction_logits, b.prediction_logits) < 1e-5
    assert max_diff(a.seq_relationship_logits, b.seq_relationship_logits) < 1e-5
    # Without padding: the first pair alone.
    single = {k: v[:1] for k, v in batch.items()}
    with torch.no_grad():
        assert max_diff(hf(**single).prediction_logits, ours(**single).prediction_logits) < 1e-5
        unpadded = {k: v[1:2, : int(real[1].sum())] for k, v in batch.items()}
        assert max_diff(hf.bert(**unpadded).last_hidden_state[0], hb.last_hidden_state[1, real[1]]) < 1e-5
    # The tokenizer came along and loads with AutoTokenizer.
    assert AutoTokenizer.from_pretrained(tmp_path / "ours")("The cat")["input_ids"] == tokenizer("The cat")["input_ids"]


def test_masked_lm_and_base_model_checkpoints(tmp_path):
    hf, tokenizer = hf_checkpoint(tmp_path / "mlm", "BertForMaskedLM", seed=1, hidden_act="gelu_new")
    convert_hf_bert(tmp_path / "mlm", tmp_path / "ours_mlm")
    ours = AutoModelForMaskedLM.from_pretrained(tmp_path / "ours_mlm").eval()
    assert type(ours) is BertForMaskedLM and ours.config.hidden_act == "gelu_new"
    batch = inputs(tokenizer)
    with torch.no_grad():
        assert max_diff(hf(**batch).logits, ours(**batch).logits) < 1e-5

    hf, tokenizer = hf_checkpoint(tmp_path / "base", "BertModel", seed=2)
    convert_hf_bert(tmp_path / "base", tmp_path / "ours_base")
    ours = AutoModel.from_pretrained(tmp_path / "ours_base").eval()
    assert type(ours) is BertModel
    with torch.no_grad():
        a, b = hf(**batch), ours(**batch)
    assert max_diff(a.last_hidden_state, b.last_hidden_state) < 1e-5
    assert max_diff(a.pooler_output, b.pooler_output) < 1e-5


def test_cli_and_bad_sources(tmp_path, capsys):
    hf_checkpoint(tmp_path / "hf", "BertForMaskedLM")
    assert main(["convert", "hf-bert", str(tmp_path / "hf"), str(tmp_path / "ours")]) == 0
    assert "BertForMaskedLM" in capsys.readouterr().out
    assert json.loads((tmp_path / "ours" / "config.json").read_text())["model_type"] == "hfext-bert"
    with pytest.raises(FileExistsError, match="not empty; pass overwrite=True") as err:
        convert_hf_bert(tmp_path / "hf", tmp_path / "ours")
    assert str(err.value).endswith("(see docs/troubleshooting.md#output-file)")
    # A non-BERT checkpoint.
    gpt2 = transformers.GPT2LMHeadModel(transformers.GPT2Config(n_embd=16, n_layer=1, n_head=2, vocab_size=20, n_positions=8))
    gpt2.save_pretrained(tmp_path / "gpt2")
    with pytest.raises(BertCheckpointError, match=r"is a 'gpt2' checkpoint, not a transformers BERT one") as err:
        convert_hf_bert(tmp_path / "gpt2", tmp_path / "x")
    assert str(err.value).endswith("(see docs/troubleshooting.md#convert-bert)")
    assert main(["convert", "hf-bert", str(tmp_path / "gpt2"), str(tmp_path / "y")]) != 0
    assert "'gpt2' checkpoint" in capsys.readouterr().err
    # Already converted, and a head this converter does not take.
    with pytest.raises(BertCheckpointError, match="already an hfext-bert directory"):
        convert_hf_bert(tmp_path / "ours", tmp_path / "z")
    transformers.BertForSequenceClassification(hf_config(30)).save_pretrained(tmp_path / "cls")
    with pytest.raises(BertCheckpointError, match=r"holds a BertForSequenceClassification"):
        convert_hf_bert(tmp_path / "cls", tmp_path / "w")
