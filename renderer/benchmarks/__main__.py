"""Entry point of the benchmarks' fresh processes (each size or worker count measured alone).

In: ``python -m renderer.benchmarks LAYOUT ROWS [HEADER.json ROWS.jsonl]`` (one list size, inline or
streamed from the two files, `renderer.benchmarks.lists`), ``python -m renderer.benchmarks write-rows LAYOUT
ROWS DIR`` (those two files for one size, written into DIR) or ``python -m renderer.benchmarks batch
INPUT.jsonl WORKERS PAGES_PER_FILE`` (one batch run, `renderer.benchmarks.batches`).
Out: one JSON object on stdout (the measurement's fields), read back by the parent process.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> None:
    if argv[0] == "batch":
        from renderer.benchmarks.batches import run_batch_once

        stats = run_batch_once(Path(argv[1]), int(argv[2]), int(argv[3]))
        payload = {**stats.__dict__, "processes": [p.__dict__ for p in stats.processes]}
        sys.stdout.write(json.dumps(payload) + "\n")
        return
    if argv[0] == "write-rows":
        from renderer.benchmarks.lists import write_stream_input

        write_stream_input(argv[1], int(argv[2]), Path(argv[3]))
        return
    from renderer.benchmarks.lists import run_list_once, run_stream_once

    run = run_stream_once(argv[0], int(argv[1]), Path(argv[2]), Path(argv[3])) if len(argv) == 4 \
        else run_list_once(argv[0], int(argv[1]))
    sys.stdout.write(json.dumps(run.__dict__) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
