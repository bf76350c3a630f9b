"""fastText configuration (``hfext-fasttext``): skip-gram or CBOW over words *and* their hashed
character n-grams (Bojanowski et al., 2017).

Self-contained: imports only transformers, so a pushed checkpoint loads with ``trust_remote_code=True``.
"""

from transformers import PreTrainedConfig


# Copied from hfext.errors.see with {TROUBLESHOOTING}->docs/troubleshooting.md
def see(section: str) -> str:
    """`` (see docs/troubleshooting.md#section)``, to end a message with."""
    return f" (see docs/troubleshooting.md#{section})"


ARCHITECTURES = ("skipgram", "cbow")
OBJECTIVES = ("negative_sampling", "hierarchical_softmax", "softmax")


class FastTextConfig(PreTrainedConfig):
    r"""Configuration of a fastText word-embedding model.

    The input matrix has ``vocab_size + bucket`` rows, Facebook's layout shifted by hfext's one ``[UNK]``
    row: rows ``[0, vocab_size)`` are the words (the last one, ``[UNK]``, stays zero), rows
    ``[vocab_size, vocab_size + bucket)`` the hashed character n-grams. A word's vector is the mean of its
    own row and the rows of its n-grams; an out-of-vocabulary word's vector the mean of its n-gram rows.

    Args:
        vocab_size: number of words including the trailing ``[UNK]`` id that hfext's word tokenizers add.
        vector_size: embedding dimension (fastText's ``-dim``, 100).
        architecture: ``"skipgram"`` (predict each context word from the center word) or ``"cbow"``
            (predict the center word from the mean of the context words' subword rows).
        window: maximum distance between center and context word (fastText's ``-ws``, 5).
        objective: ``"negative_sampling"``, ``"hierarchical_softmax"`` or ``"softmax"`` (fastText's
            ``-loss ns|hs|softmax``).
        negative: noise words per positive pair (fastText's ``-neg``, 5).
        ns_exponent: exponent of the unigram noise distribution (0.75).
        sample: subsampling threshold t (fastText's ``-t``, 1e-4).
        min_count: words rarer than this were dropped from the vocabulary (fastText's ``-minCount``, 5).
        minn, maxn: shortest and longest character n-gram, in Unicode characters of ``"<" + word + ">"``
            (3 and 6); ``maxn=0`` disables n-grams (the model is then plain word2vec).
        bucket: number of hash buckets the n-grams share (2,000,000); 0 disables n-grams.
        num_subword_ids: length of the ``subword_ids`` CSR buffer (every word's row list, concatenated);
            set by ``FastTextModel.set_vocabulary``. ``None`` means "each word is only its own row".
        cbow_mean: CBOW averages the context rows (fastText does) instead of summing the word vectors.
        init_range: input rows start uniform in ``±init_range / vector_size`` (fastText: 1.0); the output
            (context) matrix starts at zero, as in fastText.
        facebook_args: what a Facebook ``.bin`` stores that hfext does not use (its args header, ``ntokens``,
            format version, ...), kept so that ``save_fasttext_bin`` writes the same file back byte for byte.
    """

    model_type = "hfext-fasttext"

    vocab_size: int = 1
    vector_size: int = 100  # fastText's -dim
    architecture: str = "skipgram"
    window: int = 5  # fastText's -ws
    objective: str = "negative_sampling"
    negative: int = 5  # fastText's -neg
    ns_exponent: float = 0.75  # unigram^0.75, as word2vec
    sample: float = 1e-4  # fastText's -t (word2vec.c uses 1e-3)
    min_count: int = 5  # fastText's -minCount
    minn: int = 3  # fastText's -minn
    maxn: int = 6  # fastText's -maxn
    bucket: int = 2_000_000  # fastText's -bucket
    num_subword_ids: int | None = None
    cbow_mean: bool = True
    init_range: float = 1.0  # fastText: input ~ U(-1/dim, 1/dim)
    facebook_args: dict | None = None  # a fresh dict per config: never a shared mutable default
    pad_token_id: int | None = None
    tie_word_embeddings: bool = False  # input and output matrices are distinct by design

    def __post_init__(self, **kwargs):
        if self.architecture not in ARCHITECTURES:
            raise ValueError(
                f"architecture must be one of {ARCHITECTURES}, got {self.architecture!r}" + see("config-value")
            )
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}" + see("config-value"))
        for name in ("vocab_size", "vector_size", "window"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}" + see("config-value"))
        if int(self.negative) < 0:
            raise ValueError(f"negative must be >= 0 noise words per pair, got {self.negative}" + see("config-value"))
        if self.objective == "negative_sampling" and int(self.negative) == 0:
            raise ValueError(
                "objective='negative_sampling' needs negative >= 1; set negative=5 (fastText's default) "
                "or choose objective='hierarchical_softmax' or 'softmax'" + see("config-value")
            )
        if self.objective == "hierarchical_softmax" and int(self.vocab_size) < 2:
            raise ValueError("hierarchical softmax needs a vocabulary of at least 2 words" + see("config-value"))
        if float(self.sample) < 0:
            raise ValueError(f"sample must be >= 0 (0 disables subsampling), got {self.sample}" + see("config-value"))
        if int(self.bucket) < 0:
            raise ValueError(
                f"bucket must be >= 0 (0 disables character n-grams), got {self.bucket}" + see("config-value")
            )
        if int(self.minn) < 0 or int(self.maxn) < 0:
            raise ValueError(
                f"minn and maxn must be >= 0, got minn={self.minn}, maxn={self.maxn}" + see("config-value")
            )
        if int(self.maxn) > 0 and int(self.minn) < 1:
            raise ValueError(
                f"minn must be >= 1 when n-grams are on (maxn={self.maxn}), got minn={self.minn}" + see("config-value")
            )
        if int(self.maxn) > 0 and int(self.minn) > int(self.maxn):
            raise ValueError(
                f"minn ({self.minn}) must be <= maxn ({self.maxn}); set maxn=0 to disable character n-grams"
                + see("config-value")
            )
        if int(self.maxn) > 0 and int(self.bucket) == 0:
            # fastText itself would divide by zero hashing n-grams into 0 buckets
            raise ValueError(f"bucket=0 leaves nowhere to hash n-grams of length {self.minn}..{self.maxn}; "
                             "set maxn=0 to disable n-grams, or bucket >= 1 (fastText's default: 2000000)"
                             + see("config-value"))
        if self.num_subword_ids is None:
            self.num_subword_ids = int(self.vocab_size) - 1  # each real word is only its own row
        if int(self.num_subword_ids) < 0:
            raise ValueError(f"num_subword_ids must be >= 0, got {self.num_subword_ids}" + see("config-value"))
        if self.facebook_args is None:
            self.facebook_args = {}
        elif not isinstance(self.facebook_args, dict):
            raise ValueError(
                f"facebook_args must be a dict, got {type(self.facebook_args).__name__}" + see("config-value")
            )
        super().__post_init__(**kwargs)

    @property
    def hidden_size(self) -> int:  # the name generic transformers code looks for
        return self.vector_size

    @property
    def use_subwords(self) -> bool:
        """Whether words are composed with character n-grams (fastText's ``maxn > 0`` and ``bucket > 0``)."""
        return int(self.maxn) > 0 and int(self.bucket) > 0
