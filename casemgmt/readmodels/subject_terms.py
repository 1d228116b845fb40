"""The terms of a case's subject, as the improvement analysis counts them.

Subjects are folded as the case search folds text (`casemgmt.readmodels.text`: lower case, no
diacritics, `đ` as `d`), so "Lương hưu" and "luong huu" are one term. Vietnamese puts a space
between the syllables of one word, so "bảo hiểm xã hội" would count as four terms, two of them
meaningless alone; the words the centre's subjects use most are listed below (`WORDS`) and matched
first, longest first. What is left counts syllable by syllable, less the stop words of Vietnamese
and English (`STOP_WORDS`, folded too, some of several syllables) and any token holding a digit
(a date, an amount, an identity or insurance number: personal data, not a topic).
"""

from __future__ import annotations

import re
from typing import Final

from casemgmt.domain.requests import ERASED
from casemgmt.readmodels.text import fold

# Words of several syllables, folded: social insurance, its benefits and its procedures.
WORDS: Final = frozenset(
    {
        *("bao hiem", "bao hiem xa hoi", "bao hiem y te", "bao hiem that nghiep"),
        *("so bhxh", "so bao hiem", "so bao hiem xa hoi", "the bhyt", "the bao hiem"),
        *("the bao hiem y te", "ma so", "ma so bhxh", "ma so thue", "so dinh danh"),
        *("xa hoi", "y te", "that nghiep", "tu nguyen", "bat buoc", "luong huu", "huu tri"),
        *("nghi huu", "tro cap", "tro cap that nghiep", "che do", "thai san", "om dau"),
        *("tai nan", "tai nan lao dong", "benh nghe nghiep", "nghe nghiep", "tu tuat"),
        *("mot lan", "lao dong", "nguoi lao dong", "doanh nghiep", "don vi", "co quan"),
        *("kham chua benh", "kham benh", "chua benh", "ban dau", "noi dang ky", "dang ky"),
        *("ho so", "thu tuc", "giai quyet", "chi tra", "hoan tra", "truy thu", "truy linh"),
        *("muc dong", "muc huong", "qua trinh", "qua trinh dong", "thoi gian", "thoi han"),
        *("gia han", "cap lai", "cap doi", "dieu chinh", "sai sot", "ngay sinh", "ho ten"),
        *("can cuoc", "can cuoc cong dan", "cong dan", "xac nhan", "quyet dinh"),
        *("nghi viec", "cham dut", "hop dong", "tien luong", "tai khoan", "ngan hang"),
        *("buu dien", "dich vu cong", "truc tuyen", "ung dung", "vssid", "khieu nai"),
        *("to cao", "kien nghi", "phan anh", "thai do", "can bo", "giay to", "chung tu"),
        *("bi mat", "bi hong", "bo sung", "chuyen tuyen", "thanh toan", "vien phi"),
    }
)
STOP_WORDS: Final = frozenset(
    {
        # Vietnamese: function words, pronouns, courtesy and the verbs every question has.
        *("va", "cua", "co", "khong", "duoc", "cho", "la", "ve", "voi", "cac", "nhung"),
        *("da", "dang", "se", "nay", "do", "thi", "ma", "tai", "trong", "khi", "neu"),
        *("vi", "nen", "roi", "cung", "van", "chua", "den", "tu", "theo", "de", "hay"),
        *("hoac", "lai", "ra", "vao", "len", "nao", "gi", "sao", "the nao"),
        *("toi", "em", "anh", "chi", "ong", "ba", "minh", "chung toi", "quy co quan"),
        *("xin", "hoi", "xin hoi", "cho hoi", "de nghi", "vui long", "giup", "can"),
        *("muon", "nhan", "lam", "bi", "rat", "nhu", "moi", "mot", "ve viec", "viec", "so"),
        *("thang", "nam", "ngay", "nua", "them", "ai", "dau", "bao gio"),
        # English.
        *("a", "an", "the", "and", "or", "of", "to", "in", "on", "for", "with", "about"),
        *("is", "are", "was", "were", "be", "been", "my", "me", "i", "we", "our", "you"),
        *("your", "it", "its", "this", "that", "these", "at", "by", "from", "as", "not"),
        *("no", "have", "has", "had", "do", "does", "did", "how", "what", "when", "why"),
        *("can", "could", "would", "will", "please", "regarding", "re", "fw", "fwd"),
    }
)
_LONGEST: Final = max(len(phrase.split()) for phrase in WORDS | STOP_WORDS)
_TOKEN: Final = re.compile(r"[^\W_]+")


def subject_terms(subject: str | None) -> set[str]:
    """The terms of a subject, each once; none of one that reads as erased."""
    if not subject or subject == ERASED:
        return set()
    tokens = _TOKEN.findall(fold(subject))
    terms: set[str] = set()
    at = 0
    while at < len(tokens):
        phrase, length = _phrase_at(tokens, at)
        listed = phrase in WORDS
        if listed or (length == 1 and phrase not in STOP_WORDS and _topical(phrase)):
            terms.add(phrase)
        at += length
    return terms


def _phrase_at(tokens: list[str], at: int) -> tuple[str, int]:
    """The longest listed word or stop word of several syllables starting at `at`, else the
    token alone."""
    for length in range(min(_LONGEST, len(tokens) - at), 1, -1):
        phrase = " ".join(tokens[at : at + length])
        if phrase in WORDS or phrase in STOP_WORDS:
            return phrase, length
    return tokens[at], 1


def _topical(token: str) -> bool:
    return len(token) > 1 and not any(char.isdigit() for char in token)
