"""Metrics for honest reporting: AUC, operating points, calibration error, temperature scaling and
confidence intervals by a bootstrap over patients (images of one patient are not independent)."""

import numpy as np


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mann-Whitney AUC, ties counted half."""
    labels = np.asarray(labels, bool)
    positives, negatives = scores[labels], scores[~labels]
    if len(positives) == 0 or len(negatives) == 0:
        return float("nan")
    combined = np.concatenate([positives, negatives])
    _, inverse, counts = np.unique(combined, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]  # ties share their average rank
    rank_sum = ranks[: len(positives)].sum()
    return float((rank_sum - len(positives) * (len(positives) + 1) / 2) / (len(positives) * len(negatives)))


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels, bool)
    thresholds = np.unique(scores)[::-1]
    tpr = np.array([(scores[labels] >= t).mean() for t in thresholds])
    fpr = np.array([(scores[~labels] >= t).mean() for t in thresholds])
    return np.concatenate([[0.0], fpr, [1.0]]), np.concatenate([[0.0], tpr, [1.0]])


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the precision-recall curve (average precision); NaN without positives."""
    labels = np.asarray(labels, bool)
    if not labels.any():
        return float("nan")
    ranked = labels[np.argsort(-np.asarray(scores, float), kind="stable")]
    precision = np.cumsum(ranked) / np.arange(1, len(ranked) + 1)
    return float(precision[ranked].mean())


def threshold_for_sensitivity(labels: np.ndarray, scores: np.ndarray, sensitivity: float) -> float:
    """The highest threshold that still finds `sensitivity` of the positives."""
    positives = np.sort(scores[np.asarray(labels, bool)])
    return float(positives[int(np.floor((1.0 - sensitivity) * len(positives)))])


def wilson_lower_bound(found: int, total: int, z: float = 1.645) -> float:
    """One-sided lower confidence bound of a proportion (Wilson score; z 1.645: 95%)."""
    if total == 0:
        return float("nan")
    share = found / total
    centre = share + z * z / (2 * total)
    spread = z * np.sqrt(share * (1 - share) / total + z * z / (4 * total * total))
    return float((centre - spread) / (1 + z * z / total))


def threshold_for_sensitivity_bound(scores_of_positives: np.ndarray, floor: float) -> float:
    """The highest threshold at which the lower 95% confidence bound of the sensitivity is still
    >= floor: a point chosen on one split keeps its sensitivity, with that confidence, on the next.
    Too few positives for any miss to be allowed: the lowest score (every positive kept)."""
    positives = np.sort(np.asarray(scores_of_positives, float))
    total = len(positives)
    # at the k-th lowest score, total - k positives are found; the bound falls as k grows
    allowed = [k for k in range(total) if wilson_lower_bound(total - k, total) >= floor]
    return float(positives[max(allowed)]) if allowed else float(positives[0])


def threshold_for_specificity(labels: np.ndarray, scores: np.ndarray, specificity: float) -> float:
    """The lowest threshold that keeps `specificity` of the negatives below it."""
    negatives = np.sort(scores[~np.asarray(labels, bool)])
    index = int(np.ceil(specificity * len(negatives)))
    return float(np.nextafter(negatives[index - 1], np.inf)) if index > 0 else float(negatives[0])


def youden_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    labels = np.asarray(labels, bool)
    candidates = np.unique(scores)
    j = [(scores[labels] >= t).mean() - (scores[~labels] >= t).mean() for t in candidates]
    return float(candidates[int(np.argmax(j))])


def sensitivity_specificity(labels: np.ndarray, positive: np.ndarray) -> tuple[float, float]:
    labels, positive = np.asarray(labels, bool), np.asarray(positive, bool)
    sensitivity = positive[labels].mean() if labels.any() else np.nan
    specificity = (~positive[~labels]).mean() if (~labels).any() else np.nan
    return float(sensitivity), float(specificity)


def expected_calibration_error(correct_probability: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """ECE of the top-label confidence: `correct_probability` is the predicted class's probability."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(correct_probability, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            error += in_bin.mean() * abs(correct_probability[in_bin].mean() - correct[in_bin].mean())
    return float(error)


def fit_temperature(logits: np.ndarray, labels: np.ndarray, binary: bool) -> float:
    """Temperature minimising the negative log-likelihood (Guo et al. 2017), by a fine grid search."""
    grid = np.exp(np.linspace(np.log(0.25), np.log(8.0), 400))
    return float(grid[int(np.argmin([_nll(logits / t, labels, binary) for t in grid]))])


def _nll(logits: np.ndarray, labels: np.ndarray, binary: bool) -> float:
    if binary:
        return float(np.mean(np.logaddexp(0.0, logits) - labels * logits))
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-np.mean(log_probabilities[np.arange(len(labels)), labels.astype(int)]))


def bootstrap_ci(metric, patients: np.ndarray, *arrays: np.ndarray, rounds: int = 1000,
                 seed: int = 0) -> tuple[float, float]:
    """95% interval of metric(*arrays) resampling whole patients with replacement."""
    rng = np.random.default_rng(seed)
    unique, index_of = np.unique(patients, return_inverse=True)
    members = [np.flatnonzero(index_of == i) for i in range(len(unique))]
    values = []
    for _ in range(rounds):
        chosen = np.concatenate([members[i] for i in rng.integers(0, len(unique), len(unique))])
        value = metric(*(array[chosen] for array in arrays))
        if np.isfinite(value):
            values.append(value)
    if not values:
        return float("nan"), float("nan")
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def mean_absolute_error(truth: np.ndarray, estimate: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(truth, float) - np.asarray(estimate, float))))


def pearson_r(a: np.ndarray, b: np.ndarray) -> float:
    """NaN when fewer than three pairs or either side is constant (no correlation to speak of)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 3 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties sharing their average rank (readers' scores tie often)."""
    _, inverse, counts = np.unique(np.asarray(values), return_inverse=True, return_counts=True)
    return (np.cumsum(counts) - (counts - 1) / 2.0)[inverse.ravel()]


def spearman_r(a: np.ndarray, b: np.ndarray) -> float:
    return pearson_r(average_ranks(a), average_ranks(b))


def estimate_with_ci(metric, patients: np.ndarray, *arrays: np.ndarray) -> dict:
    """metric(*arrays) with its patient-bootstrap 95% interval and the number of items measured."""
    if len(arrays[0]) == 0:
        return {"value": float("nan"), "ci95": [float("nan"), float("nan")], "n": 0}
    value = metric(*arrays)
    low, high = bootstrap_ci(metric, patients, *arrays)
    return {"value": float(value), "ci95": [low, high], "n": len(arrays[0])}
