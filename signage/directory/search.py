"""Finding people and departments as one types: by name in Chinese, its pinyin or pinyin
initials, email or employee number.

Each row keeps one lower-case search text, written whenever its name changes:

    >>> search_text("张三丰", "zsf@example.com", "E1001")
    '张三丰 zhangsanfeng zhang san feng zsf zsf@example.com e1001'

and a query matches the rows whose text has every word typed: a word in Chinese anywhere
("三丰"), a word in Latin letters or digits at the start of one of the text's words ("zsf",
"san", "zhangs", "e10"; "han" does not find 张三丰).
"""

from __future__ import annotations

from pypinyin import Style, lazy_pinyin
from sqlalchemy import and_, or_

MAX_WORDS = 5


def search_text(name: str, *more: str | None) -> str:
    name = (name or "").strip().lower()
    words = [name]
    if not name.isascii():
        syllables = [p.lower() for p in lazy_pinyin(name, errors="ignore")]
        words.append("".join(syllables))
        words += syllables
        words.append("".join(lazy_pinyin(name, style=Style.FIRST_LETTER, errors="ignore")).lower())
    words += [(m or "").strip().lower() for m in more]
    return " ".join(w for w in words if w)[:600]


def escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def matches(column, q: str):
    """The condition "the search text holds every word of `q`" (None: nothing typed)."""
    words = q.lower().split()[:MAX_WORDS]
    if not words:
        return None
    return and_(*(has_word(column, w) for w in words))


def has_word(column, word: str):
    if not word.isascii():
        return column.like(f"%{escape_like(word)}%", escape="\\")
    start = escape_like(word)
    return or_(column.like(f"{start}%", escape="\\"), column.like(f"% {start}%", escape="\\"))
