"""Configuration of the encoder-decoder Transformer of "Attention Is All You Need" (``hfext-transformer``).

Self-contained: imports only transformers, so a pushed checkpoint loads with ``trust_remote_code=True``.
"""

from typing import ClassVar

from transformers import PreTrainedConfig


# Copied from hfext.errors.see with {TROUBLESHOOTING}->docs/troubleshooting.md
def see(section: str) -> str:
    """`` (see docs/troubleshooting.md#section)``, to end a message with."""
    return f" (see docs/troubleshooting.md#{section})"


ACTIVATIONS = ("relu", "gelu", "gelu_new", "silu", "swish", "tanh")


class TransformerConfig(PreTrainedConfig):
    r"""Configuration of :class:`TransformerModel` / :class:`TransformerForConditionalGeneration`.

    The defaults are the paper's base model (Vaswani et al., 2017, table 3): d_model 512, 8 heads,
    6 + 6 layers, FFN 2048, dropout 0.1, post-norm, shared source/target embeddings tied to the output
    projection and scaled by sqrt(d_model), sinusoidal positions.

    Args:
        vocab_size: size of the (shared) vocabulary.
        d_model: width of every sub-layer output ("hidden size").
        num_heads: attention heads h; ``d_model`` must be a multiple of it (d_k = d_v = d_model / h).
        encoder_layers / decoder_layers: N, the number of stacked layers.
        ffn_dim: inner width d_ff of the position-wise feed-forward network.
        dropout: P_drop on each sub-layer output and on embeddings + positions.
        attention_dropout: dropout on the attention weights (the paper uses none).
        activation_dropout: dropout inside the FFN, after the activation (the paper uses none; tensor2tensor's
            ``relu_dropout``).
        activation: the FFN non-linearity (the paper: ``"relu"``).
        max_position_embeddings: longest sequence (source or target) the position table covers.
        pre_norm: ``False`` = the paper's post-norm ``LayerNorm(x + Sublayer(x))``; ``True`` = pre-norm
            ``x + Sublayer(LayerNorm(x))`` with a final LayerNorm per stack (trains more stably when deep).
        share_embeddings: encoder and decoder use one token embedding (needs a joint vocabulary).
        tie_word_embeddings: the output projection reuses the (decoder) token embedding matrix.
        scale_embedding: multiply token embeddings by sqrt(d_model), as in the paper (section 3.4).
        init_std: standard deviation of the normal initialisation of linear weights (and of embeddings when
            ``scale_embedding`` is off; scaled embeddings start at std d_model^-1/2, so that after the
            sqrt(d_model) scale they have unit variance, as in fairseq).
    """

    model_type = "hfext-transformer"
    keys_to_ignore_at_inference: ClassVar[list[str]] = ["cache"]
    # Generic transformers code (generation, caches, pipelines) asks for these names.
    attribute_map: ClassVar[dict[str, str]] = {
        "hidden_size": "d_model",
        "num_attention_heads": "num_heads",
        "num_hidden_layers": "decoder_layers",  # what a decoder cache is sized by
    }

    vocab_size: int = 32000
    d_model: int = 512  # the paper's base model
    num_heads: int = 8  # d_k = d_v = 64
    encoder_layers: int = 6
    decoder_layers: int = 6
    ffn_dim: int = 2048  # 4 x d_model
    dropout: float = 0.1  # P_drop of the base model
    attention_dropout: float = 0.0
    activation_dropout: float = 0.0
    activation: str = "relu"  # FFN(x) = max(0, x W1 + b1) W2 + b2
    max_position_embeddings: int = 512
    pre_norm: bool = False  # the paper is post-norm
    share_embeddings: bool = True  # the paper shares one matrix between both embeddings and the softmax
    tie_word_embeddings: bool = True
    scale_embedding: bool = True  # "we multiply those weights by sqrt(d_model)"
    init_std: float = 0.02
    use_cache: bool = True
    pad_token_id: int | None = 0
    bos_token_id: int | None = 1
    eos_token_id: int | list[int] | None = 2
    decoder_start_token_id: int | None = 1  # decoding starts from <s>
    is_encoder_decoder: bool = True

    def __post_init__(self, **kwargs):
        for name in ("vocab_size", "d_model", "num_heads", "encoder_layers", "decoder_layers", "ffn_dim",
                     "max_position_embeddings"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}" + see("config-value"))
        if self.d_model % self.num_heads != 0:
            raise ValueError(
                f"d_model ({self.d_model}) is not a multiple of num_heads ({self.num_heads}); choose num_heads "
                f"that divides d_model, e.g. {', '.join(str(h) for h in range(1, 17) if self.d_model % h == 0)}"
                + see("config-value")
            )
        for name in ("dropout", "attention_dropout", "activation_dropout"):
            value = getattr(self, name)
            if not 0.0 <= float(value) < 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1), got {value!r}" + see("config-value"))
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}" + see("config-value"))
        if not float(self.init_std) > 0:
            raise ValueError(f"init_std must be > 0, got {self.init_std!r}" + see("config-value"))
        for name in ("pad_token_id", "bos_token_id", "decoder_start_token_id"):
            value = getattr(self, name)
            if value is not None and not 0 <= int(value) < self.vocab_size:
                raise ValueError(
                    f"{name} ({value}) must be a token id in [0, vocab_size={self.vocab_size})" + see("config-value")
                )
        eos = self.eos_token_id if isinstance(self.eos_token_id, list) else [self.eos_token_id]
        for value in eos:
            if value is not None and not 0 <= int(value) < self.vocab_size:
                raise ValueError(
                    f"eos_token_id ({value}) must be a token id in [0, vocab_size={self.vocab_size})"
                    + see("config-value")
                )
        super().__post_init__(**kwargs)

    @property
    def head_dim(self) -> int:
        return self.d_model // self.num_heads
