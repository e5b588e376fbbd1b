"""Item checks: one function per rule, pure (no ORM), each returning findings as plain dicts.

A finding is {"rule": name, "message": plain English, "detail": a JSON-ready dict}. A rule returns
at most one finding per item, so the item and the rule name identify it across runs. Messages
say what was found but never repeat personal data in full ("card number ending 4242",
"e-mail address j***@example.com"); `detail` holds masked values and character offsets only.

Every pattern runs in linear time: possessive quantifiers and lookbehinds stop the engine from
backtracking over long runs of letters, digits or separators, and what follows a match is
checked in Python on a string of bounded length.
"""

import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields

PREFERENCE_FIELDS = ("prompt", "response_a", "response_b")
TEXT_FIELDS = ("text",)


def _finding(rule: str, message: str, **detail) -> dict:
    return {"rule": rule, "message": message, "detail": detail}


def _count(number: int, singular: str, plural: str = "") -> str:
    return f"{number:,} {singular if number == 1 else plural or singular + 's'}"


# Text rules


def empty(text: str) -> list[dict]:
    """The text is empty or whitespace only."""
    if text.strip():
        return []
    message = "The text is only whitespace." if text else "The text is empty."
    return [_finding("empty", message, length=len(text))]


def too_short(text: str, *, min_chars: int = 3) -> list[dict]:
    """Fewer than `min_chars` characters once trimmed; an empty text is left to `empty`."""
    length = len(text.strip())
    if length == 0 or length >= min_chars:
        return []
    message = f"The text has {_count(length, 'character')}; the minimum is {min_chars:,}."
    return [_finding("too_short", message, length=length, min_chars=min_chars)]


def too_long(text: str, *, max_chars: int = 20_000) -> list[dict]:
    """More than `max_chars` characters."""
    if len(text) <= max_chars:
        return []
    message = f"The text has {len(text):,} characters; the maximum is {max_chars:,}."
    return [_finding("too_long", message, length=len(text), max_chars=max_chars)]


def _is_letter(char: str) -> bool:
    # Combining marks count with the letters they sit on (Devanagari vowel signs, Arabic harakat).
    return char.isalpha() or (not char.isascii() and unicodedata.category(char)[0] == "M")


def mostly_non_letters(
    text: str, *, min_letter_share: float = 0.5, min_chars: int = 20
) -> list[dict]:
    """Letters (in any script) are less than `min_letter_share` of the non-space characters.
    Texts with fewer than `min_chars` non-space characters are not judged."""
    visible = [char for char in text if not char.isspace()]
    if len(visible) < min_chars:
        return []
    share = sum(map(_is_letter, visible)) / len(visible)
    if share >= min_letter_share:
        return []
    message = (
        f"Only {share:.0%} of the visible characters are letters; "
        f"the minimum is {min_letter_share:.0%}."
    )
    return [_finding("mostly_non_letters", message, letter_share=round(share, 3))]


@functools.cache
def _run_pattern(max_run: int) -> re.Pattern:
    # A run shorter than max_run is scanned at most max_run times, so this stays linear.
    return re.compile(rf"(\S)\1{{{max_run - 1},}}")


def repeated_characters(text: str, *, max_run: int = 20) -> list[dict]:
    """The same non-space character `max_run` or more times in a row ("aaaa…", "!!!!…").
    Whitespace runs (indentation, blank lines) are not counted."""
    runs = [(match.end() - match.start(), match) for match in _run_pattern(max_run).finditer(text)]
    if not runs:
        return []
    length, longest = max(runs, key=lambda run: run[0])
    char = longest.group(1)
    message = f"The character {char!r} repeats {length:,} times in a row."
    if len(runs) > 1:
        message += f" The text has {len(runs):,} such runs."
    detail = {"character": char, "longest": length, "runs": len(runs), "start": longest.start()}
    return [_finding("repeated_characters", message, **detail)]


def _quote(line: str, limit: int = 60) -> str:
    line = redact(line)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def repeated_lines(
    text: str, *, max_repeats: int = 3, max_share: float = 0.5, min_line_chars: int = 20
) -> list[dict]:
    """A line (trimmed, with a letter, at least `min_line_chars` long) appears `max_repeats` or
    more times, or lines that appear more than once make up more than `max_share` of the text's
    characters. The length floor spares code ("}", "end") and separators ("---")."""
    lines = [line.strip() for line in text.splitlines()]
    counts = Counter(line for line in lines if line)
    total = sum(len(line) * number for line, number in counts.items())
    if not total:
        return []
    repeated = {line: number for line, number in counts.items() if number > 1}
    share = sum(len(line) * number for line, number in repeated.items()) / total
    frequent = [
        (number, line)
        for line, number in repeated.items()
        if number >= max_repeats and len(line) >= min_line_chars and any(map(str.isalpha, line))
    ]
    if not frequent and share <= max_share:
        return []
    number, line = max(frequent) if frequent else max((n, ln) for ln, n in repeated.items())
    message = f'The line "{_quote(line)}" appears {number:,} times.'
    if share > max_share:
        message += f" Repeated lines make up {share:.0%} of the text."
    detail = {"line": _quote(line), "count": number, "repeated_share": round(share, 3)}
    return [_finding("repeated_lines", message, **detail)]


# Schema rule


def _kind_of(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return "text"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def schema_mismatch(data, required_fields=TEXT_FIELDS) -> list[dict]:
    """Fields the project's label schema needs that are missing, empty (blank or null) or not
    text in the item's `data`: e.g. PREFERENCE_FIELDS for a preference project, else TEXT_FIELDS."""
    if not isinstance(data, dict):
        message = f"The item's data is {_kind_of(data)}, not an object with fields."
        return [_finding("schema_mismatch", message, missing=list(required_fields))]
    missing, blank, not_text = [], [], {}
    for name in required_fields:
        value = data.get(name)
        if name not in data:
            missing.append(name)
        elif value is None or (isinstance(value, str) and not value.strip()):
            blank.append(name)
        elif not isinstance(value, str):
            not_text[name] = _kind_of(value)
    parts = []
    if missing:
        parts.append(f"Missing {_fields(missing)}.")
    if blank:
        parts.append(f"Empty {_fields(blank)}.")
    parts.extend(f"Field {name!r} is {kind}, not text." for name, kind in not_text.items())
    if not parts:
        return []
    detail = {"missing": missing, "empty": blank, "not_text": not_text}
    return [_finding("schema_mismatch", " ".join(parts), **detail)]


def _fields(names: list[str]) -> str:
    return ("field " if len(names) == 1 else "fields ") + ", ".join(map(repr, names))


# Personal data

_EMAIL = re.compile(r"(?<![\w.%+-])([\w.%+-]++)@([A-Za-z0-9-]++(?:\.[A-Za-z0-9-]++)++)")
_IMAGES = {"png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "tif", "tiff"}
_IBAN_START = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}")
# ISO 13616 lengths: the EU and EEA, the United Kingdom, Switzerland and a few frequent others.
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AT": 20, "BE": 16, "BG": 22, "BR": 29, "CH": 21, "CY": 28, "CZ": 24,
    "DE": 22, "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GI": 23, "GR": 27,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SA": 24,
    "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TR": 26, "UA": 29,
}  # fmt: skip
_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?+\d){12,}+")
_PHONE = re.compile(r"(?<![\w+.,/)-])(?:\+|\()?\d(?:[ \u00a0./()-]{0,3}+\d)*+")
_PHONE_SEPARATORS = re.compile(r"[ \u00a0./()-]+")
_PHONE_WORD = re.compile(
    r"(?:\b(?:tel|phone|telephone|mobile|mob|cell|fax|whatsapp|sms|tél|téléphone|telefon"
    r"|telefono|teléfono|handy)\b|[☎📞])[^\d\n]{0,15}$",
    re.IGNORECASE,
)
_NANP = re.compile(r"(?:1[ .-]?)?(?:\([2-9]\d\d\) ?|[2-9]\d\d[ .-])[2-9]\d\d[ .-]\d{4}")
_TRUNK = re.compile(r"(?:\(0[1-9]\d{0,4}\) ?|0[1-9]\d{0,4}[ ./-])\d{2,8}(?:[ ./-]\d{2,8})*")
_ACCESS = re.compile(r"00[1-9]\d{0,3}(?:[ .-]\d{1,5})+")


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check that payment card numbers carry in their last digit."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """ISO 13616: a known country's length and check digits (mod 97 == 1); spaces ignored."""
    compact = iban.replace(" ", "").upper()
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def _emails(text: str):
    for match in _EMAIL.finditer(text):
        local, domain = match.group(1), match.group(2)
        suffix = domain.rsplit(".", 1)[1].lower()
        # "icon@2x.png" is a file name, not an address.
        if local.strip(".") and suffix.isalpha() and len(suffix) > 1 and suffix not in _IMAGES:
            yield match.start(), match.end(), f"{local[0]}***@{domain}"


def _ibans(text: str):
    for match in _IBAN_START.finditer(text):
        length = IBAN_LENGTHS.get(match.group()[:2])
        if length is None:
            continue
        # Read up to `length` capitals and digits, with at most one space between them.
        chars, end = [], match.start()
        while len(chars) < length and end < len(text):
            char = text[end]
            if char == " " and chars and text[end + 1 : end + 2].isalnum():
                end += 1
                continue
            if not (char.isascii() and (char.isdigit() or char.isupper())):
                break
            chars.append(char)
            end += 1
        if text[end : end + 1].isalnum() or not iban_valid("".join(chars)):
            continue
        yield match.start(), end, f"from {chars[0]}{chars[1]} ending {''.join(chars[-4:])}"


def _card_digits(candidate: str) -> str | None:
    """The digits of a run written as a card number is printed, else None."""
    digits = candidate.replace(" ", "").replace("-", "")
    groups = [len(group) for group in re.split(r"[ -]", candidate)]
    grouped = len(groups) == 1 or (
        len(set(re.findall(r"[ -]", candidate))) == 1
        and ((set(groups[:-1]) == {4} and groups[-1] <= 4) or groups in ([4, 6, 5], [4, 6, 4]))
    )
    # Issuers' numbers start with 2 to 6 (Mastercard, Amex, Visa, Discover, …); a random
    # 16-digit id passes Luhn one time in ten, so the prefix cuts false alarms.
    if grouped and 13 <= len(digits) <= 19 and digits[0] in "23456" and len(set(digits)) > 1:
        return digits if luhn_valid(digits) else None
    return None


def _cards(text: str):
    for match in _CARD.finditer(text):
        candidate, end = match.group(), match.end()
        if len(candidate) > 40 or text[end : end + 1].isalnum():
            continue  # 19 digits with their separators never need more
        digits = _card_digits(candidate)
        if digits is None and len(candidate) > 19 and candidate[4] in " -":
            # "4242 4242 4242 4242 123": a grouped number, then a security code or a date.
            candidate = candidate[:19]
            digits = _card_digits(candidate)
            end = match.start() + 19
        if digits is not None:
            yield match.start(), end, f"ending {digits[-4:]}"


def _is_phone(candidate: str, before: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    if not 7 <= len(digits) <= 15 or len(set(digits[1:])) <= 1:
        return False
    if candidate.startswith("+") or _PHONE_WORD.search(before):
        return True
    if _NANP.fullmatch(candidate) or (_ACCESS.fullmatch(candidate) and len(digits) >= 9):
        return True
    # A national number with a trunk 0 and one kind of separator: "020 7946 0958",
    # "01 23 45 67 89", "030/1234567". Dates ("01.02.2024 10") mix separators or are too short.
    separators = set(re.findall(r"[ ./-]", candidate.rsplit(")", 1)[-1]))
    return bool(_TRUNK.fullmatch(candidate)) and 9 <= len(digits) <= 12 and len(separators) <= 1


def _phones(text: str):
    for match in _PHONE.finditer(text):
        start, end = match.start(), match.end()
        if text[end : end + 1].isalnum():
            continue
        # The run may go on past the number ("020 7946 0958 24 hours"): try it whole, then cut
        # at each separator, longest first. 15 digits with separators fit in 64 characters.
        candidate = match.group()[:64]
        cuts = [cut.start() for cut in _PHONE_SEPARATORS.finditer(candidate)]
        if end - start <= 64:
            cuts.append(len(candidate))
        before = text[max(0, start - 40) : start]
        for cut in reversed(cuts):
            if _is_phone(candidate[:cut], before):
                digits = re.sub(r"[^0-9]", "", candidate[:cut])
                yield start, start + cut, f"ending {digits[-2:]}"
                break


_FINDERS = (("email", _emails), ("iban", _ibans), ("card", _cards), ("phone", _phones))
_LABELS = {
    "email": ("an e-mail address", "e-mail addresses"),
    "iban": ("an IBAN", "IBANs"),
    "card": ("a card number", "card numbers"),
    "phone": ("a phone number", "phone numbers"),
}


def personal_matches(text: str) -> list[dict]:
    """E-mail addresses, IBANs, card numbers and phone numbers in `text`, in that order of
    precedence (a card number inside an IBAN is not reported twice), each as
    {"kind", "start", "end", "masked"}."""
    claimed = bytearray(len(text))
    found = []
    for kind, finder in _FINDERS:
        for start, end, masked in finder(text):
            if claimed.find(1, start, end) != -1:
                continue
            claimed[start:end] = b"\x01" * (end - start)
            found.append({"kind": kind, "start": start, "end": end, "masked": masked})
    return found


def redact(text: str) -> str:
    """`text` with personal data replaced by its masked form, e.g. "[card number ending 4242]"."""
    pieces, position = [], 0
    for match in sorted(personal_matches(text), key=lambda found: found["start"]):
        label = _LABELS[match["kind"]][0].split(" ", 1)[1]
        pieces += [text[position : match["start"]], f"[{label} {match['masked']}]"]
        position = match["end"]
    return "".join([*pieces, text[position:]])


def personal_data(text: str, *, listed: int = 20) -> list[dict]:
    """E-mail addresses, phone numbers, payment card numbers (Luhn) and IBANs (mod 97).

    Phone numbers: "+" and 7 to 15 digits; a North American number ("(415) 555-2671"); a
    national number with a trunk 0 and separators ("020 7946 0958"); or any 7 to 15 digits
    just after a word such as "tel" or "phone". Plain digit runs, years, prices and dates are
    not phone numbers. IBANs are read in capitals, as printed."""
    matches = personal_matches(text)
    if not matches:
        return []
    parts = []
    for kind, (one, many) in _LABELS.items():
        masked = [match["masked"] for match in matches if match["kind"] == kind]
        if len(masked) == 1:
            parts.append(f"{one} {masked[0]}")
        elif masked:
            more = f" and {len(masked) - 3:,} more" if len(masked) > 3 else ""
            parts.append(f"{len(masked):,} {many}: {', '.join(masked[:3])}{more}")
    counts = dict(Counter(match["kind"] for match in matches))
    message = "Found " + "; ".join(parts) + "."
    return [_finding("personal_data", message, counts=counts, matches=matches[:listed])]


# Running the rules


@dataclass(frozen=True)
class Rule:
    """A rule for the UI (name, description) and for `check_item`: its function is called with
    the item's text (its data for schema_mismatch) and keyword arguments taken from the
    settings, as {argument: settings attribute}."""

    name: str
    description: str
    function: Callable[..., list[dict]]
    settings: dict[str, str] = field(default_factory=dict)
    on_data: bool = False


RULES: dict[str, Rule] = {
    rule.name: rule
    for rule in [
        Rule("empty", "The text is empty or whitespace only.", empty),
        Rule("too_short", "The text is shorter than the minimum length.", too_short,
             {"min_chars": "min_chars"}),
        Rule("too_long", "The text is longer than the maximum length.", too_long,
             {"max_chars": "max_chars"}),
        Rule("mostly_non_letters",
             "Most of the text is digits, symbols or markup rather than letters.",
             mostly_non_letters,
             {"min_letter_share": "min_letter_share", "min_chars": "letter_share_min_chars"}),
        Rule("repeated_characters", "A character repeats many times in a row.",
             repeated_characters, {"max_run": "max_char_run"}),
        Rule("repeated_lines",
             "A line repeats several times, or repeated lines make up most of the text.",
             repeated_lines,
             {"max_repeats": "max_line_repeats", "max_share": "max_repeated_line_share",
              "min_line_chars": "repeated_line_min_chars"}),
        Rule("schema_mismatch", "A field the label schema needs is missing, empty or not text.",
             schema_mismatch, {"required_fields": "required_fields"}, on_data=True),
        Rule("personal_data",
             "The text contains an e-mail address, phone number, card number or IBAN.",
             personal_data),
    ]
}  # fmt: skip


@dataclass(frozen=True)
class CheckSettings:
    """Thresholds of the item checks and the rules that run (all by default)."""

    min_chars: int = 3
    max_chars: int = 20_000
    min_letter_share: float = 0.5
    letter_share_min_chars: int = 20
    max_char_run: int = 20
    max_line_repeats: int = 3
    repeated_line_min_chars: int = 20
    max_repeated_line_share: float = 0.5
    required_fields: tuple[str, ...] = TEXT_FIELDS
    rules: frozenset[str] = field(default_factory=lambda: frozenset(RULES))

    def __post_init__(self):
        object.__setattr__(self, "required_fields", tuple(self.required_fields))
        object.__setattr__(self, "rules", frozenset(self.rules))
        unknown = sorted(self.rules - set(RULES))
        if unknown:
            raise ValueError(f"Unknown item check rules: {', '.join(unknown)}.")
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(item.default, int | float) and (
                isinstance(value, bool) or not isinstance(value, int | float) or value <= 0
            ):
                raise ValueError(f"{item.name} must be a positive number, like {item.default}.")
        if self.max_char_run < 2 or self.max_line_repeats < 2:
            raise ValueError("max_char_run and max_line_repeats must be at least 2.")

    @classmethod
    def from_dict(cls, raw: dict | None) -> "CheckSettings":
        """Settings from JSON, such as a project's stored thresholds; missing names keep their
        defaults and an unknown name is a ValueError."""
        unknown = sorted(set(raw or {}) - {item.name for item in fields(cls)})
        if unknown:
            raise ValueError(f"Unknown item check settings: {', '.join(unknown)}.")
        return cls(**(raw or {}))

    def as_dict(self) -> dict:
        """JSON-ready settings, the inverse of `from_dict`."""
        return {**asdict(self), "required_fields": list(self.required_fields),
                "rules": sorted(self.rules)}  # fmt: skip


def check_item(data, text: str, settings: CheckSettings | None = None) -> list[dict]:
    """Runs the enabled rules, in the order of RULES, over an item's `data` and its text."""
    settings = settings or CheckSettings()
    findings = []
    for name, rule in RULES.items():
        if name in settings.rules:
            arguments = {arg: getattr(settings, attr) for arg, attr in rule.settings.items()}
            findings.extend(rule.function(data if rule.on_data else text, **arguments))
    return findings
