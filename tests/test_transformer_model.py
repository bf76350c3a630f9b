"""hfext-transformer: config validation, the sinusoidal table (also after from_pretrained), save/load,
tied and untied embeddings, SDPA = eager, causality, cached = uncached decoding, padding invariance,
greedy / beam / sampling through GenerationMixin, the remote-code route, and bad input."""

import json
import math
import os
import subprocess
import sys

import pytest
import torch
from hfext_transformer import (
    TransformerConfig,
    TransformerForConditionalGeneration,
    TransformerModel,
    TransformerSinusoidalPositionalEmbedding,
)
from safetensors import safe_open
from transformers import AutoConfig, AutoModel, AutoModelForSeq2SeqLM

import hfext  # noqa: F401  (registers hfext-transformer)

PAD, BOS, EOS = 0, 1, 2
VOCAB = 16  # 3 special ids + 13 symbols


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: threads only contend


def tiny_config(**kwargs):
    defaults = {"vocab_size": VOCAB, "d_model": 32, "num_heads": 4, "encoder_layers": 2, "decoder_layers": 3,
                "ffn_dim": 64, "max_position_embeddings": 24, "dropout": 0.0}
    return TransformerConfig(**{**defaults, **kwargs})


def tiny_model(seed=0, **kwargs):
    torch.manual_seed(seed)
    return TransformerForConditionalGeneration(tiny_config(**kwargs)).eval()


def reversal_batch(generator, batch_size=64, lo=3, hi=8):
    """Random symbol sequences (ids 3..15) + </s>, and their reversals + </s>, padded (labels with -100)."""
    sources, targets = [], []
    for _ in range(batch_size):
        length = int(torch.randint(lo, hi + 1, (), generator=generator))
        s = torch.randint(3, VOCAB, (length,), generator=generator).tolist()
        sources.append([*s, EOS])
        targets.append([*s[::-1], EOS])
    width_s, width_t = max(map(len, sources)), max(map(len, targets))
    input_ids = torch.tensor([s + [PAD] * (width_s - len(s)) for s in sources])
    labels = torch.tensor([t + [-100] * (width_t - len(t)) for t in targets])
    return input_ids, (input_ids != PAD).long(), labels


@pytest.fixture(scope="module")
def reverser():
    """A tiny model trained for a few seconds to reverse sequences: its outputs depend on the input, unlike a
    random model's (which repeat one token), so decoding comparisons below mean something."""
    torch.manual_seed(0)
    model = TransformerForConditionalGeneration(tiny_config(d_model=64, num_heads=4, encoder_layers=2, decoder_layers=2,
                                                            ffn_dim=128))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.98))
    generator = torch.Generator().manual_seed(0)
    model.train()
    for step in range(400):
        input_ids, mask, labels = reversal_batch(generator)
        for group in optimizer.param_groups:
            group["lr"] = 1e-3 * min(1.0, (step + 1) / 100)
        loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    return model.eval()


# ------------------------------------------------------------------------------------------------------- config


def test_config_errors_name_the_values():
    with pytest.raises(ValueError, match=r"d_model \(30\) is not a multiple of num_heads \(4\)") as error:
        TransformerConfig(d_model=30, num_heads=4)
    assert str(error.value).endswith(", 15 (see docs/troubleshooting.md#config-value)")
    with pytest.raises(ValueError, match=r"dropout must be a probability in \[0, 1\), got -0.1"):
        TransformerConfig(dropout=-0.1)
    with pytest.raises(ValueError, match="attention_dropout must be a probability"):
        TransformerConfig(attention_dropout=1.0)
    with pytest.raises(ValueError, match="activation must be one of"):
        TransformerConfig(activation="softplus")
    with pytest.raises(ValueError, match="encoder_layers must be a positive integer, got 0"):
        TransformerConfig(encoder_layers=0)
    with pytest.raises(ValueError, match=r"pad_token_id \(10\) must be a token id in \[0, vocab_size=10\)"):
        TransformerConfig(vocab_size=10, pad_token_id=10)
    with pytest.raises(ValueError, match="init_std must be > 0"):
        TransformerConfig(init_std=0.0)


def test_config_defaults_are_the_paper_base_model_and_round_trip():
    config = TransformerConfig()
    assert (config.d_model, config.num_heads, config.encoder_layers, config.decoder_layers, config.ffn_dim) == (
        512, 8, 6, 6, 2048)
    assert (config.dropout, config.activation, config.pre_norm, config.share_embeddings) == (0.1, "relu", False, True)
    assert config.is_encoder_decoder and config.tie_word_embeddings and config.scale_embedding
    assert (config.hidden_size, config.num_attention_heads, config.head_dim) == (512, 8, 64)
    original = tiny_config(pre_norm=True, decoder_layers=5)
    again = AutoConfig.for_model("hfext-transformer", **{k: v for k, v in original.to_dict().items() if k != "model_type"})
    assert isinstance(again, TransformerConfig)
    assert again.to_dict() == original.to_dict()
    assert again.num_hidden_layers == 5  # generation sizes its decoder cache by this name


def test_auto_classes_build_our_models():
    assert type(AutoModelForSeq2SeqLM.from_config(tiny_config())) is TransformerForConditionalGeneration
    assert type(AutoModel.from_config(tiny_config())) is TransformerModel
    sizes = TransformerForConditionalGeneration(TransformerConfig(vocab_size=32000))
    # Paper, table 3: the base model has 65M parameters (with a 37k joint vocabulary; 32k here -> ~60.5M).
    assert 60e6 < sizes.num_parameters() < 61e6


# ---------------------------------------------------------------------------------------------- positions, save


def test_sinusoidal_table_is_the_paper_formula():
    table = TransformerSinusoidalPositionalEmbedding(50, 10).weight
    for pos in (0, 1, 7, 49):
        for i in range(5):
            angle = pos / 10000 ** (2 * i / 10)
            assert table[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert table[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)
    odd = TransformerSinusoidalPositionalEmbedding(5, 7).weight  # an odd width keeps the last sine column
    assert odd.shape == (5, 7) and odd[3, 6].item() == pytest.approx(math.sin(3 / 10000 ** (6 / 7)), abs=1e-6)


def test_save_load_round_trip_recomputes_positions_and_keeps_ties(tmp_path):
    model = tiny_model()
    input_ids = torch.tensor([[5, 6, 7, 8, EOS], [9, 10, EOS, PAD, PAD]])
    mask = (input_ids != PAD).long()
    labels = torch.tensor([[8, 7, 6, 5, EOS], [10, 9, EOS, -100, -100]])
    expected = model(input_ids=input_ids, attention_mask=mask, labels=labels)
    model.save_pretrained(tmp_path)
    with safe_open(tmp_path / "model.safetensors", "pt") as f:
        keys = set(f.keys())
    assert not any("embed_positions" in k for k in keys)  # a function of the shape, never stored
    assert "model.encoder.embed_tokens.weight" in keys
    assert "lm_head.weight" not in keys and "model.decoder.embed_tokens.weight" not in keys  # one shared matrix

    loaded = AutoModelForSeq2SeqLM.from_pretrained(tmp_path).eval()
    assert type(loaded) is TransformerForConditionalGeneration
    fresh = TransformerSinusoidalPositionalEmbedding(24, 32).weight
    for stack in (loaded.model.encoder, loaded.model.decoder):
        torch.testing.assert_close(stack.embed_positions.weight, fresh, rtol=0, atol=0)
    assert loaded.lm_head.weight is loaded.model.encoder.embed_tokens.weight
    assert loaded.model.decoder.embed_tokens.weight is loaded.model.encoder.embed_tokens.weight
    output = loaded(input_ids=input_ids, attention_mask=mask, labels=labels)
    torch.testing.assert_close(output.logits, expected.logits, rtol=0, atol=0)
    assert output.loss.item() == expected.loss.item()


@pytest.mark.parametrize(("share", "tie"), [(False, True), (True, False), (False, False)])
def test_untied_variants_keep_separate_matrices(tmp_path, share, tie):
    model = tiny_model(share_embeddings=share, tie_word_embeddings=tie)
    encoder, decoder, head = (model.model.encoder.embed_tokens.weight, model.model.decoder.embed_tokens.weight,
                              model.lm_head.weight)
    assert (decoder is encoder) == share
    assert (head is (encoder if share else decoder)) == tie
    model.save_pretrained(tmp_path)
    loaded = AutoModelForSeq2SeqLM.from_pretrained(tmp_path)
    assert (loaded.model.decoder.embed_tokens.weight is loaded.model.encoder.embed_tokens.weight) == share
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], tensor, rtol=0, atol=0, msg=name)


# ------------------------------------------------------------------------------------------------ computation


@pytest.mark.parametrize("pre_norm", [False, True])
def test_sdpa_and_eager_attention_agree(tmp_path, pre_norm):
    tiny_model(pre_norm=pre_norm).save_pretrained(tmp_path)
    sdpa = AutoModelForSeq2SeqLM.from_pretrained(tmp_path, attn_implementation="sdpa").eval()
    eager = AutoModelForSeq2SeqLM.from_pretrained(tmp_path, attn_implementation="eager").eval()
    assert (sdpa.config._attn_implementation, eager.config._attn_implementation) == ("sdpa", "eager")
    input_ids, mask, labels = reversal_batch(torch.Generator().manual_seed(1), batch_size=6)
    a = sdpa(input_ids=input_ids, attention_mask=mask, labels=labels)
    b = eager(input_ids=input_ids, attention_mask=mask, labels=labels, output_attentions=True)
    torch.testing.assert_close(a.logits, b.logits, rtol=1e-5, atol=1e-5)
    # eager exposes the weights: rows are distributions, padded source positions get none, decoder is causal
    cross = b.cross_attentions[0]  # (B, nh, T, S)
    torch.testing.assert_close(cross.sum(-1), torch.ones_like(cross.sum(-1)))
    assert (mask == 0).any()
    assert cross.masked_select(mask[:, None, None, :].expand_as(cross) == 0).abs().max() < 1e-6
    assert torch.triu(b.decoder_attentions[0], diagonal=1).abs().max() == 0


def test_decoder_is_causal_and_encoder_ignores_padding():
    model = tiny_model()
    source = torch.tensor([[5, 6, 7, EOS]])
    target = torch.tensor([[BOS, 9, 10, 11, 12]])
    changed = target.clone()
    changed[0, 3] = 4
    a = model(input_ids=source, decoder_input_ids=target).logits
    b = model(input_ids=source, decoder_input_ids=changed).logits
    torch.testing.assert_close(a[:, :3], b[:, :3], rtol=0, atol=0)  # positions before the change see nothing of it
    assert not torch.allclose(a[:, 3:], b[:, 3:])
    # padding the source (masked) changes nothing for the real positions
    padded = torch.tensor([[5, 6, 7, EOS, PAD, PAD]])
    c = model(input_ids=padded, attention_mask=(padded != PAD).long(), decoder_input_ids=target).logits
    torch.testing.assert_close(a, c, rtol=1e-5, atol=1e-5)


def test_label_loss_is_token_cross_entropy_with_shifted_inputs():
    model = tiny_model()
    source = torch.tensor([[5, 6, 7, EOS], [8, EOS, PAD, PAD]])
    labels = torch.tensor([[7, 6, 5, EOS], [8, EOS, -100, -100]])
    out = model(input_ids=source, attention_mask=(source != PAD).long(), labels=labels)
    decoder_input_ids = torch.tensor([[BOS, 7, 6, 5], [BOS, 8, EOS, PAD]])
    logits = model(input_ids=source, attention_mask=(source != PAD).long(), decoder_input_ids=decoder_input_ids).logits
    torch.testing.assert_close(out.logits, logits)
    manual = torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), labels.reshape(-1), ignore_index=-100)
    assert out.loss.item() == pytest.approx(manual.item(), rel=1e-6)


# ------------------------------------------------------------------------------------------------- generation


def test_reverser_learned_and_cached_decoding_equals_uncached(reverser):
    input_ids, mask, labels = reversal_batch(torch.Generator().manual_seed(7), batch_size=32)
    kwargs = {"attention_mask": mask, "max_new_tokens": 10, "do_sample": False}
    cached = reverser.generate(input_ids, use_cache=True, **kwargs)
    uncached = reverser.generate(input_ids, use_cache=False, **kwargs)
    assert torch.equal(cached, uncached)
    # the outputs depend on the input (the reverser learned something), so the comparison is not vacuous
    targets = [[t for t in row if t != -100] for row in labels.tolist()]
    outputs = [row[1 : row.index(EOS) + 1] if EOS in row else row[1:] for row in cached.tolist()]
    assert sum(o == t for o, t in zip(outputs, targets)) >= 8
    assert len({tuple(o) for o in outputs}) > 16
    beam_cached = reverser.generate(input_ids, num_beams=4, use_cache=True, **kwargs)
    beam_uncached = reverser.generate(input_ids, num_beams=4, use_cache=False, **kwargs)
    assert torch.equal(beam_cached, beam_uncached)


def test_step_by_step_cached_logits_equal_full_forward(reverser):
    source = torch.tensor([[5, 9, 12, 4, EOS]])
    target = torch.tensor([[BOS, 4, 12, 9, 5, EOS]])
    full = reverser(input_ids=source, decoder_input_ids=target).logits  # (1, T, V)
    encoder_outputs = reverser.get_encoder()(input_ids=source)
    cache, steps = None, []
    for t in range(target.shape[1]):
        out = reverser(encoder_outputs=encoder_outputs, decoder_input_ids=target[:, t : t + 1], cache=cache, use_cache=True)
        cache = out.cache
        steps.append(out.logits)
    assert cache.get_seq_length() == target.shape[1]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=1e-5, atol=1e-5)


def test_padded_batch_generates_what_single_inputs_do(reverser):
    sources = [[5, 6, 7, 8, 9, 10, EOS], [11, 3, EOS], [4, 12, 13, 14, EOS]]
    width = max(map(len, sources))
    batch = torch.tensor([s + [PAD] * (width - len(s)) for s in sources])
    for beams in (1, 3):
        together = reverser.generate(batch, attention_mask=(batch != PAD).long(), max_new_tokens=9, num_beams=beams,
                                     do_sample=False)
        for row, source in zip(together.tolist(), sources):
            alone = reverser.generate(torch.tensor([source]), max_new_tokens=9, num_beams=beams, do_sample=False)[0].tolist()
            assert row[: len(alone)] == alone
            assert set(row[len(alone) :]) <= {PAD, EOS}  # finished rows are filled (greedy: pad, beam: eos)


def test_greedy_beam_and_sampling(reverser):
    source = torch.tensor([[5, 6, 7, 8, EOS]])
    greedy = reverser.generate(source, max_new_tokens=8, do_sample=False)
    assert greedy[0, 0].item() == BOS  # decoding starts from decoder_start_token_id
    # top-k 1 sampling is greedy; temperature sampling is reproducible from the seed and varies with it
    torch.manual_seed(0)
    assert torch.equal(reverser.generate(source, max_new_tokens=8, do_sample=True, top_k=1), greedy)
    draws = []
    for seed in (1, 1, 2, 3, 4, 5):
        torch.manual_seed(seed)
        draws.append(tuple(reverser.generate(source, max_new_tokens=8, do_sample=True, temperature=5.0, top_k=0)[0].tolist()))
    assert draws[0] == draws[1] and len(set(draws)) > 2
    beams = reverser.generate(source, max_new_tokens=8, num_beams=4, num_return_sequences=4, do_sample=False,
                              output_scores=True, return_dict_in_generate=True)
    assert beams.sequences.shape[0] == 4 and len({tuple(s) for s in beams.sequences.tolist()}) == 4
    assert beams.sequences_scores.tolist() == sorted(beams.sequences_scores.tolist(), reverse=True)


def test_bfloat16_checkpoint_generates_like_float32(reverser, tmp_path):
    reverser.save_pretrained(tmp_path)
    half = AutoModelForSeq2SeqLM.from_pretrained(tmp_path, dtype=torch.bfloat16).eval()
    assert half.dtype == torch.bfloat16
    sources = torch.tensor([[5, 6, 7, 8, EOS], [9, 10, 11, EOS, PAD]])
    mask = (sources != PAD).long()
    assert half(input_ids=sources, attention_mask=mask, decoder_input_ids=torch.tensor([[BOS], [BOS]])).logits.dtype == (
        torch.bfloat16)
    targets = torch.tensor([[BOS, 8, 7, 6, 5], [BOS, 11, 10, 9, EOS]])
    full = reverser(input_ids=sources, attention_mask=mask, decoder_input_ids=targets).logits.softmax(-1)
    low = half(input_ids=sources, attention_mask=mask, decoder_input_ids=targets).logits.float().softmax(-1)
    # bf16 rounds every weight to ~3 significant digits: close probabilities, the same confident choices
    torch.testing.assert_close(low, full, rtol=0, atol=0.15)
    confident = full.max(-1).values > 0.9
    assert confident.sum() >= 5 and torch.equal(low.argmax(-1)[confident], full.argmax(-1)[confident])
    generated = half.generate(sources, attention_mask=mask, max_new_tokens=8, do_sample=False)
    assert generated.shape[0] == 2 and bool(((generated >= 0) & (generated < VOCAB)).all())


def test_encoder_and_decoder_layer_counts_may_differ():
    model = tiny_model(encoder_layers=1, decoder_layers=3)
    source = torch.tensor([[5, 6, 7, EOS]])
    out = model.generate(source, max_new_tokens=4, do_sample=False, return_dict_in_generate=True, eos_token_id=None)
    assert len(out.cache.self_attention_cache.layers) == 3
    assert torch.equal(out.sequences, model.generate(source, max_new_tokens=4, do_sample=False, use_cache=False,
                                                     eos_token_id=None))


# ------------------------------------------------------------------------------------------------- bad inputs


def test_too_long_inputs_fail_with_a_clear_error():
    model = tiny_model(max_position_embeddings=8)
    with pytest.raises(ValueError, match=r"input \(source sequence\) has 9 positions .* max_position_embeddings is 8"):
        model(input_ids=torch.full((1, 9), 5), decoder_input_ids=torch.tensor([[BOS]]))
    with pytest.raises(ValueError, match="target sequence .* has 9 positions"):
        model(input_ids=torch.tensor([[5, EOS]]), decoder_input_ids=torch.full((1, 9), 5))
    with pytest.raises(ValueError, match="generate fewer tokens"):
        model.generate(torch.tensor([[5, EOS]]), max_new_tokens=20, do_sample=False, eos_token_id=None)


def test_bad_token_ids_and_missing_inputs():
    model = tiny_model()
    with pytest.raises(ValueError, match=r"input_ids holds token ids \[16\] outside the vocabulary \[0, 16\)"):
        model(input_ids=torch.tensor([[5, 16]]), decoder_input_ids=torch.tensor([[BOS]]))
    with pytest.raises(ValueError, match="decoder_input_ids holds token ids"):
        model(input_ids=torch.tensor([[5]]), decoder_input_ids=torch.tensor([[-3]]))
    with pytest.raises(ValueError, match="pass decoder_input_ids"):
        model(input_ids=torch.tensor([[5, EOS]]))
    with pytest.raises(ValueError, match="attention_mask has shape") as error:
        model(input_ids=torch.tensor([[5, EOS]]), attention_mask=torch.ones(1, 3), decoder_input_ids=torch.tensor([[BOS]]))
    assert str(error.value).endswith("expected (1, 2) (see docs/troubleshooting.md#model-inputs)")


# ------------------------------------------------------------------------------------------------ remote code


def test_remote_code_checkpoint_loads_without_hfext(tmp_path):
    model = tiny_model(seed=3)
    model.register_for_auto_class("AutoModelForSeq2SeqLM")
    model.config.register_for_auto_class()
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["auto_map"]["AutoModelForSeq2SeqLM"] == "modeling_transformer.TransformerForConditionalGeneration"
    assert {"modeling_transformer.py", "configuration_transformer.py"} <= set(os.listdir(tmp_path))
    source = [[5, 6, 7, EOS]]
    expected = model(input_ids=torch.tensor(source), decoder_input_ids=torch.tensor([[BOS, 7]])).logits
    code = (
        "import json, sys, torch\n"
        "from transformers import AutoModelForSeq2SeqLM\n"
        f"m = AutoModelForSeq2SeqLM.from_pretrained({str(tmp_path)!r}, trust_remote_code=True).eval()\n"
        f"logits = m(input_ids=torch.tensor({source}), decoder_input_ids=torch.tensor([[{BOS}, 7]])).logits\n"
        "print(json.dumps({'module': type(m).__module__, 'hfext': 'hfext' in sys.modules, 'logits': logits.tolist()}))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "HF_MODULES_CACHE": str(tmp_path / "modules")}
    done = subprocess.run([sys.executable, "-c", code], check=False, env=env, capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["module"].startswith("transformers_modules") and not report["hfext"]
    torch.testing.assert_close(torch.tensor(report["logits"]), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("share", [True, False])
def test_resize_token_embeddings_resizes_every_matrix_and_keeps_ties(tmp_path, share):
    model = tiny_model(share_embeddings=share)
    old = model.model.decoder.embed_tokens.weight.detach().clone()
    model.resize_token_embeddings(VOCAB + 4)
    encoder, decoder = model.model.encoder.embed_tokens, model.model.decoder.embed_tokens
    assert model.config.vocab_size == VOCAB + 4
    assert encoder.weight.shape == decoder.weight.shape == model.lm_head.weight.shape == (VOCAB + 4, 32)
    assert model.lm_head.weight is decoder.weight and (decoder.weight is encoder.weight) == share
    assert encoder.embed_scale == decoder.embed_scale == math.sqrt(32)  # still the scaled embedding
    torch.testing.assert_close(decoder.weight[:VOCAB], old, rtol=0, atol=0)
    new_ids = torch.tensor([[VOCAB + 3, EOS]])
    logits = model(input_ids=new_ids, decoder_input_ids=torch.tensor([[BOS, VOCAB + 2]])).logits
    assert logits.shape == (1, 2, VOCAB + 4)
    model.save_pretrained(tmp_path)
    reloaded = AutoModelForSeq2SeqLM.from_pretrained(tmp_path)
    torch.testing.assert_close(reloaded(input_ids=new_ids, decoder_input_ids=torch.tensor([[BOS, VOCAB + 2]])).logits,
                               logits, rtol=0, atol=0)


def test_inputs_embeds_give_the_same_outputs_as_ids():
    model = tiny_model()
    source, target = torch.tensor([[5, 6, 7, EOS]]), torch.tensor([[BOS, 9, 10]])
    by_ids = model(input_ids=source, decoder_input_ids=target, output_hidden_states=True)
    by_embeds = model(inputs_embeds=model.model.encoder.embed_tokens(source),
                      decoder_inputs_embeds=model.model.decoder.embed_tokens(target))
    torch.testing.assert_close(by_embeds.logits, by_ids.logits, rtol=0, atol=0)
    # hidden states: the embeddings (+ positions) and one per layer, for each stack
    assert len(by_ids.encoder_hidden_states) == 2 + 1 and len(by_ids.decoder_hidden_states) == 3 + 1
    torch.testing.assert_close(by_ids.encoder_hidden_states[-1], by_ids.encoder_last_hidden_state)
