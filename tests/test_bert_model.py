"""hfext-bert: config validation, bad input, save/load round trip with tied MLM weights, every head's
shapes and losses, padding invariance, SDPA = eager, gradient checkpointing, and the fill-mask /
text-classification pipelines on a saved directory with a WordPiece tokenizer trained with ``tokenizers``."""

import pytest
import torch
import torch.nn.functional as F
from hfext_bert import (
    BertConfig,
    BertForMaskedLM,
    BertForMultipleChoice,
    BertForNextSentencePrediction,
    BertForPreTraining,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
)
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForPreTraining,
    AutoModelForQuestionAnswering,
    AutoTokenizer,
    pipeline,
)

import hfext  # noqa: F401  (registers hfext-bert)

VOCAB = 40


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: threads only contend


def tiny_config(**kwargs):
    defaults = {"vocab_size": VOCAB, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
                "intermediate_size": 64, "max_position_embeddings": 16, "hidden_dropout_prob": 0.0,
                "attention_probs_dropout_prob": 0.0}
    return BertConfig(**{**defaults, **kwargs})


def tiny(cls, seed=0, **kwargs):
    torch.manual_seed(seed)
    return cls(tiny_config(**kwargs)).eval()


def batch(batch_size=3, length=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, VOCAB, (batch_size, length), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0  # the second row is padded
    ids[1, 6:] = 0
    types = torch.zeros_like(ids)
    types[:, length // 2:] = 1
    return ids, mask, types


# --- configuration and bad input -------------------------------------------------------------------------

def test_config_rejects_heads_not_dividing_hidden_size():
    with pytest.raises(ValueError, match=r"hidden size \(30\) is not a multiple of the number of attention heads \(4\)"):
        tiny_config(hidden_size=30)


def test_config_defaults_are_bert_base_and_model_type_is_namespaced():
    config = BertConfig()
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads, config.intermediate_size) == (768, 12, 12, 3072)
    assert config.model_type == "hfext-bert" and config.tie_word_embeddings and config.head_dim == 64
    assert AutoConfig.for_model("hfext-bert").__class__ is BertConfig


def test_input_longer_than_max_positions_is_a_clear_error():
    model = tiny(BertModel)
    with pytest.raises(ValueError, match=r"17 tokens but this model's max_position_embeddings is 16; truncate"):
        model(torch.ones(1, 17, dtype=torch.long))


def test_token_type_ids_beyond_type_vocab_size_is_a_clear_error():
    model = tiny(BertModel)
    ids = torch.ones(1, 4, dtype=torch.long)
    with pytest.raises(ValueError, match=r"segment ids \[2\] but this model has type_vocab_size=2"):
        model(ids, token_type_ids=torch.tensor([[0, 1, 2, 1]]))


def test_token_ids_outside_vocabulary_is_a_clear_error():
    with pytest.raises(ValueError, match=r"token ids \[40\] outside the vocabulary \[0, 40\)") as error:
        tiny(BertModel)(torch.tensor([[1, 40]]))
    assert str(error.value).endswith("(len(tokenizer)) (see docs/troubleshooting.md#token-ids)")


# --- the encoder -------------------------------------------------------------------------------------------

def test_base_model_shapes_and_padding_invariance():
    model = tiny(BertModel)
    ids, mask, types = batch()
    out = model(ids, attention_mask=mask, token_type_ids=types, output_hidden_states=True, output_attentions=True)
    assert out.last_hidden_state.shape == (3, 9, 32) and out.pooler_output.shape == (3, 32)
    assert len(out.hidden_states) == 3 and len(out.attentions) == 2
    # The padded row's real tokens see exactly what they would see without the padding.
    alone = model(ids[1:2, :6], token_type_ids=types[1:2, :6]).last_hidden_state
    torch.testing.assert_close(out.last_hidden_state[1, :6], alone[0], atol=1e-5, rtol=1e-5)
    # Segment embeddings matter.
    other = model(ids, attention_mask=mask).last_hidden_state
    assert not torch.allclose(other, out.last_hidden_state)


def test_sdpa_equals_eager():
    ids, mask, types = batch()
    sdpa = tiny(BertModel)
    eager = tiny(BertModel, attn_implementation="eager")
    assert sdpa.config._attn_implementation == "sdpa" and eager.config._attn_implementation == "eager"
    a = sdpa(ids, attention_mask=mask, token_type_ids=types)
    b = eager(ids, attention_mask=mask, token_type_ids=types)
    torch.testing.assert_close(a.last_hidden_state, b.last_hidden_state, atol=1e-5, rtol=1e-5)


def test_gradient_checkpointing_gives_the_same_gradients():
    ids, mask, types = batch()
    grads = []
    for checkpointing in (False, True):
        model = tiny(BertForMaskedLM).train()
        if checkpointing:
            model.activation_checkpointing_enable()
            assert model.is_activation_checkpointing and model.bert.encoder.layers[0].gradient_checkpointing
        model(ids, attention_mask=mask, token_type_ids=types, labels=ids).loss.backward()
        grads.append(model.bert.encoder.layers[0].fc1.weight.grad.clone())
    torch.testing.assert_close(grads[0], grads[1])


def test_save_and_load_round_trip_keeps_outputs_and_ties(tmp_path):
    model = tiny(BertForPreTraining)
    assert model.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight
    model.save_pretrained(tmp_path)
    loaded = AutoModelForPreTraining.from_pretrained(tmp_path).eval()
    assert type(loaded) is BertForPreTraining
    assert loaded.predictions.decoder.weight is loaded.bert.embeddings.word_embeddings.weight
    ids, mask, types = batch()
    a, b = model(ids, mask, types), loaded(ids, mask, types)
    torch.testing.assert_close(a.prediction_logits, b.prediction_logits)
    torch.testing.assert_close(a.seq_relationship_logits, b.seq_relationship_logits)
    # The encoder alone loads from a head checkpoint.
    base = AutoModel.from_pretrained(tmp_path).eval()
    torch.testing.assert_close(base(ids, mask, types).last_hidden_state, model.bert(ids, mask, types).last_hidden_state)


# --- heads ---------------------------------------------------------------------------------------------

def test_pretraining_loss_is_mlm_plus_nsp():
    model = tiny(BertForPreTraining)
    ids, mask, types = batch()
    labels = torch.full_like(ids, -100)
    labels[:, 2] = ids[:, 2]
    nsp = torch.tensor([0, 1, 0])
    out = model(ids, mask, types, labels=labels, next_sentence_label=nsp)
    assert out.prediction_logits.shape == (3, 9, VOCAB) and out.seq_relationship_logits.shape == (3, 2)
    mlm = F.cross_entropy(out.prediction_logits[:, 2], ids[:, 2])
    torch.testing.assert_close(out.loss, mlm + F.cross_entropy(out.seq_relationship_logits, nsp))
    # MLM alone (no NSP label) and a training step lowers the loss.
    assert torch.isclose(model(ids, mask, types, labels=labels).loss, mlm)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(5):
        loss = model(ids, mask, types, labels=labels, next_sentence_label=nsp).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_masked_lm_and_nsp_heads():
    ids, mask, types = batch()
    mlm = tiny(BertForMaskedLM)
    assert mlm.bert.pooler is None
    labels = torch.where(torch.arange(9) % 3 == 0, ids, torch.full_like(ids, -100))
    out = mlm(ids, mask, types, labels=labels)
    assert out.logits.shape == (3, 9, VOCAB)
    keep = labels != -100
    torch.testing.assert_close(out.loss, F.cross_entropy(out.logits[keep], labels[keep]))
    nsp = tiny(BertForNextSentencePrediction)
    out = nsp(ids, mask, types, labels=torch.tensor([1, 0, 1]))
    assert out.logits.shape == (3, 2)
    torch.testing.assert_close(out.loss, F.cross_entropy(out.logits, torch.tensor([1, 0, 1])))


def test_sequence_classification_single_label_multi_label_and_regression():
    ids, mask, types = batch()
    model = tiny(BertForSequenceClassification, num_labels=3)
    out = model(ids, mask, types, labels=torch.tensor([2, 0, 1]))
    assert out.logits.shape == (3, 3)
    torch.testing.assert_close(out.loss, F.cross_entropy(out.logits, torch.tensor([2, 0, 1])))
    multi = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    out = model(ids, mask, types, labels=multi)
    torch.testing.assert_close(out.loss, F.binary_cross_entropy_with_logits(out.logits, multi))
    with pytest.raises(ValueError, match=r"multi-label labels must have shape \(batch, num_labels\) = \(3, 3\)") as error:
        model(ids, mask, types, labels=torch.ones(3, 2))
    assert str(error.value).endswith("got (3, 2) (see docs/troubleshooting.md#labels-shape)")
    regression = tiny(BertForSequenceClassification, num_labels=1)  # STS-B
    scores = torch.tensor([0.5, 4.0, 2.5])
    out = regression(ids, mask, types, labels=scores)
    assert out.logits.shape == (3, 1)
    torch.testing.assert_close(out.loss, F.mse_loss(out.logits.squeeze(-1), scores))


def test_multiple_choice_token_classification_and_question_answering():
    ids, mask, types = batch(batch_size=4)
    choice = tiny(BertForMultipleChoice)
    out = choice(ids.view(2, 2, 9), mask.view(2, 2, 9), types.view(2, 2, 9), labels=torch.tensor([1, 0]))
    assert out.logits.shape == (2, 2)
    torch.testing.assert_close(out.loss, F.cross_entropy(out.logits, torch.tensor([1, 0])))
    # Each choice is scored alone: the first pair's logits equal a one-choice run of its rows.
    single = choice(ids[:1, None], mask[:1, None], types[:1, None]).logits
    torch.testing.assert_close(single[0, 0], out.logits[0, 0], atol=1e-5, rtol=1e-5)

    tagger = tiny(BertForTokenClassification, num_labels=5)
    tags = torch.randint(0, 5, (4, 9))
    tags[mask == 0] = -100
    out = tagger(ids, mask, types, labels=tags)
    assert out.logits.shape == (4, 9, 5)
    keep = tags != -100
    torch.testing.assert_close(out.loss, F.cross_entropy(out.logits[keep], tags[keep]))

    qa = tiny(BertForQuestionAnswering)
    start, end = torch.tensor([1, 2, 3, 4]), torch.tensor([2, 5, 3, 99])  # 99: outside, clamped and ignored
    out = qa(ids, mask, types, start_positions=start, end_positions=end)
    assert out.start_logits.shape == (4, 9) and out.end_logits.shape == (4, 9)
    expected = (F.cross_entropy(out.start_logits, start) + F.cross_entropy(out.end_logits[:3], end[:3])) / 2
    torch.testing.assert_close(out.loss, expected)


# --- tokenizer and pipelines ---------------------------------------------------------------------------

CORPUS = [
    "The cat sat on the mat.", "The dog sat on the log.", "A cat and a dog played in the garden.",
    "Paris is the capital of France.", "Berlin is the capital of Germany.", "Unbelievable things happen daily!",
] * 4


def wordpiece_tokenizer():
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(CORPUS, trainers.WordPieceTrainer(vocab_size=120, special_tokens=specials))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]",
                                   model_input_names=["input_ids", "token_type_ids", "attention_mask"])


def test_wordpiece_tokenizer_pairs_and_pipelines(tmp_path):
    tokenizer = wordpiece_tokenizer()
    encoded = tokenizer("The CAT sat.", "Paris is big", return_offsets_mapping=True)
    tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and tokens.count("[SEP]") == 2
    assert "cat" in tokens  # lowercased by the BERT normaliser
    first_sep = tokens.index("[SEP]")
    assert encoded["token_type_ids"] == [0] * (first_sep + 1) + [1] * (len(tokens) - first_sep - 1)
    assert encoded["offset_mapping"][tokens.index("cat")] == (4, 7)

    vocab = len(tokenizer)
    torch.manual_seed(0)
    mlm = BertForMaskedLM(tiny_config(vocab_size=vocab, max_position_embeddings=32)).eval()
    mlm.save_pretrained(tmp_path / "mlm")
    tokenizer.save_pretrained(tmp_path / "mlm")
    assert type(AutoModelForMaskedLM.from_pretrained(tmp_path / "mlm")) is BertForMaskedLM
    reloaded = AutoTokenizer.from_pretrained(tmp_path / "mlm")
    assert reloaded("The cat", "a dog")["input_ids"] == tokenizer("The cat", "a dog")["input_ids"]
    fill = pipeline("fill-mask", model=str(tmp_path / "mlm"), device="cpu")
    predictions = fill("The cat sat on the [MASK].", top_k=3)
    assert len(predictions) == 3 and all(p["sequence"].startswith("the cat sat on the") for p in predictions)
    with torch.no_grad():  # the pipeline's top token is the model's argmax at the mask position
        inputs = tokenizer("The cat sat on the [MASK].", return_tensors="pt")
        logits = mlm(**inputs).logits[0, inputs["input_ids"][0].tolist().index(tokenizer.mask_token_id)]
    assert predictions[0]["token"] == int(logits.argmax())

    torch.manual_seed(0)
    labels = {0: "NEGATIVE", 1: "POSITIVE"}
    classifier = BertForSequenceClassification(tiny_config(vocab_size=vocab, max_position_embeddings=32, num_labels=2,
                                                           id2label=labels, label2id={v: k for k, v in labels.items()}))
    classifier.save_pretrained(tmp_path / "cls")
    tokenizer.save_pretrained(tmp_path / "cls")
    classify = pipeline("text-classification", model=str(tmp_path / "cls"), device="cpu")
    result = classify("The dog played in the garden.")[0]
    with torch.no_grad():
        probs = classifier(**tokenizer("The dog played in the garden.", return_tensors="pt")).logits.softmax(-1)[0]
    assert result["label"] == labels[int(probs.argmax())]
    assert result["score"] == pytest.approx(float(probs.max()), abs=1e-5)


def test_question_answering_head_token_classification_and_feature_extraction_pipelines(tmp_path):
    tokenizer = wordpiece_tokenizer()
    tokenizer.model_max_length = 32
    config = {"vocab_size": len(tokenizer), "max_position_embeddings": 32}
    text = "Paris is the capital of France."

    torch.manual_seed(0)
    BertForQuestionAnswering(tiny_config(**config)).save_pretrained(tmp_path / "qa")
    tokenizer.save_pretrained(tmp_path / "qa")
    # transformers 5 removed the question-answering pipeline; the Auto class still finds the head.
    qa = AutoModelForQuestionAnswering.from_pretrained(tmp_path / "qa").eval()
    encoded = tokenizer("What is the capital of France?", text, return_tensors="pt")
    out = qa(**encoded)
    assert type(qa) is BertForQuestionAnswering and out.start_logits.shape == encoded["input_ids"].shape

    torch.manual_seed(0)
    labels = {0: "O", 1: "B-LOC", 2: "I-LOC"}
    tagger = BertForTokenClassification(tiny_config(**config, num_labels=3, id2label=labels,
                                                    label2id={v: k for k, v in labels.items()}))
    tagger.save_pretrained(tmp_path / "ner")
    tokenizer.save_pretrained(tmp_path / "ner")
    entities = pipeline("token-classification", model=str(tmp_path / "ner"), device="cpu")(text)
    with torch.no_grad():
        predicted = tagger.eval()(**tokenizer(text, return_tensors="pt")).logits[0, 1:-1].argmax(-1)  # no [CLS]/[SEP]
    assert len(entities) == int((predicted != 0).sum()) > 0  # every non-O token is reported
    for entity in entities:  # the offsets point back into the text
        assert entity["word"] == text[entity["start"]:entity["end"]].lower() and entity["entity"] in ("B-LOC", "I-LOC")

    torch.manual_seed(0)
    encoder = BertModel(tiny_config(**config)).eval()
    encoder.save_pretrained(tmp_path / "base")
    tokenizer.save_pretrained(tmp_path / "base")
    features = pipeline("feature-extraction", model=str(tmp_path / "base"), device="cpu")(text, return_tensors=True)
    with torch.no_grad():
        expected = encoder(**tokenizer(text, return_tensors="pt")).last_hidden_state
    torch.testing.assert_close(features, expected, atol=1e-5, rtol=1e-5)


def test_remote_code_checkpoint_loads_without_hfext(tmp_path):
    import json
    import os
    import subprocess
    import sys

    model = tiny(BertForMaskedLM, seed=3)
    model.register_for_auto_class("AutoModelForMaskedLM")
    model.config.register_for_auto_class()
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["auto_map"]["AutoModelForMaskedLM"] == "modeling_bert.BertForMaskedLM"
    assert {"modeling_bert.py", "configuration_bert.py"} <= set(os.listdir(tmp_path))
    ids = [[2, 7, 8, 3, 9, 3]]
    expected = model(input_ids=torch.tensor(ids)).logits
    code = (
        "import json, sys, torch\n"
        "from transformers import AutoModelForMaskedLM\n"
        f"m = AutoModelForMaskedLM.from_pretrained({str(tmp_path)!r}, trust_remote_code=True).eval()\n"
        f"logits = m(input_ids=torch.tensor({ids})).logits\n"
        "print(json.dumps({'module': type(m).__module__, 'hfext': 'hfext' in sys.modules, 'logits': logits.tolist()}))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "HF_MODULES_CACHE": str(tmp_path / "modules")}
    done = subprocess.run([sys.executable, "-c", code], check=False, env=env, capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["module"].startswith("transformers_modules") and not report["hfext"]
    torch.testing.assert_close(torch.tensor(report["logits"]), expected, rtol=1e-5, atol=1e-5)


def test_resize_token_embeddings_keeps_the_tie_and_the_output_bias(tmp_path):
    model = tiny(BertForPreTraining)
    old_bias = model.predictions.decoder.bias.detach().clone()
    model.resize_token_embeddings(VOCAB + 4)
    assert model.config.vocab_size == VOCAB + 4
    assert model.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight
    assert model.predictions.decoder.bias.shape == (VOCAB + 4,)
    torch.testing.assert_close(model.predictions.decoder.bias[:VOCAB], old_bias)
    assert model(torch.tensor([[2, VOCAB + 3, 3]])).prediction_logits.shape == (1, 3, VOCAB + 4)
