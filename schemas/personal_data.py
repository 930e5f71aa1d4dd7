"""Contact details people type into free text: masked wherever the text goes beyond intake's own store.

A description, a progress note, a resolution or meeting minutes may carry a phone number, an ID-card number or
an e-mail address. Every free-text field of an event is a `FreeText`, so the event that is stored and put on a
topic holds the masked form: mobiles and landlines keep three leading and four trailing digits (as
`caller_phone_masked` does), 18-digit ID-card numbers (last digit may be X) their first three and last two
characters, e-mail addresses their first character and domain. Masking is idempotent, so reading a stored
event back changes nothing. The log processor (eventcore.logging) applies the same masking to every log line.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

# Mainland mobile (optionally +86 / 0086, separated by spaces or dashes in 3-4-4), landline with area code.
_MOBILE = re.compile(r"(?<![\d*])(?:(?:\+|00)?86[-\s]?)?(1[3-9]\d)[-\s]?(\d{4})[-\s]?(\d{4})(?![\d*])")
_LANDLINE = re.compile(r"(?<![\d*])(0\d{2,3})[-\s]?(\d{3,4})(\d{4})(?![\d*])")
# Resident ID card (GB 11643): 6-digit region, birth date 18xx-20xx, 3-digit sequence, check digit or X.
_ID_CARD = re.compile(
    r"(?<![0-9A-Za-z*])([1-9]\d{2})\d{3}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d(\d{2}[\dXx])"
    r"(?![0-9A-Za-z])"
)
# Nothing to mask without three digits then four (possibly separated) or an @: most text is skipped at C speed.
_TRIGGER = re.compile(r"\d{3}[-\s]?\d{4}|@")
_EMAIL = re.compile(r"(?<![\w.+-])([\w+-])[\w.+-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")


def mask_contacts(text: str) -> str:
    """The text with phone numbers, ID-card numbers and e-mail addresses masked."""
    if not text or _TRIGGER.search(text) is None:
        return text
    text = _ID_CARD.sub(lambda m: f"{m.group(1)}*************{m.group(2)[-2:]}", text)
    text = _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    text = _LANDLINE.sub(lambda m: f"{m.group(1)}-{'*' * len(m.group(2))}{m.group(3)}", text)
    return _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)


FreeText = Annotated[str, AfterValidator(mask_contacts)]
