"""One replication: visitors, their visits and the copies of every event on each tracking path.

:mod:`~simulator.model.engine` drives a simpy environment window by window; the population, the
visits, routing, the browser's client path (:mod:`simulator.model.client`), the server queues,
collector outages and the counting all write into a :class:`~simulator.model.tally.Tally`.
"""
