"""Test settings: the production module plus what tests need (tasks run inline)."""

import os

os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("SECRET_KEY", "attune-tests")

from config.settings import *  # noqa: E402,F403
from config.settings import Q_CLUSTER  # noqa: E402

Q_CLUSTER["sync"] = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Each test sees its own data: no cached dashboard figures across tests.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    # no request counting across tests; tests of the 429s switch this alias to a real cache
    "ratelimit": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
}
