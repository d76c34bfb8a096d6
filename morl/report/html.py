"""The report page: one self-contained HTML file (Plotly's offline bundle, the page's script and styles inlined).

The page needs no network access to open: every byte it uses is in the file. Its script
(``static/report.js``) draws the payload of :mod:`morl.report.collect`, which travels in the
page as a JSON block.
"""

from __future__ import annotations

import html
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

from morl import storage
from morl.report.collect import collect

MISSING_PLOTLY = 'morl report needs plotly, which is not installed: pip install "morl[report]"'
_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="morl {version}">
<title>{title}</title>
<style>
{css}
</style>
</head>
<body>
<noscript>This report draws its plots with JavaScript: enable it to see them.</noscript>
<div id="report"></div>
<script type="application/json" id="morl-data">{data}</script>
<script>
{plotly}
</script>
<script>
{script}
</script>
</body>
</html>
"""


def require_plotly() -> Any:
    """``plotly.offline``; a missing plotly raises ``ModuleNotFoundError`` naming the extra to install."""
    try:
        from plotly import offline
    except ImportError:
        raise ModuleNotFoundError(MISSING_PLOTLY) from None
    return offline


def _static(name: str) -> str:
    return resources.files("morl.report").joinpath("static", name).read_text(encoding="utf-8")


def _safe_in_script(text: str) -> str:
    """Text that cannot end the ``<script>`` element it is inlined in."""
    return text.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT")


def render(payload: dict[str, Any]) -> str:
    """The page for a payload of :func:`morl.report.collect.collect`."""
    from morl import __version__

    data = json.dumps(payload, allow_nan=False, separators=(",", ":"))
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")  # inert inside <script>
    return _TEMPLATE.format(
        version=html.escape(str(__version__)),
        title=html.escape(str(payload.get("title", "morl report"))),
        css=_static("report.css"),
        data=data,
        plotly=_safe_in_script(require_plotly().get_plotlyjs()),
        script=_safe_in_script(_static("report.js")),
    )


def write_report(run_dirs: list[str | os.PathLike], out_path: str | os.PathLike) -> dict[str, str]:
    """Write one self-contained HTML report of the runs (folders of runs are expanded) to ``out_path``.

    Runs still training are reported as they stand on disk. A directory that cannot be read (missing,
    corrupt, not a morl run) is listed on the page with its one-line reason and left out; the rest is
    written anyway, atomically.

    Returns:
        The directories that could not be reported, each mapped to its one-line reason ({} when all were).

    Raises:
        ModuleNotFoundError: plotly is not installed (the message names the ``report`` extra).
        ValueError: ``out_path`` is a directory.
    """
    require_plotly()  # fail before reading anything when plotly is missing
    out = Path(out_path)
    if out.is_dir():
        raise ValueError(f"report path {out} is a directory; give an HTML file to write, e.g. {out / 'report.html'}")
    payload, errors = collect(run_dirs)
    storage.atomic_write_bytes(out, render(payload).encode("utf-8"))
    return errors
