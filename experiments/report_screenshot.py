"""A PNG screenshot of a ``morl report`` page, taken in headless Chromium (the one in docs/benchmarks/).

    python experiments/report_screenshot.py RUN_DIR [RUN_DIR ...] --out docs/benchmarks/mujoco-300k/report.png

Writes the report to a temporary file (or ``--html``; not for committing: Plotly's bundle makes it ~5 MB), opens
it in Debian's Chromium (``apt-get install chromium chromium-driver``) through Selenium, sets the preference
slider of the first section to ``--weight``, hovers the first point of the first run and saves the whole page.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from morl.report import write_report  # noqa: E402

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
)  # fmt: skip
HOVER = """
const gd = document.getElementById('front-0');
const i = gd.data.findIndex(function (t) { return t.meta && t.meta.kind === 'entries' && t.x.length; });
if (i >= 0) Plotly.Fx.hover(gd, [{curveNumber: i, pointNumber: 0}]);
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="+")
    parser.add_argument("--out", required=True, help="PNG to write")
    parser.add_argument("--html", help="keep the report here (default: a temporary file, removed)")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--weight", type=float, default=0.7, help="first section's slider (2 objectives)")
    args = parser.parse_args(argv)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    png = Path(args.out)
    profile = tempfile.mkdtemp(prefix="morl-chromium-")
    page = Path(args.html) if args.html else Path(profile) / "report.html"
    for path, error in write_report(args.run_dirs, page).items():
        print(f"not reported: {path}: {error}", file=sys.stderr)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (*FLAGS, f"--window-size={args.width},1000", f"--user-data-dir={profile}/chromium"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(page.resolve().as_uri())
        deadline = time.time() + 120
        while driver.execute_script("return document.body.getAttribute('data-ready')") != "1":
            if time.time() > deadline:
                raise SystemExit("the report did not finish drawing in 120 s")
            time.sleep(0.2)
        driver.execute_script(
            "const s = document.getElementById('w-0-0'); if (s && document.getElementById('w-0-1') === null) "
            "{ s.value = String(arguments[0]); s.dispatchEvent(new Event('input')); }", args.weight)  # fmt: skip
        height = driver.execute_script("return document.documentElement.scrollHeight")
        metrics = {"width": args.width, "height": height, "deviceScaleFactor": 1, "mobile": False}
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)  # the whole page in one viewport
        time.sleep(1.0)  # the plots follow the new viewport
        driver.execute_script(HOVER)
        time.sleep(0.3)
        driver.save_screenshot(str(png))
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    print(f"wrote {png} ({args.width} x {height})" + (f" and {page}" if args.html else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
