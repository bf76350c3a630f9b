"""Configuration of BERT (Devlin et al., 2019) as ``hfext-bert``.

Field names are transformers' ``BertConfig``'s, so a transformers BERT ``config.json`` maps one to one.
Self-contained: imports only transformers, so a pushed checkpoint loads with ``trust_remote_code=True``.
"""

from transformers import PreTrainedConfig


# Copied from hfext.errors.see with {TROUBLESHOOTING}->docs/troubleshooting.md
def see(section: str) -> str:
    """`` (see docs/troubleshooting.md#section)``, to end a message with."""
    return f" (see docs/troubleshooting.md#{section})"


ACTIVATIONS = ("gelu", "gelu_new", "gelu_python", "relu", "silu", "swish", "tanh")


class BertConfig(PreTrainedConfig):
    r"""Configuration of :class:`BertModel` and its heads (``BertFor...``).

    The defaults are BERT-base (12 layers, hidden 768, 12 heads, FFN 3072, GELU, dropout 0.1,
    512 positions, 2 segments), with the uncased English WordPiece vocabulary size.

    Args:
        vocab_size: WordPiece vocabulary size.
        hidden_size: width H of every layer; must be a multiple of ``num_attention_heads``.
        num_hidden_layers: encoder layers L.
        num_attention_heads: attention heads A (head size H / A).
        intermediate_size: inner width of the feed-forward network (4 H in the paper).
        hidden_act: the FFN non-linearity (the paper: GELU).
        hidden_dropout_prob: dropout on embeddings and every sub-layer output.
        attention_probs_dropout_prob: dropout on the attention weights.
        max_position_embeddings: longest input (learned position table size).
        type_vocab_size: number of segments (2: sentence A and sentence B).
        initializer_range: std of the truncated-free normal initialisation of weights.
        layer_norm_eps: LayerNorm epsilon.
        classifier_dropout: dropout before classification heads (``None``: ``hidden_dropout_prob``).
        tie_word_embeddings: the MLM output projection reuses the token embedding matrix.
    """

    model_type = "hfext-bert"

    vocab_size: int = 30522  # bert-base-uncased WordPiece
    hidden_size: int = 768  # BERT-base
    num_hidden_layers: int = 12
    num_attention_heads: int = 12  # head size 64
    intermediate_size: int = 3072  # 4 x hidden_size
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2  # sentence A / sentence B
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12  # the original TensorFlow code's epsilon
    classifier_dropout: float | None = None
    pad_token_id: int | None = 0
    tie_word_embeddings: bool = True

    def __post_init__(self, **kwargs):
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                     "max_position_embeddings", "type_vocab_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}" + see("config-value"))
        if self.hidden_size % self.num_attention_heads != 0:
            divisors = ", ".join(str(h) for h in range(1, 17) if self.hidden_size % h == 0)
            raise ValueError(
                f"The hidden size ({self.hidden_size}) is not a multiple of the number of attention heads "
                f"({self.num_attention_heads}); choose num_attention_heads that divides it, e.g. {divisors}"
                + see("config-value")
            )
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            value = getattr(self, name)
            if not 0.0 <= float(value) < 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1), got {value!r}" + see("config-value"))
        if self.classifier_dropout is not None and not 0.0 <= float(self.classifier_dropout) < 1.0:
            raise ValueError(
                f"classifier_dropout must be None or a probability in [0, 1), got {self.classifier_dropout!r}"
                + see("config-value")
            )
        if self.hidden_act not in ACTIVATIONS:
            raise ValueError(f"hidden_act must be one of {ACTIVATIONS}, got {self.hidden_act!r}" + see("config-value"))
        if self.pad_token_id is not None and not 0 <= int(self.pad_token_id) < self.vocab_size:
            raise ValueError(
                f"pad_token_id ({self.pad_token_id}) must be a token id in [0, vocab_size={self.vocab_size})"
                + see("config-value")
            )
        super().__post_init__(**kwargs)

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads


__all__ = ["BertConfig"]
