"""Tail probabilities and quantiles of the Student t, normal and F distributions.

They come from :mod:`scipy.special`, the functions :mod:`scipy.stats` itself evaluates for
these three distributions, so the numbers are the same to the last bit. :mod:`scipy.stats`
takes over a second to import, more than the statistics of a default run take to compute;
:mod:`scipy.special` a fraction of that, which keeps a command's fixed cost small.
"""

from __future__ import annotations

import numpy as np
from scipy import special

ArrayLike = float | np.ndarray


def t_quantile(q: ArrayLike, df: ArrayLike) -> ArrayLike:
    """Quantile of Student's t (``scipy.stats.t.ppf(q, df)``).

    Parameters
    ----------
    q : float or numpy.ndarray
        Lower-tail probability, in (0, 1).
    df : float or numpy.ndarray
        Degrees of freedom, positive.

    Returns
    -------
    float or numpy.ndarray
        The value below which a share ``q`` of the distribution lies.
    """
    return special.stdtrit(df, q)


def t_upper_tail(x: ArrayLike, df: ArrayLike) -> ArrayLike:
    """Upper-tail probability of Student's t (``scipy.stats.t.sf(x, df)``).

    Parameters
    ----------
    x : float or numpy.ndarray
        Where the tail starts.
    df : float or numpy.ndarray
        Degrees of freedom, positive.

    Returns
    -------
    float or numpy.ndarray
        P(T > x).
    """
    return special.stdtr(df, -np.asarray(x, dtype=float))


def normal_quantile(q: ArrayLike) -> ArrayLike:
    """Quantile of the standard normal (``scipy.stats.norm.ppf(q)``).

    Parameters
    ----------
    q : float or numpy.ndarray
        Lower-tail probability, in (0, 1).

    Returns
    -------
    float or numpy.ndarray
        The value below which a share ``q`` of the distribution lies.
    """
    return special.ndtri(q)


def normal_upper_tail(x: ArrayLike) -> ArrayLike:
    """Upper-tail probability of the standard normal (``scipy.stats.norm.sf(x)``).

    Parameters
    ----------
    x : float or numpy.ndarray
        Where the tail starts.

    Returns
    -------
    float or numpy.ndarray
        P(Z > x).
    """
    return special.ndtr(-np.asarray(x, dtype=float))


def f_upper_tail(x: ArrayLike, dfn: ArrayLike, dfd: ArrayLike) -> ArrayLike:
    """Upper-tail probability of the F distribution (``scipy.stats.f.sf(x, dfn, dfd)``).

    Parameters
    ----------
    x : float or numpy.ndarray
        Where the tail starts.
    dfn, dfd : float or numpy.ndarray
        Degrees of freedom of the numerator and the denominator, positive.

    Returns
    -------
    float or numpy.ndarray
        P(F > x).
    """
    return special.fdtrc(dfn, dfd, x)


__all__ = ["f_upper_tail", "normal_quantile", "normal_upper_tail", "t_quantile", "t_upper_tail"]
