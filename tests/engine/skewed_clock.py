"""`python -m tests.engine.skewed_clock OFFSET ARGS…` runs the `obcp` command as if its host's clock were
OFFSET seconds off: `time.time` (hence every timestamp obcp takes itself) is shifted; the metadb's clock is
not. The clock-skew test runs a replica this way to prove that leases follow the metadb's clock."""

from __future__ import annotations

import sys
import time


def main() -> None:
    offset = float(sys.argv[1])
    real_time, real_time_ns = time.time, time.time_ns
    time.time = lambda: real_time() + offset
    time.time_ns = lambda: real_time_ns() + int(offset * 1e9)
    from obcp.cli.main import app

    app(sys.argv[2:], prog_name="obcp")


if __name__ == "__main__":
    main()
