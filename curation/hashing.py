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


def content_hash(data) -> str:
    return hashlib.sha256(normalise_text(item_text(data)).encode("utf-8")).hexdigest()
