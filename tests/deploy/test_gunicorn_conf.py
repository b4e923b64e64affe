"""gunicorn.conf.py's figures (docs/deploy.md "Web workers: recycling and downloads").

The file is read as gunicorn reads it (executed as a module), with the environment given.
"""

import re
import runpy

import pytest

from .conftest import ROOT

CONF = ROOT / "gunicorn.conf.py"
UNIT = ROOT / "deploy" / "systemd" / "seedance-web.service"


def load(monkeypatch, **environ) -> dict:
    for name in ("WEB_GRACEFUL_TIMEOUT", "WEB_MAX_REQUESTS", "WEB_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONF))


def test_a_recycled_worker_lets_a_download_finish(monkeypatch):
    conf = load(monkeypatch)
    # A streamed ZIP or video takes minutes; 30 s cut it whenever the worker recycled.
    assert conf["graceful_timeout"] >= 300
    assert conf["max_requests"] >= 10_000
    assert 0 < conf["max_requests_jitter"] <= conf["max_requests"] // 10


def test_the_figures_come_from_the_environment(monkeypatch):
    conf = load(monkeypatch, WEB_GRACEFUL_TIMEOUT="900", WEB_MAX_REQUESTS="50000")
    assert conf["graceful_timeout"] == 900
    assert conf["max_requests"] == 50_000
    assert conf["max_requests_jitter"] == 5_000


@pytest.mark.parametrize("value", ["0", "-5", "30s", "1.5"])
def test_a_bad_graceful_timeout_stops_start_up(monkeypatch, value):
    with pytest.raises(SystemExit, match="WEB_GRACEFUL_TIMEOUT"):
        load(monkeypatch, WEB_GRACEFUL_TIMEOUT=value)


def test_systemd_waits_longer_than_gunicorn(monkeypatch):
    conf = load(monkeypatch)
    stop = int(re.search(r"^TimeoutStopSec=(\d+)$", UNIT.read_text(), re.M).group(1))
    assert stop > conf["graceful_timeout"]
