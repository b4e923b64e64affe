"""A failed job shows the provider's message as sent, beside the portal's explanation in the
page's language (issue #17 item 4; docs/i18n.md "What is not translated, and why")."""

import pytest
from django.urls import reverse
from django.utils import translation

from generations import catalog
from generations.catalog import FAIL_CODES, FAIL_EXPLANATIONS, fail_explanation

from ..factories import GenerationFactory, UserFactory

PROVIDER_SAID = "Your prompt was flagged by our safety system (code 4021)."


@pytest.fixture(autouse=True)
def _no_language_left_active():
    """A Russian request leaves Russian active in the thread; put the default back."""
    yield
    translation.deactivate()


def test_every_documented_fail_code_has_an_explanation():
    assert set(FAIL_EXPLANATIONS) == set(FAIL_CODES)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("SensitiveContent", FAIL_EXPLANATIONS["SensitiveContent"]),
        ("insufficient_credits", FAIL_EXPLANATIONS["INSUFFICIENT_CREDITS"]),
        ("HTTP_400", catalog.FAIL_EXPLANATION_HTTP),
        ("something_new", catalog.FAIL_EXPLANATION_OTHER),
        ("", catalog.FAIL_EXPLANATION_OTHER),
    ],
)
def test_a_code_is_looked_up_as_written_then_in_capitals_else_a_general_sentence(code, expected):
    assert fail_explanation(code) == str(expected)


@pytest.mark.django_db
def test_a_failed_jobs_page_in_russian_explains_in_russian_and_quotes_the_provider_verbatim(
    client,
):
    member = UserFactory(language="ru")
    job = GenerationFactory(
        user=member, state="failed", fail_code="SensitiveContent", fail_message=PROVIDER_SAID
    )
    client.force_login(member)
    page = client.get(reverse("generations:detail", args=[job.pk])).content.decode()
    assert f'<span data-testid="fail-message"><span lang="en">{PROVIDER_SAID}</span></span>' in page
    assert "<small>(<code>SensitiveContent</code>)</small>" in page
    assert (
        '<p data-testid="fail-explanation">Фильтр контента видеосервиса отклонил промпт или '
        "входное изображение. Измените их и попробуйте снова.</p>"
    ) in page
    assert "content filter refused" not in page


@pytest.mark.django_db
def test_the_card_of_a_failed_job_shows_both_too(client):
    member = UserFactory(language="ru")
    GenerationFactory(user=member, state="failed", fail_code="Timeout", fail_message=PROVIDER_SAID)
    client.force_login(member)
    page = client.get(reverse("generations:list")).content.decode()
    assert PROVIDER_SAID in page
    assert "Видеосервис слишком долго создавал видео." in page


@pytest.mark.django_db
def test_in_english_the_explanation_is_english_and_only_failures_have_one(client):
    member = UserFactory(language="en")
    failed = GenerationFactory(
        user=member, state="failed", fail_code="HTTP_422", fail_message=PROVIDER_SAID
    )
    queued = GenerationFactory(user=member)
    client.force_login(member)
    page = client.get(reverse("generations:detail", args=[failed.pk])).content.decode()
    assert f'<p data-testid="fail-explanation">{catalog.FAIL_EXPLANATION_HTTP}</p>' in page
    assert queued.fail_explanation == ""
