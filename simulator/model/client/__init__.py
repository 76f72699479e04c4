"""The browser's client path: what happens to each page's events on their way to the collector.

Three settlers with one interface (:class:`~simulator.model.client.settler.Settler`), picked by
:mod:`~simulator.model.client.choice`: on arrays for libraries that send one request per event,
with ``xhr``/``fetch`` (:mod:`~simulator.model.client.arrays`) or with keepalive and beacon
transports (:mod:`~simulator.model.client.keepalive_arrays`), and page by page for batching
libraries (:mod:`~simulator.model.client.paged`, built on :mod:`~simulator.model.client.page`).
"""
