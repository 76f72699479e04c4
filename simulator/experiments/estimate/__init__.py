"""Estimating a site's own loss from its own logs of received copies (``trackloss estimate``)."""
