"""Classification, multi-label and regression probes on fixed features (R6.2, paper 4.4.2).

The probe is scikit-learn's MLP with the paper's fixed hyper-parameters — two hidden layers of
256 ReLU units, Adam, 200 iterations — and every other argument left at scikit-learn's default
(batch 200 or n, learning rate 1e-3, L2 1e-4, no early stopping), so the probe is identical for
every representation. Features are z-scored with a ``StandardScaler`` fitted on the training part
only (the MLP is scale-sensitive; the paper does not say, this is the usual practice). Metrics
(:data:`TASK_SCORES`, the first the primary one): accuracy for classification, R² for regression
(a regression target that is 2-D, e.g. arousal and valence together, gets scikit-learn's uniform
average R²), and for multi-label tagging — not in the paper — one such MLP per tag
(one-vs-rest) scored by ROC-AUC and PR-AUC (average precision), both macro-averaged over the
tags that have a positive and a negative in the test part (the others are left out and counted).
A tag with a single class in the training part gets a constant predictor (scikit-learn's).

200 Adam epochs often stop short of scikit-learn's tolerance, which makes it warn
``ConvergenceWarning`` once per fit. That warning is expected under a fixed budget, so it is
silenced; :func:`probe_fit` reports it as ``converged=False`` and :func:`run_probe_details` logs
how many repetitions ran out of iterations.

Two probe protocols (``evaluation.probe``): ``paper`` (above) and ``marble``, the protocol of the
MARBLE benchmark (Yuan et al. 2023): one hidden layer of 512 ReLU units with dropout 0.2, Adam
(learning rate 1e-3, batch 64), at most 100 epochs, early stopping on the validation part's loss
(patience 10, the best epoch's weights kept). It is a small PyTorch network, deterministic for a
seed. A fitted probe (:class:`FittedProbe`) scores any number of test sets, so the robustness
protocol scores deformed audio with the probe trained on clean audio, and slice-level features
(``evaluation.aggregate=slices``) are scored per track from the mean of their slices' outputs.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from mtl_music.errors import ConfigError, DataError

log = logging.getLogger(__name__)

#: The paper's probe (fixed across every representation and target).
HIDDEN_LAYERS = (256, 256)
MAX_ITER = 200
TASKS = ("classification", "regression", "multilabel")

#: Task → the scores its probe reports, the primary one first (the names of
#: :data:`mtl_music.targets.TASK_METRICS` and ``TASK_EXTRA_METRICS``).
TASK_SCORES = {"classification": ("accuracy",), "regression": ("r2",), "multilabel": ("roc_auc", "pr_auc")}

# OneVsRestClassifier's warning on a tag with one class in the training part (a regex).
_CONSTANT_TAG_WARNING = r"Label .* is present in all training examples"


@dataclass(frozen=True)
class ProbeResult:
    """One probe fit: ``score`` (the task's primary score on the test part: accuracy, R² or
    ROC-AUC), whether Adam reached scikit-learn's tolerance within ``MAX_ITER`` epochs (every
    tag's MLP, for multilabel), and how many epochs it ran (the most over tags).

    ``scores``: every score of the task (:data:`TASK_SCORES`), the primary one included.
    ``skipped_tags``: multilabel tags left out of the scores (no positive or no negative in the
    test part); ``constant_tags``: tags with a single class in the training part.
    """

    score: float
    converged: bool
    n_iter: int
    scores: Mapping[str, float] = field(default_factory=dict)
    skipped_tags: int = 0
    constant_tags: int = 0


#: The probe protocols (``evaluation.probe``).
PROTOCOLS = ("paper", "marble")

#: MARBLE's probe (Yuan et al. 2023): one hidden layer, early stopping on the validation part.
MARBLE_HIDDEN = 512
MARBLE_DROPOUT = 0.2
MARBLE_LEARNING_RATE = 1e-3
MARBLE_BATCH = 64
MARBLE_MAX_EPOCHS = 100
MARBLE_PATIENCE = 10


@dataclass
class FittedProbe:
    """A probe fitted on the training part; :meth:`score` scores any test set.

    ``model`` is the scikit-learn estimator (``paper``) or a :class:`_TorchProbe` (``marble``);
    ``scaler`` the ``StandardScaler`` fitted on the training features; ``y_train`` the training
    labels (multi-label: to count tags constant in training).
    """

    task: str
    model: object
    scaler: object
    converged: bool
    n_iter: int
    y_train: np.ndarray

    def outputs(self, features: np.ndarray) -> np.ndarray:
        """The probe's outputs for ``features`` (n, D): class probabilities (n, n_classes) in
        :attr:`classes` order (classification), tag probabilities (n, n_tags) (multilabel),
        predicted values (n,) or (n, k) (regression)."""
        X = self.scaler.transform(np.asarray(features, dtype=np.float64))
        if self.task == "regression":
            return self.model.predict(X)
        return self.model.predict_proba(X)

    @property
    def classes(self) -> np.ndarray:
        """The class labels seen in training, in output order (classification)."""
        return self.model.classes_

    def score(self, *, features: np.ndarray, labels: np.ndarray, offsets: np.ndarray | None = None,
              extra_metrics: Sequence[str] = (), classes: Sequence[str] = ()) -> ProbeResult:
        """Every score of the task on (``features``, ``labels``), plus ``extra_metrics`` (names of
        :data:`mtl_music.evaluation.metrics.EXTRA_METRICS`, given the target's ``classes``).

        ``features``: (R, D) rows; ``labels``: one per *item*; ``offsets`` (n_items + 1,): item i's
        rows are ``offsets[i]:offsets[i+1]`` and its output is the mean of theirs (slice-level
        features); ``None``: one row per item.
        """
        outputs = self.outputs(features)
        if offsets is not None:
            outputs = mean_per_item(outputs, offsets)
        y = np.asarray(labels)
        if self.task == "multilabel":
            result = _multilabel_result(outputs, y_train=self.y_train, y_test=y.astype(np.int64),
                                        converged=self.converged, n_iter=self.n_iter)
        else:
            if self.task == "classification":
                predicted = self.classes[np.argmax(outputs, axis=1)]
                primary = float(accuracy(y, predicted))
            else:
                predicted = outputs
                primary = float(_r2(y.astype(np.float64), predicted))
            result = ProbeResult(score=primary, converged=self.converged, n_iter=self.n_iter,
                                 scores={TASK_SCORES[self.task][0]: primary})
        if extra_metrics:
            from mtl_music.evaluation.metrics import EXTRA_METRICS

            if self.task == "multilabel":
                raise ConfigError(f"extra metrics {list(extra_metrics)} are not defined for multi-label targets")
            extra = {name: float(EXTRA_METRICS[name](y_true=y, y_pred=predicted, classes=tuple(classes)))
                     for name in extra_metrics}
            result = ProbeResult(score=result.score, converged=result.converged, n_iter=result.n_iter,
                                 scores={**result.scores, **extra}, skipped_tags=result.skipped_tags,
                                 constant_tags=result.constant_tags)
        return result


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Share of equal entries of two (n,) label arrays."""
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(y_true, y_pred))


def _r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn.metrics import r2_score

    return float(r2_score(y_true, y_pred))


def mean_per_item(outputs: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Mean of ``outputs`` (R, ...) over each item's rows ``offsets[i]:offsets[i+1]`` →
    (n_items, ...). Every item needs at least one row."""
    offsets = np.asarray(offsets, dtype=np.int64)
    counts = np.diff(offsets)
    if offsets[0] != 0 or offsets[-1] != len(outputs) or (counts < 1).any():
        raise DataError(f"offsets must run from 0 to {len(outputs)} rows with every item having a row")
    sums = np.add.reduceat(np.asarray(outputs, dtype=np.float64), offsets[:-1], axis=0)
    return sums / counts.reshape((-1,) + (1,) * (sums.ndim - 1))


def fit_probe(
    *,
    features: np.ndarray,
    labels: np.ndarray,
    train_idx: np.ndarray,
    task: str,
    seed: int,
    protocol: str = "paper",
    valid_idx: np.ndarray | None = None,
) -> FittedProbe:
    """Fits the probe of ``protocol`` on ``features[train_idx]``.

    ``features``: (n, D) float; ``labels``: (n,) class labels (any hashable) for
    ``task="classification"``, (n,) / (n, k) floats for ``task="regression"``, or an (n, n_tags)
    0/1 indicator matrix for ``task="multilabel"``; ``train_idx``: 1-D integer indices into the n
    rows. ``valid_idx`` (``marble`` only, disjoint from ``train_idx``): the rows early stopping
    watches. ``seed``: the probe's random state (weight init and batch order).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.preprocessing import StandardScaler

    if protocol not in PROTOCOLS:
        raise ConfigError(f"evaluation.probe={protocol!r}; choose {' or '.join(PROTOCOLS)}")
    X, y, train_idx = _check_training(features, labels, train_idx, task)
    scaler = StandardScaler().fit(X[train_idx])
    X_train, y_train = scaler.transform(X[train_idx]), y[train_idx]
    if protocol == "marble":
        if valid_idx is None or len(valid_idx) == 0:
            raise DataError("the marble probe stops early on a validation part: pass valid_idx (rows not in train_idx)")
        valid_idx = _as_index(valid_idx, "valid_idx", X.shape[0])
        if np.intersect1d(train_idx, valid_idx).size:
            raise DataError("valid_idx and train_idx overlap; early stopping would watch training rows")
        model = _TorchProbe(task=task, seed=int(seed))
        model.fit(X_train, y_train, scaler.transform(X[valid_idx]), y[valid_idx])
        return FittedProbe(task=task, model=model, scaler=scaler, converged=model.stopped_early,
                           n_iter=model.n_iter_, y_train=y_train)

    kind = MLPRegressor if task == "regression" else MLPClassifier
    model = kind(hidden_layer_sizes=HIDDEN_LAYERS, activation="relu", solver="adam",
                 max_iter=MAX_ITER, random_state=int(seed))
    if task == "multilabel":
        model = OneVsRestClassifier(model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        # one-vs-rest's note on a tag with a single class in the training part: counted instead
        warnings.filterwarnings("ignore", message=_CONSTANT_TAG_WARNING, category=UserWarning)
        model.fit(X_train, y_train)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    # Re-emit anything else (it is not the expected budget warning).
    for w in caught:
        if not issubclass(w.category, ConvergenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if task == "multilabel":
        n_iter = max((int(getattr(e, "n_iter_", 0)) for e in model.estimators_), default=0)
    else:
        n_iter = int(model.n_iter_)
    return FittedProbe(task=task, model=model, scaler=scaler, converged=converged, n_iter=n_iter, y_train=y_train)


class _TorchProbe:
    """MARBLE's probe as a small PyTorch MLP with a scikit-learn-like surface (``fit``,
    ``predict``, ``predict_proba``, ``classes_``, ``n_iter_``). Runs on the CPU in float32 with
    its own generator, so a seed gives the same probe every time."""

    def __init__(self, *, task: str, seed: int) -> None:
        self.task = task
        self.seed = seed
        self.n_iter_ = 0
        self.stopped_early = False

    def _targets(self, y: np.ndarray):
        import torch

        if self.task == "classification":
            position = {c: i for i, c in enumerate(self.classes_.tolist())}
            return torch.as_tensor([position[v] for v in y.tolist()], dtype=torch.long)
        if self.task == "multilabel":
            return torch.as_tensor(y, dtype=torch.float32)
        values = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        return torch.as_tensor((values - self._y_mean) / self._y_std, dtype=torch.float32)

    def fit(self, X: np.ndarray, y: np.ndarray, X_valid: np.ndarray, y_valid: np.ndarray) -> "_TorchProbe":
        import torch
        from torch import nn

        generator = torch.Generator().manual_seed(self.seed)
        if self.task == "classification":
            self.classes_ = np.unique(y)
            n_out = len(self.classes_)
            known = np.isin(y_valid, self.classes_)
            X_valid, y_valid = X_valid[known], y_valid[known]  # a class absent from training cannot be fitted
            loss_fn = nn.CrossEntropyLoss()
        elif self.task == "multilabel":
            n_out = y.shape[1]
            loss_fn = nn.BCEWithLogitsLoss()
        else:
            values = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
            self._y_mean, self._y_std = values.mean(axis=0), values.std(axis=0) + 1e-12
            self._y_shape = np.asarray(y).shape[1:]
            n_out = values.shape[1]
            loss_fn = nn.MSELoss()
        with torch.random.fork_rng(devices=[]):  # the layers' initialisation draws from the global generator
            torch.manual_seed(self.seed)
            self.net = nn.Sequential(nn.Linear(X.shape[1], MARBLE_HIDDEN), nn.ReLU(), nn.Dropout(MARBLE_DROPOUT),
                                     nn.Linear(MARBLE_HIDDEN, n_out))
        optimizer = torch.optim.Adam(self.net.parameters(), lr=MARBLE_LEARNING_RATE)
        x_train = torch.as_tensor(X, dtype=torch.float32)
        t_train = self._targets(y)
        x_valid = torch.as_tensor(X_valid, dtype=torch.float32)
        t_valid = self._targets(y_valid) if len(X_valid) else None
        best, best_state, waited = float("inf"), None, 0
        for epoch in range(MARBLE_MAX_EPOCHS):
            self.net.train()
            order = torch.randperm(len(x_train), generator=generator)
            for start in range(0, len(order), MARBLE_BATCH):
                rows = order[start:start + MARBLE_BATCH]
                # Dropout masks from a generator of our own: torch's global one is not ours to move
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(self.seed * 1_000_003 + epoch * 10_007 + start)
                    loss = loss_fn(self.net(x_train[rows]), t_train[rows])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            self.n_iter_ = epoch + 1
            if t_valid is None:
                continue
            self.net.eval()
            with torch.no_grad():
                valid_loss = float(loss_fn(self.net(x_valid), t_valid))
            if valid_loss < best - 1e-6:
                best, waited = valid_loss, 0
                best_state = {k: v.detach().clone() for k, v in self.net.state_dict().items()}
            else:
                waited += 1
                if waited >= MARBLE_PATIENCE:
                    self.stopped_early = True
                    break
        if best_state is not None:
            self.net.load_state_dict(best_state)
        self.net.eval()
        return self

    def _forward(self, X: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            return self.net(torch.as_tensor(X, dtype=torch.float32)).numpy().astype(np.float64)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        logits = self._forward(X)
        if self.task == "multilabel":
            return 1.0 / (1.0 + np.exp(-logits))
        logits = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X: np.ndarray) -> np.ndarray:
        if self.task == "regression":
            values = self._forward(X) * self._y_std + self._y_mean
            return values.reshape((len(values),) + tuple(self._y_shape))
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def probe_fit(
    *,
    features: np.ndarray,
    labels: np.ndarray,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    task: str,
    seed: int,
) -> ProbeResult:
    """Fits the paper's MLP probe on ``features[train_idx]`` and scores it on ``features[test_idx]``
    (:func:`fit_probe`, then :meth:`FittedProbe.score`).

    ``features``: (n, D) float; ``labels``: (n,) class labels (any hashable) for
    ``task="classification"``, (n,) / (n, k) floats for ``task="regression"``, or an (n, n_tags)
    0/1 indicator matrix for ``task="multilabel"``; ``train_idx``/``test_idx``: 1-D integer
    indices into the n rows (disjoint). ``seed`` is the MLP's ``random_state`` (weight init and
    batch order; every tag's MLP gets the same one).
    """
    X, y, train_idx, test_idx = _check_inputs(features, labels, train_idx, test_idx, task)
    fitted = fit_probe(features=X, labels=y, train_idx=train_idx, task=task, seed=seed)
    return fitted.score(features=X[test_idx], labels=y[test_idx])


def _multilabel_result(probabilities: np.ndarray, *, y_train: np.ndarray, y_test: np.ndarray, converged: bool,
                       n_iter: int) -> ProbeResult:
    """ROC-AUC and PR-AUC of tag ``probabilities`` (n_test, n_tags), macro over the tags that
    have a positive and a negative in the test part. ``y_train``/``y_test``: (n, n_tags) 0/1."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    positives = y_test.sum(axis=0)
    scored = (positives > 0) & (positives < len(y_test))
    if not scored.any():
        raise DataError(f"no tag has both a positive and a negative track in the {len(y_test)}-track test part, so "
                        "ROC-AUC is undefined; add tracks (or raise test_fraction)")
    train_positives = y_train.sum(axis=0)
    roc = float(roc_auc_score(y_test[:, scored], probabilities[:, scored], average="macro"))
    pr = float(average_precision_score(y_test[:, scored], probabilities[:, scored], average="macro"))
    return ProbeResult(score=roc, converged=converged, n_iter=n_iter, scores={"roc_auc": roc, "pr_auc": pr},
                       skipped_tags=int((~scored).sum()),
                       constant_tags=int(((train_positives == 0) | (train_positives == len(y_train))).sum()))


def _probe_score(
    *,
    features: np.ndarray,
    labels: np.ndarray,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    task: str,
    seed: int,
) -> float:
    """Accuracy (classification), R² (regression) or ROC-AUC (multilabel) of the MLP probe;
    see :func:`probe_fit`. Only the tests use this shorthand."""
    return probe_fit(features=features, labels=labels, train_idx=train_idx, test_idx=test_idx,
                     task=task, seed=seed).score


def _run_probes(
    *,
    features: np.ndarray,
    labels: np.ndarray,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    task: str,
    seed: int = 0,
) -> list[float]:
    """The primary score of each of :func:`run_probe_details`' results. Only the tests use this
    shorthand."""
    results = run_probe_details(features=features, labels=labels, splits=splits, task=task, seed=seed)
    return [res.score for res in results]


def run_probe_details(
    *,
    features: np.ndarray,
    labels: np.ndarray,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    task: str,
    seed: int = 0,
) -> list[ProbeResult]:
    """One :class:`ProbeResult` per split (every score and convergence information); repetition
    ``r`` uses ``random_state = seed + r``.

    ``splits``: list of ``(train_idx, test_idx)``, e.g. a target's
    (:func:`mtl_music.targets.target_splits`). Logs how many
    repetitions ended at the 200-iteration budget unconverged, and how many multi-label tags the
    scores left out or fitted as constants."""
    if len(splits) == 0:
        raise DataError("no train/test split given; pass at least one (train_idx, test_idx) pair")
    results = []
    for rep, split in enumerate(splits):
        try:
            train_idx, test_idx = split
        except (TypeError, ValueError):
            raise DataError(f"split {rep} is not a (train_idx, test_idx) pair") from None
        results.append(probe_fit(features=features, labels=labels, train_idx=train_idx,
                                 test_idx=test_idx, task=task, seed=seed + rep))
    log_probe_results(results)
    return results


def log_probe_results(results: Sequence[ProbeResult]) -> None:
    """Logs how many fits ended at the iteration budget unconverged, and how many multi-label
    tags the scores left out or fitted as constants."""
    unconverged = sum(not res.converged for res in results)
    if unconverged:
        log.info("%d of %d probe fits stopped at the fixed %d-iteration budget before Adam's tolerance "
                 "(expected with the paper's fixed setting; scores are still comparable)",
                 unconverged, len(results), MAX_ITER)
    skipped = sum(res.skipped_tags for res in results)
    constant = sum(res.constant_tags for res in results)
    if skipped or constant:
        log.warning("multi-label probe: over %d repetition(s), %d tag score(s) were left out (no positive or no "
                    "negative track in the test part) and %d tag(s) had a single class in the training part "
                    "(constant prediction); more tracks per tag make the scores steadier",
                    len(results), skipped, constant)


def _random_splits(
    *,
    n: int,
    n_repetitions: int = 5,
    test_fraction: float = 0.2,
    seed: int = 0,
    strata: np.ndarray | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n_repetitions`` random train/test splits of ``n`` items (paper: 80/20, 5 times).

    ``strata`` (n,): stratify on these labels (the class labels for classification, the genre for
    MediaEval's regression targets); ``None`` for plain random splits. Repetition ``r`` uses seed
    ``seed + r``. Returns sorted index arrays. Only the tests use it, to split toy data; the
    targets' splits are :mod:`mtl_music.targets.base`'s (seeded differently).
    """
    from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit

    if not 0 < test_fraction < 1:
        raise ConfigError(f"test_fraction={test_fraction} must be between 0 and 1 (the paper uses 0.2)")
    if isinstance(n_repetitions, bool) or int(n_repetitions) != n_repetitions or n_repetitions < 1:
        raise ConfigError(f"n_repetitions={n_repetitions!r} must be a positive integer")
    out = []
    for rep in range(int(n_repetitions)):
        if strata is None:
            splitter = ShuffleSplit(n_splits=1, test_size=test_fraction, random_state=seed + rep)
            train, test = next(splitter.split(np.zeros(n)))
        else:
            strata = np.asarray(strata)
            if strata.shape[0] != n:
                raise DataError(f"strata has {strata.shape[0]} entries for {n} items; pass one label per item")
            _, counts = np.unique(strata, return_counts=True)
            if counts.min() < 2:
                raise DataError(
                    f"{int((counts < 2).sum())} strata have a single item, so a stratified split is impossible; "
                    "merge rare classes or use strata=None"
                )
            splitter = StratifiedShuffleSplit(n_splits=1, test_size=test_fraction, random_state=seed + rep)
            try:
                train, test = next(splitter.split(np.zeros(n), strata))
            except ValueError as err:
                raise DataError(f"cannot stratify {n} items into a {test_fraction:.0%} test part: {err}") from None
        out.append((np.sort(train), np.sort(test)))
    return out


def _check_training(features, labels, train_idx, task):
    """:func:`_check_inputs` without a test part: ``(X float64, y, train_idx)``."""
    X, y, train_idx, _ = _check_inputs(features, labels, train_idx, None, task)
    return X, y, train_idx


def _check_inputs(features, labels, train_idx, test_idx, task):
    if task not in TASKS:
        raise ConfigError(f"task={task!r} is not one of {TASKS}")
    X = np.asarray(features)
    if X.ndim != 2:
        raise DataError(f"features must be a 2-D array (items × dimensions), got shape {X.shape}")
    if not np.issubdtype(X.dtype, np.number):
        raise DataError(f"features must be numeric, got dtype {X.dtype}")
    X = X.astype(np.float64, copy=False)
    y = np.asarray(labels)
    if y.shape[0] != X.shape[0]:
        raise DataError(f"labels has {y.shape[0]} entries but features has {X.shape[0]} rows; they must align")
    train_idx = _as_index(train_idx, "train_idx", X.shape[0])
    if test_idx is not None:
        test_idx = _as_index(test_idx, "test_idx", X.shape[0])
        overlap = np.intersect1d(train_idx, test_idx)
        if overlap.size:
            raise DataError(f"{overlap.size} items are in both train_idx and test_idx (first: {overlap[:5].tolist()}); "
                            "the probe would be scored on its own training data")
    used = train_idx if test_idx is None else np.concatenate([train_idx, test_idx])
    finite = np.isfinite(X[used]).all(axis=1)
    if not finite.all():
        bad = used[~finite]
        raise DataError(
            f"features hold NaN or infinite values in {bad.size} rows (first: {np.sort(bad)[:5].tolist()}); "
            "re-extract those items' features (a silent or corrupt clip?)"
        )
    if task == "regression":
        if not np.issubdtype(y.dtype, np.number):
            raise DataError(f"regression labels must be numbers, got dtype {y.dtype}")
        y = y.astype(np.float64)
        if not np.isfinite(y[used]).all():
            raise DataError("regression labels hold NaN or infinite values; drop those items or fix the labels")
        if np.all(np.ptp(y[train_idx], axis=0) == 0):
            raise DataError(
                "the regression target is constant on the training part, so there is nothing to learn; "
                "check the labels or the split"
            )
    elif task == "multilabel":
        if y.ndim != 2 or y.shape[1] == 0 or not np.isin(y, (0, 1)).all():
            raise DataError(f"multi-label labels must be an (items × tags) 0/1 indicator matrix, got shape {y.shape}")
        y = y.astype(np.int64)
        positives = y[train_idx].sum(axis=0)
        if not ((positives > 0) & (positives < len(train_idx))).any():
            raise DataError("no tag has both a positive and a negative track in the training part, so there is "
                            "nothing to learn; check the labels or the split")
    else:
        if y.ndim != 1:
            raise DataError(f"classification labels must be 1-D (one class per item), got shape {y.shape}")
        classes = np.unique(y[train_idx])
        if classes.size < 2:
            raise DataError(
                f"the training part holds a single class ({classes[0]!r}), so there is nothing to classify; "
                "use a stratified split (random_splits(strata=labels)) or check the labels"
            )
    return X, y, train_idx, test_idx


def _as_index(idx, name: str, n: int) -> np.ndarray:
    arr = np.asarray(idx)
    if arr.dtype == bool:
        raise DataError(f"{name} is a boolean mask; pass integer indices (np.flatnonzero(mask))")
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise DataError(f"{name} must be a non-empty 1-D integer index array, got shape {arr.shape} dtype {arr.dtype}")
    if arr.min() < 0 or arr.max() >= n:
        raise DataError(f"{name} has indices outside 0..{n - 1}; the split does not match the features")
    if np.unique(arr).size != arr.size:
        raise DataError(f"{name} repeats indices; each item belongs to one part once")
    return arr
