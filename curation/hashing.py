"""Content hashes of item text, for exact-duplicate detection (pure, no ORM)."""

import hashlib
import unicodedata


def normalise_text(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed and trimmed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def item_text(data) -> str:
    """The text that identifies an item: its `text` field, else its string fields in key order."""
    if isinstance(data, dict):
        if isinstance(data.get("text"), str):
            return data["text"]
        return "\n".join(str(data[key]) for key in sorted(data) if isinstance(data[key], str))
    return data if isinstance(data, str) else ""


# The ASCII characters str.split() breaks on besides the space.
ASCII_BREAKS = b"\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"


def text_hash(text: str, _normalize=unicodedata.normalize, _sha256=hashlib.sha256,
              _breaks=ASCII_BREAKS) -> str:  # fmt: skip
    """The content hash of one text: `content_hash({"text": text})`, in one call for the
    import's million-row loop (the defaults bind the functions it calls once).

    NFKC leaves ASCII as it is and case folding ASCII is lower(). The split and join, which cost
    more than the hash itself, change nothing in a printable text with single inner spaces: the
    only printable whitespace character is the space (checked over all of Unicode in the tests).
    ASCII text with single inner spaces and no other break is lowered and checked as bytes,
    which it is hashed as anyway (about a tenth cheaper than as a string).
    """
    if text.isascii() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        raw = text.encode().lower()
        if len(raw.translate(None, _breaks)) == len(raw):
            return _sha256(raw).hexdigest()
    text = text.lower() if text.isascii() else _normalize("NFKC", text).casefold()
    if not (text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " "):
        text = " ".join(text.split())
    return _sha256(text.encode()).hexdigest()


def content_hash(data) -> str:
    return text_hash(item_text(data))
