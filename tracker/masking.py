"""Personal data as lists, the API and the exports show it: enough to tell records apart, not enough to call anyone.

A masked value holds MASK; no real name, phone number or e-mail address does, so the importer can tell a masked cell
from a real one (is_masked) and keep what is stored.
"""
import re

MASK = "*"
_DIGIT = re.compile(r"\d")
PHONE_TAIL = 4  # the digits a reader needs to tell two numbers apart


def is_masked(value) -> bool:
    """Whether a value was written by one of the mask_* functions (it holds a '*')."""
    return isinstance(value, str) and MASK in value


def mask_phone(phone: str | None) -> str:
    """010-1234-5678 -> 010-****-5678: the area or carrier prefix and the last four digits stay, separators too."""
    phone = (phone or "").strip()
    digits = [m.start() for m in _DIGIT.finditer(phone)]
    if not digits:
        return phone
    head = 2 if phone[digits[0]:digits[0] + 2] == "02" else 3  # Seoul's area code is two digits
    keep = set(digits[:head]) | set(digits[-PHONE_TAIL:])
    if len(keep) >= len(digits):  # too short to keep both ends: the last half of the digits stays
        keep = set(digits[len(digits) - len(digits) // 2:])
    hidden = set(digits) - keep
    return "".join(MASK if i in hidden else ch for i, ch in enumerate(phone))


def mask_name(name: str | None) -> str:
    """김민용 -> 김*용, 김용 -> 김*, 남궁민수 -> 남**수: the first and (from three letters) the last letter stay."""
    name = (name or "").strip()
    if len(name) <= 1:
        return MASK * len(name)
    if len(name) == 2:
        return name[0] + MASK
    return name[0] + MASK * (len(name) - 2) + name[-1]


def mask_email(email: str | None) -> str:
    """abcdef@example.com -> ab***@example.com: the first two letters of the mailbox and the whole domain stay."""
    email = (email or "").strip()
    local, at, domain = email.rpartition("@")
    if not at:
        return mask_name(email)
    return f"{local[:2] if len(local) > 2 else local[:1]}{MASK * 3}@{domain}"
