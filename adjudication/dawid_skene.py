"""Dawid-Skene: each item's true class and each annotator's confusion matrix, by EM.

Dawid, A. P. & Skene, A. M. (1979), "Maximum Likelihood Estimation of Observer Error-Rates Using
the EM Algorithm", Journal of the Royal Statistical Society, Series C (Applied Statistics) 28(1),
20-28. Every item has an unknown true class j drawn with prior p_j; annotator a, shown an item of
class j, answers l with probability pi[a, j, l], independently of the other annotators. EM
alternates the M-step (the paper's Eq. 2.3-2.4: p and pi from the current soft classes T) and the
E-step (Eq. 2.5: T[i, j] proportional to p_j times the product of pi[a, j, l] over item i's
records). It starts, as the paper does (Eq. 3.1), from each item's share of votes per class.

Records are ``(item, annotator, label)``; an annotator who labels an item twice contributes two
observations, as the paper's first clinician, who assessed every patient three times, does.

Smoothing: every count behind p and pi gets ``smoothing`` added (0.01 by default) before it is
normalised, which is the posterior mode under a flat Dirichlet(1 + smoothing) prior. Without it an
annotator who never answered l for class j in the current estimate gets pi = 0, log 0 = -inf,
and one later disagreement makes a class impossible for an item. On the paper's example 0.01
moves the priors by less than 0.001 and the error rates by at most 0.01 (in the rarest class,
about three patients). ``smoothing=0`` gives the paper's plain maximum likelihood.

Pure numpy, no Django: the records become three integer columns, and each EM step is a handful of
``np.bincount`` calls over them, never a loop over items or annotators.
"""

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from adjudication.agreement import category_key

INITS = ("majority", "random")


@dataclass(frozen=True)
class DSResult:
    """Dawid-Skene estimates. ``confusion[a][j][l]`` is the probability that annotator a answers
    ``classes[l]`` for an item of true class ``classes[j]`` (rows true, columns given).
    ``log_likelihood`` is the log probability of all records under the final estimates;
    ``converged`` is False when ``max_iter`` ran out first."""

    classes: list
    posteriors: dict
    labels: dict
    confusion: dict
    priors: dict
    iterations: int
    log_likelihood: float
    converged: bool


def dawid_skene(
    records: Iterable[tuple[Hashable, Hashable, Hashable]],
    *,
    classes: Sequence | None = None,
    max_iter: int = 100,
    tol: float = 1e-6,
    init: str = "majority",
    seed: int = 0,
    smoothing: float = 0.01,
) -> DSResult:
    """Fit Dawid-Skene to ``(item, annotator, label)`` records.

    ``classes`` fixes the classes and their order (a label outside them raises ValueError); by
    default they are the labels seen, sorted. ``init="majority"`` starts from each item's vote
    shares (soft majority vote, the paper's start); ``"random"`` from Dirichlet(1) rows drawn with
    ``seed``, to probe other local maxima. EM stops when the log-likelihood gains less than
    ``tol * max(1, |log L|)`` in a step, or after ``max_iter`` steps. Ties in ``labels`` go to the
    class that comes first.
    """
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}")
    if max_iter < 1 or smoothing < 0:
        raise ValueError("max_iter must be at least 1 and smoothing not negative")
    items, annotators, answers, item_list, annotator_list, class_list = _columns(records, classes)
    if not item_list or not class_list:
        return DSResult(class_list, {}, {}, {}, _prior_dict(class_list), 0, 0.0, True)
    shape = (len(item_list), len(annotator_list), len(class_list))
    posteriors = _initial(items, answers, shape, init, seed)
    previous, converged, iterations = None, False, 0
    while iterations < max_iter:
        iterations += 1
        priors, confusion = _m_step(posteriors, items, annotators, answers, shape, smoothing)
        posteriors, log_likelihood = _e_step(priors, confusion, items, annotators, answers, shape)
        if previous is not None and log_likelihood - previous <= tol * max(1.0, abs(previous)):
            converged = True
            break
        previous = log_likelihood
    return DSResult(
        classes=class_list,
        posteriors={
            item: dict(zip(class_list, row.tolist(), strict=True))
            for item, row in zip(item_list, posteriors, strict=True)
        },
        labels={
            item: class_list[j]
            for item, j in zip(item_list, posteriors.argmax(axis=1).tolist(), strict=True)
        },
        confusion={a: confusion[n].tolist() for n, a in enumerate(annotator_list)},
        priors=dict(zip(class_list, priors.tolist(), strict=True)),
        iterations=iterations,
        log_likelihood=log_likelihood,
        converged=converged,
    )


def _columns(records, classes):
    """Integer item, annotator and label codes, with the items, annotators and classes."""
    rows = records if isinstance(records, list | tuple) else list(records)
    items, item_list = _codes([row[0] for row in rows])
    annotators, annotator_list = _codes([row[1] for row in rows])
    labels = [row[2] for row in rows]
    if classes is None:
        class_list = sorted(set(labels), key=category_key)
    else:
        class_list = list(classes)
        unknown = set(labels) - set(class_list)
        if unknown:
            names = sorted(map(str, unknown))[:10]
            raise ValueError(f"labels not among the classes: {', '.join(names)}")
    index = {name: code for code, name in enumerate(class_list)}
    answers = np.fromiter(map(index.__getitem__, labels), np.int64, len(labels))
    return items, annotators, answers, item_list, annotator_list, class_list


def _codes(column: list) -> tuple[np.ndarray, list]:
    distinct = list(dict.fromkeys(column))
    index = {value: code for code, value in enumerate(distinct)}
    return np.fromiter(map(index.__getitem__, column), np.int64, len(column)), distinct


def _prior_dict(class_list: list) -> dict:
    return {name: 1 / len(class_list) for name in class_list}


def _initial(items, answers, shape, init: str, seed: int) -> np.ndarray:
    """Starting soft classes: vote shares per item, or random rows."""
    n_items, _, k = shape
    if init == "random":
        return np.random.default_rng(seed).dirichlet(np.ones(k), size=n_items)
    votes = np.bincount(items * k + answers, minlength=n_items * k).reshape(n_items, k)
    return votes / votes.sum(axis=1, keepdims=True)


def _m_step(posteriors, items, annotators, answers, shape, smoothing: float):
    """Priors p (k,) and confusion pi (annotators, k true, k given) from soft classes."""
    n_items, n_annotators, k = shape
    priors = (posteriors.sum(axis=0) + smoothing) / (n_items + k * smoothing)
    # cell (a, j, l) of record r gets T[item_r, j]: one bincount over records x true classes
    cells = (annotators[:, None] * k + np.arange(k)) * k + answers[:, None]
    counts = np.bincount(
        cells.ravel(), weights=posteriors[items].ravel(), minlength=n_annotators * k * k
    ).reshape(n_annotators, k, k)
    counts += smoothing
    return priors, counts / counts.sum(axis=2, keepdims=True)


def _e_step(priors, confusion, items, annotators, answers, shape):
    """Posterior soft classes T and the log-likelihood of the records under (p, pi)."""
    n_items, _, k = shape
    with np.errstate(divide="ignore"):  # smoothing=0 allows pi = 0: log 0 = -inf is meant
        log_confusion, log_priors = np.log(confusion), np.log(priors)
    per_record = log_confusion[annotators, :, answers]  # (records, k): log pi[a_r, j, l_r]
    cells = items[:, None] * k + np.arange(k)
    log_joint = np.bincount(cells.ravel(), per_record.ravel(), n_items * k).reshape(n_items, k)
    log_joint += log_priors
    peak = log_joint.max(axis=1, keepdims=True)
    log_evidence = peak + np.log(np.exp(log_joint - peak).sum(axis=1, keepdims=True))
    return np.exp(log_joint - log_evidence), float(log_evidence.sum())
