#!/usr/bin/env python3
"""Set up and run Seedance Studio on a fresh machine with nothing but Python 3.11+.

    python3 dev.py run     # venv, install, migrate, demo users, then web + worker + simulator
    python3 dev.py test    # venv, install test tools, run the test suite (pytest args pass on)

``run`` starts the web server, a django-q2 cluster and, when no ``APIXO_API_KEY`` is set, the
provider simulator, and stops them together on Ctrl-C or when any of them exits. The portal's
settings default to production (``DEBUG`` off, no ``SECRET_KEY``, no mail), so ``run``
first writes the development values to ``.env`` (git-ignored) when they are missing there.
"""

import os
import secrets
import signal
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_venv(requirements: str) -> None:
    """Create ``.venv`` if needed and install ``requirements`` when they changed."""
    if not PYTHON.exists():
        print(f"Creating a virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".installed-{requirements}"
    wanted = (ROOT / requirements).read_text() + (ROOT / "requirements.txt").read_text()
    if stamp.exists() and stamp.read_text() == wanted:
        return
    print(f"Installing {requirements} ...", flush=True)
    subprocess.run(
        [
            PYTHON,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            ROOT / requirements,
        ],
        check=True,
    )
    stamp.write_text(wanted)


DOTENV = ROOT / ".env"
DEV_VALUES_HEADER = "# Written by `python3 dev.py run`: development values, never for production."


def ensure_dev_env() -> None:
    """Make ``.env`` hold ``DEBUG=true``, a generated ``SECRET_KEY`` and
    ``EMAIL_URL=consolemail://`` (mail to the console) unless already set.

    With ``DEBUG`` off and no ``EMAIL_URL`` the settings send no mail at all (docs/deploy.md
    "Environment"); a ``.env`` copied from ``.env.example`` says ``DEBUG=false``, so the
    console backend is written explicitly, as the development value it is.

    Values already in ``.env`` or in the real environment are kept; an empty ``SECRET_KEY=``
    line (as copied from ``.env.example``) is filled in. The key stays the same across runs so
    log-ins survive a restart.
    """
    lines = DOTENV.read_text().splitlines() if DOTENV.exists() else []
    values = {
        key.strip(): value.strip()
        for key, _, value in (line.partition("=") for line in lines if "=" in line)
        if not key.lstrip().startswith("#")
    }
    wanted = {
        "DEBUG": "true",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "EMAIL_URL": "consolemail://",
    }
    missing = {
        key: value
        for key, value in wanted.items()
        if not values.get(key) and not os.environ.get(key)
    }
    if not missing:
        return
    lines = [line for line in lines if line.partition("=")[0].strip() not in missing]
    if DEV_VALUES_HEADER not in lines:
        lines.append(DEV_VALUES_HEADER)
    lines += [f"{key}={value}" for key, value in missing.items()]
    DOTENV.write_text("\n".join(lines) + "\n")
    DOTENV.chmod(0o600)
    print(f"Wrote development {' and '.join(missing)} to {DOTENV}", flush=True)


def manage(*args: str) -> None:
    subprocess.run([PYTHON, ROOT / "manage.py", *args], check=True, cwd=ROOT)


def run() -> int:
    """Prepare the database and demo users, then run the portal's processes together."""
    ensure_venv("requirements.txt")
    ensure_dev_env()
    manage("migrate", "--no-input", "-v", "0")
    manage("seed_demo")
    host = os.environ.get("PORTAL_ADDRESS", "127.0.0.1:8000")
    commands = {
        "web": [PYTHON, "manage.py", "runserver", host, "--noreload"],
        "worker": [PYTHON, "manage.py", "qcluster"],
    }
    if not os.environ.get("APIXO_API_KEY"):
        port = os.environ.get("SIMULATOR_PORT", "8765")
        commands["simulator"] = [PYTHON, "-m", "generations.simulator", "--port", port]
    print(f"\nSeedance Studio: http://{host}/  (Ctrl-C stops everything)\n", flush=True)
    processes = {name: subprocess.Popen(cmd, cwd=ROOT) for name, cmd in commands.items()}
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    code = 0
    try:
        while all(p.poll() is None for p in processes.values()):
            time.sleep(0.5)
        name, process = next((n, p) for n, p in processes.items() if p.poll() is not None)
        print(f"{name} exited with code {process.returncode}; stopping the others.", flush=True)
        code = process.returncode or 1
    except KeyboardInterrupt:
        print("\nStopping ...", flush=True)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
    return code


def test(args: list[str]) -> int:
    """Install the test tools and run pytest with ``args``."""
    ensure_venv("requirements-dev.txt")
    return subprocess.run([PYTHON, "-m", "pytest", *args], cwd=ROOT).returncode


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in {"run", "test"}:
        print(__doc__)
        return 2
    return run() if sys.argv[1] == "run" else test(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
