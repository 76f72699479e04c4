"""Questions answered by running the model several times.

Recommend a path per event type, sweep a grid of settings, and measure how much of an event fired
just before an unload survives.
"""
