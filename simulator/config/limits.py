"""The largest values a scenario may state, and what a name may contain.

Every number in a scenario is finite and bounded, so that what validates also simulates: the
engine draws Poisson counts (numpy refuses a mean above about 9e18), sums amounts in float64,
raises backoff factors to the number of attempts, and steps through the horizon day by day.
Each bound below is far beyond what a real site needs and well inside what the engine can
compute; the comment beside each says why it was chosen.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

MAX_HOURS = 24.0 * 366
"""Longest horizon, drain or window: a leap year, longer than any reporting period."""

MAX_SECONDS = MAX_HOURS * 3600.0
"""The same year in seconds: the longest delay, latency or interval worth simulating."""

MAX_USERS = 10**9
"""A billion visitors over the horizon: at the rate in the README's "Speed" section that is
already hours per replication. Arrival and bot counts are drawn from Poisson laws whose mean
must stay far below numpy's limit of about 9e18 (``users = 10**30`` failed there)."""

MAX_AMOUNT = 1e9
"""Largest parameter of a distribution (a median, mean, scale or value): a billion seconds is
31 years, a billion of a currency per order is beyond any shop. Sums over a billion visitors
then stay far inside float64."""

MAX_SIGMA = 5.0
"""Largest log-normal sigma: the 97.5th percentile is then e^9.8, about 18,000 times the median
(measured latencies and dwell times have sigma near 1). The mean is ``median * exp(sigma**2 / 2)``,
which overflows float64 from sigma 38 on; 5 keeps sums over a billion draws finite."""

MAX_PAGES_PER_VISIT = 1_000.0
"""Largest mean of a pages-per-visit distribution. The engine holds every page of a block of
visits in memory, so a mean near 2**63 cannot even be allocated."""

MIN_TICK_SECONDS = 0.001
"""Shortest flush interval of a tracking library (browser or server) and upload time of a server
library: a millisecond, far below any library's setting (0.5 s in analytics-python, 5 s in
PostHog's). The engine replays the server queues on the flush interval's grid of ticks, whose
index over a year must stay a 64-bit integer (a flush interval of ``1e-300`` overflowed it), and
a browser timer that far below the clock's resolution never moved simulated time on (a run with
``client.flush_interval_seconds = 1e-300`` never ended)."""

MAX_RATE = 1_000.0
"""Largest number of events per page or per active user: a thousand is a busy single-page app."""

MAX_PER_DAY = 1_440.0
"""Largest number of deploys or outages a day: one a minute."""

MAX_ATTEMPTS = 100
"""Most attempts or retries of one request. With :data:`MAX_BACKOFF_FACTOR` the delay formula
``factor ** attempts`` stays finite (10**100), and real libraries stop after about ten."""

MAX_BACKOFF_FACTOR = 10.0
"""Largest growth of the delay between retries (libraries use 1.5 to 2)."""

MAX_BOT_SHARE = 0.99
"""Largest share of visits made by bots: 99 bot visits for each human. Bot arrivals are drawn
with mean ``share / (1 - share)`` times the human visits, which diverges as the share nears 1."""

MAX_COUNT = 10**9
"""Largest queue, batch or byte count: a billion is far beyond any library's setting."""

MAX_SEED = 2**63 - 1
"""Largest seed: the largest integer a TOML file can hold, so a printed scenario reads back."""

MAX_FILE_BYTES = 1 << 20
"""Largest scenario file read: 1 MiB. The shipped scenarios are under 30 kB; a cap makes
``extends = "/dev/zero"`` end at once instead of reading without limit."""

MAX_DEPTH = 32
"""Deepest nesting of tables and arrays in a scenario: the schema nests about six levels, and
validation walks the data recursively, so a file nested 1,500 deep is refused first."""

NAME_PATTERN = r"^[A-Za-z0-9_.-]+$"
"""Characters a name may contain: letters, digits, ``_``, ``.`` and ``-``. Names become keys of
records, columns of tables and labels of plots; outputs escape what they print all the same."""

MAX_NAME_LENGTH = 64
"""Longest name: it has to fit a table column and a plot legend."""

Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH, pattern=NAME_PATTERN)]
"""A scenario, segment, event, plan or KPI name."""

__all__ = [
    "MAX_AMOUNT",
    "MAX_ATTEMPTS",
    "MAX_BACKOFF_FACTOR",
    "MAX_BOT_SHARE",
    "MAX_COUNT",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_HOURS",
    "MAX_NAME_LENGTH",
    "MAX_PAGES_PER_VISIT",
    "MAX_PER_DAY",
    "MAX_RATE",
    "MAX_SECONDS",
    "MAX_SEED",
    "MAX_SIGMA",
    "MAX_USERS",
    "MIN_TICK_SECONDS",
    "NAME_PATTERN",
    "Name",
]
