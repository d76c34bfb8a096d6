"""``morl report``: one self-contained HTML page comparing the fronts and curves of many runs.

:func:`write_report` is the entry point (the CLI and the benchmark call it); :mod:`morl.report.collect`
reads the run directories into a JSON payload and :mod:`morl.report.html` renders it with Plotly's
offline bundle and ``static/report.js`` inlined. See ``docs/report.md``.
"""

from morl.report.collect import collect, expand_run_dirs
from morl.report.html import MISSING_PLOTLY, render, write_report

__all__ = ["MISSING_PLOTLY", "collect", "expand_run_dirs", "render", "write_report"]
