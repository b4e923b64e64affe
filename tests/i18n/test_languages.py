"""Choosing the language and where it shows (docs/i18n.md "Choosing the language", "E-mails").

Accept-Language by default; a signed-in user's saved ``User.language`` wins over it; the switch
sets the cookie and, for a signed-in user, the saved preference; e-mails are written in the
recipient's language, whoever's request caused them.
"""

from unittest import mock

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import translation

from generations.models import ProviderAlert, User
from generations.services import notifications
from generations.services.alerts import provider_alert_email

from ..factories import GenerationFactory, ManagerFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_language_left_active():
    """A request leaves its language active in the thread (LocaleMiddleware does not reset
    it): put the default back so a Russian page here does not turn later tests Russian."""
    yield
    translation.deactivate()


def test_an_anonymous_visitor_whose_browser_prefers_russian_gets_a_russian_login_page(client):
    response = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="ru,en;q=0.5")
    page = response.content.decode()
    assert response["Content-Language"] == "ru"
    assert '<html lang="ru">' in page
    # The form's labels come from Python (Django's AuthenticationForm), the switch's from it.
    assert "Имя пользователя" in page
    assert "Пароль" in page
    english = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Username" in english and "Имя пользователя" not in english


def test_a_member_who_saved_russian_gets_russian_labels_and_messages_whatever_the_browser(
    client,
):
    member = UserFactory(language="ru")
    client.force_login(member)
    page = client.get(reverse("generations:new"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Длительность (секунды)" in page
    assert "Duration (seconds)" not in page
    response = client.post(
        reverse("profile"),
        {"language": "ru", "notify_on_finish": "on", "low_balance_threshold": "-5"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert "Убедитесь, что это значение больше либо равно 0." in response.content.decode()
    response = client.post(
        reverse("profile"),
        {"language": "ru", "low_balance_threshold": "100"},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )
    assert "Настройки сохранены." in response.content.decode()


def test_a_russian_form_error_from_the_portal_own_messages(client):
    member = UserFactory(language="ru", credits=1000)
    client.force_login(member)
    response = client.post(
        reverse("generations:new"),
        {
            "mode": "text-to-video",
            "prompt": "ab",
            "resolution": "720p",
            "duration": "40",
            "sound": "off",
            "aspect_ratio": "16:9",
        },
    )
    page = response.content.decode()
    assert "Напишите не меньше 3 символов" in page
    assert "Укажите целое число секунд от 4 до 12." in page


def test_the_saved_language_wins_over_accept_language(client):
    member = UserFactory(language="en")
    client.force_login(member)
    page = client.get(reverse("profile"), HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert '<html lang="en">' in page
    member.language = ""
    member.save(update_fields=["language"])
    page = client.get(reverse("profile"), HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert '<html lang="ru">' in page


def test_the_switch_saves_a_signed_in_users_choice_and_goes_back(client):
    member = UserFactory()
    client.force_login(member)
    response = client.post(reverse("set_language"), {"language": "ru", "next": "/usage/"})
    assert response.status_code == 302 and response["Location"] == "/usage/"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ru"
    member.refresh_from_db()
    assert member.language == "ru"
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    member.refresh_from_db()
    assert member.language == "en"


def test_the_switch_works_signed_out_with_the_cookie_only(client):
    response = client.post(reverse("set_language"), {"language": "ru", "next": "/accounts/login/"})
    assert response.status_code == 302
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Имя пользователя" in page


def test_an_unknown_language_changes_nothing(client):
    member = UserFactory(language="en")
    client.force_login(member)
    client.post(reverse("set_language"), {"language": "xx", "next": "/"})
    member.refresh_from_db()
    assert member.language == "en"


def test_the_javascript_catalog_follows_the_language(client):
    russian = client.get(reverse("javascript-catalog"), HTTP_ACCEPT_LANGUAGE="ru")
    assert russian.status_code == 200
    assert (
        "\\u041f\\u0440\\u043e\\u043c\\u043f\\u0442 \\u0441\\u043a\\u043e\\u043f"
        in (russian.content.decode())
        or "Промпт скопирован." in russian.content.decode()
    )
    english = client.get(reverse("javascript-catalog"), HTTP_ACCEPT_LANGUAGE="en")
    assert "Промпт" not in english.content.decode()


# --- E-mails ----------------------------------------------------------------------------


def test_a_password_reset_for_a_russian_speaking_user_is_in_russian(client):
    UserFactory(username="olga", email="olga@example.com", language="ru")
    UserFactory(username="ann", email="ann@example.com", language="")
    for email in ("olga@example.com", "ann@example.com"):
        client.post(reverse("password_reset"), {"email": email}, HTTP_ACCEPT_LANGUAGE="en")
    by_recipient = {message.to[0]: message for message in mail.outbox}
    assert "Сброс пароля" in by_recipient["olga@example.com"].subject  # noqa: RUF001
    assert "Password reset" in by_recipient["ann@example.com"].subject


def test_a_provider_alert_is_mailed_to_each_manager_in_their_language():
    ManagerFactory(username="ivan", email="ivan@example.com", language="ru")
    ManagerFactory(username="jane", email="jane@example.com", language="en")
    alert = ProviderAlert.objects.create(
        provider="apixo", kind="http_401", message="The key was refused.", detail="Unauthorized"
    )
    with translation.override("en"):
        provider_alert_email(alert_id=alert.pk)
    by_recipient = {tuple(message.to): message for message in mail.outbox}
    russian = by_recipient[("ivan@example.com",)].body
    assert "Провайдер: APIXO" in russian
    assert "Ответ провайдера: Unauthorized" in russian  # the provider's words as sent
    assert "Provider: APIXO" in by_recipient[("jane@example.com",)].body


def test_notification_e_mails_are_rendered_in_the_recipients_language():
    """The templates themselves are marked later; here: they render under the owner's language."""
    generation = GenerationFactory(state="succeeded", user=UserFactory(language="ru"))
    seen = []

    def render(name, context):
        seen.append(translation.get_language())
        return "text"

    with translation.override("en"), mock.patch.object(notifications, "render_to_string", render):
        assert notifications.generation_finished_notify(generation_id=generation.pk)
    assert seen == ["ru", "ru"]


def test_a_user_without_a_saved_language_gets_e_mails_in_the_site_language():
    from generations.i18n import language_of

    assert language_of(User(language="")) == settings.LANGUAGE_CODE == "en"
    assert language_of(User(language="ru")) == "ru"
    assert language_of(None) == "en"


# --- Pages whose templates are marked (issue #17) ---------------------------------------


def _russian_page(client, user, url_name):
    client.force_login(user)
    response = client.get(reverse(url_name), HTTP_ACCEPT_LANGUAGE="ru,en;q=0.5")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize(
    ("url_name", "russian", "english"),
    [
        (
            "generations:new",
            ["Новое видео", "Сгенерировать видео", "Мои видео", "Ваши кредиты"],
            ["New video", "Generate video", "My videos", "Your credits"],
        ),
        (
            "generations:usage",
            ["Расход по дням за последние 30 дней", "Выписка", "Отобрать"],
            ["Daily spend, last 30 days", ">Statement<", ">Filter<"],
        ),
        (
            "profile",
            ["Доступ к API", "Личные токены доступа", "Уведомления", "Журнал доставки"],
            ["API access", "Personal access tokens", ">Notifications<", "Delivery log"],
        ),
    ],
)
def test_a_member_whose_browser_prefers_russian_gets_russian_pages(
    client, url_name, russian, english
):
    page = _russian_page(client, UserFactory(language="", credits=1000), url_name)
    for text in russian:
        assert text in page
    for text in english:
        assert text not in page


def test_a_russian_speaking_manager_gets_a_russian_team_page(client):
    manager = ManagerFactory(language="")
    UserFactory(username="olga")
    page = _russian_page(client, manager, "team:members")
    for text in ("Пригласить участника", "Лимиты и доступ", "Журнал аудита", "Активен"):
        assert text in page
    for text in ("Invite a member", "Caps and access", "Audit log", ">Active<"):
        assert text not in page


@pytest.mark.parametrize(
    ("credits", "words"), [(1, "1 кредит ("), (2, "2 кредита ("), (5, "5 кредитов (")]
)
def test_credit_counts_on_the_profile_take_the_russian_plural_forms(client, credits, words):
    page = _russian_page(client, UserFactory(language="ru", credits=credits), "profile")
    assert words in page
