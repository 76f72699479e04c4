"""A real browser in the lab: how much of an event sent just before a page ends arrives.

The grid (:mod:`.cells`) is played in headless Chromium (:mod:`.browser`) against a local page
server and collector (:mod:`.servers`), with one-way latency added between the browser and the
collector (:mod:`.network`); :func:`.run.run_lab` writes one row per cell (:mod:`.results`).
"""
