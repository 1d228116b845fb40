"""Text as the case search compares it: lower case, without diacritics, `đ` spelled `d`.

Vietnamese is often typed without its marks ("bao hiem" for "bảo hiểm"), so both the stored text
and the query are folded the same way in Python, and PostgreSQL's 'simple' configuration (which
neither stems nor drops stop words) indexes the result.
"""

from __future__ import annotations

import unicodedata
from typing import Final

# `đ` is a letter of its own, not `d` with a combining mark, so NFD leaves it as it is.
_LETTERS_WITHOUT_DECOMPOSITION: Final = str.maketrans({"đ": "d", "Đ": "d"})


def fold(text: str) -> str:
    """The text in lower case, its combining marks dropped and `đ`/`Đ` turned into `d`."""
    decomposed = unicodedata.normalize("NFD", text.translate(_LETTERS_WITHOUT_DECOMPOSITION))
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return bare.casefold()
