"""Make .venv with the project installed (again when pyproject.toml changes) and compile translations."""
import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"


def ensure_venv() -> None:
    stamp = VENV / ".installed"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return
    if not PYTHON.exists():
        print("Creating .venv ...", flush=True)
        venv.create(VENV, with_pip=True)
    print("Installing dependencies (first run takes a minute) ...", flush=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-e", f"{ROOT}[test]"], check=True)
    stamp.write_text(wanted)


def compile_translations() -> None:
    subprocess.run([str(VENV / "bin" / "pybabel"), "-q", "compile", "-d",
                    str(ROOT / "crm" / "translations")], check=True)


def in_venv(script: str) -> None:
    """Re-run `script` with the virtualenv's Python unless already there."""
    if Path(sys.prefix).resolve() != VENV.resolve():
        ensure_venv()
        compile_translations()
        os.execv(str(PYTHON), [str(PYTHON), script, *sys.argv[1:]])
