"""Real-looking customer-support messages for the demo project (pure: no ORM).

Lives in adjudication because the demo seeds every app and imports run adjudication → annotation
→ curation.
"""

import random

LABELS = [
    {"value": "billing", "text": "Billing", "hotkey": "1", "color": "#2563eb",
     "description": "Charges, refunds, invoices, prices, payment methods."},
    {"value": "technical", "text": "Technical problem", "hotkey": "2", "color": "#dc2626",
     "description": "Something in the product is broken, slow or behaves wrongly."},
    {"value": "account", "text": "Account access", "hotkey": "3", "color": "#7c3aed",
     "description": "Sign-in, passwords, two-factor, locked or deleted accounts."},
    {"value": "shipping", "text": "Shipping", "hotkey": "4", "color": "#059669",
     "description": "Delivery times, tracking, lost or damaged parcels, returns by post."},
    {"value": "feedback", "text": "Feedback / other", "hotkey": "5", "color": "#6b7280",
     "description": "Praise, suggestions and anything that fits no other label."},
]  # fmt: skip

GUIDELINES = """\
# Labeling support messages

Choose the **one** label that says what the customer needs from us *now*.

| Label | Use it when |
|---|---|
| Billing | money: charges, refunds, invoices, prices |
| Technical problem | the product misbehaves |
| Account access | the customer cannot get into their account |
| Shipping | a physical delivery is late, lost or damaged |
| Feedback / other | nothing above fits |

When a message mentions two things, label the one the customer asks us to act on.
A refund *because* a parcel never arrived is **Shipping**.
"""

_SLOTS = {
    "product": ["the Pro plan", "my annual subscription", "the family bundle", "the starter kit",
                "the wireless headset", "the standing desk", "the coffee grinder", "my order"],
    "amount": ["$12.99", "$49", "€120", "£7.50", "$310", "€19.90"],
    "days": ["three days", "a week", "two weeks", "ten days", "five days"],
    "device": ["iPhone", "Android phone", "Windows laptop", "MacBook", "Chromebook", "iPad"],
    "feature": ["export", "search", "the dashboard", "notifications", "sync", "the mobile app"],
    "city": ["Lyon", "Denver", "Osaka", "Leeds", "Porto", "Cape Town", "Calgary"],
}  # fmt: skip

_TEMPLATES = {
    "billing": [
        "I was charged {amount} twice for {product} this month. Please refund the extra charge.",
        "Why did the price of {product} go up to {amount}? Nobody told me about this.",
        "Can I get an invoice with my company's VAT number for {product}?",
        "I cancelled {product} {days} ago but you still took {amount} from my card.",
        "My card was declined when paying {amount}, but my bank says everything is fine.",
        "Do you offer a discount if I pay for {product} yearly instead of monthly?",
    ],
    "technical": [
        "{feature} keeps crashing on my {device} since the last update.",
        "When I click {feature} nothing happens. Tried on my {device} and it's the same.",
        "The app is extremely slow on my {device}, pages take 20 seconds to load.",
        "{feature} shows an error 500 every time I try it. This has been going on for {days}.",
        "Data I entered yesterday disappeared after {feature} ran. Is there a backup?",
        "For {days} now, {feature} doesn't work at all on my {device}. Please fix it.",
    ],
    "account": [
        "I can't log in, it says my password is wrong but I just reset it.",
        "I lost my phone and can't get the two-factor code. How do I get back into my account?",
        "My account got locked after a few attempts. I need access today for work.",
        "I never received the password reset email, checked spam too.",
        "Someone changed the email on my account without my permission!",
        "Please delete my account and all my data, I don't use {product} anymore.",
    ],
    "shipping": [
        "My parcel was supposed to arrive in {city} {days} ago. Tracking hasn't moved.",
        "{product} arrived damaged, the box was crushed. What do I do?",
        "The tracking says delivered but nothing came to my address in {city}.",
        "Can you ship {product} to {city}? The checkout won't accept my address.",
        "I ordered {product} {days} ago and it still says 'preparing'. When will it ship?",
        "Only half of my order arrived in {city}. The rest of {product} is missing.",
    ],
    "feedback": [
        "Just wanted to say {feature} is brilliant, it saved me hours this week.",
        "It would be great if {feature} worked offline on my {device}.",
        "Your support person was really kind and sorted everything in minutes. Thanks!",
        "Suggestion: let us pick a dark theme for {feature}.",
        "I love {product} but the manual could be clearer about setup.",
        "Not a complaint, but could you add more payment options? Also {feature} rocks.",
    ],
}

# Messages that honestly fit two labels; annotators split on these, as real teams do.
_AMBIGUOUS = [
    ("shipping", "billing", "{product} never arrived in {city} so I want my {amount} back."),
    ("technical", "billing", "The checkout page crashed but I was still charged {amount}."),
    ("account", "technical", "The login page on my {device} just spins forever."),
    ("feedback", "technical", "Nice update, though {feature} feels slower on my {device} now."),
    ("billing", "account", "I can't sign in to download the invoice for {product}."),
]


def demo_messages(count: int = 300, seed: int = 7) -> list[dict]:
    """`count` distinct messages as {"text", "intent", "second"}; second is another fair label."""
    rng = random.Random(seed)
    out, seen = [], set()
    while len(out) < count:
        if rng.random() < 0.12:
            intent, second, template = rng.choice(_AMBIGUOUS)
        else:
            intent = rng.choice(list(_TEMPLATES))
            second, template = None, rng.choice(_TEMPLATES[intent])
        text = template.format(**{k: rng.choice(v) for k, v in _SLOTS.items()})
        text = text[0].upper() + text[1:]
        if text not in seen:
            seen.add(text)
            out.append({"text": text, "intent": intent, "second": second})
    return out


def demo_label(message: dict, annotator_skill: float, rng: random.Random) -> str:
    """What an annotator of the given skill (0..1) plausibly answers for `message`."""
    if message["second"] and rng.random() < 0.45:
        return message["second"]
    if rng.random() < annotator_skill:
        return message["intent"]
    return rng.choice([label["value"] for label in LABELS])


# Small projects so that a newcomer can try every kind of label.
EXTRA_PROJECTS = [
    {
        "slug": "support-topics-demo",
        "name": "Support topics (demo, multiple choice)",
        "kind": "multiple_choice",
        "config": {"labels": [
            {"value": "refund", "text": "Refund", "hotkey": "r", "color": "#2563eb"},
            {"value": "delivery", "text": "Delivery", "hotkey": "d", "color": "#059669"},
            {"value": "bug", "text": "Bug", "hotkey": "b", "color": "#dc2626"},
            {"value": "login", "text": "Login", "hotkey": "l", "color": "#7c3aed"},
            {"value": "praise", "text": "Praise", "hotkey": "p", "color": "#d97706"},
        ]},
        "guidelines": "Tick **every** topic the message mentions.",
    },
    {
        "slug": "support-entities-demo",
        "name": "Support entities (demo, spans)",
        "kind": "spans",
        "config": {"allow_overlap": False, "labels": [
            {"value": "PRODUCT", "text": "Product", "hotkey": "p", "color": "#2563eb"},
            {"value": "MONEY", "text": "Amount", "hotkey": "m", "color": "#059669"},
            {"value": "PLACE", "text": "Place", "hotkey": "l", "color": "#d97706"},
            {"value": "DEVICE", "text": "Device", "hotkey": "d", "color": "#7c3aed"},
        ]},
        "guidelines": "Select each product, amount of money, place and device, then press its key.",
    },
    {
        "slug": "reply-preference-demo",
        "name": "Reply preference (demo, pairwise)",
        "kind": "preference",
        "config": {"allow_tie": True, "reason": "optional"},
        "guidelines": "Which reply would you rather send to the customer? Ties are fine.",
    },
    {
        "slug": "reply-quality-demo",
        "name": "Reply quality (demo, rating)",
        "kind": "rating",
        "config": {"scale": [
            {"value": 1, "text": "Harmful", "hotkey": "1"},
            {"value": 2, "text": "Poor", "hotkey": "2"},
            {"value": 3, "text": "Acceptable", "hotkey": "3"},
            {"value": 4, "text": "Good", "hotkey": "4"},
            {"value": 5, "text": "Excellent", "hotkey": "5"},
        ]},
        "guidelines": "Rate how well the reply answers the customer.",
    },
]  # fmt: skip

_REPLIES = [
    ("Sorry about that! I've refunded the duplicate charge; you'll see it in 3-5 days.",
     "Please check your bank statement."),
    ("I've sent a replacement by express post; here is the tracking link.",
     "Parcels sometimes take longer. Wait another week."),
    ("Try signing out and in again. If that fails, reply here and I'll reset your access.",
     "We cannot help with login problems."),
    ("Thanks so much for the kind words, I'll pass them on to the team!",
     "Noted."),
]  # fmt: skip


def extra_items(kind: str, count: int = 20, seed: int = 5) -> list[dict]:
    """Item data for the small demo projects: messages, or a message with two replies."""
    rng = random.Random(seed)
    messages = demo_messages(count, seed=seed)
    if kind not in ("preference", "rating"):
        return [{"text": m["text"]} for m in messages]
    items = []
    for m in messages:
        good, bad = rng.choice(_REPLIES)
        if kind == "rating":
            items.append({"text": f"Customer: {m['text']}\n\nReply: {rng.choice([good, bad])}"})
        else:
            a, b = (good, bad) if rng.random() < 0.5 else (bad, good)
            items.append({"prompt": m["text"], "response_a": a, "response_b": b})
    return items
