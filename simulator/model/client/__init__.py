"""The browser's client path: what happens to each page's events on their way to the collector.

Two settlers with one interface (:class:`~simulator.model.client.settler.Settler`): on arrays,
for libraries that send one request per event (:mod:`~simulator.model.client.arrays`), and page
by page for batching libraries and keepalive or beacon transports
(:mod:`~simulator.model.client.paged`, built on :mod:`~simulator.model.client.page`).
"""
