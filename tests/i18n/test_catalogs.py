"""The Russian catalogs are complete, compiled and in step with the code (docs/i18n.md "CI").

- no empty or fuzzy ``msgstr`` in ``locale/ru/LC_MESSAGES/*.po``;
- the committed ``.mo`` files say what their ``.po`` files say (``messages_update --compile``);
- ``makemessages``, run on a copy of the sources, finds no string the catalog lacks and
  none the code no longer has (needs GNU gettext's ``xgettext``; ``.ci/run`` installs it);
- Russian has three plural forms: 1 кредит, 2 кредита, 5 кредитов.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.utils import translation

from generations.i18n import credits_text
from generations.management.commands.messages_update import DOMAINS, catalog_paths

ROOT = Path(settings.BASE_DIR)
CATALOGS = catalog_paths()


def _entries(catalog) -> dict[tuple[str, str, str], object]:
    return {(e.msgctxt or "", e.msgid, e.msgid_plural or ""): e for e in catalog if not e.obsolete}


def test_there_is_a_russian_catalog_per_domain():
    assert [p.name for p in CATALOGS] == [f"{domain}.po" for domain in DOMAINS]
    assert all(p.exists() for p in CATALOGS)


@pytest.mark.parametrize("path", CATALOGS, ids=lambda p: p.name)
def test_no_empty_or_fuzzy_translation(path):
    catalog = polib.pofile(str(path))
    assert "nplurals=3;" in catalog.metadata["Plural-Forms"]
    problems = []
    for entry in catalog:
        if entry.obsolete:
            continue
        if "fuzzy" in entry.flags:
            problems.append(f"fuzzy: {entry.msgid!r}")
        if entry.msgid_plural:
            forms = entry.msgstr_plural
            if sorted(forms) != [0, 1, 2] or not all(forms.values()):
                problems.append(f"plural forms missing: {entry.msgid!r}")
        elif not entry.msgstr:
            problems.append(f"untranslated: {entry.msgid!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", CATALOGS, ids=lambda p: p.name)
def test_the_committed_mo_matches_its_po(path):
    source = polib.pofile(str(path))
    compiled = polib.mofile(str(path.with_suffix(".mo")))
    wanted = {
        key: (e.msgstr, dict(e.msgstr_plural)) for key, e in _entries(source).items() if key[1]
    }
    have = {
        key: (e.msgstr, {int(k): v for k, v in e.msgstr_plural.items()})
        for key, e in _entries(compiled).items()
        if key[1]
    }
    assert have == wanted, "run: python manage.py messages_update --compile"


@pytest.mark.skipif(
    shutil.which("xgettext") is None or shutil.which("msgmerge") is None,
    reason="needs GNU gettext (xgettext, msgmerge): apt-get install gettext (.ci/run does)",
)
def test_makemessages_finds_nothing_missing_from_the_catalogs(tmp_path):
    """Run makemessages on a copy of the sources and compare msgids with the committed ones."""
    copy = tmp_path / "src"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "vendor", "*.mp4", "*.webm", "*.mo")
    for name in ("generations", "seedance_site", "templates", "static", "locale"):
        shutil.copytree(ROOT / name, copy / name, ignore=skip)
    shutil.copy(ROOT / "manage.py", copy / "manage.py")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "seedance_site.test_settings"}
    code = (
        "from generations.management.commands.messages_update import messages_make; messages_make()"
    )
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=copy,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    report = []
    for path in CATALOGS:
        committed = set(_entries(polib.pofile(str(path))))
        fresh = set(_entries(polib.pofile(str(copy / path.relative_to(ROOT)))))
        report += [f"{path.name}: not in the catalog: {key[1]!r}" for key in fresh - committed]
        report += [f"{path.name}: no longer in the code: {key[1]!r}" for key in committed - fresh]
    assert not report, "run: python manage.py messages_update\n" + "\n".join(sorted(report))


@pytest.mark.parametrize(
    ("amount", "english", "russian"),
    [
        (1, "1 credit", "1 кредит"),
        (2, "2 credits", "2 кредита"),
        (5, "5 credits", "5 кредитов"),
        (11, "11 credits", "11 кредитов"),
        (21, "21 credits", "21 кредит"),
        (22, "22 credits", "22 кредита"),
        (20_000, "20,000 credits", "20\xa0000 кредитов"),
    ],
)
def test_credits_take_the_languages_plural_form(amount, english, russian):
    with translation.override("en"):
        assert credits_text(amount) == english
    with translation.override("ru"):
        assert credits_text(amount) == russian
