"""Exceptions raised by staticemb.

Every exception staticemb raises on purpose derives from :class:`StaticembError` and, where one fits, from the
built-in category too, so ``except ValueError`` keeps working. Wrong argument *types* raise the built-in
:class:`TypeError`; missing files raise :class:`FileNotFoundError`.
"""

from __future__ import annotations

__all__ = [
    "InvalidInputError",
    "ModelFormatError",
    "StaticembError",
    "TokenIdError",
    "TokenizerError",
]


class StaticembError(Exception):
    """Base class of staticemb's own exceptions."""


class InvalidInputError(StaticembError, ValueError):
    """An argument has the right type but a bad value: a ``dim`` out of range, malformed offsets, a
    non-contiguous array, an output of the wrong shape."""


class TokenIdError(StaticembError, IndexError):
    """A token id is negative or not a row of the embedding table."""


class TokenizerError(StaticembError):
    """The tokenizer could not be loaded, or failed on a text."""


class ModelFormatError(StaticembError, ValueError):
    """A model folder or file is corrupt, truncated or inconsistent (for example a tokenizer that produces
    ids beyond the embedding table)."""
