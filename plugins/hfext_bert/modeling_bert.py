"""BERT (Devlin et al., 2019) as a transformers model: the Transformer encoder pretrained with masked
language modelling (MLM) and next-sentence prediction (NSP), then fine-tuned with a small head.

>>> import torch
>>> from hfext_bert import BertConfig, BertForPreTraining
>>> config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)
>>> model = BertForPreTraining(config).eval()
>>> ids = torch.tensor([[2, 7, 8, 3, 9, 3]])  # [CLS] a b [SEP] c [SEP]
>>> out = model(input_ids=ids, token_type_ids=torch.tensor([[0, 0, 0, 0, 1, 1]]))
>>> out.prediction_logits.shape, out.seq_relationship_logits.shape
(torch.Size([1, 6, 100]), torch.Size([1, 2]))

Pieces, bottom-up: the input is the sum of token, learned position and segment (sentence A / B)
embeddings, normalised; each encoder layer is post-LN self-attention then a GELU feed-forward network
(LayerNorm(x + Dropout(Sublayer(x)))), attention going through torch's SDPA or the eager reference via
transformers' ``ALL_ATTENTION_FUNCTIONS`` with padding masked out; the pooler is tanh(W h_[CLS] + b).
Heads: MLM (transform + LayerNorm + output projection tied to the token embeddings), NSP (2-way on the
pooled [CLS]), sequence classification (single-label, multi-label, regression when ``num_labels == 1``),
multiple choice, span extraction (question answering) and token classification.

Self-contained: imports only torch, transformers and the sibling configuration file, so a pushed
checkpoint loads with ``trust_remote_code=True`` on a machine without hfext.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import (
    BaseModelOutput,
    BaseModelOutputWithPooling,
    MaskedLMOutput,
    MultipleChoiceModelOutput,
    NextSentencePredictorOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.utils import ModelOutput

from .configuration_bert import BertConfig, see


# Copied from hfext_transformer.modeling_transformer._additive_mask
def _additive_mask(allowed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A boolean "may attend" mask -> 0 / most-negative float, the form both SDPA and eager add to the scores.
    A finite minimum (not -inf) keeps a fully masked row (a padding query) a harmless uniform softmax, not NaN."""
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill_(~allowed, torch.finfo(dtype).min)


# Copied from hfext_transformer.modeling_transformer._check_token_ids
def _check_token_ids(input_ids: torch.Tensor, vocab_size: int, name: str) -> None:
    if input_ids.numel() and (int(input_ids.min()) < 0 or int(input_ids.max()) >= vocab_size):
        bad = input_ids[(input_ids < 0) | (input_ids >= vocab_size)].unique()[:5].tolist()
        raise ValueError(
            f"{name} holds token ids {bad} outside the vocabulary [0, {vocab_size}); use the tokenizer this model "
            "was trained with, or resize the embeddings with model.resize_token_embeddings(len(tokenizer))"
            + see("token-ids")
        )


# Copied from hfext_transformer.modeling_transformer.eager_attention_forward
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


class BertEmbeddings(nn.Module):
    """Token + learned position + segment embeddings, LayerNorm, dropout (the paper's figure 2)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        position_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if input_ids is not None:
            _check_token_ids(input_ids, self.config.vocab_size, "input_ids")
            inputs_embeds = self.word_embeddings(input_ids)
        batch_size, length = inputs_embeds.shape[:2]
        limit = self.config.max_position_embeddings
        if position_ids is None:
            if length > limit:
                raise ValueError(
                    f"the input has {length} tokens but this model's max_position_embeddings is {limit}; truncate it, "
                    f"e.g. tokenizer(..., truncation=True, max_length={limit}), or split the text into windows"
                    + see("max-seq-length")
                )
            position_ids = torch.arange(length, device=inputs_embeds.device)[None, :]  # (1, T)
        else:
            _check_token_ids(position_ids, limit, "position_ids")
        if token_type_ids is None:
            token_type_ids = torch.zeros((batch_size, length), dtype=torch.long, device=inputs_embeds.device)
        elif token_type_ids.numel() and (int(token_type_ids.min()) < 0 or int(token_type_ids.max()) >= self.config.type_vocab_size):
            bad = token_type_ids[(token_type_ids < 0) | (token_type_ids >= self.config.type_vocab_size)].unique()[:5].tolist()
            raise ValueError(
                f"token_type_ids holds segment ids {bad} but this model has type_vocab_size={self.config.type_vocab_size} "
                f"(valid ids 0..{self.config.type_vocab_size - 1}); pass 0 for sentence A and 1 for sentence B, "
                "or build the model with a larger type_vocab_size" + see("token-ids")
            )
        embeddings = inputs_embeds + self.position_embeddings(position_ids) + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.layer_norm(embeddings))  # (B, T, H)


class BertSelfAttention(nn.Module):
    """Multi-head self-attention over the whole (unpadded) sequence: every token sees both directions."""

    def __init__(self, config: BertConfig, layer_idx: int | None = None):
        super().__init__()
        self.config = config
        self.embed_dim = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.scaling = self.head_dim**-0.5  # the 1/sqrt(d_k) of scaled dot-product attention
        self.dropout = config.attention_probs_dropout_prob
        self.is_causal = False  # an encoder: bidirectional
        self.layer_idx = layer_idx
        self.q_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.k_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.v_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.out_proj = nn.Linear(self.embed_dim, self.embed_dim)

    def forward(
        self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch_size, length = hidden_states.shape[:2]
        shape = (batch_size, length, -1, self.head_dim)
        query = self.q_proj(hidden_states).view(shape).transpose(1, 2)  # (B, nh, T, hs)
        key = self.k_proj(hidden_states).view(shape).transpose(1, 2)  # (B, nh, T, hs)
        value = self.v_proj(hidden_states).view(shape).transpose(1, 2)  # (B, nh, T, hs)
        attention_interface = ALL_ATTENTION_FUNCTIONS.get_interface(self.config._attn_implementation, eager_attention_forward)
        output, weights = attention_interface(
            self,
            query,
            key,
            value,
            attention_mask,
            dropout=self.dropout if self.training else 0.0,
            scaling=self.scaling,
            is_causal=False,  # encoder self-attention: only the padding mask constrains it
            **kwargs,
        )
        output = output.reshape(batch_size, length, self.embed_dim)  # (B, T, H): heads concatenated
        return self.out_proj(output), weights


class BertLayer(GradientCheckpointingLayer):
    """Post-LN encoder layer: LayerNorm(x + Dropout(SelfAttention(x))), then LayerNorm(x + Dropout(FFN(x)))."""

    def __init__(self, config: BertConfig, layer_idx: int | None = None):
        super().__init__()
        self.self_attn = BertSelfAttention(config, layer_idx=layer_idx)
        self.self_attn_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.fc1 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.fc2 = nn.Linear(config.intermediate_size, config.hidden_size)
        self.activation_fn = ACT2FN[config.hidden_act]
        self.final_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs):
        attended, weights = self.self_attn(hidden_states, attention_mask=attention_mask, **kwargs)
        hidden_states = self.self_attn_layer_norm(hidden_states + self.dropout(attended))  # (B, T, H)
        ffn = self.fc2(self.activation_fn(self.fc1(hidden_states)))  # (B, T, H) via (B, T, 4H)
        hidden_states = self.final_layer_norm(hidden_states + self.dropout(ffn))
        return hidden_states, weights


class BertEncoder(nn.Module):
    """A stack of ``num_hidden_layers`` :class:`BertLayer`."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.layers = nn.ModuleList([BertLayer(config, i) for i in range(config.num_hidden_layers)])
        self.gradient_checkpointing = False

    def forward(self, hidden_states, attention_mask=None, output_attentions=False, output_hidden_states=False, **kwargs):
        all_hidden, all_attentions = [], []
        for layer in self.layers:
            if output_hidden_states:
                all_hidden.append(hidden_states)
            hidden_states, weights = layer(hidden_states, attention_mask, **kwargs)
            if output_attentions:
                all_attentions.append(weights)
        if output_hidden_states:
            all_hidden.append(hidden_states)
        return BaseModelOutput(
            last_hidden_state=hidden_states,
            hidden_states=tuple(all_hidden) if output_hidden_states else None,
            attentions=tuple(all_attentions) if output_attentions else None,
        )


class BertPooler(nn.Module):
    """tanh(W h_[CLS] + b): the sentence representation NSP and classification heads read."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(hidden_states[:, 0]))  # (B, H)


class BertLMPredictionHead(nn.Module):
    """MLM head: GELU transform + LayerNorm, then the output projection (tied to the token embeddings)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation_fn = ACT2FN[config.hidden_act]
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)  # its bias is the per-token output bias

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.layer_norm(self.activation_fn(self.dense(hidden_states))))  # (B, T, V)


class BertPreTrainedModel(PreTrainedModel):
    config_class = BertConfig
    config: BertConfig
    base_model_prefix = "bert"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _no_split_modules: ClassVar[list[str]] = ["BertLayer"]
    _supports_sdpa = True
    _supports_flash_attn = False
    _supports_flex_attn = False

    def _init_weights(self, module):
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            init.normal_(module.weight, mean=0.0, std=std)
            if module.padding_idx is not None and not getattr(module.weight, "_is_hf_initialized", False):
                init.zeros_(module.weight[module.padding_idx])
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)


class BertModel(BertPreTrainedModel):
    """The bare encoder: last hidden states (B, T, H) and, with the pooler, the pooled [CLS] (B, H)."""

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True):
        super().__init__(config)
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None
        self.post_init()

    def get_input_embeddings(self):
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value):
        self.embeddings.word_embeddings = value

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        position_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPooling:
        kwargs.pop("return_dict", None)
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids or inputs_embeds" + see("model-inputs"))
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        hidden_states = self.embeddings(input_ids, token_type_ids, position_ids, inputs_embeds)  # (B, T, H)
        batch_size, length = hidden_states.shape[:2]
        mask = None
        if attention_mask is not None:
            if attention_mask.shape != (batch_size, length):
                raise ValueError(
                    f"attention_mask has shape {tuple(attention_mask.shape)}, expected {(batch_size, length)}"
                    + see("model-inputs")
                )
            mask = _additive_mask(attention_mask.bool()[:, None, None, :], hidden_states.dtype)  # (B, 1, 1, T)
        encoded = self.encoder(hidden_states, mask, output_attentions=output_attentions,
                               output_hidden_states=output_hidden_states, **kwargs)
        sequence_output = encoded.last_hidden_state
        return BaseModelOutputWithPooling(
            last_hidden_state=sequence_output,
            pooler_output=self.pooler(sequence_output) if self.pooler is not None else None,
            hidden_states=encoded.hidden_states,
            attentions=encoded.attentions,
        )


@dataclass
class BertForPreTrainingOutput(ModelOutput):
    """``loss`` = MLM cross-entropy + NSP cross-entropy (the paper's pretraining objective)."""

    loss: torch.FloatTensor | None = None
    prediction_logits: torch.FloatTensor | None = None
    seq_relationship_logits: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None


def _mlm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), labels.to(logits.device).reshape(-1), ignore_index=-100)


class _MaskedLMMixin:
    _tied_weights_keys: ClassVar[dict[str, str]] = {"predictions.decoder.weight": "bert.embeddings.word_embeddings.weight"}

    def get_output_embeddings(self):
        return self.predictions.decoder

    def set_output_embeddings(self, value):
        self.predictions.decoder = value


class BertForPreTraining(_MaskedLMMixin, BertPreTrainedModel):
    """MLM + NSP heads. ``labels`` (B, T): original ids at masked positions, -100 elsewhere;
    ``next_sentence_label`` (B,): 0 if sentence B follows A, 1 if it is a random sentence."""

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = BertModel(config)
        self.predictions = BertLMPredictionHead(config)
        self.seq_relationship = nn.Linear(config.hidden_size, 2)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, inputs_embeds=None,
                labels=None, next_sentence_label=None, output_attentions=None, output_hidden_states=None, **kwargs):
        outputs = self.bert(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                            output_attentions, output_hidden_states, **kwargs)
        prediction_logits = self.predictions(outputs.last_hidden_state)  # (B, T, V)
        seq_relationship_logits = self.seq_relationship(outputs.pooler_output)  # (B, 2)
        loss = None
        if labels is not None:
            loss = _mlm_loss(prediction_logits, labels)
        if next_sentence_label is not None:
            nsp = F.cross_entropy(seq_relationship_logits.float(), next_sentence_label.to(seq_relationship_logits.device).view(-1))
            loss = nsp if loss is None else loss + nsp
        return BertForPreTrainingOutput(loss=loss, prediction_logits=prediction_logits,
                                        seq_relationship_logits=seq_relationship_logits,
                                        hidden_states=outputs.hidden_states, attentions=outputs.attentions)


class BertForMaskedLM(_MaskedLMMixin, BertPreTrainedModel):
    """MLM head only (the ``fill-mask`` pipeline's model)."""

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.predictions = BertLMPredictionHead(config)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, inputs_embeds=None,
                labels=None, output_attentions=None, output_hidden_states=None, **kwargs):
        outputs = self.bert(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                            output_attentions, output_hidden_states, **kwargs)
        logits = self.predictions(outputs.last_hidden_state)  # (B, T, V)
        loss = _mlm_loss(logits, labels) if labels is not None else None
        return MaskedLMOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions)


class BertForNextSentencePrediction(BertPreTrainedModel):
    """NSP head: does sentence B follow sentence A? (label 0: yes, 1: random)."""

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = BertModel(config)
        self.seq_relationship = nn.Linear(config.hidden_size, 2)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, inputs_embeds=None,
                labels=None, output_attentions=None, output_hidden_states=None, **kwargs):
        outputs = self.bert(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                            output_attentions, output_hidden_states, **kwargs)
        logits = self.seq_relationship(outputs.pooler_output)  # (B, 2)
        loss = F.cross_entropy(logits.float(), labels.to(logits.device).view(-1)) if labels is not None else None
        return NextSentencePredictorOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states,
                                           attentions=outputs.attentions)


def _classifier_dropout(config: BertConfig) -> nn.Dropout:
    p = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
    return nn.Dropout(p)


class BertForSequenceClassification(BertPreTrainedModel):
    """A linear layer on the pooled [CLS]. The loss follows ``config.problem_type``, inferred when unset:
    ``num_labels == 1`` -> regression (MSE, e.g. STS-B); integer labels -> single-label cross-entropy;
    float (B, num_labels) labels -> multi-label binary cross-entropy."""

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config)
        self.dropout = _classifier_dropout(config)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, inputs_embeds=None,
                labels=None, output_attentions=None, output_hidden_states=None, **kwargs):
        outputs = self.bert(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                            output_attentions, output_hidden_states, **kwargs)
        logits = self.classifier(self.dropout(outputs.pooler_output))  # (B, num_labels)
        loss = None
        if labels is not None:
            labels = labels.to(logits.device)
            problem_type = self.config.problem_type
            if problem_type is None:
                if self.num_labels == 1:
                    problem_type = "regression"
                elif labels.dtype in (torch.long, torch.int):
                    problem_type = "single_label_classification"
                else:
                    problem_type = "multi_label_classification"
            if problem_type == "regression":
                loss = F.mse_loss(logits.float().squeeze(-1), labels.float().view(-1)) if self.num_labels == 1 else \
                    F.mse_loss(logits.float(), labels.float())
            elif problem_type == "single_label_classification":
                loss = F.cross_entropy(logits.float().view(-1, self.num_labels), labels.view(-1))
            else:
                if labels.shape != logits.shape:
                    raise ValueError(
                        f"multi-label labels must have shape (batch, num_labels) = {tuple(logits.shape)} with 0/1 floats, "
                        f"got {tuple(labels.shape)}" + see("labels-shape")
                    )
                loss = F.binary_cross_entropy_with_logits(logits.float(), labels.float())
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states,
                                        attentions=outputs.attentions)


class BertForMultipleChoice(BertPreTrainedModel):
    """Scores each of C (context, choice) pairs with a linear layer on its pooled [CLS]; softmax over choices.
    Inputs are (B, C, T); ``labels`` (B,) the index of the right choice (SWAG)."""

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = BertModel(config)
        self.dropout = _classifier_dropout(config)
        self.classifier = nn.Linear(config.hidden_size, 1)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, inputs_embeds=None,
                labels=None, output_attentions=None, output_hidden_states=None, **kwargs):
        reference = input_ids if input_ids is not None else inputs_embeds
        if reference is None:
            raise ValueError(
                "pass input_ids (or inputs_embeds) of shape (batch, num_choices, length)" + see("model-inputs")
            )
        num_choices = reference.shape[1]

        def flat(x):
            return None if x is None else x.reshape(-1, *x.shape[2:])  # (B*C, T, ...)

        outputs = self.bert(flat(input_ids), flat(attention_mask), flat(token_type_ids), flat(position_ids),
                            flat(inputs_embeds), output_attentions, output_hidden_states, **kwargs)
        logits = self.classifier(self.dropout(outputs.pooler_output)).view(-1, num_choices)  # (B, C)
        loss = F.cross_entropy(logits.float(), labels.to(logits.device).view(-1)) if labels is not None else None
        return MultipleChoiceModelOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states,
                                         attentions=outputs.attentions)


class BertForTokenClassification(BertPreTrainedModel):
    """A label per token (NER): a linear layer on every hidden state; ``labels`` (B, T), -100 ignored."""

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=False)
        self.dropout = _classifier_dropout(config)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, inputs_embeds=None,
                labels=None, output_attentions=None, output_hidden_states=None, **kwargs):
        outputs = self.bert(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                            output_attentions, output_hidden_states, **kwargs)
        logits = self.classifier(self.dropout(outputs.last_hidden_state))  # (B, T, num_labels)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.float().view(-1, self.num_labels), labels.to(logits.device).view(-1), ignore_index=-100)
        return TokenClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states,
                                     attentions=outputs.attentions)


class BertForQuestionAnswering(BertPreTrainedModel):
    """Span extraction (SQuAD): start and end logits per token; the loss averages the two cross-entropies.
    Positions outside the sequence are clamped to its length and ignored, as in the paper's code."""

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.num_labels = 2
        self.bert = BertModel(config, add_pooling_layer=False)
        self.qa_outputs = nn.Linear(config.hidden_size, 2)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, inputs_embeds=None,
                start_positions=None, end_positions=None, output_attentions=None, output_hidden_states=None, **kwargs):
        outputs = self.bert(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                            output_attentions, output_hidden_states, **kwargs)
        logits = self.qa_outputs(outputs.last_hidden_state)  # (B, T, 2)
        start_logits, end_logits = (x.squeeze(-1).contiguous() for x in logits.split(1, dim=-1))  # (B, T) each
        loss = None
        if start_positions is not None and end_positions is not None:
            length = start_logits.size(1)
            start = start_positions.to(start_logits.device).view(-1).clamp(0, length)
            end = end_positions.to(end_logits.device).view(-1).clamp(0, length)
            loss = (F.cross_entropy(start_logits.float(), start, ignore_index=length)
                    + F.cross_entropy(end_logits.float(), end, ignore_index=length)) / 2
        return QuestionAnsweringModelOutput(loss=loss, start_logits=start_logits, end_logits=end_logits,
                                            hidden_states=outputs.hidden_states, attentions=outputs.attentions)


__all__ = [
    "BertEmbeddings",
    "BertEncoder",
    "BertForMaskedLM",
    "BertForMultipleChoice",
    "BertForNextSentencePrediction",
    "BertForPreTraining",
    "BertForPreTrainingOutput",
    "BertForQuestionAnswering",
    "BertForSequenceClassification",
    "BertForTokenClassification",
    "BertLMPredictionHead",
    "BertLayer",
    "BertModel",
    "BertPooler",
    "BertPreTrainedModel",
    "BertSelfAttention",
]
