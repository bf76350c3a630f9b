"""word2vec configurations: skip-gram (``hfext-skipgram``) and CBOW (``hfext-cbow``).

Self-contained: imports only transformers, so a pushed checkpoint loads with ``trust_remote_code=True``.
"""

from transformers import PreTrainedConfig


# Copied from hfext.errors.see with {TROUBLESHOOTING}->docs/troubleshooting.md
def see(section: str) -> str:
    """`` (see docs/troubleshooting.md#section)``, to end a message with."""
    return f" (see docs/troubleshooting.md#{section})"


OBJECTIVES = ("negative_sampling", "hierarchical_softmax", "softmax")


class Word2VecConfig(PreTrainedConfig):
    r"""Configuration shared by skip-gram and CBOW.

    Args:
        vocab_size: number of words (rows of the center vectors ``v`` and, except for hierarchical
            softmax, of the context vectors ``u``).
        vector_size: embedding dimension ``d`` (word2vec's ``-size``; 100 as in word2vec.c).
        window: maximum distance ``m`` between center and context word; each center draws its own
            window uniformly from ``1..m`` as word2vec.c does.
        objective: ``"negative_sampling"`` (K noise words from unigram^0.75), ``"hierarchical_softmax"``
            (binary Huffman tree) or ``"softmax"`` (the lecture's full softmax; small vocabularies only).
        negative: number of noise words K per positive pair (negative sampling only).
        ns_exponent: exponent of the unigram noise distribution (0.75 in the paper).
        sample: frequent-word subsampling threshold t (keep probability sqrt(t/f) + t/f, f relative).
        min_count: words rarer than this were dropped when the vocabulary was built (kept for reference).
        cbow_mean: CBOW averages the context vectors (the lecture's 1/2m) instead of summing them.
        init_range: center vectors start uniform in ``±init_range / vector_size`` (gensim 4: 1.0,
            word2vec.c: 0.5; the wider start measured better analogies on small corpora);
            context vectors start at zero, as in word2vec.c.
    """

    model_type = "hfext-word2vec"

    vocab_size: int = 1
    vector_size: int = 100  # word2vec.c's -size
    window: int = 5  # word2vec.c's default
    objective: str = "negative_sampling"
    negative: int = 5  # 5-20 suit small corpora (Mikolov et al.)
    ns_exponent: float = 0.75  # the paper's unigram^0.75
    sample: float = 1e-3  # word2vec.c's default threshold
    min_count: int = 5
    cbow_mean: bool = True  # the lecture's 1/2m average
    init_range: float = 1.0  # v ~ U(-r/d, r/d): gensim 4 uses 1.0, word2vec.c 0.5
    pad_token_id: int | None = None
    tie_word_embeddings: bool = False  # v and u are distinct by design

    def __post_init__(self, **kwargs):
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}" + see("config-value"))
        for name in ("vocab_size", "vector_size", "window"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}" + see("config-value"))
        if int(self.negative) < 0:
            raise ValueError(f"negative must be >= 0 noise words per pair, got {self.negative}" + see("config-value"))
        if self.objective == "negative_sampling" and int(self.negative) == 0:
            raise ValueError(
                "objective='negative_sampling' needs negative >= 1; set negative=5 (word2vec's default) "
                "or choose objective='hierarchical_softmax' or 'softmax'" + see("config-value")
            )
        if self.objective == "hierarchical_softmax" and int(self.vocab_size) < 2:
            raise ValueError("hierarchical softmax needs a vocabulary of at least 2 words" + see("config-value"))
        if float(self.sample) < 0:
            raise ValueError(f"sample must be >= 0 (0 disables subsampling), got {self.sample}" + see("config-value"))
        super().__post_init__(**kwargs)

    @property
    def hidden_size(self) -> int:  # the name generic transformers code looks for
        return self.vector_size


class SkipGramConfig(Word2VecConfig):
    """Skip-gram: predict each context word from the center word, P(w_o | w_c) = softmax(u_o . v_c)."""

    model_type = "hfext-skipgram"


class CBOWConfig(Word2VecConfig):
    """CBOW: predict the center word from the mean of its context vectors."""

    model_type = "hfext-cbow"
