"""Settings for the test suite: the production settings with fast, isolated services.

``DATABASE_URL`` still selects SQLite or PostgreSQL, so the same suite runs on both.
"""

import os

# The suite's own basics, set before the settings module reads the environment: no developer's
# .env is read (ENV_FILE empty), DEBUG-derived defaults are the development ones, and a test-only
# key. Processes the tests start (runserver, qcluster) inherit these.
os.environ["ENV_FILE"] = ""
os.environ["DEBUG"] = "true"
os.environ.setdefault("SECRET_KEY", "test-settings-only-key-not-for-any-deployment")

from .settings import *  # noqa: F403
from .settings import STORAGES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Login throttling needs the request in authenticate(); tests that check it turn it back on.
AXES_ENABLED = False
SECURE_SSL_REDIRECT = False
# Tasks run in-process through django-q2's own sync path unless a test starts a cluster.
Q_CLUSTER = {**Q_CLUSTER, "sync": True}  # noqa: F405
POLL_TIME_SCALE = 0.0
DISPATCHER_AUTOSTART = False  # tests drive dispatch_pass() themselves
# The in-process tests use a per-process cache even when REDIS_URL is set (CI runs the suite
# with the Redis broker): the suite clears the cache around every test, which on Redis would
# flush the database the real qcluster processes of the end-to-end tests use as their broker.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
