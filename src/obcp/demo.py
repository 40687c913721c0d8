"""`make demo`: the server on the embedded SQLite metadb with a known admin password, and how to call it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

DEMO_PASSWORD = "obcp-demo-admin"
PORT = int(os.environ.get("OBCP_DEMO_PORT", "8080"))


def main() -> int:
    home = Path(os.environ.get("OBCP_HOME", "var/demo")).resolve()
    env = dict(os.environ, OBCP_HOME=str(home), OBCP_ADMIN_PASSWORD=DEMO_PASSWORD, OBCP_PORT=str(PORT))
    server = subprocess.Popen([sys.executable, "-m", "obcp", "server"], env=env)
    try:
        base = f"http://127.0.0.1:{PORT}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if server.poll() is not None:
                print(f"obcp demo: the server exited with code {server.returncode}", file=sys.stderr)
                return 1
            try:
                urllib.request.urlopen(f"{base}/api/v2/time", timeout=1).read()
                break
            except OSError:
                time.sleep(0.2)
        print(
            f"""
obcp is running at {base} (metadb: SQLite in {home}).
The admin user is 'admin' with the password '{DEMO_PASSWORD}' (demo only). Try:

  curl -s -u admin:{DEMO_PASSWORD} {base}/api/v2/iam/current/user
  curl -s -u admin:{DEMO_PASSWORD} '{base}/api/v2/ob/clusters?page=1&size=10'
  curl -s {base}/api/v2/time
  open {base}/api/v2/docs            (the API, browsable)

Press Ctrl-C to stop.""",
            flush=True,
        )
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
