"""The admin in Russian (issue #17: "model verbose names and choices, admin actions").

Managers who read Russian get the generation console and the ledger with Russian column
headers, filter titles and field labels: every model field has a marked ``verbose_name``
(migration 0032), the admin's own columns a marked ``description``. Django's automatic label
(the field name with spaces, "Created at") is English whatever the language, so any left
unmarked would show here.
"""

import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import translation

from generations.models import CreditEntry

from ..factories import GenerationFactory, UserFactory

pytestmark = pytest.mark.django_db

# Latin words a Russian label may keep: abbreviations (docs/i18n.md
# "What is not translated, and why").
ALLOWED_LATIN = {"ID", "URL", "PID", "API", "UTC"}
# Django's automatic English labels of fields that once had none, and the admin's columns.
ENGLISH_LABELS = (
    "Created at",
    "Kind",
    "Model id",
    "Model ID",
    "Provider task id",
    "Price (credits)",
    "Amount",
    "Memo",
    "Actor",
    "Idempotency key",
    "Status checks",
    "Submit attempts",
    "Fail code",
)


@pytest.fixture(autouse=True)
def _no_language_left_active():
    """A request leaves its language active in the thread: put the default back."""
    yield
    translation.deactivate()


class _Labels(HTMLParser):
    """Collect the text of ``<label>`` elements and of column headers (``<th scope="col">``)."""

    def __init__(self):
        super().__init__()
        self.labels: list[str] = []
        self._depth = 0  # > 0 inside a label or a column header
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "label" or (tag == "th" and ("scope", "col") in attrs):
            if self._depth == 0:
                self._text = []
            self._depth += 1

    def handle_endtag(self, tag):
        if tag in ("label", "th") and self._depth:
            self._depth -= 1
            if self._depth == 0:
                text = " ".join("".join(self._text).split())
                if text:
                    self.labels.append(text)

    def handle_data(self, data):
        if self._depth:
            self._text.append(data)


def labels(page: str) -> list[str]:
    """Return the texts of the page's field labels and column headers."""
    parser = _Labels()
    parser.feed(page)
    return parser.labels


def latin_words(texts: list[str]) -> list[str]:
    """Return the runs of two or more Latin letters in ``texts`` not in ``ALLOWED_LATIN``."""
    return [
        f"{word} (in {text!r})"
        for text in texts
        for word in re.findall(r"[A-Za-z]{2,}", text)
        if word not in ALLOWED_LATIN
    ]


@pytest.fixture
def russian_admin(client):
    """A superuser's client whose browser asks for Russian."""
    client.force_login(UserFactory(username="админ", is_staff=True, is_superuser=True))
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "ru"
    return client


def _get(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Language"] == "ru"
    return response.content.decode()


def test_the_generation_console_speaks_russian(russian_admin):
    generation = GenerationFactory(user=UserFactory(username="аня"), prompt="маяк в сумерках")
    listing = _get(russian_admin, reverse("admin:generations_generation_changelist"))
    headers = labels(listing)
    for russian in ("ID модели", "ID задания у провайдера", "Цена (кредиты)", "Создано"):  # noqa: RUF001
        assert russian in headers, headers
    assert "Код ошибки" in listing  # the column and the filter's title
    form = _get(russian_admin, reverse("admin:generations_generation_change", args=[generation.pk]))
    fields = labels(form)
    for russian in ("Промпт:", "Проверки статуса:", "Попытки отправки:", "Готовое видео:"):
        assert russian in fields, fields
    for page, found in ((listing, headers), (form, fields)):
        assert not latin_words(found)
        for english in ENGLISH_LABELS:
            assert f">{english}" not in page, english


def test_the_ledger_speaks_russian(russian_admin):
    GenerationFactory(user=UserFactory(username="аня"))
    entry = CreditEntry.objects.filter(kind="hold").get()
    listing = _get(russian_admin, reverse("admin:generations_creditentry_changelist"))
    headers = labels(listing)
    for russian in ("Создано", "Пользователь", "Вид", "Сумма", "Кто", "Примечание"):
        assert russian in headers, headers
    form = _get(russian_admin, reverse("admin:generations_creditentry_change", args=[entry.pk]))
    fields = labels(form)
    for russian in ("Счёт:", "Вид:", "Сумма:", "Ключ идемпотентности:"):
        assert russian in fields, fields
    assert "аня: доступно 0, удержано 40" in form  # the account, as the admin names it
    for page, found in ((listing, headers), (form, fields)):
        assert not latin_words(found)
        for english in ENGLISH_LABELS:
            assert f">{english}" not in page, english


def test_the_labels_stay_english_for_an_english_browser(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    generation = GenerationFactory()
    url = reverse("admin:generations_generation_change", args=[generation.pk])
    fields = labels(client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode())
    assert "Model ID:" in fields and "Created at:" in fields and "Status checks:" in fields
