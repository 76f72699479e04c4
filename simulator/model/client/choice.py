"""Which settler a scenario's browser copies go through.

* :class:`~simulator.model.client.arrays.OneRequestClient`: one ``xhr``/``fetch`` request per
  event, on arrays;
* :class:`~simulator.model.client.looped.LoopedClient`: every other library (batches, or a
  ``fetch_keepalive`` or ``beacon`` transport), page by page in compiled code, where the
  package was built with it;
* :class:`~simulator.model.client.keepalive_arrays.KeepaliveClient` (one request per event)
  and :class:`~simulator.model.client.batch_arrays.BatchClient` (batches): the same on arrays,
  where it was not;
* :class:`~simulator.model.client.paged.PagedClient`: page by page, the reference the others
  are tested against (and the exact path they settle again the few pages they cannot race).
"""

from __future__ import annotations

from simulator.config.scenario import Scenario
from simulator.model.client.arrays import OneRequestClient
from simulator.model.client.batch_arrays import BatchClient
from simulator.model.client.keepalive_arrays import KeepaliveClient
from simulator.model.client.looped import LoopedClient, available
from simulator.model.client.paged import PagedClient
from simulator.model.client.settler import on_arrays


def settler_kind(
    scenario: Scenario, paged: bool = False
) -> type[OneRequestClient | KeepaliveClient | BatchClient | LoopedClient | PagedClient]:
    """The settler class for ``scenario``'s client library.

    Parameters
    ----------
    scenario : Scenario
        Gives the client settings.
    paged : bool
        Settle page by page even where arrays would do (the reference, for tests).

    Returns
    -------
    type
        A class implementing :class:`~simulator.model.client.settler.Settler`.
    """
    if paged:
        return PagedClient
    if on_arrays(scenario):
        return OneRequestClient
    if available():
        return LoopedClient
    if scenario.client.batch_size == 1:
        return KeepaliveClient
    return BatchClient
