"""The documentation builds and its pages render in a real browser (headless Chromium).

Builds the docs as ``./dev.sh docs`` does (warnings are errors, the examples run),
or uses an existing build when ``SSLTS_DOCS_BUILD`` names its HTML folder, then opens
the front page and a gallery page in headless Chromium.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
#: A gallery page whose example draws a figure.
GALLERY_PAGE = "auto_examples/detect_anomalies.html"
#: Each example must run in under this many seconds inside the build.
EXAMPLE_SECONDS = 60


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _browse(url: str, *flags: str) -> str:
    """The DOM of ``url`` after Chromium has loaded and rendered it."""
    command = [
        _chromium(), "--headless", "--disable-gpu", "--no-sandbox",
        "--virtual-time-budget=5000", *flags, "--dump-dom", url,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def _html() -> Path:
    """The HTML folder of a documentation build: the given one, or a new build."""
    if _chromium() is None:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium)")
    given = os.environ.get("SSLTS_DOCS_BUILD")
    if given:
        folder = Path(given).resolve()
        if not (folder / "index.html").is_file():
            pytest.fail(f"SSLTS_DOCS_BUILD={given} holds no index.html")
        return folder
    if importlib.util.find_spec("sphinx") is None:
        pytest.skip("Sphinx is not installed (pip install -e '.[docs]')")
    out = REPO / "docs" / "_build" / "html"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
         str(REPO / "docs"), str(out)],
        capture_output=True, text=True, env=env, timeout=1800, check=False,
    )
    output = result.stdout + result.stderr
    problems = [line for line in output.splitlines() if "WARNING" in line or "ERROR" in line]
    assert result.returncode == 0, "\n".join(problems[:30]) or output[-5000:]
    return out


def test_docs_build_and_render(tmp_path):
    # One test, so that pytest-xdist never runs two builds into one folder at once.
    html = _html()
    assert (html / "index.html").is_file() and (html / GALLERY_PAGE).is_file()
    # each check below asserts what the reader must see on the rendered pages
    _check_front_page(html)
    _check_gallery_page(html, tmp_path)
    _check_example_times(html)


def _check_front_page(html: Path) -> None:
    dom = _browse((html / "index.html").as_uri())
    assert "sslts user guide" in dom
    assert "The canonical pipeline" in dom
    # the navigation reaches the guide, the gallery and the reference
    for target in ("getting_started.html", "auto_examples/index.html",
                   "generated/api.html", "generated/model_cards/index.html",
                   "generated/benchmarks/index.html"):
        assert f'href="{target}' in dom, target


def _check_gallery_page(html: Path, scratch: Path) -> None:
    page = html / GALLERY_PAGE
    dom = _browse(page.as_uri())
    assert "TSPulse" in dom
    sources = re.findall(r'<img[^>]+src="([^"]+sphx_glr_detect_anomalies_\d+\.png)"', dom)
    assert sources, "the example's figure is not on its page"
    image = (page.parent / sources[0]).resolve()
    assert image.is_file() and image.stat().st_size > 0, image
    # Chromium decodes the file as an image of a real size
    probe = scratch / "probe.html"
    probe.write_text(
        f'<img src="{image.as_uri()}" onload="document.title = '
        "'size ' + this.naturalWidth + 'x' + this.naturalHeight\">"
    )
    size = re.search(r"<title>size (\d+)x(\d+)</title>", _browse(probe.as_uri()))
    assert size and int(size.group(1)) > 100 and int(size.group(2)) > 100, size


def _check_example_times(html: Path) -> None:
    times = (html / "auto_examples" / "sg_execution_times.html").read_text()
    runs = re.findall(
        r"(\w+\.py)</span></code>\)</p></td>\s*<td><p>(\d+):(\d+\.\d+)</p>", times
    )
    assert runs, "no execution times in the gallery"
    slow = {name: 60 * int(m) + float(s) for name, m, s in runs
            if 60 * int(m) + float(s) >= EXAMPLE_SECONDS}
    assert not slow, f"examples slower than {EXAMPLE_SECONDS} s: {slow}"
