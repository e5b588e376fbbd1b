"""Real-looking text for benchmarks: support messages of varied length with metadata."""

import random

from adjudication.demo_data import _SLOTS, _TEMPLATES

_EXTRA = [
    "I have attached a screenshot.", "This is the third time I write about this.",
    "Order number is in the subject line.", "Please call me back after 5pm.",
    "Thanks in advance for your help.", "My colleague has the same problem.",
    "We are a team of twelve using the business plan.", "I am writing from my work address.",
    "The issue started right after I changed my billing address.",
    "Honestly I am about to cancel if this is not fixed soon.",
]  # fmt: skip
_LANGS = ["en", "en", "en", "de", "fr", "es", "pt", "ja"]
_CHANNELS = ["email", "chat", "web form", "phone transcript"]


def message(rng: random.Random, index: int) -> dict:
    intent = rng.choice(list(_TEMPLATES))
    sentences = [rng.choice(_TEMPLATES[intent])]
    sentences += rng.sample(_EXTRA, rng.randint(0, 4))
    text = " ".join(sentences).format(**{k: rng.choice(v) for k, v in _SLOTS.items()})
    return {
        "id": f"msg-{index:08d}",
        "text": f"{text} (ticket {index})",
        "metadata": {
            "lang": rng.choice(_LANGS),
            "channel": rng.choice(_CHANNELS),
            "customer": f"c{rng.randint(1, 50_000)}",
        },  # fmt: skip
        "source": "production",
    }


def write_jsonl(path, n: int, seed: int = 1) -> None:
    import orjson

    rng = random.Random(seed)
    with open(path, "wb") as fh:
        for i in range(n):
            fh.write(orjson.dumps(message(rng, i)) + b"\n")
