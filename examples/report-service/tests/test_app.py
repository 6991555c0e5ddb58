"""Host-side tests (they do not ship, so mse-lint does not check them)."""

import subprocess


def test_health():
    assert subprocess.run(["curl", "-sf", "http://localhost:5000/health"]).returncode == 0
