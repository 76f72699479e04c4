"""Unload survival curves: share of events delivered against the time left before the unload.

Both functions draw the output of :func:`simulator.experiments.unload_survival.unload_survival`: one
line per transport (colour and marker) and, when several devices share an Axes, one line style per
device, each with its 95% Wilson band.
"""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from simulator.outputs.formatting import percent
from simulator.outputs.plots.records import RecordError, select
from simulator.outputs.plots.style import (
    LINESTYLES,
    new_axes,
    percent_axis,
    plain,
    series_style,
    title,
)

TRANSPORT_LABELS = {
    "xhr": "xhr (cancelled if unwritten at teardown)",
    "fetch": "plain fetch (cancelled if unwritten at teardown)",
    "fetch_keepalive": "fetch keepalive",
    "beacon": "sendBeacon",
}


CONNECTION_WORDS = {
    "scenario": "connection as mid-visit; ",
    "cold": "cold connection on every page; ",
    "warm": "warm connection on every page; ",
}
"""How the title names the pages' collector connection (see ``unload_survival``)."""


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
        dash = style["linestyle"]
        for j, device in enumerate(devices):
            rows = sorted(
                (r for r in data["rows"] if r["transport"] == transport and r["device"] == device),
                key=lambda r: r["t"],
            )
            t = [r["t"] for r in rows]
            label = plain(TRANSPORT_LABELS.get(transport, transport))
            if len(devices) > 1:
                label += f", {plain(device)} (handler {percent(rows[0]['handler_p'], 0)})"
            ax.plot(
                t,
                [r["share"] for r in rows],
                color=style["color"],
                marker=style["marker"],
                markersize=4,
                linestyle=LINESTYLES[j % len(LINESTYLES)] if len(devices) > 1 else dash,
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
    seconds_axis(ax)
    ax.set_xlabel("seconds from the event to the unload (log scale)")
    ax.set_ylabel("events delivered (%)")
    percent_axis(ax)
    ax.set_ylim(min(0.0, ax.get_ylim()[0]), 1.02)
    ax.grid(linewidth=0.4, alpha=0.5)
    text = "Events fired just before a page unload"
    if len(devices) == 1:
        text += f": {plain(devices[0])}"
    title(ax, text)
    ax.legend(
        loc="lower right",
        fontsize="small",
        title="transport (bands: 95% CI)",
        title_fontsize="small",
    )
    return ax


def unload_survival_panels(data: dict, fig: Figure | None = None) -> Figure:
    """One panel per device (shared axes), one line per transport, with 95% bands.

    Devices with identical results share a panel titled with all their names.

    Parameters
    ----------
    data : dict
        Output of :func:`simulator.experiments.unload_survival.unload_survival`.
    fig : matplotlib.figure.Figure, optional
        Figure to draw on (cleared first); a new pyplot figure when omitted.

    Returns
    -------
    matplotlib.figure.Figure
        The figure, with one Axes per group of identical devices, titled with the devices and
        their handler probability.
    """
    panels = identical_devices(data)
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=panels_size(data), layout="constrained")
    else:
        fig.clear()
        fig.set_layout_engine("constrained")
    axes = fig.subplots(1, len(panels), sharex=True, sharey=True, squeeze=False)[0]
    for ax, devices in zip(axes, panels, strict=True):
        unload_survival_curves(data, ax, devices=[devices[0]])
        p = next(r["handler_p"] for r in data["rows"] if r["device"] == devices[0])
        names = " and ".join(plain(d) for d in devices)
        same = " (same results)" if len(devices) > 1 else ""
        ax.set_title(f"{names}{same}\n(page-hide handler runs {percent(p, 0)})", fontsize="medium")
        ax.set_xlabel("")
        if ax is not axes[0]:
            ax.set_ylabel("")
            ax.get_legend().remove()
    fig.supxlabel("seconds from the event to the unload (log scale)")
    store = "a retry store may resend on the next page" if data.get("next_page") else "no next page"
    connection = (
        CONNECTION_WORDS.get(data["rows"][0].get("connection", ""), "") if data["rows"] else ""
    )
    fig.suptitle(
        f"{plain(data.get('scenario', ''))}: '{plain(data.get('event', ''))}' events delivered\n"
        f"{data.get('pages', '?')} pages per point; {connection}{store}"
    )
    return fig


def identical_devices(data: dict) -> list[list[str]]:
    """Devices grouped where every point is the same (same handler, same deliveries).

    Two devices whose browsers run the page-hide handler equally often give identical curves;
    they share one panel, titled with both names, rather than look like a duplicate.

    Parameters
    ----------
    data : dict
        Output of :func:`simulator.experiments.unload_survival.unload_survival`.

    Returns
    -------
    list of list of str
        Groups of device names, in the data's order.
    """
    groups: dict[tuple, list[str]] = {}
    for device in _names(data, "device"):
        rows = [r for r in data["rows"] if r["device"] == device]
        key = tuple(
            sorted(
                (r["transport"], r["t"], r["handler_p"], r["delivered"], r["pages"]) for r in rows
            )
        )
        groups.setdefault(key, []).append(device)
    return list(groups.values())


def seconds_axis(ax: Axes) -> None:
    """A log-scale axis of seconds whose ticks read ``0.03 s``, ``0.1 s``, ``1 s``."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 3.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g} s"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def panels_size(data: dict) -> tuple[float, float]:
    """A figure size (inches) that fits :func:`unload_survival_panels` for ``data``."""
    return 3.8 * len(identical_devices(data)) + 0.6, 4.8
