"""The WSGI handler of the client APIs: the same Django, a shorter middleware stack.

The tracking, mParticle, Profile API and client actions endpoints (``/v1/``, ``/v2/``, ``/beacon/``)
authenticate with write keys and tokens and use no session, user, CSRF token, message or login
throttling. ``config.wsgi`` serves them through ``ClientAPIHandler``, which loads
``settings.CLIENT_API_MIDDLEWARE`` (the security headers, the Content-Security-Policy, common and
clickjacking middleware: the same headers as the full stack); every other path (admin, management
API, schema, static files) keeps ``settings.MIDDLEWARE``.
"""

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler


class ClientAPIStack:
    """A Django handler mixin: load ``settings.CLIENT_API_MIDDLEWARE`` instead of ``MIDDLEWARE``."""

    def load_middleware(self, is_async=False):
        # BaseHandler reads settings.MIDDLEWARE; handlers are built before serving, one at a time.
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.CLIENT_API_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


class ClientAPIHandler(ClientAPIStack, WSGIHandler):
    pass


def is_client_api(path_info: str) -> bool:
    return path_info.startswith(settings.CLIENT_API_PATHS)
