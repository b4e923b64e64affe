"""The gallery, the team library and the bulk actions in Russian (issue #17): the toolbar, the
cards, the bulk bar, the pagination and the messages, with Russian plural forms."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import translation

from ..factories import GenerationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_language_left_active():
    """A Russian request leaves Russian active in the thread; put the default back."""
    yield
    translation.deactivate()


@pytest.fixture
def russian(client):
    member = UserFactory(language="ru", credits=1000)
    client.force_login(member)
    return client, member


def test_the_gallery_in_russian(russian):
    client, member = russian
    GenerationFactory(user=member, state="failed", fail_code="Timeout", fail_message="Timed out")
    GenerationFactory(user=member)
    page = client.get(reverse("generations:list"), {"state": "nonsense"}).content.decode()
    for text in [
        "2 генерации",
        'aria-label="Фильтр видео"',
        "Сначала новые",
        "Выбрать все на этой странице",
        "Выбрано: 0",
        "Возврат: 40 кредитов вернулись на ваш баланс",
        "«nonsense» нет среди вариантов; значение не учитывается.",
        "Копировать промпт",
    ]:
        assert text in page
    for text in ["Select all on this page", "Newest first", "Refunded", "Copy prompt", "Apply<"]:
        assert text not in page


def test_the_empty_library_and_the_delete_confirmation_in_russian(russian):
    client, member = russian
    library = client.get(reverse("generations:library")).content.decode()
    assert "Пока ничем не поделились" in library and "Nothing shared yet" not in library
    job = GenerationFactory(user=member, state="failed")
    other = GenerationFactory(user=member, state="failed")
    confirm = client.get(
        reverse("generations:bulk_delete"), {"ids": [job.pk, other.pk, 999_999]}
    ).content.decode()
    assert "Удалить 2 видео?" in confirm
    assert "1 выбранный элемент не показан: он не ваш или уже удалён." in confirm


def test_a_bulk_action_answers_in_russian(russian):
    client, member = russian
    jobs = [GenerationFactory(user=member, state="failed") for _ in range(2)]
    response = client.post(
        reverse("generations:bulk"), {"action": "favourite", "ids": [j.pk for j in jobs]}
    )
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Добавлено в избранное видео: 2."
    ]
