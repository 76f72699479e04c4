"""The scipy.stats equivalent of each scenario distribution, for closed-form checks."""

from scipy import stats

from simulator.config import distributions as d


def as_scipy(dist: d.Distribution):
    """Return the frozen ``scipy.stats`` distribution that ``dist`` samples from."""
    match dist:
        case d.Constant():
            return stats.rv_discrete(values=([dist.value], [1.0]))
        case d.Exponential():
            return stats.expon(scale=dist.mean_)
        case d.LogNormal():
            return stats.lognorm(s=dist.sigma, scale=dist.median)
        case d.Gamma():
            return stats.gamma(a=dist.shape, scale=dist.scale)
        case d.Uniform():
            return stats.uniform(loc=dist.low, scale=dist.high - dist.low)
        case d.Geometric():
            return stats.geom(1.0 / dist.mean_)
        case d.Poisson():
            return stats.poisson(dist.mean_)
        case d.Empirical():
            return stats.rv_discrete(values=(dist.values, dist._p()))
    raise TypeError(f"no scipy equivalent for {dist!r}")
