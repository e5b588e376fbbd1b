"""Item checks: one rule at a time, checksums on published examples, masking, and linear time."""

import json
import re
import time

import pytest

from curation.quality.checks import (
    PREFERENCE_FIELDS,
    RULES,
    CheckSettings,
    check_item,
    empty,
    iban_valid,
    luhn_valid,
    mostly_non_letters,
    personal_data,
    personal_matches,
    redact,
    repeated_characters,
    repeated_lines,
    schema_mismatch,
    too_long,
    too_short,
)


def kinds(text: str) -> list[str]:
    return [match["kind"] for match in personal_matches(text)]


# empty, too_short, too_long


@pytest.mark.parametrize("text", ["", "   ", "\n\t \u00a0"])
def test_empty_or_whitespace_text_is_reported(text):
    [finding] = empty(text)
    assert finding["rule"] == "empty"
    assert finding["message"] in {"The text is empty.", "The text is only whitespace."}


def test_text_with_a_character_is_not_empty():
    assert empty(" a ") == []


def test_too_short_counts_trimmed_characters():
    [finding] = too_short("  ab  ")
    assert finding["message"] == "The text has 2 characters; the minimum is 3."
    assert finding["detail"] == {"length": 2, "min_chars": 3}
    assert too_short("abc") == []
    assert too_short("abcd", min_chars=5) != []


def test_empty_text_is_not_also_too_short():
    assert too_short("   ") == []


def test_too_long_over_the_maximum():
    [finding] = too_long("x" * 20_001)
    assert finding["message"] == "The text has 20,001 characters; the maximum is 20,000."
    assert too_long("x" * 20_000) == []
    assert too_long("x" * 11, max_chars=10) != []


# mostly_non_letters


def test_mostly_symbols_and_digits_is_reported():
    [finding] = mostly_non_letters("1234 5678 9012 #### $$$$ %%%% ok")
    assert finding["detail"]["letter_share"] == pytest.approx(2 / 26, abs=1e-3)
    assert "8% of the visible characters are letters" in finding["message"]


def test_prose_in_any_script_is_letters():
    assert mostly_non_letters("The quick brown fox jumps over the lazy dog, twice.") == []
    assert mostly_non_letters("Быстрая коричневая лиса перепрыгивает через собаку.") == []
    assert mostly_non_letters("敏捷的棕色狐狸跳过了懒狗。敏捷的棕色狐狸跳过了懒狗。") == []
    # Devanagari vowel signs are combining marks, not letters to str.isalpha; they still count.
    assert mostly_non_letters("नमस्ते दुनिया, आप कैसे हैं? मैं ठीक हूँ।") == []


def test_short_texts_are_not_judged_on_letters():
    assert mostly_non_letters("42 + 17 = 59") == []  # 9 non-space characters


# repeated_characters


def test_a_run_of_twenty_characters_is_reported():
    [finding] = repeated_characters("Nooooooooooooooooooooooo! and !!!!!!!!!!!!!!!!!!!!!!!!")
    assert finding["detail"] == {"character": "!", "longest": 24, "runs": 2, "start": 30}
    assert finding["message"] == (
        "The character '!' repeats 24 times in a row. The text has 2 such runs."
    )


def test_shorter_runs_and_whitespace_runs_are_fine():
    assert repeated_characters("Noooooooooooooooooo!") == []  # 19 o's
    assert repeated_characters("def f():\n" + " " * 40 + "return 1\n\n\n\n") == []
    assert repeated_characters("aaaaa", max_run=5) != []


# repeated_lines


def test_a_line_repeated_three_times_is_reported():
    text = (
        "Intro.\n"
        + "Click here to subscribe to our newsletter!\n" * 3
        + "\n".join(f"Paragraph number {i} says something different." for i in range(10))
    )
    [finding] = repeated_lines(text)
    assert finding["detail"]["count"] == 3
    assert finding["message"] == (
        'The line "Click here to subscribe to our newsletter!" appears 3 times.'
    )


def test_repeated_lines_making_up_most_of_the_text_are_reported():
    [finding] = repeated_lines("I am sorry.\nI am sorry.\nOK")
    assert finding["detail"]["repeated_share"] > 0.5
    assert "Repeated lines make up 92% of the text." in finding["message"]


def test_code_braces_and_separators_are_not_repeated_lines():
    code = "\n".join(
        f"function f{i}(x) {{\n    return x + {i} * someLongerName;\n}}\n---" for i in range(5)
    )
    assert repeated_lines(code) == []
    assert repeated_lines("One line only.") == []
    assert repeated_lines("") == []


def test_a_quoted_line_is_shortened_and_never_shows_personal_data():
    line = "Write to jane.doe@example.com for your refund, we answer within two days"
    [finding] = repeated_lines(f"{line}\n" * 4)
    assert "jane.doe" not in finding["message"]
    assert "[e-mail address j***@example.com]" in finding["message"]
    assert finding["detail"]["line"].endswith("…")
    assert len(finding["detail"]["line"]) == 60


# schema_mismatch


def test_a_preference_item_needs_its_three_fields_as_text():
    data = {"prompt": "Which is better?", "response_a": "   ", "response_b": 3}
    [finding] = schema_mismatch(data, ["prompt", "response_a", "response_b", "context"])
    assert finding["detail"] == {
        "missing": ["context"],
        "empty": ["response_a"],
        "not_text": {"response_b": "a number"},
    }
    assert finding["message"] == (
        "Missing field 'context'. Empty field 'response_a'. "
        "Field 'response_b' is a number, not text."
    )


def test_a_complete_item_has_no_schema_finding():
    assert schema_mismatch({"text": "hello", "extra": 1}, ["text"]) == []
    data = {"prompt": "p", "response_a": "a", "response_b": "b"}
    assert schema_mismatch(data, list(PREFERENCE_FIELDS)) == []


@pytest.mark.parametrize(
    ("value", "kind"),
    [(None, None), ([1], "a list"), ({"a": 1}, "an object"), (True, "true/false")],
)
def test_null_is_empty_and_other_values_are_not_text(value, kind):
    [finding] = schema_mismatch({"text": value}, ["text"])
    if kind is None:
        assert finding["detail"]["empty"] == ["text"]
    else:
        assert finding["detail"]["not_text"] == {"text": kind}


def test_data_that_is_not_an_object_is_a_mismatch():
    [finding] = schema_mismatch("just a string", ["text"])
    assert finding["message"] == "The item's data is text, not an object with fields."


# Checksums, on published examples


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("4242424242424242", True),
        ("4242424242424241", False),
        ("79927398713", True),  # the worked example of the Luhn algorithm
        ("79927398710", False),
        ("378282246310005", True),  # Amex test number
        ("5555555555554444", True),  # Mastercard test number
    ],
)
def test_luhn(number, valid):
    assert luhn_valid(number) is valid


@pytest.mark.parametrize(
    ("iban", "valid"),
    [
        ("GB82 WEST 1234 5698 7654 32", True),  # ISO 13616 and ECBS examples
        ("DE89 3704 0044 0532 0130 00", True),
        ("FR14 2004 1010 0505 0001 3M02 606", True),
        ("NL91 ABNA 0417 1643 00", True),
        ("CH93 0076 2011 6238 5295 7", True),
        ("GB82 WEST 1234 5698 7654 33", False),  # check digits do not match
        ("GB28 WEST 1234 5698 7654 32", False),  # check digits swapped
        ("DE89 3704 0044 0532 0130 0", False),  # one character short for Germany
        ("XX82 WEST 1234 5698 7654 32", False),  # unknown country
    ],
)
def test_iban_mod_97(iban, valid):
    assert iban_valid(iban) is valid


# personal_data


def test_email_is_found_and_masked():
    text = "Write to jane.doe+news@mail.example.co.uk today."
    [finding] = personal_data(text)
    assert finding["message"] == "Found an e-mail address j***@mail.example.co.uk."
    assert "jane" not in json.dumps(finding)
    end = text.index(" today")
    assert finding["detail"]["matches"] == [
        {"kind": "email", "start": 9, "end": end, "masked": "j***@mail.example.co.uk"}
    ]


@pytest.mark.parametrize(
    "text", ["icon@2x.png", "user@localhost", "@mention", "a@b.c", "npm i left-pad@1.3.0", "x@y"]
)
def test_things_that_look_like_emails_are_not(text):
    assert personal_data(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "Card 4242 4242 4242 4242, thanks",
        "card: 4242-4242-4242-4242.",
        "4242424242424242",
        "Amex 3782 822463 10005",
        "4242 4242 4242 4242 123 is the code",  # the number, then the security code
    ],
)
def test_a_card_number_passing_luhn_is_found(text):
    [finding] = personal_data(text)
    assert kinds(text) == ["card"]
    assert finding["message"] in {
        "Found a card number ending 4242.",
        "Found a card number ending 0005.",
    }
    assert "4242 4242 4242" not in json.dumps(finding)


@pytest.mark.parametrize(
    "text",
    [
        "4242 4242 4242 4241",  # fails Luhn
        "0000 0000 0000 0000",  # passes Luhn, but no card is all zeros
        "1234567812345670",  # passes Luhn, but no issuer starts with 1
        "4242 42424 2424 242",  # not grouped the way cards are printed
        "order 4242424242424242xyz",
        "id 424242424242424242877",  # 21 digits; its first 19 pass Luhn, but it is one run
    ],
)
def test_numbers_that_are_not_cards(text):
    assert "card" not in kinds(text)


def test_iban_is_found_and_masked():
    text = "IBAN: GB82 WEST 1234 5698 7654 32 BIC: WESTGB22"
    [finding] = personal_data(text)
    assert finding["message"] == "Found an IBAN from GB ending 5432."
    assert finding["detail"]["matches"][0]["end"] == text.index(" BIC")
    assert kinds("Pay DE89370400440532013000.") == ["iban"]  # not also a card or a phone


def test_an_iban_with_a_wrong_checksum_is_not_reported():
    assert personal_data("IBAN: GB82 WEST 1234 5698 7654 33") == []


@pytest.mark.parametrize(
    "text",
    [
        "Call +44 20 7946 0958 today",
        "+1 (415) 555-2671",
        "+44 (0)20 7946 0958",
        "+4930123456",
        "(+33 1 23 45 67 89)",
        "(415) 555-2671",
        "415-555-2671",
        "415.555.2671",
        "020 7946 0958",
        "01 23 45 67 89",
        "030/1234567",
        "06-12345678",
        "0044 20 7946 0958",
        "Tel: 5551234",
        "phone number is 07700900123",
        "Call 020 7946 0958 24 hours a day",
    ],
)
def test_phone_numbers_are_found(text):
    assert kinds(text) == ["phone"]
    [finding] = personal_data(text)
    assert re.fullmatch(r"Found a phone number ending \d\d\.", finding["message"])


@pytest.mark.parametrize(
    "text",
    [
        "In 1999 it cost $1,299.99 and in 2024 about €1.499,00.",
        "Population 1 234 567 in 2020.",
        "Order 123456789, invoice 00012345678.",
        "Meeting on 2024-01-15 at 10:30, or 01.02.2024 10:30, or 15/01/2024.",
        "ISBN 978-3-16-148410-0 and version 10.0.19041.1234",
        "Server 192.168.100.200 on port 8080.",
        "Years 2019 2020 2021 2022; sizes 100 200 3000; 300-1200 words.",
        "Score +5 points, +1000000000 views.",
        "Postcode 94105-1234, ratio 0.5 0.25 0.125 0.0625.",
    ],
)
def test_years_prices_dates_and_ids_are_not_phone_numbers(text):
    assert personal_data(text) == []


def test_several_kinds_make_one_finding_with_counts():
    text = (
        "a@example.com, b@example.org, c@example.net, d@example.com; "
        "card 4242 4242 4242 4242; +44 20 7946 0958"
    )
    [finding] = personal_data(text)
    assert finding["detail"]["counts"] == {"email": 4, "card": 1, "phone": 1}
    assert finding["message"] == (
        "Found 4 e-mail addresses: a***@example.com, b***@example.org, c***@example.net "
        "and 1 more; a card number ending 4242; a phone number ending 58."
    )


def test_redact_replaces_each_match_with_its_masked_form():
    text = "Mail jane@example.com, card 4242 4242 4242 4242, IBAN GB82 WEST 1234 5698 7654 32."
    assert redact(text) == (
        "Mail [e-mail address j***@example.com], card [card number ending 4242], "
        "IBAN [IBAN from GB ending 5432]."
    )


# check_item and the registry


def test_rules_registry_lists_every_rule_with_a_description():
    assert list(RULES) == [
        "empty", "too_short", "too_long", "mostly_non_letters", "repeated_characters",
        "repeated_lines", "schema_mismatch", "personal_data",
    ]  # fmt: skip
    assert all(rule.description.endswith(".") for rule in RULES.values())


def test_check_item_runs_every_rule_with_the_settings():
    data = {"prompt": "Hi", "response_a": "Contact me at jane@example.com", "response_b": ""}
    text = "Hi"
    settings = CheckSettings(required_fields=PREFERENCE_FIELDS, min_chars=5)
    findings = check_item(data, text, settings)
    assert [finding["rule"] for finding in findings] == ["too_short", "schema_mismatch"]
    assert json.loads(json.dumps(findings)) == findings  # plain, JSON-ready dicts


def test_a_clean_item_has_no_findings():
    text = "The committee met on Tuesday and agreed to publish the annual report in March."
    assert check_item({"text": text}, text) == []


def test_rules_can_be_switched_off():
    text = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa jane@example.com"
    only_personal = CheckSettings(rules={"personal_data"})
    assert [f["rule"] for f in check_item({"text": text}, text, only_personal)] == ["personal_data"]
    assert check_item({"text": text}, text, CheckSettings(rules=set())) == []


def test_unknown_rule_names_are_refused():
    with pytest.raises(ValueError, match="spelling"):
        CheckSettings(rules={"empty", "spelling"})


def test_settings_round_trip_through_json():
    settings = CheckSettings(min_chars=10, rules={"empty", "personal_data"})
    stored = json.loads(json.dumps(settings.as_dict()))
    assert stored["rules"] == ["empty", "personal_data"]
    assert CheckSettings.from_dict(stored) == settings
    assert CheckSettings.from_dict(None) == CheckSettings()
    assert CheckSettings.from_dict({"required_fields": ["prompt"]}).required_fields == ("prompt",)


@pytest.mark.parametrize(
    "raw", [{"min_chr": 3}, {"min_chars": "3"}, {"max_chars": 0}, {"min_chars": True}]
)
def test_settings_from_json_refuse_unknown_names_and_bad_values(raw):
    with pytest.raises(ValueError):
        CheckSettings.from_dict(raw)


# Linear time

ADVERSARIAL = {
    "letters": "a" * 100_000,
    "digits": "1" * 100_000,
    "digits and spaces": "1 " * 50_000,
    "digits and dashes": "1-" * 50_000,
    "plus signs": "+1 " * 33_334,
    "at signs": "a@" * 50_000,
    "dots": "a." * 50_000,
    "domain labels": "a@" + "a." * 50_000,
    "hyphens": "a@" + "a-" * 50_000,
    "local part": "a" * 100_000 + "@",
    "iban starts": "GB82 " * 20_000,
    "iban run": "GB82" * 25_000,
    "parentheses": "(1)" * 33_334,
    "almost runs": ("x" * 19 + "y") * 5_000,
    "card groups": "4242 " * 20_000,
    "phone groups": "020 7946 0958 " * 7_143,
    "phone words": "tel " * 25_000,
    "lines": "the same line again and again\n" * 3_334,
}


@pytest.mark.parametrize("name", ADVERSARIAL)
def test_every_rule_runs_in_linear_time_on_100_kb(name):
    text = ADVERSARIAL[name]
    assert len(text) >= 100_000
    # CPU time, with room for a loaded CI machine under coverage: it took about 0.1 s alone,
    # and backtracking that grows with the square of 100 KB would take minutes.
    started = time.process_time()
    check_item({"text": text}, text)
    assert time.process_time() - started < 2.0
