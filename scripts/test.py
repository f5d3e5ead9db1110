"""Run the whole test suite: installs what is needed into .venv, then pytest on 2 processes.

Without DATABASE_URL/REDIS_URL every test process starts its own embedded PostgreSQL and Valkey."""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scripts.bootstrap import ROOT, in_venv  # noqa: E402

in_venv(__file__)

if __name__ == "__main__":
    os.chdir(ROOT)
    args = sys.argv[1:] or ["-n", "2", "-q"]
    os.execv(sys.executable, [sys.executable, "-m", "pytest", *args])
