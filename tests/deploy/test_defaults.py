"""No insecure default (issue #12 item 10; docs/architecture.md "Configuration").

DEBUG unset is production and start-up refuses without SECRET_KEY; ``dev.py run`` writes its
own development values to a git-ignored .env; the test settings need no .env.
"""

import importlib.util
import subprocess

from .conftest import ROOT, clean_env, manage

STRONG_KEY = "k" * 20 + "0123456789abcdefghijklmnopqrstuvwxyz"


def _load_dev_module():
    spec = importlib.util.spec_from_file_location("dev_script", ROOT / "dev.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_start_up_refuses_without_secret_key(no_dotenv):
    result = manage("check", env=clean_env(ENV_FILE=no_dotenv))
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_debug_unset_runs_as_production(no_dotenv):
    env = clean_env(
        ENV_FILE=no_dotenv,
        SECRET_KEY=STRONG_KEY,
        ALLOWED_HOSTS="studio.test",
        EMAIL_URL="smtp+tls://user:secret@smtp.example.com:587",
    )
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.DEBUG, "
        "settings.SESSION_COOKIE_SECURE, settings.SECURE_SSL_REDIRECT)",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == ["False", "True", "True"]


def test_production_refuses_a_weak_key_and_missing_hosts(no_dotenv):
    weak = manage("check", env=clean_env(ENV_FILE=no_dotenv, SECRET_KEY="short"))
    assert weak.returncode != 0
    assert "SECRET_KEY is too weak" in weak.stderr
    hosts = manage("check", env=clean_env(ENV_FILE=no_dotenv, SECRET_KEY=STRONG_KEY))
    assert hosts.returncode != 0
    assert "ALLOWED_HOSTS is not set" in hosts.stderr


def test_production_without_a_mail_server_sends_nothing_and_says_so(no_dotenv):
    """Invitations and password resets went to the journal: without EMAIL_URL production
    now sends no mail at all (each send fails like an unreachable server) and
    ``check --deploy`` warns; the settings still load, so a build can collect static files
    without the production secrets."""
    env = clean_env(ENV_FILE=no_dotenv, SECRET_KEY=STRONG_KEY, ALLOWED_HOSTS="studio.test")
    send = (
        "from smtplib import SMTPException; from django.core.mail import send_mail\n"
        "try:\n    send_mail('s', 'link', None, ['a@example.com'])\n"
        "except SMTPException as error:\n    print('refused:', error)\n"
    )
    deploy = ("check", "--deploy", "--tag", "seedance", "--fail-level", "WARNING")
    for unset in ({}, {"EMAIL_URL": ""}, {"EMAIL_URL": "  "}):
        result = manage("shell", "-c", send, env={**env, **unset})
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[-1].startswith("refused: EMAIL_URL is not set")
        assert "link" not in result.stdout  # nothing written to the log either
        warned = manage(*deploy, env={**env, **unset})
        assert warned.returncode != 0
        assert "seedance.W002" in warned.stderr + warned.stdout
    # The console is allowed when asked for, and development needs nothing.
    console = manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.EMAIL_BACKEND)",
        env={**env, "EMAIL_URL": "consolemail://"},
    )
    assert console.returncode == 0, console.stderr
    assert console.stdout.splitlines()[-1] == "django.core.mail.backends.console.EmailBackend"
    configured = manage(*deploy, env={**env, "EMAIL_URL": "consolemail://"})
    assert "seedance.W002" not in configured.stderr + configured.stdout
    development = manage("check", env={**env, "DEBUG": "true"})
    assert development.returncode == 0, development.stderr


def test_dev_run_writes_development_values_that_manage_py_reads(tmp_path, monkeypatch):
    dev = _load_dev_module()
    dotenv = tmp_path / ".env"
    dotenv.write_text("# copied from .env.example\nSECRET_KEY=\nPROVIDER_DEFAULT=apixo\n")
    monkeypatch.setattr(dev, "DOTENV", dotenv)
    for name in ("DEBUG", "SECRET_KEY", "EMAIL_URL"):
        monkeypatch.delenv(name, raising=False)

    dev.ensure_dev_env()
    first = dotenv.read_text()
    dev.ensure_dev_env()  # a second run keeps the key: log-ins survive restarts

    assert dotenv.read_text() == first
    values = dict(
        line.split("=", 1) for line in first.splitlines() if "=" in line and line[0] != "#"
    )
    assert values["DEBUG"] == "true"
    assert len(values["SECRET_KEY"]) >= 50
    assert values["EMAIL_URL"] == "consolemail://"
    assert values["PROVIDER_DEFAULT"] == "apixo"  # the developer's own lines stay
    assert first.count("SECRET_KEY=") == 1
    result = manage("check", env=clean_env(ENV_FILE=str(dotenv)))
    assert result.returncode == 0, result.stderr


def test_dev_run_keeps_values_already_set(tmp_path, monkeypatch):
    dev = _load_dev_module()
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"DEBUG=false\nSECRET_KEY={STRONG_KEY}\n")
    monkeypatch.setattr(dev, "DOTENV", dotenv)
    monkeypatch.delenv("EMAIL_URL", raising=False)

    dev.ensure_dev_env()

    # Only what was missing is added: the console mail backend, explicitly.
    assert dotenv.read_text() == (
        f"DEBUG=false\nSECRET_KEY={STRONG_KEY}\n{dev.DEV_VALUES_HEADER}\nEMAIL_URL=consolemail://\n"
    )
    result = manage("check", env=clean_env(ENV_FILE=str(dotenv), ALLOWED_HOSTS="studio.test"))
    assert result.returncode == 0, result.stderr


def test_dotenv_is_git_ignored():
    result = subprocess.run(
        ["git", "check-ignore", "--quiet", ".env"], cwd=ROOT, capture_output=True
    )
    assert result.returncode == 0, ".env must be listed in .gitignore"


def test_test_settings_need_no_dotenv(no_dotenv, tmp_path):
    env = clean_env(
        DJANGO_SETTINGS_MODULE="seedance_site.test_settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    result = manage(
        "shell", "-c", "from django.conf import settings; print(settings.DEBUG)", env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "True"


def test_deploy_check_warns_when_production_runs_on_the_simulator(no_dotenv):
    env = clean_env(
        ENV_FILE=no_dotenv,
        SECRET_KEY=STRONG_KEY,
        ALLOWED_HOSTS="studio.test",
        EMAIL_URL="consolemail://",
    )
    check = ("check", "--deploy", "--tag", "seedance", "--fail-level", "WARNING")
    warned = manage(*check, env=env)
    assert warned.returncode != 0
    assert "seedance.W001" in warned.stderr + warned.stdout
    meant = manage(*check, env={**env, "SIMULATOR_IN_PRODUCTION": "true"})
    assert meant.returncode == 0, meant.stderr
    keyed = manage(*check, env={**env, "APIXO_API_KEY": "a-real-key"})
    assert keyed.returncode == 0, keyed.stderr
