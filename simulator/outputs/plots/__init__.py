"""Plots of result records: loss, bias, KPIs, sweeps, unload, comparisons, recommendations.

Every function takes result records (the dict of :func:`simulator.stats.summary.summarise`, or its
JSON read back) and an optional ``ax`` (or ``fig``), draws on it or on a new figure, and returns
the Axes or Figure; none calls ``plt.show()``. Axes carry units, every estimate its 95% interval,
and series differ by hatch, marker or line style as well as by (Okabe–Ito) colour, so the plots
read in grayscale and for colour-blind readers. The command line (``trackloss plot``, ``run
--plots``) and the notebooks call these same functions.
"""

from simulator.outputs.plots.bias import attribution_bias, composition_bias
from simulator.outputs.plots.comparison import (
    check_comparison,
    comparison_figure,
    comparison_kpis,
    comparison_loss,
)
from simulator.outputs.plots.dashboard import (
    FORMATS,
    dashboard,
    figure_bytes,
    standard_figures,
    write_standard_plots,
)
from simulator.outputs.plots.kpi import kpi_bias
from simulator.outputs.plots.loss import loss_by_event
from simulator.outputs.plots.recommendation import check_recommendation, recommendation_paths
from simulator.outputs.plots.records import (
    RecordError,
    category_error,
    default_focus,
    load_record,
    read_record,
    side_by_side,
)
from simulator.outputs.plots.sweep import sweep_curves
from simulator.outputs.plots.sweep_folder import (
    linked_parameters,
    load_sweep,
    swept_parameters,
    varying_parameters,
    x_parameter,
)
from simulator.outputs.plots.unload import unload_survival_curves, unload_survival_panels

__all__ = [
    "FORMATS",
    "RecordError",
    "attribution_bias",
    "category_error",
    "check_comparison",
    "check_recommendation",
    "comparison_figure",
    "comparison_kpis",
    "comparison_loss",
    "composition_bias",
    "dashboard",
    "figure_bytes",
    "standard_figures",
    "default_focus",
    "kpi_bias",
    "linked_parameters",
    "load_record",
    "load_sweep",
    "loss_by_event",
    "read_record",
    "recommendation_paths",
    "side_by_side",
    "sweep_curves",
    "swept_parameters",
    "unload_survival_curves",
    "unload_survival_panels",
    "varying_parameters",
    "write_standard_plots",
    "x_parameter",
]
