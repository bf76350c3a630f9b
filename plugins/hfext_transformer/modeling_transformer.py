"""The encoder-decoder Transformer of "Attention Is All You Need" (Vaswani et al., 2017) as a transformers model.

>>> import torch
>>> from hfext_transformer import TransformerConfig, TransformerForConditionalGeneration
>>> config = TransformerConfig(vocab_size=100, d_model=32, num_heads=4, encoder_layers=2, decoder_layers=2, ffn_dim=64)
>>> model = TransformerForConditionalGeneration(config).eval()
>>> source = torch.tensor([[5, 6, 7, 2]])
>>> model(input_ids=source, labels=torch.tensor([[7, 6, 5, 2]])).logits.shape
torch.Size([1, 4, 100])
>>> model.generate(source, max_new_tokens=5, do_sample=False).shape[0]
1

Pieces, bottom-up: sinusoidal positions PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(...);
multi-head attention softmax(Q K^T / sqrt(d_k)) V over h heads (dispatched to torch's SDPA or the eager
reference through transformers' ``ALL_ATTENTION_FUNCTIONS``); the position-wise FFN max(0, x W1 + b1) W2 + b2;
each sub-layer wrapped as LayerNorm(x + Dropout(Sublayer(x))) (post-norm, the paper) or
x + Dropout(Sublayer(LayerNorm(x))) (pre-norm). Decoding caches keys/values in an ``EncoderDecoderCache``
(self-attention grows one position a step; cross-attention is computed once from the encoder output).

Self-contained: imports only torch, transformers and the sibling configuration file, so a pushed
checkpoint loads with ``trust_remote_code=True`` on a machine without hfext.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.cache_utils import Cache, DynamicCache, EncoderDecoderCache
from transformers.modeling_outputs import (
    BaseModelOutput,
    BaseModelOutputWithPastAndCrossAttentions,
    Seq2SeqLMOutput,
    Seq2SeqModelOutput,
)
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

from .configuration_transformer import TransformerConfig, see


def shift_tokens_right(labels: torch.Tensor, pad_token_id: int | None, decoder_start_token_id: int | None) -> torch.Tensor:
    """Teacher forcing: the decoder reads ``<start> y_1 ... y_{n-1}`` and predicts ``y_1 ... y_n``."""
    if decoder_start_token_id is None:
        raise ValueError(
            "config.decoder_start_token_id is None; set it (usually the <s> / bos id) to train with labels"
            + see("config-value")
        )
    if pad_token_id is None:
        raise ValueError(
            "config.pad_token_id is None; set it so that -100 label positions can be fed to the decoder"
            + see("config-value")
        )
    shifted = labels.new_zeros(labels.shape)
    shifted[:, 1:] = labels[:, :-1].clone()
    shifted[:, 0] = decoder_start_token_id
    return shifted.masked_fill_(shifted == -100, pad_token_id)  # ignored label positions become padding


def _additive_mask(allowed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A boolean "may attend" mask -> 0 / most-negative float, the form both SDPA and eager add to the scores.
    A finite minimum (not -inf) keeps a fully masked row (a padding query) a harmless uniform softmax, not NaN."""
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill_(~allowed, torch.finfo(dtype).min)


def _check_token_ids(input_ids: torch.Tensor, vocab_size: int, name: str) -> None:
    if input_ids.numel() and (int(input_ids.min()) < 0 or int(input_ids.max()) >= vocab_size):
        bad = input_ids[(input_ids < 0) | (input_ids >= vocab_size)].unique()[:5].tolist()
        raise ValueError(
            f"{name} holds token ids {bad} outside the vocabulary [0, {vocab_size}); use the tokenizer this model "
            "was trained with, or resize the embeddings with model.resize_token_embeddings(len(tokenizer))"
            + see("token-ids")
        )


class TransformerSinusoidalPositionalEmbedding(nn.Module):
    """The fixed positional encoding of section 3.5, a (max_positions, d_model) table.

    The table is a non-persistent buffer (it is never saved: it is a function of the shape). ``from_pretrained``
    builds the model on the meta device, so :meth:`TransformerPreTrainedModel._init_weights` recomputes it."""

    def __init__(self, num_positions: int, embedding_dim: int):
        super().__init__()
        self.num_positions = num_positions
        self.embedding_dim = embedding_dim
        self.register_buffer("weight", self.compute_table(num_positions, embedding_dim), persistent=False)

    @staticmethod
    def compute_table(num_positions: int, embedding_dim: int) -> torch.Tensor:
        # PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d))
        position = torch.arange(num_positions, dtype=torch.float64)[:, None]  # (P, 1)
        inv_freq = torch.exp(torch.arange(0, embedding_dim, 2, dtype=torch.float64) * (-math.log(10000.0) / embedding_dim))
        angles = position * inv_freq  # (P, ceil(d/2))
        table = torch.zeros(num_positions, embedding_dim, dtype=torch.float64)
        table[:, 0::2] = torch.sin(angles)
        table[:, 1::2] = torch.cos(angles[:, : embedding_dim // 2])
        return table.float()

    def forward(self, position_ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(position_ids, self.weight)  # (..., d)


class TransformerScaledWordEmbedding(nn.Embedding):
    """Token embeddings multiplied by sqrt(d_model) (section 3.4) so they are not drowned by the positions."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None, embed_scale: float = 1.0):
        super().__init__(num_embeddings, embedding_dim, padding_idx)
        self.embed_scale = embed_scale

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return super().forward(input_ids) * self.embed_scale


def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled dot-product attention written out: softmax(Q K^T / sqrt(d_k) + mask) V."""
    if scaling is None:
        scaling = query.size(-1) ** -0.5
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling  # (B, nh, T, S)
    if attention_mask is not None:
        scores = scores + attention_mask
    weights = F.softmax(scores, dim=-1)
    weights = F.dropout(weights, p=dropout, training=module.training)
    output = torch.matmul(weights, value)  # (B, nh, T, hs)
    return output.transpose(1, 2).contiguous(), weights  # (B, T, nh, hs)


class TransformerAttention(nn.Module):
    """Multi-head attention (section 3.2.2): h heads of size d_model / h, projected back to d_model.

    Self-attention when ``key_value_states`` is None, else cross-attention over the encoder output. With a
    cache, self-attention appends this step's keys/values; cross-attention computes them once and reuses them."""

    def __init__(self, config: TransformerConfig, is_causal: bool = False, layer_idx: int | None = None):
        super().__init__()
        self.config = config
        self.embed_dim = config.d_model
        self.num_heads = config.num_heads
        self.head_dim = config.d_model // config.num_heads
        self.scaling = self.head_dim**-0.5  # the 1/sqrt(d_k) of scaled dot-product attention
        self.dropout = config.attention_dropout
        self.is_causal = is_causal
        self.layer_idx = layer_idx
        self.q_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.k_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.v_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.out_proj = nn.Linear(self.embed_dim, self.embed_dim)

    def forward(
        self,
        hidden_states: torch.Tensor,
        key_value_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        cache: Cache | None = None,
        **kwargs,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        is_cross_attention = key_value_states is not None
        batch_size, length = hidden_states.shape[:2]
        query = self.q_proj(hidden_states).view(batch_size, length, -1, self.head_dim).transpose(1, 2)  # (B, nh, T, hs)

        layer_cache, reuse = cache, False
        if isinstance(cache, EncoderDecoderCache):
            layer_cache = cache.cross_attention_cache if is_cross_attention else cache.self_attention_cache
            reuse = is_cross_attention and cache.is_updated.get(self.layer_idx, False)
        if reuse:  # the encoder output does not change while decoding: its keys/values were cached at step 1
            key = layer_cache.layers[self.layer_idx].keys
            value = layer_cache.layers[self.layer_idx].values
        else:
            source = key_value_states if is_cross_attention else hidden_states
            kv_shape = (batch_size, source.shape[1], -1, self.head_dim)
            key = self.k_proj(source).view(kv_shape).transpose(1, 2)  # (B, nh, S, hs)
            value = self.v_proj(source).view(kv_shape).transpose(1, 2)  # (B, nh, S, hs)
            if layer_cache is not None:
                key, value = layer_cache.update(key, value, self.layer_idx)
                if is_cross_attention and isinstance(cache, EncoderDecoderCache):
                    cache.is_updated[self.layer_idx] = True

        attention_interface = ALL_ATTENTION_FUNCTIONS.get_interface(self.config._attn_implementation, eager_attention_forward)
        output, weights = attention_interface(
            self,
            query,
            key,
            value,
            attention_mask,
            dropout=self.dropout if self.training else 0.0,
            scaling=self.scaling,
            is_causal=False,  # the encoder/decoder put every causal and padding constraint in attention_mask
            **kwargs,
        )
        output = output.reshape(batch_size, length, self.embed_dim)  # (B, T, d): heads concatenated
        return self.out_proj(output), weights


class TransformerFeedForward(nn.Module):
    """FFN(x) = act(x W1 + b1) W2 + b2, applied to every position separately (section 3.3)."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.fc1 = nn.Linear(config.d_model, config.ffn_dim)
        self.fc2 = nn.Linear(config.ffn_dim, config.d_model)
        self.activation_fn = ACT2FN[config.activation]
        self.activation_dropout = config.activation_dropout

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.activation_fn(self.fc1(hidden_states))  # (B, T, d_ff)
        hidden_states = F.dropout(hidden_states, p=self.activation_dropout, training=self.training)
        return self.fc2(hidden_states)  # (B, T, d)


def _residual(layer: nn.Module, hidden_states: torch.Tensor, norm: nn.LayerNorm, sublayer) -> tuple[torch.Tensor, object]:
    """Residual connection with LayerNorm after (the paper) or before (pre-norm) the sub-layer."""
    inputs = norm(hidden_states) if layer.pre_norm else hidden_states
    output = sublayer(inputs)
    extra = None
    if isinstance(output, tuple):
        output, extra = output
    hidden_states = hidden_states + F.dropout(output, p=layer.dropout, training=layer.training)
    return (hidden_states if layer.pre_norm else norm(hidden_states)), extra


class TransformerEncoderLayer(nn.Module):
    """Self-attention, then the FFN, each with a residual connection and LayerNorm."""

    def __init__(self, config: TransformerConfig, layer_idx: int | None = None):
        super().__init__()
        self.pre_norm = config.pre_norm
        self.dropout = config.dropout
        self.self_attn = TransformerAttention(config, is_causal=False, layer_idx=layer_idx)
        self.self_attn_layer_norm = nn.LayerNorm(config.d_model)
        self.ffn = TransformerFeedForward(config)
        self.final_layer_norm = nn.LayerNorm(config.d_model)

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs):
        hidden_states, weights = _residual(
            self, hidden_states, self.self_attn_layer_norm,
            lambda x: self.self_attn(x, attention_mask=attention_mask, **kwargs),
        )
        hidden_states, _ = _residual(self, hidden_states, self.final_layer_norm, self.ffn)
        return hidden_states, weights


class TransformerDecoderLayer(nn.Module):
    """Masked self-attention, cross-attention over the encoder output, then the FFN."""

    def __init__(self, config: TransformerConfig, layer_idx: int | None = None):
        super().__init__()
        self.pre_norm = config.pre_norm
        self.dropout = config.dropout
        self.self_attn = TransformerAttention(config, is_causal=True, layer_idx=layer_idx)
        self.self_attn_layer_norm = nn.LayerNorm(config.d_model)
        self.encoder_attn = TransformerAttention(config, is_causal=False, layer_idx=layer_idx)
        self.encoder_attn_layer_norm = nn.LayerNorm(config.d_model)
        self.ffn = TransformerFeedForward(config)
        self.final_layer_norm = nn.LayerNorm(config.d_model)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        cache: Cache | None = None,
        **kwargs,
    ):
        hidden_states, self_weights = _residual(
            self, hidden_states, self.self_attn_layer_norm,
            lambda x: self.self_attn(x, attention_mask=attention_mask, cache=cache, **kwargs),
        )
        cross_weights = None
        if encoder_hidden_states is not None:
            hidden_states, cross_weights = _residual(
                self, hidden_states, self.encoder_attn_layer_norm,
                lambda x: self.encoder_attn(
                    x, key_value_states=encoder_hidden_states, attention_mask=encoder_attention_mask, cache=cache, **kwargs
                ),
            )
        hidden_states, _ = _residual(self, hidden_states, self.final_layer_norm, self.ffn)
        return hidden_states, self_weights, cross_weights


class TransformerPreTrainedModel(PreTrainedModel):
    config_class = TransformerConfig
    config: TransformerConfig
    base_model_prefix = "model"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = False
    _no_split_modules: ClassVar[list[str]] = ["TransformerEncoderLayer", "TransformerDecoderLayer"]
    _supports_sdpa = True
    _supports_flash_attn = False
    _supports_flex_attn = False

    def _init_weights(self, module):
        std = self.config.init_std
        if isinstance(module, nn.Linear):
            init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            # Scaled by sqrt(d_model) later, so start at std d_model^-1/2: unit-variance inputs (as fairseq does).
            embedding_std = self.config.d_model**-0.5 if self.config.scale_embedding else std
            init.normal_(module.weight, mean=0.0, std=embedding_std)
            if module.padding_idx is not None and not getattr(module.weight, "_is_hf_initialized", False):
                init.zeros_(module.weight[module.padding_idx])
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, TransformerSinusoidalPositionalEmbedding):
            # A non-persistent buffer: after from_pretrained (meta device) it must be recomputed, not loaded.
            init.copy_(module.weight, module.compute_table(module.num_positions, module.embedding_dim))

    def _embedding_ties(self) -> dict[str, str]:
        return {}

    def get_expanded_tied_weights_keys(self, all_submodels: bool = False) -> dict:
        # transformers ties only under tie_word_embeddings; here encoder/decoder sharing follows
        # share_embeddings and the output projection follows tie_word_embeddings, independently.
        if all_submodels:
            return super().get_expanded_tied_weights_keys(all_submodels=True)
        return self._embedding_ties()


def _check_length(length: int, config: TransformerConfig, what: str, hint: str) -> None:
    if length > config.max_position_embeddings:
        raise ValueError(
            f"the {what} has {length} positions but this model's max_position_embeddings is "
            f"{config.max_position_embeddings}; {hint}" + see("max-seq-length")
        )


class TransformerEncoder(TransformerPreTrainedModel):
    """N encoder layers over scaled token embeddings + sinusoidal positions."""

    def __init__(self, config: TransformerConfig):
        super().__init__(config)
        scale = math.sqrt(config.d_model) if config.scale_embedding else 1.0
        self.embed_tokens = TransformerScaledWordEmbedding(config.vocab_size, config.d_model, config.pad_token_id, scale)
        self.embed_positions = TransformerSinusoidalPositionalEmbedding(config.max_position_embeddings, config.d_model)
        self.layers = nn.ModuleList([TransformerEncoderLayer(config, i) for i in range(config.encoder_layers)])
        # Pre-norm leaves the residual stream un-normalised: one LayerNorm at the top of the stack.
        self.layer_norm = nn.LayerNorm(config.d_model) if config.pre_norm else None
        self.post_init()

    def get_input_embeddings(self):
        return self.embed_tokens

    def set_input_embeddings(self, value):
        self.embed_tokens = value

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ) -> BaseModelOutput:
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids or inputs_embeds to the encoder" + see("model-inputs"))
        if input_ids is not None:
            _check_token_ids(input_ids, self.config.vocab_size, "input_ids")
            inputs_embeds = self.embed_tokens(input_ids)
        batch_size, length = inputs_embeds.shape[:2]
        _check_length(length, self.config, "input (source sequence)",
                      f"truncate it, e.g. tokenizer(..., truncation=True, max_length={self.config.max_position_embeddings}), "
                      "or build the model with a larger max_position_embeddings")
        # The table stays float32 (built so even under a bf16 default dtype); cast it to the activations' dtype.
        positions = self.embed_positions(torch.arange(length, device=inputs_embeds.device)).to(inputs_embeds.dtype)  # (T, d)
        hidden_states = F.dropout(inputs_embeds + positions, p=self.config.dropout, training=self.training)  # (B, T, d)

        mask = None
        if attention_mask is not None:
            if attention_mask.shape != (batch_size, length):
                raise ValueError(
                    f"attention_mask has shape {tuple(attention_mask.shape)}, expected {(batch_size, length)}"
                    + see("model-inputs")
                )
            mask = _additive_mask(attention_mask.bool()[:, None, None, :], hidden_states.dtype)  # (B, 1, 1, S)

        all_hidden, all_attentions = [], []
        for layer in self.layers:
            if output_hidden_states:
                all_hidden.append(hidden_states)
            hidden_states, weights = layer(hidden_states, attention_mask=mask, **kwargs)
            if output_attentions:
                all_attentions.append(weights)
        if self.layer_norm is not None:
            hidden_states = self.layer_norm(hidden_states)
        if output_hidden_states:
            all_hidden.append(hidden_states)
        return BaseModelOutput(
            last_hidden_state=hidden_states,
            hidden_states=tuple(all_hidden) if output_hidden_states else None,
            attentions=tuple(all_attentions) if output_attentions else None,
        )


class TransformerDecoder(TransformerPreTrainedModel):
    """N decoder layers; position t sees target positions <= t and the whole (unpadded) source."""

    def __init__(self, config: TransformerConfig):
        super().__init__(config)
        scale = math.sqrt(config.d_model) if config.scale_embedding else 1.0
        self.embed_tokens = TransformerScaledWordEmbedding(config.vocab_size, config.d_model, config.pad_token_id, scale)
        self.embed_positions = TransformerSinusoidalPositionalEmbedding(config.max_position_embeddings, config.d_model)
        self.layers = nn.ModuleList([TransformerDecoderLayer(config, i) for i in range(config.decoder_layers)])
        self.layer_norm = nn.LayerNorm(config.d_model) if config.pre_norm else None
        self.post_init()

    def get_input_embeddings(self):
        return self.embed_tokens

    def set_input_embeddings(self, value):
        self.embed_tokens = value

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        past_key_values: Cache | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPastAndCrossAttentions:
        cache = cache if cache is not None else past_key_values
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError(
                "pass exactly one of decoder_input_ids or decoder_inputs_embeds to the decoder" + see("model-inputs")
            )
        if input_ids is not None:
            _check_token_ids(input_ids, self.config.vocab_size, "decoder_input_ids")
            inputs_embeds = self.embed_tokens(input_ids)
        use_cache = self.config.use_cache if use_cache is None else use_cache
        if use_cache and cache is None:
            cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
        elif not use_cache:
            cache = None
        batch_size, length = inputs_embeds.shape[:2]
        past = cache.get_seq_length() if cache is not None else 0
        _check_length(past + length, self.config, "target sequence (decoder input plus cached steps)",
                      "generate fewer tokens (max_new_tokens / max_length) or truncate the labels")
        positions = self.embed_positions(torch.arange(past, past + length, device=inputs_embeds.device))
        positions = positions.to(inputs_embeds.dtype)  # (T, d)
        hidden_states = F.dropout(inputs_embeds + positions, p=self.config.dropout, training=self.training)  # (B, T, d)

        # Target t may attend to targets <= t (past + t in absolute positions) that are not padding.
        self_mask = None
        if length > 1 or attention_mask is not None:
            query_pos = torch.arange(past, past + length, device=hidden_states.device)
            key_pos = torch.arange(past + length, device=hidden_states.device)
            allowed = (key_pos[None, :] <= query_pos[:, None])[None, None]  # (1, 1, T, past + T)
            if attention_mask is not None:
                if attention_mask.shape != (batch_size, past + length):
                    raise ValueError(
                        f"decoder_attention_mask has shape {tuple(attention_mask.shape)}, expected "
                        f"{(batch_size, past + length)} (cached steps + new steps)" + see("model-inputs")
                    )
                allowed = allowed & attention_mask.bool()[:, None, None, :]  # (B, 1, T, past + T)
            self_mask = _additive_mask(allowed, hidden_states.dtype)
        cross_mask = None
        if encoder_hidden_states is not None and encoder_attention_mask is not None:
            cross_mask = _additive_mask(encoder_attention_mask.bool()[:, None, None, :], hidden_states.dtype)  # (B, 1, 1, S)

        all_hidden, all_self, all_cross = [], [], []
        for layer in self.layers:
            if output_hidden_states:
                all_hidden.append(hidden_states)
            hidden_states, self_weights, cross_weights = layer(
                hidden_states, attention_mask=self_mask, encoder_hidden_states=encoder_hidden_states,
                encoder_attention_mask=cross_mask, cache=cache, **kwargs,
            )
            if output_attentions:
                all_self.append(self_weights)
                all_cross.append(cross_weights)
        if self.layer_norm is not None:
            hidden_states = self.layer_norm(hidden_states)
        if output_hidden_states:
            all_hidden.append(hidden_states)
        return BaseModelOutputWithPastAndCrossAttentions(
            last_hidden_state=hidden_states,
            cache=cache,
            hidden_states=tuple(all_hidden) if output_hidden_states else None,
            attentions=tuple(all_self) if output_attentions else None,
            cross_attentions=tuple(all_cross) if output_attentions else None,
        )


class TransformerModel(TransformerPreTrainedModel):
    """Encoder + decoder, returning the decoder's last hidden states (no output projection)."""

    _tied_weights_keys: ClassVar[dict[str, str]] = {"decoder.embed_tokens.weight": "encoder.embed_tokens.weight"}

    def __init__(self, config: TransformerConfig):
        super().__init__(config)
        self.encoder = TransformerEncoder(config)
        self.decoder = TransformerDecoder(config)
        self.post_init()

    def _embedding_ties(self) -> dict[str, str]:
        return dict(self._tied_weights_keys) if self.config.share_embeddings else {}

    def get_input_embeddings(self):
        return self.encoder.embed_tokens

    def set_input_embeddings(self, value):
        self.encoder.embed_tokens = value
        if self.config.share_embeddings:
            self.decoder.embed_tokens = value

    def get_encoder(self, modality=None):
        return self.encoder

    def get_decoder(self):
        return self.decoder

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: BaseModelOutput | tuple | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        past_key_values: Cache | None = None,
        **kwargs,
    ) -> Seq2SeqModelOutput:
        cache = cache if cache is not None else past_key_values
        if encoder_outputs is None:
            encoder_outputs = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds,
                output_attentions=output_attentions, output_hidden_states=output_hidden_states, **kwargs,
            )
        elif not isinstance(encoder_outputs, BaseModelOutput):
            encoder_outputs = BaseModelOutput(
                last_hidden_state=encoder_outputs[0],
                hidden_states=encoder_outputs[1] if len(encoder_outputs) > 1 else None,
                attentions=encoder_outputs[2] if len(encoder_outputs) > 2 else None,
            )
        if decoder_input_ids is None and decoder_inputs_embeds is None:
            raise ValueError(
                "pass decoder_input_ids (or labels to TransformerForConditionalGeneration, which shifts them right); "
                "to translate, use model.generate(input_ids)" + see("model-inputs")
            )
        decoder_outputs = self.decoder(
            input_ids=decoder_input_ids, attention_mask=decoder_attention_mask,
            encoder_hidden_states=encoder_outputs.last_hidden_state, encoder_attention_mask=attention_mask,
            cache=cache, inputs_embeds=decoder_inputs_embeds, use_cache=use_cache,
            output_attentions=output_attentions, output_hidden_states=output_hidden_states, **kwargs,
        )
        return Seq2SeqModelOutput(
            last_hidden_state=decoder_outputs.last_hidden_state,
            cache=decoder_outputs.cache,
            decoder_hidden_states=decoder_outputs.hidden_states,
            decoder_attentions=decoder_outputs.attentions,
            cross_attentions=decoder_outputs.cross_attentions,
            encoder_last_hidden_state=encoder_outputs.last_hidden_state,
            encoder_hidden_states=encoder_outputs.hidden_states,
            encoder_attentions=encoder_outputs.attentions,
        )


class TransformerForConditionalGeneration(TransformerPreTrainedModel, GenerationMixin):
    """The Transformer with its output projection to the vocabulary (tied to the embeddings): translation,
    summarisation, any sequence-to-sequence task; ``generate()`` does greedy, beam search and sampling."""

    _tied_weights_keys: ClassVar[dict[str, str]] = {"lm_head.weight": "model.decoder.embed_tokens.weight"}

    def __init__(self, config: TransformerConfig):
        super().__init__(config)
        self.model = TransformerModel(config)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.post_init()

    def _embedding_ties(self) -> dict[str, str]:
        if not self.config.tie_word_embeddings:
            return {}
        # Point at the one source of the chain (decoder embeddings may themselves be tied to the encoder's).
        source = "encoder" if self.config.share_embeddings else "decoder"
        return {"lm_head.weight": f"model.{source}.embed_tokens.weight"}

    def get_input_embeddings(self):
        return self.model.get_input_embeddings()

    def set_input_embeddings(self, value):
        self.model.set_input_embeddings(value)

    def get_output_embeddings(self):
        return self.lm_head

    def set_output_embeddings(self, value):
        self.lm_head = value

    def get_encoder(self, modality=None):
        return self.model.encoder

    def get_decoder(self):
        return self.model.decoder

    def _resize_token_embeddings(self, new_num_tokens, pad_to_multiple_of=None, mean_resizing=True):
        # transformers resizes the input (encoder) embeddings and the output projection; separate decoder
        # embeddings must follow, or the new ids would index past their end.
        embeddings = super()._resize_token_embeddings(new_num_tokens, pad_to_multiple_of, mean_resizing)
        if not self.config.share_embeddings:
            decoder = self.model.decoder
            decoder.embed_tokens = self._get_resized_embeddings(
                decoder.embed_tokens, embeddings.weight.shape[0], mean_resizing=mean_resizing
            )
        return embeddings

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: BaseModelOutput | tuple | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        past_key_values: Cache | None = None,
        **kwargs,
    ) -> Seq2SeqLMOutput:
        r"""``labels`` (B, T): target ids, -100 where ignored; the decoder input is them shifted right
        behind ``decoder_start_token_id``. The loss is the mean token cross-entropy (label smoothing is the
        training recipe's choice, see ``recipes/train_seq2seq.py``). ``logits_to_keep`` = k > 0 projects only
        the last k positions (generation needs just the last)."""
        cache = cache if cache is not None else past_key_values
        if labels is not None:
            use_cache = False
            if decoder_input_ids is None and decoder_inputs_embeds is None:
                decoder_input_ids = shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)
        outputs = self.model(
            input_ids=input_ids, attention_mask=attention_mask, decoder_input_ids=decoder_input_ids,
            decoder_attention_mask=decoder_attention_mask, encoder_outputs=encoder_outputs, cache=cache,
            inputs_embeds=inputs_embeds, decoder_inputs_embeds=decoder_inputs_embeds, use_cache=use_cache,
            output_attentions=output_attentions, output_hidden_states=output_hidden_states, **kwargs,
        )
        hidden_states = outputs.last_hidden_state  # (B, T, d)
        keep = slice(-logits_to_keep, None) if isinstance(logits_to_keep, int) else logits_to_keep
        logits = self.lm_head(hidden_states[:, keep, :])  # (B, T', V)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), labels.to(logits.device).reshape(-1),
                                   ignore_index=-100)
        return Seq2SeqLMOutput(
            loss=loss,
            logits=logits,
            cache=outputs.cache,
            decoder_hidden_states=outputs.decoder_hidden_states,
            decoder_attentions=outputs.decoder_attentions,
            cross_attentions=outputs.cross_attentions,
            encoder_last_hidden_state=outputs.encoder_last_hidden_state,
            encoder_hidden_states=outputs.encoder_hidden_states,
            encoder_attentions=outputs.encoder_attentions,
        )

    def prepare_decoder_input_ids_from_labels(self, labels: torch.Tensor) -> torch.Tensor:
        return shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)


__all__ = [
    "TransformerAttention",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "TransformerFeedForward",
    "TransformerForConditionalGeneration",
    "TransformerModel",
    "TransformerPreTrainedModel",
    "TransformerScaledWordEmbedding",
    "TransformerSinusoidalPositionalEmbedding",
    "shift_tokens_right",
]
