"""The agreement dashboard (leads; reviewers read it): the figures the agreement job last
computed, drawn as charts and tables, each table also a CSV file, each bar and cell a link to
the items behind it.

The page reads one stored snapshot, so it costs the same few queries for ten items or a million.
When annotations changed since the snapshot, viewing the page starts the job again (at most every
few seconds) and the page polls until the new figures are in: a lead watches agreement live.
"""

import csv
import math

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from adjudication import charts
from adjudication.jobs import KIND, agreement_refresh_if_stale
from adjudication.models import Review
from adjudication.report import confusion_for
from adjudication.selectors import queue_counts, snapshot_for
from annotation.models import Annotation, LabelSchema, SchemaKind
from curation.access import has_role, project_for_member
from curation.models import ACTIVE_JOB_STATUSES, JobRun, Role

SORT_COLUMNS = [
    ("name", "Annotator"),
    ("items", "Items done"),
    ("agreement", "Agreement with others"),
    ("kappa", "Kappa with the others"),
    ("gold_accuracy", "Accuracy on gold"),
    ("gold_kappa", "Kappa with gold"),
    ("ds_accuracy", "Accuracy (Dawid–Skene)"),
    ("median_seconds", "Median seconds per item"),
    ("skips", "Skips"),
]
SORTS = {key for key, _ in SORT_COLUMNS}
KIND_FIGURES = [
    ("span_f1_exact", "Span F1 (exact)"),
    ("span_f1_overlap", "Span F1 (overlap)"),
    ("ab_agreement", "Agreement on A vs B (ties left out)"),
    ("masi_alpha", "Alpha (MASI distance)"),
    ("ordinal_alpha", "Ordinal alpha"),
    ("interval_alpha", "Interval alpha"),
]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TABLES = ("summary", "pairwise", "per_label", "per_annotator", "trend")
PER_PAGE = 50


def _number(stat: dict | None, places: int = 3) -> str:
    """A statistic as the page writes it: its value, or "undefined"."""
    value = (stat or {}).get("value")
    if value is None or not math.isfinite(value):
        return "undefined"
    return f"{value:.{places}f}"


def _figure(name: str, stat: dict | None, thresholds: dict) -> dict:
    stat = stat or {}
    ci = stat.get("ci")
    note = ""
    if stat.get("excluded"):  # Fleiss' kappa leaves out items without the full count
        note = (f"{stat['excluded']} item{'s' if stat['excluded'] != 1 else ''} without "
                f"{stat.get('raters')} annotations left out.")  # fmt: skip
    return {
        "name": name,
        "text": _number(stat),
        "n": stat.get("n", 0),
        "note": note,
        "reason": stat.get("reason", ""),
        "ci": f"{ci[0]:.3f} to {ci[1]:.3f}" if ci else "",
        "band": charts.band(stat.get("value"), thresholds["agreement"], thresholds["tentative"]),
    }


def _name(data: dict, annotator) -> str:
    return data.get("names", {}).get(str(annotator), str(annotator))


def dashboard_context(project, data: dict) -> dict:
    """Everything the page draws from the snapshot's data (pure apart from reverse())."""
    if not data or data.get("kind") is None:
        return {"ready": False, "message": (data or {}).get("message", "")}
    thresholds = data["thresholds"]
    items_url = reverse("adjudication:agreement_items", kwargs={"slug": project.slug})
    headline = _figure("Krippendorff's alpha", data["alpha"], thresholds)
    figures = [
        _figure("Fleiss' kappa", data.get("fleiss"), thresholds),
        _figure("Gwet's AC1", data.get("ac1"), thresholds),
        _figure("Percent agreement", data.get("percent"), thresholds),
    ]
    for key, name in KIND_FIGURES:
        if key in data.get("kind_figures", {}):
            figures.append(_figure(name, data["kind_figures"][key], thresholds))

    people = sorted({p["a"] for p in data["pairwise"]} | {p["b"] for p in data["pairwise"]},
                    key=lambda a: _name(data, a))  # fmt: skip
    names = [_name(data, a) for a in people]
    cells = {}
    for pair in data["pairwise"]:
        a, b = _name(data, pair["a"]), _name(data, pair["b"])
        href = f"{items_url}?{urlencode({'a': pair['a'], 'b': pair['b']})}"
        cell = {"value": pair["kappa"]["value"], "n": pair["shared"], "href": href}
        cells[(a, b)] = cells[(b, a)] = cell
    measure = "F1" if data["kind"] == SchemaKind.SPANS else "Cohen's kappa"
    heatmap = charts.heatmap(names, names, cells, low=-1.0, high=1.0) if names else None

    labels = [{"label": str(row["label"]), "value": row["alpha"]["value"], "n": row["count"],
               "href": f"{items_url}?{urlencode({'label': row['label']})}",
               "text": _number(row["alpha"]),
               "reason": row["alpha"].get("reason", "")}
              for row in data["per_label"]]  # fmt: skip
    label_bars = charts.bars(labels, low=-1.0, high=1.0, threshold=thresholds["agreement"],
                             tentative=thresholds["tentative"]) if labels else None  # fmt: skip
    points = [{"label": p["label"], "value": p["value"], "n": p["n"], "ci": p.get("ci")}
              for p in data["trend"]["points"]]  # fmt: skip
    trend = charts.trend(points, threshold=thresholds["agreement"],
                         tentative=thresholds["tentative"]) if points else None  # fmt: skip
    return {
        "ready": True,
        "data": data,
        "headline": headline,
        "figures": figures,
        "measure": measure,
        "heatmap": heatmap,
        "pairs": [
            {
                **p,
                "a_name": _name(data, p["a"]),
                "b_name": _name(data, p["b"]),
                "text": _number(p["kappa"]),
                "reason": p["kappa"].get("reason", ""),
                "pi_text": _number(p.get("scott_pi")),
                "href": f"{items_url}?{urlencode({'a': p['a'], 'b': p['b']})}",
            }
            for p in data["pairwise"]
        ],  # fmt: skip
        "labels": labels,
        "label_bars": label_bars,
        "trend": trend,
        "trend_by": data["trend"]["by"],
        "trend_points": [{**p, "text": _number(p)} for p in data["trend"]["points"]],
        "annotators": [_annotator_row(row, items_url) for row in data["per_annotator"]],
        "dawid_skene": data.get("dawid_skene") or {},
    }


def _annotator_row(row: dict, items_url: str) -> dict:
    seconds = row.get("median_seconds")
    return {
        **row,
        "agreement_text": _number(row["agreement"]),
        "kappa_text": _number(row["kappa"]),
        "gold_text": _number(row["gold_accuracy"]),
        "gold_kappa_text": _number(row["gold_kappa"]),
        "ds_text": _number({"value": row.get("ds_accuracy")}),
        "gold_n": row["gold_accuracy"].get("n", 0),
        "seconds_text": "–" if seconds is None else f"{seconds:.1f}",
        "href": f"{items_url}?annotator={row['annotator_id']}",
    }


def _sorted_annotators(rows: list[dict], sort: str, descending: bool) -> list[dict]:
    def key(row):
        value = row.get(sort)
        if isinstance(value, dict):
            value = value.get("value")
        return (value is None, value if value is not None else 0)

    if sort == "name":
        return sorted(rows, key=lambda r: r["name"].lower(), reverse=descending)
    ordered = sorted(rows, key=key, reverse=descending)
    return [r for r in ordered if key(r)[0] is False] + [r for r in ordered if key(r)[0]]


def _state(project) -> dict:
    snapshot = snapshot_for(project=project)
    job = JobRun.objects.filter(project=project, kind=KIND, status__in=ACTIVE_JOB_STATUSES).first()
    return {"snapshot": snapshot, "job": job,
            "stale": snapshot is None or snapshot.stale_since is not None
            or snapshot.computed_at is None}  # fmt: skip


@login_required
@require_GET
def agreement(request, slug):
    project = project_for_member(user=request.user, slug=slug, role=Role.REVIEWER)
    agreement_refresh_if_stale(project=project, user=request.user)
    state = _state(project)
    sort = request.GET.get("sort", "name")
    if sort not in SORTS:
        return HttpResponseBadRequest(f"Unknown sort {sort[:40]!r}: use one of "
                                      f"{', '.join(sorted(SORTS))}.")  # fmt: skip
    descending = request.GET.get("dir") == "desc"
    data = state["snapshot"].data if state["snapshot"] else {}
    context = {
        "project": project,
        "is_lead": has_role(project, Role.LEAD),
        "queue": queue_counts(project=project),
        "sort": sort,
        "sort_columns": SORT_COLUMNS,
        "descending": descending,
        **state,
        **dashboard_context(project, data),
    }
    if context.get("ready"):
        context["annotators"] = _sorted_annotators(context["annotators"], sort, descending)
    template = "adjudication/agreement.html"
    if request.headers.get("HX-Request"):
        template += "#agreement-body"
    return render(request, template, context)


@require_POST  # the method is checked first: it reveals nothing
@login_required
def agreement_recompute(request, slug):
    project = project_for_member(user=request.user, slug=slug, role=Role.LEAD)
    agreement_refresh_if_stale(project=project, user=request.user, force=True)
    return redirect("adjudication:agreement", slug=project.slug)


def _csv_cell(value) -> str:
    """A cell as text; one that a spreadsheet would run as a formula gets a leading quote."""
    if isinstance(value, dict):
        value = _number(value)
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) and not _numeric(text):
        return "'" + text
    return text


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _table(data: dict, table: str) -> tuple[list[str], list[list]]:
    if table == "summary":
        alpha = data["alpha"]
        ci = alpha.get("ci") or ["", ""]
        rows = [["alpha", alpha, alpha.get("n"), alpha.get("reason"), *ci]]
        for key in ("fleiss", "ac1", "percent"):
            stat = data.get(key) or {}
            rows.append([key, stat, stat.get("n"), stat.get("reason"), "", ""])
        for key, stat in data.get("kind_figures", {}).items():
            if isinstance(stat, dict) and "value" in stat:
                rows.append([key, stat, stat.get("n"), stat.get("reason"), "", ""])
        return ["statistic", "value", "n", "undefined_because", "ci_low", "ci_high"], rows
    if table == "pairwise":
        header = ["annotator_a", "annotator_b", "shared_items", "value", "undefined_because",
                  "scotts_pi"]  # fmt: skip
        return header, [
            [_name(data, p["a"]), _name(data, p["b"]), p["shared"], p["kappa"],
             p["kappa"].get("reason"), p.get("scott_pi")] for p in data["pairwise"]]  # fmt: skip
    if table == "per_label":
        return ["label", "annotations", "alpha", "undefined_because"], [
            [r["label"], r["count"], r["alpha"], r["alpha"].get("reason")]
            for r in data["per_label"]]  # fmt: skip
    if table == "per_annotator":
        header = ["annotator", "items", "agreement", "kappa", "gold_accuracy", "gold_kappa",
                  "gold_items", "median_seconds", "skips", "dawid_skene_accuracy"]  # fmt: skip
        return header, [
            [r["name"], r["items"], r["agreement"], r["kappa"], r["gold_accuracy"],
             r["gold_kappa"], r["gold_accuracy"].get("n"), r["median_seconds"], r.get("skips", 0),
             r.get("ds_accuracy")]
            for r in data["per_annotator"]
        ]  # fmt: skip
    return [data["trend"]["by"], "alpha", "n"], [
        [p["label"], p, p.get("n")] for p in data["trend"]["points"]]  # fmt: skip


@login_required
@require_GET
def agreement_csv(request, slug, table):
    project = project_for_member(user=request.user, slug=slug, role=Role.REVIEWER)
    if table not in TABLES:
        return HttpResponseBadRequest(f"Unknown table: use one of {', '.join(TABLES)}.")
    snapshot = snapshot_for(project=project)
    data = snapshot.data if snapshot else {}
    if not data or data.get("kind") is None:
        return HttpResponseBadRequest("No agreement figures have been computed yet.")
    header, rows = _table(data, table)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{project.slug}-{table}.csv"'
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"  # never rendered (XSS-6)
    writer = csv.writer(response)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_cell(cell) for cell in row])
    return response


def _annotator_param(request, project, name: str):
    raw = request.GET.get(name, "")
    if not raw:
        return None
    if not raw.isdigit():
        raise ValueError(f"`{name}` must be an annotator's id.")
    member = project.memberships.filter(user_id=int(raw)).exists()
    annotated = Annotation.objects.filter(item__project=project, annotator_id=int(raw)).exists()
    if not (member or annotated):
        raise ValueError(f"`{name}` is not an annotator of this project.")
    return int(raw)


@login_required
@require_GET
def agreement_confusion(request, slug):
    project = project_for_member(user=request.user, slug=slug, role=Role.REVIEWER)
    snapshot = snapshot_for(project=project)
    names = (snapshot.data.get("names", {}) if snapshot else {}) or {}
    try:
        a, b = _annotator_param(request, project, "a"), _annotator_param(request, project, "b")
    except ValueError as problem:
        return HttpResponseBadRequest(str(problem))
    found = None
    if a is not None and b is not None and a != b:
        found = confusion_for(project=project, a=a, b=b)
        found["rows"] = list(zip(found["labels"], found["matrix"], strict=True))
    users = dict(get_user_model().objects.filter(pk__in=[x for x in (a, b) if x])
                 .values_list("pk", "username"))  # fmt: skip
    return render(request, "adjudication/agreement_confusion.html", {
        "project": project, "found": found, "a": a, "b": b,
        "a_name": users.get(a, ""), "b_name": users.get(b, ""),
        "choices": sorted(names.items(), key=lambda kv: kv[1].lower()),
    })  # fmt: skip


@login_required
@require_GET
def agreement_items(request, slug):
    """The items behind a figure: where annotators disagree, narrowed to one label, one pair of
    annotators, or one annotator."""
    project = project_for_member(user=request.user, slug=slug, role=Role.REVIEWER)
    try:
        a, b = _annotator_param(request, project, "a"), _annotator_param(request, project, "b")
        annotator = _annotator_param(request, project, "annotator")
    except ValueError as problem:
        return HttpResponseBadRequest(str(problem))
    label = request.GET.get("label", "")[:200]
    reviews = Review.objects.filter(project=project, agreement__lt=1.0)
    for who in (a, b, annotator):
        if who is not None:
            given = Annotation.objects.filter(item=OuterRef("item"), annotator_id=who)
            reviews = reviews.filter(Exists(given))
    schema = LabelSchema.objects.filter(project=project).first()
    key = {SchemaKind.SINGLE_CHOICE: "label", SchemaKind.PREFERENCE: "choice",
           SchemaKind.RATING: "rating"}.get(schema.kind if schema else None)  # fmt: skip
    if label and key:
        value = int(label) if key == "rating" and label.lstrip("-").isdigit() else label
        given = Annotation.objects.filter(item=OuterRef("item"), **{f"value__{key}": value})
        reviews = reviews.filter(Exists(given))
    reviews = reviews.select_related("item").order_by("agreement", "item_id")
    page = Paginator(reviews, PER_PAGE).get_page(request.GET.get("page"))
    users = dict(get_user_model().objects.filter(pk__in=[x for x in (a, b, annotator) if x])
                 .values_list("pk", "username"))  # fmt: skip
    return render(request, "adjudication/agreement_items.html", {
        "project": project, "page": page, "label": label,
        "a_name": users.get(a, ""), "b_name": users.get(b, ""),
        "annotator_name": users.get(annotator, ""),
        "here": request.path, "query": _query_without_page(request),
    })  # fmt: skip


def _query_without_page(request) -> str:
    """The request's query as the pager's "name=value&" prefix, its page left out."""
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode() + "&" if params else ""
