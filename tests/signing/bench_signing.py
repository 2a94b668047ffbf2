"""Time signing a golden 住民票 at each level against the loopback PKI (not a test: run it by hand).

In: ``--rounds N`` (default 4). Out: one line per level with each round's seconds (PKCS#12 key; the certomancer
responders run in this process, so their RSA work shares the machine with the signer, as a local TSA would).

    python3 tests/signing/bench_signing.py --rounds 4
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from signkit import GOLDEN, LoopbackPki

from renderer.signing.config import load_signing_config
from renderer.signing.sign import sign_pdf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        pki = LoopbackPki(Path(tmp) / "pki")
        signing = Path(tmp) / "signing"
        signing.mkdir(mode=0o700)
        pki.signing_config(signing / "122122.yaml")
        config = load_signing_config(signing, "122122")
        assert config is not None
        pdf = GOLDEN["juminhyo"].read_bytes()
        sign_pdf(pdf, config, "B-B")   # warm-up: imports, first connections
        try:
            for level in ("B-B", "B-T", "B-LT"):
                times = []
                for _ in range(args.rounds):
                    start = time.perf_counter()
                    sign_pdf(pdf, config, level)
                    times.append(time.perf_counter() - start)
                print(f"{level:5} " + " ".join(f"{t:.2f}" for t in times) + " s")
        finally:
            pki.stop()


if __name__ == "__main__":
    main()
