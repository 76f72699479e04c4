"""Capture models with covariates (logistic) and with a third source (Poisson log-linear).

**Logistic capture rates and the Horvitz-Thompson total** (Huggins 1989, Alho 1990; section 8
of ``docs/sources.md``). Each path's capture rate is modelled from covariates ``x`` (event type,
device, browser, ...) by logistic regression fitted on the events the *other* path saw: the
client's rate ``p_c(x)`` on the server's events (captured by the client or not), the server's
``p_s(x)`` on the client's. If the paths miss independently given ``x``, an event is seen by at
least one with probability ``pi(x) = 1 - (1 - p_c(x))(1 - p_s(x))``, and the true count is the
Horvitz-Thompson total ``N = sum over seen events of 1 / pi(x)``. With one parameter per cell
it is the stratified Lincoln-Petersen estimate; with fewer it pools sparse cells.

Its error against the events that happened, ``N_hat - N``, has two parts (Huggins 1989): which
events the paths happened to see, whose variance is estimated by the sum over seen events of
``(1 - pi) / pi**2``, and the error of the fitted rates, here the spread of the totals that the
resamples' rates give the data's own seen events (:func:`horvitz_thompson_error`). The spread of
the resamples' totals themselves is larger by how much the count of events varies between
samples of visitors, which is no error in the count of the events this log's visitors made.

**Three sources** (Fienberg 1972). Events seen by at least one of three paths fall in seven
capture histories (``100``, ``010``, ... ``111``); the eighth, seen by none, is not observed.
A Poisson log-linear model of the seven counts with the three main effects assumes the paths
independent; each two-way interaction lets one pair depend. The fitted count of ``000`` is
``exp(intercept)``, and comparing deviances shows which pairs depend.

Both are fitted by iteratively reweighted least squares (IRLS) on many count vectors at once
(one per bootstrap resample of visitors), a few Newton steps for all of them together.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np

from simulator.stats.capture_recapture import Z95

ITERATIONS = 60
TOLERANCE = 1e-9
"""The fits stop when no coefficient moves by more than this in a step, ..."""
DEVIANCE_TOLERANCE = 1e-8
"""... or when no fit's deviance changes by more than this, relative to it plus 0.1 (the rule
of R's ``glm.fit`` and statsmodels' default). Where a cell is fitted perfectly (a path that saw
all of its events) its coefficients drift towards infinity for ever while the fitted rates,
and the deviance, have stopped changing: only this rule ends such a fit before
:data:`ITERATIONS`."""
RIDGE = 1e-9
"""Added to the normal equations: collinear columns (a browser that implies a device) get a
minimum-norm solution instead of a singular matrix, with no visible effect on the fit."""
HISTORIES = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1], [1, 1, 1]])
"""The seven observable capture histories, in the order the counts are given."""
PAIRS = tuple(combinations(range(3), 2))
PAIR_NAMES = {(0, 1): "client-server", (0, 2): "client-third", (1, 2): "server-third"}
DENOMINATORS = {
    (): (),
    ((0, 1),): ((4, 5, 6),),
    ((0, 2),): ((3, 5, 6),),
    ((1, 2),): ((3, 4, 6),),
    ((0, 1), (0, 2)): ((5,),),
    ((0, 1), (1, 2)): ((4,),),
    ((0, 2), (1, 2)): ((3,),),
    ((0, 1), (0, 2), (1, 2)): ((3,), (4,), (5,)),
}
"""Per set of interacting pairs, the histories (indices in :data:`HISTORIES`) each of whose
sums divides the closed-form count of unseen events (Bishop, Fienberg and Holland 1975, ch. 6):
with the client-server pair alone it is ``h001 (h100 + h010 + h110) / (h101 + h011 + h111)``;
with client-server and client-third, ``h010 h001 / h011``; with all three pairs,
``h100 h010 h001 h111 / (h110 h101 h011)``. Where a sum is 0 the count is unbounded: a pixel
that only ever fires with the client leaves ``h011`` at 0, and no model that lets client and
third depend can say how many events neither the client nor the server saw."""
DENSE_PRODUCTS = 1 << 22
"""Designs with up to this many products of a cell's parameter pairs (32 MiB) are fitted with
dense arrays; larger ones with sparse matrices, which only then load :mod:`scipy.sparse`."""


def _pair_products(x: Any) -> Any:
    """Sparse (cells, p * p) matrix of ``x[i, a] * x[i, b]``: ``w @ it`` is every fit's X'WX.

    A design of dummy columns has a few non-zeros per row, so the products of a row's pairs
    are few, and the normal equations of all the fits cost one sparse product.
    """
    from scipy import sparse

    m, p = x.shape
    k = np.diff(x.indptr)
    row = np.repeat(np.arange(m), k)
    rep = k[row]
    left = np.repeat(np.arange(x.nnz), rep)
    offset = np.arange(left.size) - np.repeat(np.cumsum(rep) - rep, rep)
    right = x.indptr[row[left]] + offset
    return sparse.csr_matrix(
        (x.data[left] * x.data[right], (row[left], x.indices[left] * p + x.indices[right])),
        shape=(m, p * p),
    )


def _operators(design: np.ndarray) -> tuple[Any, Any]:
    """The design and the products of its rows' parameter pairs, dense when they are small."""
    m, p = design.shape
    if m * p * p <= DENSE_PRODUCTS:
        return design, (design[:, :, None] * design[:, None, :]).reshape(m, p * p)
    from scipy import sparse

    x = sparse.csr_matrix(design)
    return x, _pair_products(x)


def fit_glm(
    design: np.ndarray, y: np.ndarray, trials: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Fit a logistic (with ``trials``) or Poisson (without) GLM to each row of ``y``.

    Parameters
    ----------
    design : numpy.ndarray
        Shape (cells, parameters): the design matrix shared by every fit.
    y : numpy.ndarray
        Shape (fits, cells): successes (logistic) or counts (Poisson).
    trials : numpy.ndarray, optional
        Shape (fits, cells): trials per cell for a logistic model.

    Returns
    -------
    coefficients, fitted : numpy.ndarray
        Shapes (fits, parameters) and (fits, cells): the coefficients and the fitted mean
        (success probability for a logistic model, expected count for a Poisson one).
    """
    x, pairs = _operators(np.asarray(design, float))
    n_par = x.shape[1]
    y = np.atleast_2d(np.asarray(y, float))
    logistic = trials is not None
    n = np.atleast_2d(np.asarray(trials, float)) if logistic else None
    if logistic:
        eta = np.log((y + 0.5) / (n - y + 0.5))
    else:
        eta = np.log(y + 0.5)
    beta = np.zeros((y.shape[0], n_par))
    eye = np.eye(n_par) * RIDGE
    deviance, saturated = np.full(y.shape[0], np.inf), _saturated(y, n)
    for _ in range(ITERATIONS):
        if logistic:
            p = 1.0 / (1.0 + np.exp(-eta))
            w = n * p * (1.0 - p)
            resid = y - n * p
        else:
            mu = np.exp(eta)
            w, resid = mu, y - mu
        z = eta + np.divide(resid, w, out=np.zeros_like(w), where=w > 0)
        xtwx = np.asarray(pairs.T @ w.T).T.reshape(-1, n_par, n_par) + eye
        xtwz = np.asarray(x.T @ (w * z).T).T
        new = np.linalg.solve(xtwx, xtwz[..., None])[..., 0]
        eta = np.clip(np.asarray(x @ new.T).T, -30.0, 30.0)
        now = _deviance(y, eta, n, saturated)
        still = np.abs(now - deviance) > DEVIANCE_TOLERANCE * (np.abs(now) + 0.1)
        done = np.max(np.abs(new - beta), initial=0.0) < TOLERANCE or not still.any()
        beta, deviance = new, now
        if done:
            break
    fitted = 1.0 / (1.0 + np.exp(-eta)) if logistic else np.exp(eta)
    return beta, fitted


def _xlogx(v: np.ndarray) -> np.ndarray:
    """``v log v``, 0 where ``v`` is."""
    return v * np.log(np.where(v > 0, v, 1.0))


def _saturated(y: np.ndarray, trials: np.ndarray | None) -> np.ndarray:
    """Each fit's log-likelihood at its own data (the saturated model), a constant of the fit."""
    if trials is None:
        return (_xlogx(y) - y).sum(axis=1)
    return (_xlogx(y) + _xlogx(trials - y) - _xlogx(trials)).sum(axis=1)


def _deviance(
    y: np.ndarray, eta: np.ndarray, trials: np.ndarray | None, saturated: np.ndarray
) -> np.ndarray:
    """Each fit's deviance at the linear predictor ``eta``: logistic with ``trials``, else Poisson.

    Twice the saturated log-likelihood less the fit's, ``y eta - n log(1 + e^eta)`` (logistic)
    or ``y eta - e^eta`` (Poisson) per cell.
    """
    if trials is None:
        return 2.0 * (saturated - (y * eta - np.exp(eta)).sum(axis=1))
    return 2.0 * (saturated - (y * eta - trials * np.log1p(np.exp(eta))).sum(axis=1))


def horvitz_thompson(
    design: np.ndarray, cells: np.ndarray, groups: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Logistic capture rates per covariate cell and the Horvitz-Thompson total per group.

    Parameters
    ----------
    design : numpy.ndarray
        Shape (cells, parameters): the covariates of each cell.
    cells : numpy.ndarray
        Shape (fits, cells, 3): ``n11``, ``n10``, ``n01`` of each cell, in each fit (the data
        and its bootstrap resamples).
    groups : numpy.ndarray
        The group (e.g. event type) of each cell, in ``0 .. n_groups - 1``.
    n_groups : int
        How many groups.

    Returns
    -------
    total, p_client, p_server : numpy.ndarray
        Shapes (fits, n_groups), (fits, cells), (fits, cells).
    """
    n11, n10, n01 = cells[..., 0], cells[..., 1], cells[..., 2]
    _, p_c = fit_glm(design, n11, n11 + n01)
    _, p_s = fit_glm(design, n11, n11 + n10)
    seen = n11 + n10 + n01
    pi = 1.0 - (1.0 - p_c) * (1.0 - p_s)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_cell = np.where(seen > 0, seen / pi, 0.0)
    total = per_cell @ np.eye(n_groups)[groups]
    return total, p_c, p_s


def horvitz_thompson_error(
    seen: np.ndarray,
    p_client: np.ndarray,
    p_server: np.ndarray,
    groups: np.ndarray,
    n_groups: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The two parts of the Horvitz-Thompson total's error against the true count, per group.

    Parameters
    ----------
    seen : numpy.ndarray
        Shape (cells,): the events either path saw in each cell, in the data.
    p_client, p_server : numpy.ndarray
        Shape (fits, cells): the capture rates of :func:`horvitz_thompson`, fit 0 the data's
        and the others the resamples'.
    groups : numpy.ndarray
        The group (e.g. event type) of each cell, in ``0 .. n_groups - 1``.
    n_groups : int
        How many groups.

    Returns
    -------
    rates : numpy.ndarray
        Shape (fits - 1, n_groups): the total of the data's seen events under each resample's
        rates, whose spread is the error of the fitted rates.
    chance : numpy.ndarray
        Shape (n_groups,): the variance of which events the paths happened to see, the sum
        over seen events of ``(1 - pi) / pi**2`` at the data's rates.
    """
    pi = 1.0 - (1.0 - p_client) * (1.0 - p_server)
    onehot = np.eye(n_groups)[groups]
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = np.where(seen > 0, seen / pi[1:], 0.0) @ onehot
        chance = np.where(seen > 0, seen * (1.0 - pi[0]) / pi[0] ** 2, 0.0) @ onehot
    return rates, chance


def unseen_interval(
    seen: np.ndarray,
    unseen: np.ndarray,
    fitted_var: np.ndarray,
    chance: np.ndarray,
    level_z: float = Z95,
) -> tuple[np.ndarray, np.ndarray]:
    """95% interval of a true count ``seen + unseen``: the events these visitors made.

    Of the two parts of the error (:func:`horvitz_thompson_error`), the chance part (which
    events the paths happened to see) makes the events no path saw, near enough, a Poisson
    count around the estimate ``unseen``: skewed towards more. Both ends are the normal
    interval's moved up by the Cornish-Fisher term of that skew (Cornish and Fisher 1938,
    ``docs/sources.md`` §8), ``(z**2 - 1) k3 / (6 V)``, where ``V = fitted_var + chance`` and
    ``k3 = k chance`` is the third cumulant of a Poisson count scaled by ``k``, as its variance
    ``chance = k x (seen + x) / seen`` is (``k`` is 1 when every event had the same chance of
    being seen): about half an event, whatever the count. For a Poisson count of mean 11 the
    ends are 4.97 and 17.97, where its 2.5% and 97.5% quantiles are 5 and 18.

    The lower end is never below ``seen``, the least the true count can be, and is ``seen``
    wherever the normal interval's end would leave none unseen possible. The upper end is
    never below the one for an estimate of none unseen, where the chance part measured at the
    estimate is nil while a few may still have gone unseen: the largest ``x`` that 0 is within
    ``level_z`` standard errors of, the standard error taken at ``x`` as Wilson's interval does
    for a share (Wilson 1927, §8), ``x**2 <= z**2 (fitted_var + x (seen + x) / seen)``. That
    leaves about ``z**2`` (3.8) possible, as an exact Poisson bound at a count of zero does
    (3.7), and nothing bounds it with three or fewer seen.

    Parameters
    ----------
    seen : numpy.ndarray
        Events either path saw.
    unseen : numpy.ndarray
        The estimate of those no path saw.
    fitted_var : numpy.ndarray
        Variance of the estimate from the fitted rates.
    chance : numpy.ndarray
        Variance of which events were seen, measured at the estimate.
    level_z : float
        The standard normal quantile of the level.

    Returns
    -------
    lo, hi : numpy.ndarray
        The ends as true counts; ``hi`` is infinite where the seen events are too few to bound
        it.
    """
    seen, f = np.asarray(seen, float), np.asarray(unseen, float)
    fitted_var, chance = np.asarray(fitted_var, float), np.asarray(chance, float)
    z2 = level_z**2
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where((f > 0) & (chance > 0), chance * seen / (f * (seen + f)), 1.0)
        var = fitted_var + chance
        skew = np.where(var > 0, (z2 - 1.0) / 6.0 * k * chance / var, 0.0)
        # x**2 (1 - z**2 / seen) - z**2 x - z**2 fitted_var <= 0: with a <= 0 nothing bounds x.
        a = 1.0 - z2 / seen
        none_unseen = np.where(
            a > 0, (z2 + np.sqrt(z2 * z2 + 4.0 * a * z2 * fitted_var)) / (2 * a), np.inf
        )
    half = level_z * np.sqrt(var)
    # Where the normal end leaves none unseen possible, so does the count: a Poisson count's
    # 2.5% quantile is 0 until its mean passes 3.7, where f - z sqrt(f) reaches 0 at 3.8. The
    # skew's term, a first-order one, would lift the end above the count's mass there.
    low = f - half
    lo = seen + np.where((low > 0) | np.isnan(low), low + skew, 0.0)  # an unknown count: NaN
    hi = seen + np.maximum(f + half + skew, none_unseen)
    return lo, hi


def loglinear_design(pairs: tuple[tuple[int, int], ...] = ()) -> np.ndarray:
    """Design of the seven histories: intercept, three main effects, and the given pairs."""
    cols = [np.ones(7), *HISTORIES.T]
    cols += [HISTORIES[:, a] * HISTORIES[:, b] for a, b in pairs]
    return np.column_stack(cols).astype(float)


def loglinear_fit(counts: np.ndarray, pairs: tuple[tuple[int, int], ...] = ()) -> dict:
    """Fit one log-linear model of three sources to the seven observed history counts.

    Parameters
    ----------
    counts : numpy.ndarray
        Shape (fits, 7): counts of the histories in :data:`HISTORIES` order.
    pairs : tuple of (int, int)
        The two-way interactions in the model (paths 0, 1, 2 = client, server, third).

    Returns
    -------
    dict
        ``unseen`` (fitted count of events none saw, shape (fits,); NaN where the model leaves
        it unbounded, see :data:`DENOMINATORS`), ``deviance`` (fits,), ``df`` and
        ``log_odds_ratio`` (fits, len(pairs)): each pair's interaction.
    """
    y = np.atleast_2d(np.asarray(counts, float))
    x = loglinear_design(pairs)
    beta, mu = fit_glm(x, y)
    bounded = np.ones(y.shape[0], bool)
    for histories in DENOMINATORS[tuple(sorted(pairs))]:
        bounded &= y[:, list(histories)].sum(axis=1) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(y > 0, y * np.log(y / mu), 0.0)
    return {
        "unseen": np.where(bounded, np.exp(beta[:, 0]), np.nan),
        "deviance": 2.0 * (term - (y - mu)).sum(axis=1),
        "df": 7 - x.shape[1],
        "log_odds_ratio": beta[:, 4:],
    }


def three_source(counts: np.ndarray) -> dict[str, dict]:
    """The independence model and each single-pair model (see :func:`loglinear_fit`).

    Parameters
    ----------
    counts : numpy.ndarray
        Shape (fits, 7): counts of the histories in :data:`HISTORIES` order.

    Returns
    -------
    dict
        ``independent``, ``client-server``, ``client-third`` and ``server-third``: each
        model's fit, with ``log_odds_ratio`` of shape (fits,) for the pair models.
    """
    out = {"independent": loglinear_fit(counts)}
    for pair in PAIRS:
        fit = loglinear_fit(counts, (pair,))
        fit["log_odds_ratio"] = fit["log_odds_ratio"][:, 0]
        out[PAIR_NAMES[pair]] = fit
    return out


__all__ = [
    "DENOMINATORS",
    "HISTORIES",
    "PAIRS",
    "PAIR_NAMES",
    "fit_glm",
    "horvitz_thompson",
    "horvitz_thompson_error",
    "loglinear_design",
    "loglinear_fit",
    "three_source",
    "unseen_interval",
]
