"""Wrong-label detection: out-of-fold class probabilities, confident learning, and annotators far
below their team.

Confident learning follows Northcutt, Jiang & Chuang (2021), "Confident Learning: Estimating
Uncertainty in Dataset Labels", Journal of Artificial Intelligence Research 70, 1373-1411. Given
out-of-fold probabilities p(j; x) and given labels, it counts for each pair (given i, true j) the
items it is confident about (the confident joint), calibrates the counts to the label counts, and
prunes the items most likely to be among the off-diagonal mass. Written here from the paper on
numpy and scikit-learn.

The robust z-score of an annotator's agreement is Iglewicz & Hoaglin (1993), "How to Detect and
Handle Outliers", ASQC Basic References in Quality Control 16: z = 0.6745 (x - median) / MAD.

Pure Python, numpy and scikit-learn, with no Django import.
"""

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Real

import numpy as np

# scikit-learn is imported inside the functions that use it: loading it takes about 150 MB of
# memory, which every web and worker process (an import job too) would otherwise hold.

logger = logging.getLogger(__name__)

METHODS = ("prune_by_noise_rate", "confident_joint")
C_GRID = (1.0, 4.0, 16.0)  # inverse regularisation strengths tried on the first fold
_AT_THRESHOLD = 1e-9  # an item whose p equals the class mean, up to rounding, is above it


@dataclass(frozen=True)
class Suspect:
    """An item whose given label is likely wrong. ``rank`` 1 is the most suspect (lowest
    self-confidence); ``confidence`` is the model's probability of ``suggested`` (its most probable
    class), ``self_confidence`` its probability of ``given``."""

    index: int
    given: str
    suggested: str
    confidence: float
    self_confidence: float
    rank: int


# Out-of-fold probabilities ----------------------------------------------------------------------


def out_of_fold_probabilities(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    classes: Sequence[str],
    folds: int = 5,
    seed: int = 0,
    predictions: Sequence[Mapping | None] | None = None,
    balanced: bool = False,
) -> np.ndarray:
    """An n x k array: row i is the class probabilities of item i from a model that never saw it.

    The model is TF-IDF over word 1-2-grams (sublinear tf, terms in at least two texts, fitted once
    on every text it scores: it reads no label) and multinomial logistic regression (saga, up to
    1,000 epochs), one per fold of a stratified ``folds``-fold split shuffled with ``seed``. C is
    chosen from ``C_GRID`` by held-out log loss on the first fold. ``balanced=True`` weights
    classes inversely to their size, which helps rare classes at some cost in calibration of the
    common ones; it is off by default. About 6 s for 50,000 short texts and five classes on two
    cores (docs/benchmarks.md).

    When a class has fewer members than ``folds``, fewer folds are used (at least two). Items of a
    class with a single member cannot be scored out of fold and get uniform rows; so does every
    item when fewer than two classes have two members. Both are logged.

    ``predictions[i]`` may carry imported probabilities ``{"scores": {label: p}}``: when they name
    every class with finite, non-negative values of positive sum, row i is those values normalised
    over ``classes`` (other keys ignored) instead of the model's. Items with such rows still train
    the model for the others; when every item has one, no model is fitted.
    """
    y = _label_codes(labels, classes)
    if len(texts) != len(y) or (predictions is not None and len(predictions) != len(y)):
        raise ValueError("texts, labels and predictions must have the same length")
    imported, rows = _imported_rows(predictions, classes, len(y))
    probs = np.full((len(y), len(classes)), 1 / max(len(classes), 1))
    if not imported.all():
        model = _model_probabilities(texts, y, list(classes), folds, seed, balanced)
        probs[~imported] = model[~imported]
    probs[imported] = rows[imported]
    return probs


def _label_codes(labels: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    index = {name: code for code, name in enumerate(classes)}
    if len(index) != len(classes):
        raise ValueError("classes must be distinct")
    unknown = sorted({str(label) for label in labels if label not in index})
    if unknown:
        raise ValueError(f"labels not among the classes: {', '.join(unknown[:10])}")
    return np.fromiter((index[label] for label in labels), np.int64, len(labels))


def _imported_rows(
    predictions: Sequence[Mapping | None] | None, classes: Sequence[str], n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Which items carry usable imported probabilities, and those rows normalised."""
    mask = np.zeros(n, bool)
    rows = np.zeros((n, len(classes)))
    for i, prediction in enumerate(predictions or ()):
        scores = prediction.get("scores") if isinstance(prediction, Mapping) else None
        if not isinstance(scores, Mapping) or not all(c in scores for c in classes):
            continue
        values = [scores[c] for c in classes]
        if not all(isinstance(v, Real) and not isinstance(v, bool) for v in values):
            continue
        row = np.asarray(values, float)
        if np.isfinite(row).all() and (row >= 0).all() and row.sum() > 0:
            mask[i], rows[i] = True, row / row.sum()
    return mask, rows


def _model_probabilities(texts, y: np.ndarray, classes: list, folds: int, seed: int, balanced):
    k = len(classes)
    probs = np.full((len(y), k), 1 / k)
    counts = np.bincount(y, minlength=k)
    single = [classes[j] for j in np.flatnonzero(counts == 1)]
    if single:
        logger.warning("classes with a single item get uniform rows: %s", single)
    scored = np.flatnonzero(counts[y] >= 2)
    if np.unique(y[scored]).size < 2:
        logger.warning("fewer than two classes have two items: every row is uniform")
        return probs
    features = _features([texts[i] for i in scored])
    if features is None:
        logger.warning("the texts share no term: every row is uniform")
        return probs
    splits = max(2, min(folds, int(counts[counts >= 2].min())))
    if splits < folds:
        logger.info("using %d folds: the smallest class has %d items", splits, splits)
    from sklearn.model_selection import StratifiedKFold

    split = StratifiedKFold(n_splits=splits, shuffle=True, random_state=seed)
    c_value = None
    for train, test in split.split(features, y[scored]):
        if c_value is None:
            c_value, fold_probs = _chosen_c(features, y[scored], train, test, k, balanced)
            logger.info("C = %s, chosen by log loss on the first fold", c_value)
        else:
            fold_probs = _fit_predict(features, y[scored], train, test, k, c_value, balanced)
        probs[scored[test]] = fold_probs
    return probs


def _features(texts: list[str]):
    """TF-IDF rows, or None when no term is left (empty texts, or no term in two texts and no
    term at all)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    for min_df in (2, 1):  # a tiny corpus may have no term in two texts
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=min_df)
        try:
            return vectorizer.fit_transform(texts)
        except ValueError:  # "empty vocabulary" or "no terms remain"
            continue
    return None


def _fit_predict(features, y, train, test, k: int, c_value: float, balanced: bool) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(
        solver="saga",
        C=c_value,
        max_iter=1000,
        class_weight="balanced" if balanced else None,
        random_state=0,  # saga visits rows in a random order: fixed, so runs repeat
    ).fit(features[train], y[train])
    probs = np.zeros((len(test), k))
    probs[:, model.classes_] = model.predict_proba(features[test])
    return probs


def _chosen_c(features, y, train, test, k: int, balanced: bool) -> tuple[float, np.ndarray]:
    """The C of ``C_GRID`` with the lowest held-out log loss on this fold, and its predictions."""
    best = None
    for c_value in C_GRID:
        probs = _fit_predict(features, y, train, test, k, c_value, balanced)
        loss = -np.log(np.clip(probs[np.arange(len(test)), y[test]], 1e-12, None)).mean()
        if best is None or loss < best[0]:
            best = (loss, c_value, probs)
    return best[1], best[2]


# Confident learning -----------------------------------------------------------------------------


def per_class_thresholds(probs, labels_idx, k: int | None = None) -> np.ndarray:
    """t_j: the mean self-confidence p(j; x) over the items given class j (the paper's Sec. 3.1).
    A class no item was given has no such mean; its threshold is infinite, so no item is counted
    as truly of it."""
    probs, labels = _arrays(probs, labels_idx)
    k = probs.shape[1] if k is None else k
    counts = np.bincount(labels, minlength=k)
    sums = np.bincount(labels, weights=probs[np.arange(len(labels)), labels], minlength=k)
    return np.divide(sums, counts, out=np.full(k, np.inf), where=counts > 0)


def confident_joint(probs, labels_idx, thresholds, *, calibrate: bool = True) -> np.ndarray:
    """The k x k confident joint C: C[i, j] counts the items given i whose p(j; x) >= t_j, each
    counted once, under the class with the highest probability among those above their
    thresholds; an item above no threshold is not counted (the paper's Sec. 3.1).

    With ``calibrate`` (the default), each row is rescaled to sum to the number of items given that
    class, as in the paper's Eq. 3 before its final division by the total (see ``_joint``); a row
    with no counted item stays zero. Without it, the raw integer counts are returned.
    """
    probs, labels = _arrays(probs, labels_idx)
    k = probs.shape[1]
    above = probs >= np.asarray(thresholds, float) - _AT_THRESHOLD
    counted = above.any(axis=1)
    true = np.where(above, probs, -np.inf).argmax(axis=1)
    cells = labels[counted] * k + true[counted]
    raw = np.bincount(cells, minlength=k * k).reshape(k, k).astype(float)
    if not calibrate:
        return raw
    row_sums = raw.sum(axis=1, keepdims=True)
    label_counts = np.bincount(labels, minlength=k)[:, None]
    return np.divide(raw, row_sums, out=np.zeros_like(raw), where=row_sums > 0) * label_counts


def _joint(calibrated: np.ndarray) -> np.ndarray:
    """Q[i, j], the estimated joint of given and true labels: the calibrated joint over its total
    (the paper's Eq. 3)."""
    total = calibrated.sum()
    return calibrated / total if total > 0 else calibrated


def label_issues(
    probs,
    labels_idx,
    *,
    method: str = "prune_by_noise_rate",
    classes: Sequence[str] | None = None,
) -> list[Suspect]:
    """Likely wrong labels, most suspect first (lowest self-confidence, then lowest index).

    ``prune_by_noise_rate`` (the paper's PBNR, Sec. 3.2): for each off-diagonal (i, j), among the
    items given i, the round(n Q[i, j]) with the largest margin p(j; x) - p(i; x).
    ``confident_joint`` (the paper's C_{y~,y*}): every item counted off the diagonal of the
    confident joint. Either way an item whose most probable class is its given label is
    dropped: its suggestion would be the label it has. ``given`` and ``suggested`` are names from
    ``classes``, or the class indices as text when it is not given.
    """
    probs, labels = _arrays(probs, labels_idx)
    flagged = _issue_indices(probs, labels, method, np.ones(len(labels), bool))
    return _suspects(probs, labels, flagged, classes)


def _arrays(probs, labels_idx) -> tuple[np.ndarray, np.ndarray]:
    probs = np.asarray(probs, float)
    labels = np.asarray(labels_idx, np.int64)
    if probs.ndim != 2 or labels.shape != (probs.shape[0],):
        raise ValueError("probs must be n x k and labels_idx must have n entries")
    if labels.size and (labels.min() < 0 or labels.max() >= probs.shape[1]):
        raise ValueError("a label index is outside the columns of probs")
    return probs, labels


def _issue_indices(probs, labels, method: str, candidates: np.ndarray) -> np.ndarray:
    """Flagged item indices, most suspect first. Only ``candidates`` may be flagged."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}")
    n, k = probs.shape
    thresholds = per_class_thresholds(probs, labels, k)
    if method == "confident_joint":
        above = probs >= thresholds - _AT_THRESHOLD
        true = np.where(above, probs, -np.inf).argmax(axis=1)
        flagged = above.any(axis=1) & (true != labels)
    else:
        flagged = _pruned_by_noise_rate(probs, labels, thresholds)
    flagged &= candidates & (probs.argmax(axis=1) != labels)
    index = np.flatnonzero(flagged)
    self_confidence = probs[index, labels[index]]
    return index[np.lexsort((index, self_confidence))]


def _pruned_by_noise_rate(probs, labels, thresholds) -> np.ndarray:
    n, k = probs.shape
    prune = np.rint(_joint(confident_joint(probs, labels, thresholds)) * n).astype(np.int64)
    np.fill_diagonal(prune, 0)
    flagged = np.zeros(n, bool)
    for given, true in zip(*np.nonzero(prune), strict=True):
        members = np.flatnonzero(labels == given)
        margin = probs[members, true] - probs[members, given]
        flagged[members[np.argsort(-margin, kind="stable")[: prune[given, true]]]] = True
    return flagged


def _suspects(probs, labels, flagged: np.ndarray, classes) -> list[Suspect]:
    def name(code: int) -> str:
        return str(classes[code]) if classes is not None else str(code)

    suggested = probs[flagged].argmax(axis=1)
    return [
        Suspect(
            index=int(i),
            given=name(int(labels[i])),
            suggested=name(int(s)),
            confidence=float(probs[i, s]),
            self_confidence=float(probs[i, labels[i]]),
            rank=rank,
        )
        for rank, (i, s) in enumerate(zip(flagged, suggested, strict=True), start=1)
    ]


def find_label_issues(
    texts: Sequence[str],
    labels: Sequence[str],
    classes: Sequence[str],
    *,
    folds: int = 5,
    seed: int = 0,
    predictions: Sequence[Mapping | None] | None = None,
    method: str = "prune_by_noise_rate",
) -> list[Suspect]:
    """Items whose given label is likely wrong, most suspect first: out-of-fold probabilities
    (imported ones where ``predictions`` has them) and confident learning. Items given a class
    with a single member and no imported probabilities have no real score and are never flagged.
    """
    probs = out_of_fold_probabilities(
        texts, labels, classes=classes, folds=folds, seed=seed, predictions=predictions
    )
    y = _label_codes(labels, classes)
    imported, _ = _imported_rows(predictions, classes, len(y))
    scored = imported | (np.bincount(y, minlength=len(classes))[y] >= 2)
    return _suspects(probs, y, _issue_indices(probs, y, method, scored), classes)


# Annotators far below the team ------------------------------------------------------------------


def robust_z_scores(scores: Mapping) -> dict:
    """The robust z-score of each annotator's score (missing, None or NaN scores are left out).

    z = 0.6745 (x - median) / MAD, MAD the median absolute deviation from the median (Iglewicz &
    Hoaglin 1993). When more than half the scores are equal MAD is 0; then z = (x - median) /
    (1.253314 * MeanAD), the mean absolute deviation from the median, which 1.253314 (sqrt(pi / 2))
    scales to a standard deviation for normal data as 1 / 0.6745 does MAD. When both are 0 (all
    equal) every z is 0.
    """
    known = {
        who: float(value)
        for who, value in scores.items()
        if isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    }
    if not known:
        return {}
    values = np.fromiter(known.values(), float, len(known))
    median = np.median(values)
    deviation = np.abs(values - median)
    mad = np.median(deviation)
    if mad > 0:
        z = 0.6745 * (values - median) / mad
    elif deviation.mean() > 0:
        z = (values - median) / (1.253314 * deviation.mean())
    else:
        z = np.zeros_like(values)
    return {who: float(score) for who, score in zip(known, z, strict=True)}


def annotator_outliers(scores: Mapping, *, cutoff: float = -3.5) -> dict:
    """Annotators whose agreement (with gold, or with the others) is far below the team's: those
    with a robust z-score below ``cutoff``, with that score. Fewer than three known scores flag
    no one: there is no team to be far from."""
    z = robust_z_scores(scores)
    if len(z) < 3:
        return {}
    return {who: score for who, score in z.items() if score < cutoff}
