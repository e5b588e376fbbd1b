"""The project's agreement figures, as the dashboard and the API show them: read from the
database in a few bulk queries, computed by the pure functions of `agreement` and
`agreement_kinds`, returned as JSON-safe data (every statistic as `Stat.as_dict()`: a value or
None with the reason, never NaN).

Which statistic heads the page depends on the schema's kind: nominal alpha for single choice and
preference, ordinal (or interval, as the lead sets) alpha for ratings, alpha with the MASI
distance for multiple choice, and alpha over tokens for spans. Gold items are left out of the
agreement between annotators (everyone answers them); they, and the items a reviewer decided,
are the gold standard for each annotator's accuracy.
"""

import statistics
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime

import orjson
from django.contrib.auth import get_user_model
from django.db.models import Count, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from adjudication import agreement
from adjudication import agreement_kinds as kinds
from adjudication.dawid_skene import dawid_skene
from adjudication.models import Review, ReviewStatus
from adjudication.services import policy_for
from annotation.models import Annotation, LabelSchema, SchemaKind, Skip
from annotation.schemas import label_values, point_values
from curation.models import Item, Project

BOOTSTRAP_DRAWS = 1000
TREND_POINTS = 12  # weeks shown, or batches when the work fits in one week
TREND_MIN_BATCH = 50
CHOICE_KINDS = (SchemaKind.SINGLE_CHOICE, SchemaKind.PREFERENCE, SchemaKind.RATING)


def _undefined(reason: str) -> dict:
    return agreement.Stat(value=None, n=0, reason=reason).as_dict()


def _rows(project: Project) -> list[tuple]:
    """(item id, annotator id, value, seconds, created_at) of every annotation of the project.
    Values arrive as JSON text and each distinct text is parsed once: a project has few."""
    parsed: dict[str, object] = {}
    rows = (
        Annotation.objects.filter(item__project=project)
        .order_by()
        .values_list("item_id", "annotator_id", Cast("value", TextField()), "seconds_spent",
                     "created_at")
    )  # fmt: skip
    out = []
    for item_id, annotator_id, text, seconds, created_at in rows.iterator(chunk_size=20_000):
        value = parsed.get(text)
        if value is None:
            value = parsed[text] = orjson.loads(text)
        out.append((item_id, annotator_id, value, seconds, created_at))
    return out


def _level(kind: str, policy) -> str:
    if kind == SchemaKind.RATING:
        return policy.rating_level
    if kind == SchemaKind.MULTIPLE_CHOICE:
        return "masi"
    if kind == SchemaKind.SPANS:
        return "nominal (tokens)"
    return "nominal"


class _Scope:
    """What one computation needs to know about the project's schema."""

    def __init__(self, kind: str, config: dict, policy, texts: Callable[[], dict]):
        self.kind, self.config, self.policy = kind, config, policy
        self.level = _level(kind, policy)
        self.order = point_values(config) if kind == SchemaKind.RATING else None
        if kind == SchemaKind.RATING:
            self.labels = self.order
        elif kind == SchemaKind.PREFERENCE:
            self.labels = ["A", "B", "tie"]
        else:
            self.labels = label_values(config)
        self._texts, self._text_cache = texts, None

    @property
    def texts(self) -> dict:
        if self._text_cache is None:
            self._text_cache = self._texts()
        return self._text_cache

    def headline(self, records: list, *, ci: bool) -> agreement.Stat:
        """The kind's alpha (with its bootstrap interval when `ci`)."""
        if self.kind == SchemaKind.SPANS:
            return kinds.span_token_alpha(records, self.texts, self.labels)
        options: dict = {}
        if self.kind == SchemaKind.MULTIPLE_CHOICE:
            options["distance"] = kinds.masi_distance
        else:
            options["level"] = "nominal" if self.kind != SchemaKind.RATING else self.level
            options["order"] = self.order
        if ci:
            return agreement.alpha_ci(records, n_boot=BOOTSTRAP_DRAWS, seed=0, **options)
        return agreement.alpha(records, **options)


def agreement_report(*, project: Project, report: Callable[[float], None] | None = None) -> dict:
    """Every figure of the agreement dashboard for `project`, as JSON-safe data."""
    report = report or (lambda progress: None)
    schema = LabelSchema.objects.filter(project=project).first()
    computed_at = timezone.now().isoformat()
    if schema is None:
        return {"computed_at": computed_at, "kind": None, "annotations": 0,
                "message": "The project has no label schema yet."}  # fmt: skip
    policy = policy_for(project)
    rows = _rows(project)
    report(0.2)
    gold_items = dict(
        Item.objects.filter(project=project, gold__isnull=False).values_list("pk", "gold")
    )
    decided = dict(
        Review.objects.filter(project=project, status=ReviewStatus.DECIDED)
        .values_list("item_id", "value")
    )  # fmt: skip
    names = dict(
        get_user_model()
        .objects.filter(pk__in={row[1] for row in rows})
        .values_list("pk", "username")
    )

    def texts() -> dict:
        found = Item.objects.filter(project=project, gold__isnull=True, annotation_count__gte=2)
        rows = found.values_list("pk", "data").iterator(chunk_size=5000)
        return {pk: data.get("text", "") if isinstance(data, dict) else "" for pk, data in rows}

    scope = _Scope(schema.kind, schema.config, policy, texts)
    read = kinds.kind_records(schema.kind, [(item, who, value) for item, who, value, *_ in rows])
    all_records = read.records
    records = [r for r in all_records if r[0] not in gold_items]
    gold = {**decided, **gold_items}
    gold_records = kinds.kind_records(schema.kind, [(item, "gold", v) for item, v in gold.items()])
    gold_values = {item: value for item, _, value in gold_records.records}

    per_item: dict = defaultdict(int)
    for item, _, _ in records:
        per_item[item] += 1
    data = {
        "computed_at": computed_at,
        "kind": schema.kind,
        "level": scope.level,
        "schema_version": schema.version,
        "thresholds": {
            "agreement": policy.agreement_threshold,
            "tentative": policy.tentative_threshold,
        },
        "annotations": len(rows),
        "unreadable_annotations": read.skipped,
        "items": {
            "annotated": len(per_item),
            "with_two_or_more": sum(1 for n in per_item.values() if n >= 2),
            "gold": len(gold_items),
            "decided": len(decided),
        },
        "annotators": len(names),
        "names": {str(pk): name for pk, name in names.items()},
    }
    data["alpha"] = scope.headline(records, ci=True).as_dict()
    report(0.45)
    data.update(_chance_corrected(scope, records))
    report(0.6)
    data["pairwise"] = _pairwise(scope, records)
    data["per_label"] = _per_label(scope, records)
    report(0.75)
    skips = dict(Skip.objects.filter(item__project=project).order_by().values_list("annotator_id")
                 .annotate(n=Count("pk")))  # fmt: skip
    data["per_annotator"] = _per_annotator(rows, all_records, gold_values, names, skips)
    data["kind_figures"] = _kind_figures(scope, records)
    data["dawid_skene"] = _dawid_skene(scope, records, data["per_annotator"])
    report(0.9)
    data["trend"] = _trend(scope, records, rows, gold_items)
    report(1.0)
    return data


def _chance_corrected(scope: _Scope, records: list) -> dict:
    """Fleiss' kappa, Gwet's AC1 and percent agreement, where the kind has one category per
    annotation (set-valued labels have alpha with MASI instead)."""
    out = {"percent": agreement.percent_agreement(records).as_dict()}
    if scope.kind in CHOICE_KINDS:
        out["fleiss"] = agreement.fleiss_kappa(records).as_dict()
        out["ac1"] = agreement.gwet_ac1(records).as_dict()
    else:
        why = "defined for one category per annotation; this schema's labels are sets."
        out["fleiss"] = _undefined(f"Fleiss' kappa is {why}")
        out["ac1"] = _undefined(f"Gwet's AC1 is {why}")
    return out


def _pairwise(scope: _Scope, records: list) -> list[dict]:
    """Cohen's kappa of every pair of annotators who share items (quadratic-weighted for
    ratings); for spans, the pair's F1 over exact spans."""
    if scope.kind == SchemaKind.SPANS:
        by_pair = defaultdict(list)
        for item, annotator, value in records:
            by_pair[item].append((annotator, value))
        return _span_pairs(by_pair)
    weights = "quadratic" if scope.kind == SchemaKind.RATING else None
    pairs = agreement.pairwise_kappa(records, weights=weights, order=scope.order)
    return [{"a": p["a"], "b": p["b"], "shared": p["shared"], "kappa": p["kappa"].as_dict(),
             "scott_pi": p["scott_pi"].as_dict()} for p in pairs]  # fmt: skip


def _span_pairs(by_item: dict) -> list[dict]:
    shared: dict = defaultdict(list)
    for entries in by_item.values():
        for i, (a, spans_a) in enumerate(entries):
            for b, spans_b in entries[i + 1 :]:
                key = (a, b) if (str(a), a) <= (str(b), b) else (b, a)
                shared[key].append((spans_a, spans_b) if key[0] == a else (spans_b, spans_a))
    out = []
    for (a, b), items in sorted(shared.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1]))):
        records = [(i, "a", x) for i, (x, _) in enumerate(items)]
        records += [(i, "b", y) for i, (_, y) in enumerate(items)]
        f1 = kinds.span_f1(records, match="exact")
        out.append({"a": a, "b": b, "shared": len(items), "kappa": f1.as_dict(), "measure": "f1"})
    return out


def _per_label(scope: _Scope, records: list) -> list[dict]:
    counts: dict = defaultdict(int)
    if scope.kind == SchemaKind.SPANS:
        return []
    if scope.kind == SchemaKind.MULTIPLE_CHOICE:
        found = kinds.multiple_choice_alpha(records, scope.labels)["per_label"]
        for _, _, value in records:
            for label in value:
                counts[label] += 1
    else:
        found = agreement.per_label(records, labels=scope.labels)
        for _, _, value in records:
            counts[value] += 1
    return [{"label": label, "alpha": stat.as_dict(), "count": counts.get(label, 0)}
            for label, stat in found.items()]  # fmt: skip


def _per_annotator(rows, all_records, gold_values, names, skips) -> list[dict]:
    found = agreement.per_annotator(all_records, gold=gold_values)
    seconds: dict = defaultdict(list)
    for _, annotator, _, spent, _ in rows:
        if spent is not None:
            seconds[annotator].append(spent)
    out = []
    for annotator, figures in found.items():
        spent = seconds.get(annotator)
        out.append({
            "annotator_id": annotator,
            "name": names.get(annotator, str(annotator)),
            "items": figures["items"],
            "agreement": figures["agreement"].as_dict(),
            "kappa": figures["kappa"].as_dict(),
            "gold_accuracy": figures["gold_accuracy"].as_dict(),
            "gold_kappa": figures["gold_kappa"].as_dict(),
            "median_seconds": statistics.median(spent) if spent else None,
            "skips": skips.get(annotator, 0),
        })  # fmt: skip
    return sorted(out, key=lambda row: row["name"])


def _dawid_skene(scope: _Scope, records: list, annotators: list[dict]) -> dict:
    """Dawid–Skene estimates beside majority vote, for kinds with one category per annotation:
    each annotator's estimated accuracy (their confusion matrix's diagonal weighted by the class
    priors), written into their row, and how many items the two ways of settling disagree on."""
    if scope.kind not in CHOICE_KINDS or not records:
        return {}
    estimate = dawid_skene(records)
    priors = [estimate.priors[c] for c in estimate.classes]
    for row in annotators:
        matrix = estimate.confusion.get(row["annotator_id"])
        row["ds_accuracy"] = (
            sum(p * matrix[i][i] for i, p in enumerate(priors)) if matrix is not None else None
        )
    votes: dict = defaultdict(list)
    for item, _, value in records:
        votes[item].append(value)
    differ = 0
    for item, values in votes.items():
        top = max(set(values), key=values.count)
        majority = values.count(top) * 2 > len(values)
        if majority and estimate.labels.get(item) != top:
            differ += 1
    return {"items": len(votes), "differs_from_majority": differ,
            "iterations": estimate.iterations, "converged": estimate.converged}  # fmt: skip


def _kind_figures(scope: _Scope, records: list) -> dict:
    """The figures particular to the schema's kind."""
    if scope.kind == SchemaKind.SPANS:
        return {"span_f1_exact": kinds.span_f1(records, match="exact").as_dict(),
                "span_f1_overlap": kinds.span_f1(records, match="overlap").as_dict()}  # fmt: skip
    if scope.kind == SchemaKind.PREFERENCE:
        found = kinds.preference_agreement(records)
        return {"ab_agreement": found["ab_agreement"].as_dict(), "ties": found["ties"]}
    if scope.kind == SchemaKind.RATING:
        found = kinds.rating_agreement(records, scope.order, level=scope.policy.rating_level)
        linear = agreement.pairwise_kappa(records, weights="linear", order=scope.order)
        return {
            "interval_alpha": agreement.alpha(records, level="interval").as_dict(),
            "ordinal_alpha": agreement.alpha(records, level="ordinal", order=scope.order)
            .as_dict(),
            "kappa_linear": [{"a": p["a"], "b": p["b"], "shared": p["shared"],
                              "kappa": p["kappa"].as_dict()} for p in linear],
            "off_scale": found.get("off_scale", 0),
        }  # fmt: skip
    if scope.kind == SchemaKind.MULTIPLE_CHOICE:
        return {"masi_alpha": kinds.multiple_choice_alpha(records, scope.labels)["masi"].as_dict()}
    return {}


def _trend(scope: _Scope, records: list, rows: list, gold_items: dict) -> dict:
    """Alpha by the week items were completed (their last annotation), or by batches of items
    in completion order when all the work fits in one week."""
    finished: dict = {}
    for item, _, _, _, created_at in rows:
        if item not in gold_items and (item not in finished or created_at > finished[item]):
            finished[item] = created_at
    if not finished:
        return {"by": "week", "points": []}
    weeks = {item: _week(at) for item, at in finished.items()}
    if len(set(weeks.values())) >= 2:
        groups, by = weeks, "week"
    else:
        ordered = sorted(finished, key=lambda item: (finished[item], item))
        size = max(TREND_MIN_BATCH, -(-len(ordered) // TREND_POINTS))
        groups = {item: f"items {i // size * size + 1}–{min(len(ordered), (i // size + 1) * size)}"
                  for i, item in enumerate(ordered)}  # fmt: skip
        by = "batch"
    grouped: dict = defaultdict(list)
    for record in records:
        grouped[groups[record[0]]].append(record)
    labels = sorted(grouped, key=lambda g: min(finished[r[0]] for r in grouped[g]))
    points = [{"label": label, **scope.headline(grouped[label], ci=False).as_dict()}
              for label in labels[-TREND_POINTS:]]  # fmt: skip
    return {"by": by, "points": points}


def _week(at: datetime) -> str:
    year, week, _ = timezone.localtime(at).isocalendar()
    return f"{year}-W{week:02d}"


def confusion_for(*, project: Project, a: int, b: int) -> dict:
    """The confusion matrix between annotators `a` and `b` (user ids) over the items both
    labeled, with the ids of the items where they differ (for links)."""
    schema = LabelSchema.objects.filter(project=project).first()
    if schema is None:
        return {"labels": [], "matrix": [], "n": 0, "differ": []}
    rows = (
        Annotation.objects.filter(item__project=project, annotator_id__in=[a, b])
        .order_by()
        .values_list("item_id", "annotator_id", "value")
    )
    read = kinds.kind_records(schema.kind, list(rows)).records
    found = agreement.confusion_matrix(read, a, b)
    given: dict = defaultdict(dict)
    for item, annotator, value in read:
        given[item][annotator] = value
    found["differ"] = sorted(i for i, v in given.items() if len(v) == 2 and v[a] != v[b])
    return found
