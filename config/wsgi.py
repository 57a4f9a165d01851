"""The WSGI application: client API paths (``config.handlers``) through a short middleware stack,
everything else through the full one."""

import os

import django
from django.core.handlers.wsgi import WSGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)

from config.handlers import ClientAPIHandler, is_client_api  # noqa: E402 - needs the settings

full_stack = WSGIHandler()
client_api = ClientAPIHandler()


def application(environ, start_response):
    handler = client_api if is_client_api(environ.get("PATH_INFO", "")) else full_stack
    return handler(environ, start_response)
