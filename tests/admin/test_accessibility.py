"""The admin's own markup, named where Django leaves a control without a name (issue #19)."""

import pytest
from django.urls import reverse

from ..factories import GenerationFactory

pytestmark = pytest.mark.django_db


def test_the_empty_fail_code_filter_is_named(admin_client):
    GenerationFactory(state="failed", fail_code="content_policy")
    GenerationFactory(state="succeeded")  # fail_code ""
    page = admin_client.get(reverse("admin:generations_generation_changelist")).content.decode()
    assert '<a href="?fail_code=">No fail code</a>' in page
    assert '<a href="?fail_code=__other__">Another code</a>' in page


def test_each_editable_price_is_named(admin_client):
    page = admin_client.get(reverse("admin:generations_price_changelist")).content.decode()
    assert 'aria-label="Credits per second, APIXO seedance-1-5-pro 480p sound off"' in page


def test_the_admin_loads_the_accessibility_fixes(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "css/admin.css" in page
