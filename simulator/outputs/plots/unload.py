"""Unload survival curves: share of events delivered against the time left before the unload.

Both functions draw the output of :func:`simulator.experiments.unload_survival.unload_survival`: one
line per transport (colour and marker) and, when several devices share an Axes, one line style per
device, each with its 95% Wilson band.
"""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from simulator.outputs.plots.records import RecordError, select
from simulator.outputs.plots.style import LINESTYLES, new_axes, percent_axis, series_style

TRANSPORT_LABELS = {
    "xhr": "xhr (cancelled by unload)",
    "fetch": "fetch (cancelled by unload)",
    "fetch_keepalive": "fetch keepalive",
    "beacon": "sendBeacon",
}


def _names(data: dict, key: str) -> list[str]:
    rows = data.get("rows") if isinstance(data, dict) else None
    if not rows:
        raise RecordError("not an unload survival result: no 'rows' (see unload_survival)")
    return list(dict.fromkeys(r[key] for r in rows))


def unload_survival_curves(
    data: dict,
    ax: Axes | None = None,
    *,
    transports: list[str] | None = None,
    devices: list[str] | None = None,
) -> Axes:
    """Share of events delivered vs seconds between the event and the page unload.

    Parameters
    ----------
    data : dict
        Output of :func:`simulator.experiments.unload_survival.unload_survival`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.
    transports, devices : list of str, optional
        Subsets to show (default: all in ``data``).

    Returns
    -------
    matplotlib.axes.Axes
        One line per (transport, device), labelled ``"transport, device"``, with a shaded
        95% interval band each.
    """
    all_transports = _names(data, "transport")
    transports = select(transports, all_transports, "transport")
    devices = select(devices, _names(data, "device"), "device")
    ax = new_axes(ax, (7.5, 4.5))
    for transport in transports:
        style = series_style(all_transports.index(transport))
        for j, device in enumerate(devices):
            rows = sorted(
                (r for r in data["rows"] if r["transport"] == transport and r["device"] == device),
                key=lambda r: r["t"],
            )
            t = [r["t"] for r in rows]
            label = TRANSPORT_LABELS.get(transport, transport)
            if len(devices) > 1:
                label += f", {device} (handler {rows[0]['handler_p']:.0%})"
            ax.plot(
                t,
                [r["share"] for r in rows],
                color=style["color"],
                marker=style["marker"],
                markersize=4,
                linestyle=LINESTYLES[j % len(LINESTYLES)],
                label=label,
            )
            ax.fill_between(
                t,
                [r["share_ci"][0] for r in rows],
                [r["share_ci"][1] for r in rows],
                color=style["color"],
                alpha=0.18,
                linewidth=0,
            )
    ax.set_xscale("log")
    ax.set_xlabel("seconds from the event to the unload (log scale)")
    ax.set_ylabel("events delivered (%)")
    percent_axis(ax)
    ax.set_ylim(min(0.0, ax.get_ylim()[0]), 1.02)
    ax.grid(linewidth=0.4, alpha=0.5)
    title = "Events fired just before a page unload"
    if len(devices) == 1:
        title += f": {devices[0]}"
    ax.set_title(title)
    ax.legend(
        loc="lower right",
        fontsize="small",
        title="transport (bands: 95% CI)",
        title_fontsize="small",
    )
    return ax


def unload_survival_panels(data: dict, fig: Figure | None = None) -> Figure:
    """One panel per device (shared axes), one line per transport, with 95% bands.

    Parameters
    ----------
    data : dict
        Output of :func:`simulator.experiments.unload_survival.unload_survival`.
    fig : matplotlib.figure.Figure, optional
        Figure to draw on (cleared first); a new pyplot figure when omitted.

    Returns
    -------
    matplotlib.figure.Figure
        The figure, with one Axes per device, titled with the device and its handler
        probability.
    """
    devices = _names(data, "device")
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=panels_size(data), layout="constrained")
    else:
        fig.clear()
        fig.set_layout_engine("constrained")
    axes = fig.subplots(1, len(devices), sharex=True, sharey=True, squeeze=False)[0]
    for ax, device in zip(axes, devices, strict=True):
        unload_survival_curves(data, ax, devices=[device])
        p = next(r["handler_p"] for r in data["rows"] if r["device"] == device)
        ax.set_title(f"{device}\n(page-hide handler runs {p:.0%})", fontsize="medium")
        ax.set_xlabel("")
        if ax is not axes[0]:
            ax.set_ylabel("")
            ax.get_legend().remove()
    fig.supxlabel("seconds from the event to the unload (log scale)")
    store = "a retry store may resend on the next page" if data.get("next_page") else "no next page"
    fig.suptitle(
        f"{data.get('scenario', '')}: '{data.get('event', '')}' events delivered\n"
        f"{data.get('pages', '?')} pages per point; {store}"
    )
    return fig


def panels_size(data: dict) -> tuple[float, float]:
    """A figure size (inches) that fits :func:`unload_survival_panels` for ``data``."""
    return 3.6 * len(_names(data, "device")) + 0.6, 4.8
