"""The browser's client path: what happens to each page's events on their way to the collector.

Settlers with one interface (:class:`~simulator.model.client.settler.Settler`), picked by
:mod:`~simulator.model.client.choice`, all on arrays: for libraries that send one request per
event, with ``xhr``/``fetch`` (:mod:`~simulator.model.client.arrays`) or with keepalive and
beacon transports (:mod:`~simulator.model.client.keepalive_arrays`), and for batching libraries
(:mod:`~simulator.model.client.batch_arrays`). The page-by-page path
(:mod:`~simulator.model.client.paged`, built on :mod:`~simulator.model.client.page`) is the
reference they are tested against, and settles again, in sequence, the few pages they cannot
race (:mod:`~simulator.model.client.quota_replay`).
"""
