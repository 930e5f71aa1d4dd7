"""Personal data stays in intake: downstream sees a masked phone and a stable pseudonym."""

from __future__ import annotations

import hashlib
import hmac
import re

_NON_DIGITS = re.compile(r"\D")


def normalise_phone(phone: str) -> str:
    digits = _NON_DIGITS.sub("", phone)
    return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits


def mask_phone(phone: str) -> str:
    """138****0000 style: enough for a person to recognise, too little to call."""
    digits = normalise_phone(phone)
    if len(digits) < 7:
        return "*" * len(digits)
    if len(digits) < 11:  # a short or mistyped number: showing 3 + 4 digits of it would show nearly all
        return f"{'*' * (len(digits) - 2)}{digits[-2:]}"
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"


def complainant_id(phone: str, secret: str, generation: int = 0) -> str:
    """Stable pseudonym per phone number (HMAC-SHA256 keyed with the pseudonym secret), so repeat complainants
    are recognisable. `generation` counts erasures: after one, the number gets a pseudonym that cannot be linked
    to the erased one."""
    return pseudonym(normalise_phone(phone), secret, generation)


def pseudonym(subject: str, secret: str, generation: int = 0) -> str:
    """The keyed hash of what identifies a complainant (a phone number, a contact, an anonymous complaint)."""
    keyed = subject if generation == 0 else f"{subject}#erased-{generation}"
    digest = hmac.new(secret.encode(), keyed.encode(), hashlib.sha256).hexdigest()
    return f"p-{digest[:20]}"
