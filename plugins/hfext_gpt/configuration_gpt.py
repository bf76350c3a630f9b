"""Configuration of GPT, the decoder-only Transformer language model (``hfext-gpt``).

Self-contained: imports only transformers, so a pushed checkpoint loads with ``trust_remote_code=True``.
"""

from typing import ClassVar

from transformers import PreTrainedConfig


# Copied from hfext.errors.see with {TROUBLESHOOTING}->docs/troubleshooting.md
def see(section: str) -> str:
    """`` (see docs/troubleshooting.md#section)``, to end a message with."""
    return f" (see docs/troubleshooting.md#{section})"


ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu", "silu")


class GPTConfig(PreTrainedConfig):
    r"""Configuration of :class:`GPTModel` / :class:`GPTForCausalLM`.

    The defaults are GPT-2 small (Radford et al., 2019): 12 layers, 768 wide, 12 heads, 1024 positions,
    50257 byte-level BPE tokens, pre-LayerNorm blocks with a final LayerNorm, tied input/output embeddings.
    ``pre_norm=False`` gives the GPT-1 layout (post-LN, ``LayerNorm(x + Sublayer(x))``, no final LayerNorm).

    Args:
        vocab_size: number of tokens.
        n_positions: longest sequence (prompt plus generated tokens) the learned position table covers.
        n_embd: width of the residual stream ("hidden size").
        n_layer: number of blocks.
        n_head: attention heads; ``n_embd`` must be a multiple of it.
        n_inner: inner width of the MLP (``None`` = 4 x n_embd).
        activation_function: the MLP non-linearity (GPT-2 used the tanh approximation ``"gelu_new"``).
        dropout: dropout on embeddings and on each sub-layer output (GPT-2's embd/resid pdrop).
        attention_dropout: dropout on the attention weights (GPT-2's attn_pdrop).
        layer_norm_epsilon: LayerNorm epsilon.
        pre_norm: ``True`` = GPT-2 layout ``x + Sublayer(LayerNorm(x))``; ``False`` = GPT-1 post-LN.
        tie_word_embeddings: the output projection reuses the token embedding matrix.
        initializer_range: std of the normal initialisation; residual output projections are further scaled
            by 1/sqrt(2 n_layer) (GPT-2, section 2.3).
    """

    model_type = "hfext-gpt"
    keys_to_ignore_at_inference: ClassVar[list[str]] = ["cache"]
    # Generic transformers code (generation, caches, pipelines) and the copied attention block ask for these.
    attribute_map: ClassVar[dict[str, str]] = {
        "hidden_size": "n_embd",
        "d_model": "n_embd",
        "num_attention_heads": "n_head",
        "num_heads": "n_head",
        "num_hidden_layers": "n_layer",
        "max_position_embeddings": "n_positions",
    }

    vocab_size: int = 50257  # GPT-2's byte-level BPE
    n_positions: int = 1024
    n_embd: int = 768
    n_layer: int = 12
    n_head: int = 12  # head size 64
    n_inner: int | None = None  # None = 4 x n_embd
    activation_function: str = "gelu_new"  # GPT-2's tanh-approximated GELU
    dropout: float = 0.1
    attention_dropout: float = 0.1
    layer_norm_epsilon: float = 1e-5
    pre_norm: bool = True  # GPT-2; False = GPT-1
    tie_word_embeddings: bool = True
    initializer_range: float = 0.02
    use_cache: bool = True
    pad_token_id: int | None = None
    bos_token_id: int | None = None
    eos_token_id: int | list[int] | None = None

    def __post_init__(self, **kwargs):
        for name in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}" + see("config-value"))
        if self.n_inner is not None and (isinstance(self.n_inner, bool) or not isinstance(self.n_inner, int) or self.n_inner < 1):
            raise ValueError(
                f"n_inner must be a positive integer or None (= 4 x n_embd), got {self.n_inner!r}" + see("config-value")
            )
        if self.n_embd % self.n_head != 0:
            raise ValueError(
                f"n_embd ({self.n_embd}) is not a multiple of n_head ({self.n_head}); choose n_head that divides "
                f"n_embd, e.g. {', '.join(str(h) for h in range(1, 17) if self.n_embd % h == 0)}" + see("config-value")
            )
        for name in ("dropout", "attention_dropout"):
            value = getattr(self, name)
            if not 0.0 <= float(value) < 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1), got {value!r}" + see("config-value"))
        if self.activation_function not in ACTIVATIONS:
            raise ValueError(
                f"activation_function must be one of {ACTIVATIONS}, got {self.activation_function!r}"
                + see("config-value")
            )
        if not float(self.layer_norm_epsilon) > 0:
            raise ValueError(f"layer_norm_epsilon must be > 0, got {self.layer_norm_epsilon!r}" + see("config-value"))
        if not float(self.initializer_range) > 0:
            raise ValueError(f"initializer_range must be > 0, got {self.initializer_range!r}" + see("config-value"))
        for name in ("pad_token_id", "bos_token_id"):
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
        return self.n_embd // self.n_head

    @property
    def inner_dim(self) -> int:
        return self.n_inner if self.n_inner is not None else 4 * self.n_embd
