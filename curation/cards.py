"""Dataset cards: a version's README.md, Markdown with the YAML header the Hugging Face Hub reads
(pure: no ORM; it reads only the version's own fields, so a card never changes with the project).

The header is written by hand: every string is a JSON string, which is also a valid YAML scalar,
so nothing from the data can break out of it. The body is filled from the version's summary,
plus the sections a lead writes. Table cells escape `|` and line breaks, so a label or a source
cannot reshape a table.
"""

import json

# The sections a lead writes, in the card's order, with their headings.
LEAD_SECTIONS = {
    "motivation": "Motivation",
    "collection": "Collection method",
    "limitations": "Known limitations",
    "uses": "Intended uses",
    "out_of_scope": "Out-of-scope uses",
}
NOT_WRITTEN = "_Not written yet._"
NO_LABEL = "(no label)"
TASKS = {
    "single_choice": "text-classification",
    "multiple_choice": "text-classification",
    "rating": "text-classification",
    "spans": "token-classification",
    # A pair of responses and the one people preferred: the data of preference tuning.
    "preference": "text-generation",
}
SIZES = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
         (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")]  # fmt: skip
RULES = {
    "unanimous": "all annotators gave the same label",
    "majority": "more than half of the annotators gave it",
    "adjudicated": "a reviewer decided it",
    "gold": "a lead set the known answer",
    "no_majority": "no majority and no decision yet: no label",
    "incomplete": "fewer annotations than the project asks for: no label yet",
    "awaiting_review": "waiting for a reviewer: no label",
    "unlabeled": "no annotations: no label",
}


SPLIT_ORDER = ["train", "dev", "test", "unassigned"]


def ordered_splits(counts: dict) -> list[tuple[str, int]]:
    """(split, count) in the order train, dev, test, unassigned, others by name. The summary is
    stored as JSON, whose key order PostgreSQL does not keep, so order is restored here."""
    rank = {split: i for i, split in enumerate(SPLIT_ORDER)}
    return sorted(counts.items(), key=lambda pair: (rank.get(pair[0], len(rank)), pair[0]))


def ordered_counts(counts: dict) -> list[tuple[str, int]]:
    """(name, count), most frequent first, then by name."""
    return sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))


def split_path(split: str) -> str:
    """Where a split's records are in the export folder."""
    return f"data/{split}.jsonl"


def size_category(count: int) -> str:
    for limit, name in SIZES:
        if count < limit:
            return name
    return "n>10M"


def _q(text) -> str:
    return json.dumps(str(text), ensure_ascii=False)


def card_header(version) -> str:
    """The YAML header (without its --- fences)."""
    summary, sections = version.summary or {}, version.card_sections or {}
    splits = ordered_splits(summary.get("splits", {}))
    project = summary.get("project", {}).get("name", "")
    lines = [f"pretty_name: {_q(f'{project} v{version.number}')}",
             f"license: {_q(sections.get('license') or 'other')}"]  # fmt: skip
    languages = sections.get("language") or []
    if languages:
        lines += ["language:"] + [f"- {_q(code)}" for code in languages]
    task = TASKS.get((summary.get("schema") or {}).get("kind"))
    if task:
        lines += ["task_categories:", f"- {_q(task)}"]
    lines += ["size_categories:", f"- {_q(size_category(version.item_count))}"]
    lines += ["configs:", '- config_name: "default"', "  data_files:"]
    for split, _ in splits:
        lines += [f"  - split: {_q(split)}", f"    path: {_q(split_path(split))}"]
    lines += ["dataset_info:", "  splits:"]
    for split, count in splits:
        lines += [f"  - name: {_q(split)}", f"    num_examples: {int(count)}"]
    return "\n".join(lines) + "\n"


def cell(value) -> str:
    """A value as one Markdown table cell: `|` escaped, line breaks as spaces."""
    text = str(value).replace("\\", "\\\\").replace("|", "\\|")
    return " ".join(text.splitlines()) or " "


def _table(head: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(map(cell, head)) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(map(cell, row)) + " |" for row in rows]
    return lines + [""]


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


def _agreement(summary: dict) -> str:
    agreement = summary.get("agreement") or {}
    alpha = agreement.get("alpha")
    if alpha is None:
        reason = agreement.get("reason") or "not computed yet"
        return f"Krippendorff's alpha: not available ({reason})."
    text = f"Krippendorff's alpha: {alpha:.3f}"
    ci = agreement.get("ci")
    if ci:
        text += f" (95% bootstrap interval {ci[0]:.3f} to {ci[1]:.3f})"
    text += f" over {agreement.get('n', 0):,} items"
    if agreement.get("computed_at"):
        text += f", computed {agreement['computed_at'][:10]}"
    if agreement.get("stale"):
        text += "; annotations changed since it was computed"
    return text + "."


def _summary_section(version) -> list[str]:
    summary = version.summary or {}
    frozen = version.created_at.strftime("%Y-%m-%d %H:%M UTC") if version.created_at else ""
    lines = ["## Summary", "",
             f"Version {version.number} of {summary.get('project', {}).get('name', '')}, "
             f"frozen by {summary.get('frozen_by') or 'an unknown user'} on {frozen}, with "
             f"{version.item_count:,} items.", ""]  # fmt: skip
    if version.note:
        lines += [f"Note: {' '.join(version.note.splitlines())}", ""]
    return lines + [f"Content hash (sha256 of the records in order): `{version.content_hash}`", ""]


def _structure_section(version) -> list[str]:
    summary = version.summary or {}
    fields = ["`id`: the item's id"]
    fields += [f"`{name}`: a field of the item" for name in summary.get("data_fields", [])]
    fields += ["`label`: the final label's name (empty when the item has none)",
               "`final`: the final value and the rule that produced it",
               "`split`, `source`, `metadata`: where the item belongs and came from",
               "`agreement`: the share of annotator pairs that agreed on the item",
               "`n_annotations`: how many annotations the item has"]  # fmt: skip
    splits = ordered_splits(summary.get("splits", {}))
    rows = [[split, f"{count:,}", split_path(split)] for split, count in splits]
    return (["## Dataset structure", "", "One JSON object per line, with these fields:", ""]
            + [f"- {field}" for field in fields] + [""]
            + _table(["Split", "Items", "File"], rows))  # fmt: skip


def _labels_section(version) -> list[str]:
    summary = version.summary or {}
    splits = [split for split, _ in ordered_splits(summary.get("splits", {}))]
    by_split = summary.get("labels_by_split", {})
    rows = [[label or NO_LABEL, f"{count:,}", _share(count, version.item_count)]
            + [f"{by_split.get(split, {}).get(label, 0):,}" for split in splits]
            for label, count in ordered_counts(summary.get("labels", {}))]  # fmt: skip
    return ["## Label distribution", ""] + _table(["Label", "Items", "Share", *splits], rows)


def _annotation_section(version) -> list[str]:
    summary = version.summary or {}
    rules = summary.get("rules", {})
    adjudication = summary.get("adjudication") or {}
    decided = adjudication.get("decided", rules.get("adjudicated", 0))
    schema = summary.get("schema") or {}
    guidelines = summary.get("guidelines") or {}
    lines = ["## Annotation process", "",
             f"- Annotators per item: {summary.get('annotators_per_item', '–')} asked, "
             f"{summary.get('annotations_per_item', 0)} annotations per item on average.",
             f"- Agreement: {_agreement(summary)}",
             f"- Adjudication rate: {_share(decided, version.item_count)} "
             f"({decided:,} items decided by a reviewer).",
             f"- Label schema: {schema.get('kind') or 'none'}"
             + (f", version {schema['version']}." if schema.get("version") else "."),
             f"- Guidelines version: sha256 `{guidelines.get('sha256', '')}`, project last "
             f"changed {str(guidelines.get('project_updated_at', ''))[:19]}.", "",
             "How each final label was reached:", ""]  # fmt: skip
    rows = [[rule or "(none)", RULES.get(rule, ""), f"{count:,}"]
            for rule, count in ordered_counts(rules)]  # fmt: skip
    return lines + _table(["Rule", "Meaning", "Items"], rows)


def _quality_section(version) -> list[str]:
    quality = (version.summary or {}).get("quality") or {}
    lines = ["## Quality", "",
             f"- Near-duplicate pairs among these items: {quality.get('duplicate_pairs', 0):,}.",
             f"- Open leakage findings on these items (a test item like a train item): "
             f"{quality.get('leakage_findings', 0):,}.", ""]  # fmt: skip
    found = quality.get("open_findings") or {}
    if found:
        lines += ["Open findings of the quality jobs when the version was frozen:", ""]
        lines += _table(["Kind", "Open"], [[kind, f"{n:,}"] for kind, n in sorted(found.items())])
    return lines


def _sources_section(version) -> list[str]:
    sources = (version.summary or {}).get("sources", {})
    rows = [[source or "(not given)", f"{n:,}", _share(n, version.item_count)]
            for source, n in ordered_counts(sources)]  # fmt: skip
    return ["## Sources", ""] + _table(["Source", "Items", "Share"], rows)


def card_body(version) -> str:
    """The card's Markdown after the header."""
    summary = version.summary or {}
    name = summary.get("project", {}).get("name", "")
    lines = [f"# {name} v{version.number}", ""]
    for part in (_summary_section, _structure_section, _labels_section, _annotation_section,
                 _quality_section, _sources_section):  # fmt: skip
        lines += part(version)
    sections = version.card_sections or {}
    for key, heading in LEAD_SECTIONS.items():
        text = str(sections.get(key) or "").strip()
        lines += [f"## {heading}", "", text or NOT_WRITTEN, ""]
    return "\n".join(lines)


def card_markdown(version) -> str:
    """The whole card: the YAML header between --- fences, then the body."""
    return f"---\n{card_header(version)}---\n\n{card_body(version)}"
