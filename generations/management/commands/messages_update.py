"""Update the translation catalogs: extract the strings, then compile them (docs/i18n.md).

    python manage.py messages_update            # makemessages (needs gettext), then compile
    python manage.py messages_update --compile  # compile only, pure Python (polib)

The compiled ``.mo`` files are committed, so running the portal or its tests needs nothing
but Python; ``tests/test_i18n_catalogs.py`` fails when a ``.mo`` no longer matches its
``.po`` or when ``makemessages`` would find a string the catalog lacks.
"""

from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext

# The catalogs' languages besides English (the language of the source strings).
LOCALES = ["ru"]
DOMAINS = ("django", "djangojs")
# What makemessages reads: the portal's code, templates and scripts, not the virtual
# environment, the tests, the benchmarks or collected/vendored files. No line numbers in
# the catalogs, so moving code does not rewrite them (and merges rarely conflict).
MAKEMESSAGES_OPTIONS = {
    "locale": LOCALES,
    "ignore_patterns": [
        ".venv",
        "tests",
        "benchmarks",
        "staticfiles",
        "media",
        "var",
        "static/vendor",
        "static/css",
    ],
    "no_location": True,
    "verbosity": 0,
}


def catalog_paths(locale_dir: Path | None = None) -> list[Path]:
    """Return every ``<locale_dir>/<lang>/LC_MESSAGES/<domain>.po`` (default: LOCALE_PATHS[0])."""
    root = Path(locale_dir or settings.LOCALE_PATHS[0])
    return [root / lang / "LC_MESSAGES" / f"{domain}.po" for lang in LOCALES for domain in DOMAINS]


def messages_make() -> None:
    """Run ``makemessages`` for each domain with the project's options (needs GNU gettext).

    Raises:
        CommandError: gettext's ``xgettext``/``msgmerge`` are not installed.
    """
    for domain in DOMAINS:
        call_command("makemessages", domain=domain, **MAKEMESSAGES_OPTIONS)


def messages_compile(po_paths: list[Path]) -> list[Path]:
    """Write each ``.po``'s ``.mo`` beside it with polib (pure Python); return the ``.mo`` paths."""
    import polib

    written = []
    for po_path in po_paths:
        mo_path = po_path.with_suffix(".mo")
        polib.pofile(str(po_path)).save_as_mofile(str(mo_path))
        written.append(mo_path)
    return written


class Command(BaseCommand):
    help = "Extract the translatable strings into locale/*.po, then compile the .mo files."

    def add_arguments(self, parser):
        parser.add_argument(
            "--compile",
            action="store_true",
            help="Only compile the .po files (no gettext tools needed).",
        )

    def handle(self, *args, **options):
        if not options["compile"]:
            messages_make()
        try:
            written = messages_compile(catalog_paths())
        except ImportError as error:
            raise CommandError(
                gettext("polib is needed to compile the catalogs: pip install -r %(file)s.")
                % {"file": "requirements-dev.txt"}
            ) from error
        for path in written:
            self.stdout.write(str(path.relative_to(settings.BASE_DIR)))
