"""Start-up figures of the `chohyo` command (issue 16, item 6): run by hand, never asserted in a test.

    python3 tests/cli/startup.py [--runs 5]

Prints, best of ``--runs`` wall-clock runs each, in fresh processes: ``chohyo --help``; a cold single
render of the sample 住民票 (``chohyo render juminhyo-setai layouts/samples/juminhyo-setai.json -o …`` with a
new state directory each time); and the import time of `renderer.cli` and of the render command's module
(``python -X importtime``). The `chohyo` script next to this interpreter is used (not a pyenv shim, which
adds its own start-up).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "layouts" / "samples" / "juminhyo-setai.json"


def chohyo() -> list[str]:
    script = Path(sys.executable).with_name("chohyo")
    return [str(script)] if script.exists() else [sys.executable, "-m", "renderer"]


def best(runs: int, make_args: Callable[[], list[str]] | list[str]) -> float:
    times = []
    for _ in range(runs):
        args = make_args() if callable(make_args) else make_args
        start = time.perf_counter()
        subprocess.run(args, cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return min(times)


def import_time(module: str) -> float:
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], cwd=ROOT, check=True,
                          capture_output=True, text=True)
    pattern = re.compile(r"^import time:\s+\d+ \|\s+(\d+) \| " + re.escape(module) + r"$", re.M)
    found = pattern.search(done.stderr)
    return int(found.group(1)) / 1e6 if found else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description="start-up figures of chohyo")
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    base = chohyo()
    with tempfile.TemporaryDirectory() as tmp:
        counter = iter(range(10**6))

        def render_args() -> list[str]:
            n = next(counter)
            return [*base, "render", "juminhyo-setai", str(SAMPLE), "-o", f"{tmp}/x{n}.pdf", "--state-dir",
                    f"{tmp}/state{n}"]

        figures = {
            "python -c pass": best(runs, [sys.executable, "-c", "pass"]),
            "chohyo --help": best(runs, [*base, "--help"]),
            "chohyo render juminhyo-setai (cold, new state dir)": best(runs, render_args),
            "import renderer.cli (importtime)": import_time("renderer.cli"),
            "import renderer.cli.render (importtime)": import_time("renderer.cli.render"),
        }
    width = max(map(len, figures))
    for name, seconds in figures.items():
        sys.stdout.write(f"{name:<{width}}  {seconds:6.3f} s\n")


if __name__ == "__main__":
    main()
