"""Worker process entry: ``python -m renderer.goldendiff JOB.pickle RESULT.pickle`` (used by `worker.run_jobs`).

In: a pickled `DiffJob` written by the parent. Out: a pickled `DocDiff` (or `BadPdf`) in RESULT.pickle, exit 0.
"""

import sys

from renderer.goldendiff.worker import child_main

sys.exit(child_main(sys.argv[1:]))
