"""Reading the non-essential fields leniently: request kinds, urgencies and phone numbers in the words and
forms outside systems use. Each reading says what it understood and whether it had to assume something (a
flag on the complaint), never refuses: a complaint is not bad input because its labels are unfamiliar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Generic, TypeVar

from schemas.complaints import IntakeFlag
from schemas.reference import ComplaintKind, Urgency
from services.intake.domain.classification.text import compact

_K = ComplaintKind
KIND_BY_WORD: dict[str, ComplaintKind] = {
    **{
        word: _K.COMPLAINT
        for word in ("投诉", "投诉类", "投诉件", "申诉", "complaint", "complain", "complaints")
    },
    **{word: _K.REPORT for word in ("举报", "举报类", "检举", "揭发", "report", "whistleblowing", "tip-off")},
    **{
        word: _K.HELP
        for word in ("求助", "求助类", "求援", "help", "request", "requestforhelp", "assistance")
    },
    **{
        word: _K.INQUIRY
        for word in ("咨询", "咨询类", "询问", "查询", "inquiry", "enquiry", "question", "consult")
    },
    **{
        word: _K.SUGGESTION
        for word in (
            "建议",
            "建议类",
            "意见",
            "意见建议",
            "意见类",
            "suggestion",
            "advice",
            "feedback",
            "opinion",
        )
    },
    **{
        word: _K.PRAISE
        for word in ("表扬", "表扬类", "感谢", "表扬感谢", "致谢", "praise", "compliment", "thanks")
    },
}
_U = Urgency
URGENCY_BY_WORD: dict[str, Urgency] = {
    **{
        word: _U.NORMAL
        for word in (
            "一般",
            "普通",
            "正常",
            "常规",
            "非紧急",
            "不急",
            "低",
            "中",
            "normal",
            "low",
            "medium",
            "routine",
            "standard",
            "ordinary",
        )
    },
    **{
        word: _U.URGENT
        for word in (
            "紧急",
            "特急",
            "加急",
            "急",
            "急件",
            "特别紧急",
            "非常紧急",
            "很急",
            "高",
            "urgent",
            "high",
            "critical",
            "emergency",
            "immediate",
            "asap",
        )
    },
}


T = TypeVar("T")
E = TypeVar("E", ComplaintKind, Urgency)


@dataclass(frozen=True)
class Reading(Generic[T]):
    value: T
    flag: IntakeFlag | None = None  # set when the value is an assumption, not what was written
    as_sent: str = ""  # the canonical form for a recognised value, else the text as written (fingerprints)


def read_kind(text: str) -> Reading[ComplaintKind]:
    """投诉/举报/求助/咨询/建议/表扬 and their variants; unknown or absent: a complaint, flagged when unknown."""
    word = compact(text)
    if not word:
        return Reading(ComplaintKind.COMPLAINT, None, ComplaintKind.COMPLAINT.value)
    known = KIND_BY_WORD.get(word) or _by_value(ComplaintKind, word)
    if known is not None:
        return Reading(known, None, known.value)
    return Reading(ComplaintKind.COMPLAINT, IntakeFlag.UNKNOWN_KIND, text.strip())


def read_urgency(text: str) -> Reading[Urgency]:
    word = compact(text)
    if not word:
        return Reading(Urgency.NORMAL, None, Urgency.NORMAL.value)
    known = URGENCY_BY_WORD.get(word) or _by_value(Urgency, word)
    if known is not None:
        return Reading(known, None, known.value)
    return Reading(Urgency.NORMAL, IntakeFlag.UNKNOWN_URGENCY, text.strip())


def _by_value(enum: type[E], word: str) -> E | None:
    try:
        return enum(word)
    except ValueError:
        return None


# -- phone numbers -------------------------------------------------------------------------------------

_SEVERAL = re.compile(r"[;；,，、/|]|\s{2,}|或")
_EXTENSION = re.compile(r"(?:转|分机|ext\.?|x|#|-)\s*(\d{1,6})$", re.IGNORECASE)
_NOISE = re.compile(r"[\s\-()（）.·]")
_COUNTRY = re.compile(r"^(?:\+|00)?86(?=\d{9,})")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}[2-9]\d{6,7}$")  # area code, then a local number (never starting 0 or 1)
_LOCAL = re.compile(r"^[2-9]\d{6,7}$")  # a local number without the area code: callable from the district
_SERVICE = re.compile(r"^[48]00\d{7}$")


def read_phone(text: str) -> Reading[str]:
    """The first usable callback number among those given (mobile, landline with or without area code and
    extension, +86/0086, several separated by ; , 、 /). None usable: "" and no_callback_number.

    The number comes back as digits (extension after 转) so the pseudonym of a caller stays the same however
    the number was written."""
    if _MOBILE.match(text):  # the common case, quickly
        return Reading(text, None, text)
    for part in _SEVERAL.split(text):
        number = _callback_number(part)
        if number:
            return Reading(number, None, number)
    return Reading("", IntakeFlag.NO_CALLBACK_NUMBER, text.strip())


def _callback_number(part: str) -> str:
    written = part.strip()
    if not written:
        return ""
    if number := _number(written):
        return number
    found = _EXTENSION.search(written)
    if found and (number := _number(written[: found.start()])) and not _MOBILE.match(number):
        return f"{number}转{found.group(1)}"
    return ""


def _number(written: str) -> str:
    bare = _NOISE.sub("", written.strip().removeprefix("+"))
    digits = _COUNTRY.sub("", bare)
    if not digits.isdigit():
        return ""
    if digits != bare and not digits.startswith(("0", "1")):
        digits = f"0{digits}"  # +86 355 2021234: the international form drops the area code's 0
    patterns = (_MOBILE, _SERVICE, _LANDLINE, _LOCAL)
    return digits if any(pattern.match(digits) for pattern in patterns) else ""
