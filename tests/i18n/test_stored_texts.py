"""Stored English shown in the page's language: the portal's own memos and failure messages,
and dates (docs/i18n.md "What is not translated, and why", docs/formats.md "Dates and times").

Memos and ``fail_message`` are stored as written, in English when the portal wrote them; a
page translates the portal's own and marks the rest (a person's memo ``translate="no"``, the
provider's words ``lang="en"``).
"""

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from django.template import Context, Template
from django.utils import translation

from generations import formats
from generations.i18n import PORTAL_MESSAGES, memo_text, message_parts

GENERATIONS = Path(__file__).resolve().parents[2] / "generations"


@pytest.fixture(autouse=True)
def _english_afterwards():
    yield
    translation.deactivate()


@pytest.mark.parametrize(
    ("memo", "russian"),
    [
        ("Generation #12", "Генерация №12"),
        ("Generation #12 succeeded", "Генерация №12 выполнена"),
        ("Refund: generation #12 failed", "Возврат: генерация №12 — ошибка"),
        (
            "Failover of generation #12: APIXO hold released",
            "Переключение генерации №12: удержание в APIXO снято",
        ),
        ("Account created in the admin.", "Учётная запись создана в админке."),
    ],
)
def test_the_portal_own_memos_are_shown_in_russian(memo, russian):
    with translation.override("ru"):
        assert memo_text(memo) == (russian, True)
    with translation.override("en"):
        assert memo_text(memo) == (memo, True)


def test_a_memo_someone_typed_is_shown_as_typed_and_marked_not_to_translate():
    assert memo_text("monthly budget") == ("monthly budget", False)
    page = Template("{% load formats %}{{ memo|memo }}").render(Context({"memo": "a <b>"}))
    assert page == '<span translate="no">a &lt;b&gt;</span>'


def test_the_provider_words_stay_as_sent_in_english_the_portal_own_are_translated():
    render = Template("{% load formats %}{{ message|stored_message }}").render
    with translation.override("ru"):
        provider = render(Context({"message": "The provider refused the prompt."}))
        assert provider == '<span lang="en">The provider refused the prompt.</span>'
        ours = render(Context({"message": "The generation failed."}))
        assert ours == "Генерация не удалась."
        quoted = render(
            Context({"message": "The video service rejected the request. The service said: No."})
        )
        assert quoted == ('Видеосервис отклонил запрос. Ответ сервиса: <span lang="en">No.</span>')
    assert message_parts("The generation failed.") == ("The generation failed.", "")


def test_every_portal_message_is_one_the_code_writes():
    """``PORTAL_MESSAGES`` repeats the services' and provider errors' literals: a reworded
    one must change both, or it would be shown as if the provider had said it."""
    sources = " ".join(
        re.sub(r'"\s+"', "", path.read_text())  # join implicitly concatenated literals
        for path in GENERATIONS.rglob("*.py")
        if path.name != "i18n.py" and "migrations" not in path.parts
    )
    missing = [message for message in PORTAL_MESSAGES if message not in sources]
    assert not missing


def test_the_lifecycle_and_sweep_sentences_are_translated_when_shown():
    """A job refused for its own 403 and a sweep that could not settle a job store fixed
    English sentences; the member's and the managers' pages show them in their language."""
    from generations.services.lifecycle import REFUSED_403_MESSAGE
    from generations.services.sweeper import SWEEP_FAILED_MESSAGE

    for message in (REFUSED_403_MESSAGE, SWEEP_FAILED_MESSAGE):
        assert message in PORTAL_MESSAGES
        with translation.override("ru"):
            ours, theirs = message_parts(message)
        assert theirs == ""
        assert ours != message


def test_dates_follow_the_language():
    moment = datetime(2026, 11, 29, 14, 5, tzinfo=UTC)
    with translation.override("en"):
        assert formats.moment(moment) == "29 Nov 2026, 14:05 UTC"
        assert formats.local_date(date(2026, 11, 29)) == "29 Nov 2026"
    with translation.override("ru"):
        assert formats.moment(moment) == "29 ноября 2026, 14:05 UTC"
        assert formats.local_date(date(2026, 11, 29)) == "29 ноября 2026"
