"""``get_provider`` builds the client from Django settings."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from generations.providers import (
    AivideoapiClient,
    ApixoClient,
    configured_providers,
    get_provider,
    provider_configured,
)


@pytest.fixture
def apixo_settings(settings):
    settings.APIXO_BASE_URL = "https://api.apixo.ai/api/v1"
    settings.APIXO_API_KEY = "real-key"
    settings.APIXO_ROUTING = "official"
    settings.PROVIDER_CONNECT_TIMEOUT = 2.5
    settings.PROVIDER_READ_TIMEOUT = 12.0
    return settings


def test_client_is_configured_from_settings(apixo_settings):
    client = get_provider()
    assert isinstance(client, ApixoClient)
    assert (client.name, client.base_url, client.routing) == (
        "apixo",
        "https://api.apixo.ai/api/v1",
        "official",
    )
    assert (client.connect_timeout, client.read_timeout) == (2.5, 12.0)
    assert client.download_allow_hosts() == frozenset()


def test_timeouts_and_routing_have_defaults(apixo_settings):
    del apixo_settings.APIXO_ROUTING
    del apixo_settings.PROVIDER_CONNECT_TIMEOUT
    del apixo_settings.PROVIDER_READ_TIMEOUT
    client = get_provider("apixo")
    assert (client.routing, client.connect_timeout, client.read_timeout) == ("auto", 5.0, 30.0)


def test_simulator_base_url_allows_its_loopback_downloads(apixo_settings):
    apixo_settings.APIXO_BASE_URL = "http://127.0.0.1:8765/api/v1"
    assert get_provider().download_allow_hosts() == frozenset({"127.0.0.1:8765"})


@pytest.mark.parametrize(
    ("name", "value"),
    [("APIXO_ROUTING", "cheapest"), ("APIXO_API_KEY", ""), ("APIXO_BASE_URL", "api.apixo.ai")],
)
def test_bad_settings_are_improperly_configured(apixo_settings, name, value):
    setattr(apixo_settings, name, value)
    with pytest.raises(ImproperlyConfigured):
        get_provider()


def test_unknown_provider_name():
    with pytest.raises(ValueError):
        get_provider("kling")


def test_aivideoapi_client_from_settings(settings):
    settings.AIVIDEOAPI_BASE_URL = "https://api.aivideoapi.ai/v1"
    settings.AIVIDEOAPI_API_KEY = "sk-real-key"
    settings.CALLBACK_ALLOW_HTTP = True  # for the loopback simulator only: not given here
    client = get_provider("aivideoapi")
    assert isinstance(client, AivideoapiClient)
    assert client.base_url == "https://api.aivideoapi.ai/v1"
    assert client.allow_http_callbacks is False
    assert provider_configured("aivideoapi")
    assert configured_providers() == ("apixo", "aivideoapi")


def test_the_simulators_aivideoapi_may_take_http_callbacks(settings):
    settings.AIVIDEOAPI_BASE_URL = "http://127.0.0.1:8765/aivideoapi/v1"
    settings.AIVIDEOAPI_API_KEY = "sk-sim-aivideoapi-key"
    settings.CALLBACK_ALLOW_HTTP = True
    client = get_provider("aivideoapi")
    assert client.allow_http_callbacks is True
    assert client.download_allow_hosts() == frozenset({"127.0.0.1:8765"})


def test_aivideoapi_without_a_key_is_not_offered(settings):
    settings.AIVIDEOAPI_API_KEY = ""
    assert not provider_configured("aivideoapi")
    assert configured_providers() == ("apixo",)
    with pytest.raises(ImproperlyConfigured, match="not configured"):
        get_provider("aivideoapi")
