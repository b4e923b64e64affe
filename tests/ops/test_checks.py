"""``seedance.W001``: production on the provider simulator (generations/checks.py;
docs/deploy.md "Environment")."""

from django.core.checks import run_checks

from generations.checks import SIMULATOR_IN_PRODUCTION


def deploy_warnings() -> list[str]:
    return [m.id for m in run_checks(include_deployment_checks=True, tags=["seedance"])]


def test_production_on_the_simulator_is_a_deploy_warning(settings):
    settings.DEBUG = False
    settings.USE_SIMULATOR = True
    settings.SIMULATOR_IN_PRODUCTION = False
    assert deploy_warnings() == [SIMULATOR_IN_PRODUCTION]
    # Only with --deploy: runserver, migrate and the rest stay quiet.
    assert SIMULATOR_IN_PRODUCTION not in [m.id for m in run_checks()]


def test_no_warning_in_development_with_a_key_or_when_meant(settings):
    settings.SIMULATOR_IN_PRODUCTION = False
    settings.DEBUG, settings.USE_SIMULATOR = True, True
    assert deploy_warnings() == []
    settings.DEBUG, settings.USE_SIMULATOR = False, False
    assert deploy_warnings() == []
    settings.DEBUG, settings.USE_SIMULATOR = False, True
    settings.SIMULATOR_IN_PRODUCTION = True
    assert deploy_warnings() == []
