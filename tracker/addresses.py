"""E-mail addresses as they enter: one check for users, the summary's recipients and sites' officers."""
from email.errors import HeaderParseError
from email.headerregistry import Address

MAX_LEN = 254  # RFC 5321's limit for a forward path


def clean_address(raw) -> str | None:
    """The address trimmed and lower-cased, or None when it is not one plain address (user@domain).

    The standard library's parser refuses CR, LF and other control characters, display names, lists and anything
    else a mail header could be made to carry, so what is stored can always be sent."""
    text = str(raw or "").strip()
    if not text or len(text) > MAX_LEN or not text.isascii():
        return None
    try:
        addr = Address(addr_spec=text)
    except (ValueError, IndexError, HeaderParseError):
        return None
    if addr.addr_spec != text or not addr.username or not addr.domain or addr.domain.startswith((".", "-")):
        return None
    return text.lower()
