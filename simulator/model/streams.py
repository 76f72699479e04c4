"""Random streams: one root seed, a spawned child per replication, a named stream per mechanism.

Named sub-streams keep mechanisms from sharing draws, so every tracking plan of a scenario sees
the same visitors (common random numbers) and changing one mechanism's settings perturbs the
others as little as possible. Variates are drawn from numpy in blocks and handed out one by one
as Python floats, which is what the per-event simulation loop needs.
"""

from __future__ import annotations

import numpy as np

from simulator.config.distributions import Distribution

MECHANISMS = (
    "arrivals",
    "population",
    "behaviour",
    "blocking",
    "script",
    "network",
    "unload",
    "server",
    "outages",
    "bots",
    "offsite",
    "connection",
)
BLOCK = 4096


def replication_seeds(root: int, replications: int) -> list[np.random.SeedSequence]:
    """Spawn one independent seed sequence per replication from the root seed.

    Parameters
    ----------
    root : int
        The run's root seed (recorded in every result).
    replications : int
        How many children to spawn.

    Returns
    -------
    list of numpy.random.SeedSequence
        Child ``i`` depends only on ``root`` and ``i``, never on worker ids or order.
    """
    return np.random.SeedSequence(root).spawn(replications)


class Streams:
    """Named generators for one replication (or one shard of it).

    Parameters
    ----------
    seed : numpy.random.SeedSequence
        The replication's (or shard's) seed sequence.
    """

    def __init__(self, seed: np.random.SeedSequence) -> None:
        self.seed = np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key)
        # Spawned from the copy: spawning counts its children, so spawning from ``seed`` itself
        # would give a second replication run on the same seed object other streams.
        children = self.seed.spawn(len(MECHANISMS))
        self._rngs = {
            name: np.random.default_rng(c) for name, c in zip(MECHANISMS, children, strict=True)
        }

    def variant(self, k: int) -> Streams:
        """Streams of the ``k``-th plan with its own client settings (``k >= 1``).

        Independent of these streams and of the replication's spawned children, so adding such
        a plan leaves every other plan's draws as they were.
        """
        key = (*self.seed.spawn_key, 1_000_000 + k)
        return Streams(np.random.SeedSequence(self.seed.entropy, spawn_key=key))

    def rng(self, mechanism: str) -> np.random.Generator:
        """Generator of one mechanism (see :data:`MECHANISMS`)."""
        return self._rngs[mechanism]


class Draws:
    """Variates of one distribution, drawn in numpy blocks and handed out one at a time.

    On hot paths, ``d.buffer.pop() if d.buffer else d()`` takes the next variate without a
    method call; it yields exactly the same sequence as calling ``d()``.

    Parameters
    ----------
    dist : Distribution
        What to draw.
    rng : numpy.random.Generator
        Where to draw it from.
    block : int
        Variates drawn per numpy call.
    """

    __slots__ = ("_dist", "_rng", "_block", "buffer")

    def __init__(self, dist: Distribution, rng: np.random.Generator, block: int = BLOCK) -> None:
        self._dist, self._rng, self._block = dist, rng, block
        self.buffer: list[float] = []

    def __call__(self) -> float:
        """Return the next variate."""
        buf = self.buffer
        if not buf:
            buf.extend(self._dist.sample(self._rng, self._block).tolist())
        return buf.pop()


class Uniforms:
    """Standard uniforms on [0, 1), drawn in blocks (same ``buffer`` idiom as :class:`Draws`)."""

    __slots__ = ("_rng", "_block", "buffer")

    def __init__(self, rng: np.random.Generator, block: int = BLOCK) -> None:
        self._rng, self._block = rng, block
        self.buffer: list[float] = []

    def __call__(self) -> float:
        """Return the next uniform."""
        buf = self.buffer
        if not buf:
            buf.extend(self._rng.random(self._block).tolist())
        return buf.pop()
