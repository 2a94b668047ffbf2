"""`chohyo bench startup`: how long one `chohyo` process takes, against a plain ReportLab script in the same run.

In: the number of runs (best of, wall clock, each in a fresh process) and the warm-render count. Out: a
`StartupReport` with, each in seconds:

- ``python -c pass`` — the interpreter alone;
- the canvas script (the baseline): a fresh Python that imports ReportLab, registers the three vendored fonts
  with ReportLab's own `TTFont` and draws the sample 住民票's printed text line by line (as pypdf extracts it
  from one render) — what a hand-written ReportLab program printing about the same strings with the same
  fonts spends, with nothing cached;
- ``chohyo --help``;
- ``chohyo render juminhyo-setai <sample>`` cold: a fresh process, the machine's caches filled (fonts,
  validated layouts: `renderer.fontcache`, `renderer.spec.cache`) and the state directory's database in place —
  a clerk's or a script's every render after the first;
- the same in a new state directory: the process also creates the database (running its migrations);
- the same with an empty cache directory and a new state directory — the very first render on a machine;
- a warm render: the median of renders in one process after three warm-up renders (the service's case).

Ratios are against the canvas script. Whether the renderer's modules had compiled bytecode is reported (an
installed wheel has it; a checkout run with ``PYTHONDONTWRITEBYTECODE=1`` compiles every module every time —
run ``python -m compileall renderer`` first to measure what an installation sees). Never asserted.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from renderer.settings import PROJECT_ROOT, Settings

#: targets from the issues, printed beside the figures (never asserted)
TARGET_COLD_S = 0.8
TARGET_COLD_S_16 = 1.5
TARGET_WARM_MS = 30.0

_CANVAS_SCRIPT = """
import importlib, json, sys
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
Canvas = importlib.import_module("reportlab.pdfgen.canvas").Canvas   # (only renderer.draw imports it in code)
spec = json.load(open(sys.argv[1], encoding="utf-8"))
for family, path in spec["fonts"].items():
    pdfmetrics.registerFont(TTFont(family, path))
c = Canvas(sys.argv[2], pagesize=spec["size"], initialFontName=spec["initial"], invariant=1, pageCompression=1)
for font, size, x, y, text in spec["runs"]:
    c.setFont(font, size)
    c.drawString(x, y, text)
c.showPage()
c.save()
"""


@dataclass(frozen=True)
class StartupReport:
    python: float
    canvas_script: float
    help: float
    cold_render: float
    new_state_render: float
    first_render: float
    warm_render_ms: float
    bytecode: bool
    runs: int


def _best(runs: int, make: Callable[[int], list[str]], env: dict[str, str]) -> float:
    times = []
    for n in range(runs):
        args = make(n)
        start = time.perf_counter()
        done = subprocess.run(args, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:4])}… exited {done.returncode}: {done.stderr[-400:]}")
    return min(times)


def _chohyo() -> list[str]:
    script = Path(sys.executable).with_name("chohyo")
    return [str(script)] if script.exists() else [sys.executable, "-m", "renderer"]


def _canvas_spec(settings: Settings, sample: Path, out: Path) -> None:
    """The sample's printed text (pypdf's extraction of one render, line by line, variation selectors left
    out), every vendored font and the page size, for the canvas script: the same fonts parsed, about the same
    strings drawn."""
    import io

    from pypdf import PdfReader

    from renderer.api import Renderer
    from renderer.fonts import VARIATION_SELECTORS

    renderer = Renderer(settings)
    result = renderer.render(json.loads(sample.read_text(encoding="utf-8")), layout_id="juminhyo-setai",
                             with_display=False)
    page = PdfReader(io.BytesIO(result.pdf)).pages[0]
    lines = [line for line in page.extract_text().splitlines() if line.strip()]
    height = float(page.mediabox.height)
    runs = [("IPAmjMincho", 9.0, 40.0, height - 40.0 - 11.0 * (i % 70), "".join(
        ch for ch in line if ord(ch) not in VARIATION_SELECTORS)) for i, line in enumerate(lines)]
    out.write_text(json.dumps({"fonts": {f: str(file.path) for f, file in renderer.fonts.files.items()},
                               "size": [float(page.mediabox.width), height], "initial": "IPAexMincho",
                               "runs": runs}, ensure_ascii=False), encoding="utf-8")


def _warm_ms(settings: Settings, sample: Path, renders: int) -> float:
    from renderer.api import Renderer

    renderer = Renderer(settings)
    raw = json.loads(sample.read_text(encoding="utf-8"))
    for _ in range(3):
        renderer.render(raw, layout_id="juminhyo-setai", with_display=False)
    times = []
    for _ in range(renders):
        start = time.perf_counter()
        renderer.render(raw, layout_id="juminhyo-setai", with_display=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def bytecode_is_fresh(package: Path | None = None) -> bool:
    """Every module of `package` (default: the renderer) has bytecode at least as new as its source (a checkout
    run with ``PYTHONDONTWRITEBYTECODE=1`` after an edit has stale files, compiled again on every start)."""
    if package is None:
        spec = importlib.util.find_spec("renderer")
        if spec is None or spec.origin is None:
            return False
        package = Path(spec.origin).parent
    for source in package.rglob("*.py"):
        cached = Path(importlib.util.cache_from_source(str(source)))
        if not cached.is_file() or cached.stat().st_mtime < source.stat().st_mtime:
            return False
    return True


def run_startup_bench(runs: int = 5, warm_renders: int = 20) -> StartupReport:
    base = Settings.from_env()
    sample = base.layouts_dir / "samples" / "juminhyo-setai.json"
    env = dict(os.environ)
    bytecode = bytecode_is_fresh()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)

        def state(n: int, kind: str) -> str:
            path = tmp / f"{kind}-state-{n}"
            path.mkdir(mode=0o700)
            return str(path)

        settings = Settings(layouts_dir=base.layouts_dir, fonts_dir=base.fonts_dir, state_dir=Path(state(0, "spec")))
        _canvas_spec(settings, sample, tmp / "canvas.json")
        python = _best(runs, lambda n: [sys.executable, "-c", "pass"], env)
        canvas = _best(runs, lambda n: [sys.executable, "-c", _CANVAS_SCRIPT, str(tmp / "canvas.json"),
                                        str(tmp / f"canvas-{n}.pdf")], env)
        help_s = _best(runs, lambda n: [*_chohyo(), "--help"], env)

        def render(kind: str) -> Callable[[int], list[str]]:
            return lambda n: [*_chohyo(), "render", "juminhyo-setai", str(sample), "-o", str(tmp / f"{kind}-{n}.pdf"),
                              "--state-dir", state(n, kind)]

        _best(1, render("fill"), env)   # the machine's caches hold the fonts and the layout from here on
        fill_state = str(tmp / "fill-state-0")   # made by the fill run: its database is in place
        cold = _best(runs, lambda n: [*_chohyo(), "render", "juminhyo-setai", str(sample), "-o",
                                      str(tmp / f"cold-{n}.pdf"), "--state-dir", fill_state], env)
        new_state = _best(runs, render("new-state"), env)
        first_times = []
        first = render("first")
        for n in range(runs):   # each with an empty cache directory of its own
            empty = tmp / f"cache-{n}"
            empty.mkdir(mode=0o700)
            only: Callable[[int], list[str]] = functools.partial(lambda k, _: first(k), n)
            first_times.append(_best(1, only, env | {"CHOHYO_CACHE_DIR": str(empty)}))
        warm = _warm_ms(Settings(layouts_dir=base.layouts_dir, fonts_dir=base.fonts_dir,
                                 state_dir=Path(state(0, "warm"))), sample, warm_renders)
    return StartupReport(python=python, canvas_script=canvas, help=help_s, cold_render=cold,
                         new_state_render=new_state, first_render=min(first_times), warm_render_ms=warm,
                         bytecode=bytecode, runs=runs)
