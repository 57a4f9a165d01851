"""HSTS, Secure cookies and a Content-Security-Policy when served over TLS (HTTPS=1), none of them
for local http; the admin still works under the policy in a real browser."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client, RequestFactory
from django.test.client import ClientHandler

from config.handlers import ClientAPIStack
from tests.browser import browser_test, chromium_page, login

ROOT = Path(__file__).resolve().parents[2]
NAMES = [
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_PROXY_SSL_HEADER",
    "CONTENT_SECURITY_POLICY",
    "SECURE_SSL_REDIRECT",
]


def production_settings(**env) -> dict:
    """The settings a production process gets from this environment."""
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        f"print(json.dumps({{n: getattr(settings, n, None) for n in {NAMES!r}}}))"
    )
    base = {k: v for k, v in os.environ.items() if k not in {"HTTPS", "DEBUG", *NAMES}}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", "SECRET_KEY": "x" * 60, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_local_http_sets_none_of_them():
    assert production_settings() == {
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_HSTS_SECONDS": 0,
        "SECURE_PROXY_SSL_HEADER": None,
        "CONTENT_SECURITY_POLICY": "",
        "SECURE_SSL_REDIRECT": False,
    }


def test_https_turns_them_all_on():
    values = production_settings(HTTPS="1")
    assert values["SESSION_COOKIE_SECURE"] is True and values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_HSTS_SECONDS"] == 31536000
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["CONTENT_SECURITY_POLICY"].startswith("default-src 'self';")
    assert "frame-ancestors 'none'" in values["CONTENT_SECURITY_POLICY"]


@pytest.mark.parametrize(
    "env,name,expected",
    [
        ({"HTTPS": "1", "SECURE_HSTS_SECONDS": "300"}, "SECURE_HSTS_SECONDS", 300),
        (
            {"HTTPS": "1", "CONTENT_SECURITY_POLICY": "default-src 'none'"},
            "CONTENT_SECURITY_POLICY",
            "default-src 'none'",
        ),
        ({"HTTPS": "1", "TRUST_X_FORWARDED_PROTO": "0"}, "SECURE_PROXY_SSL_HEADER", None),
        ({"SECURE_SSL_REDIRECT": "1"}, "SECURE_SSL_REDIRECT", True),
        ({"SESSION_COOKIE_SECURE": "1"}, "SESSION_COOKIE_SECURE", True),
    ],
)
def test_each_setting_can_be_set_alone(env, name, expected):
    assert production_settings(**env)[name] == expected


@pytest.fixture
def tls(settings):
    """What HTTPS=1 sets, applied to this test process."""
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.CONTENT_SECURITY_POLICY = django_settings.DEFAULT_CONTENT_SECURITY_POLICY
    return settings


@pytest.mark.django_db
def test_responses_over_tls_carry_hsts_csp_and_secure_cookies(client, admin_user, tls):
    # when the admin is used through a TLS-terminating proxy
    page = client.get("/admin/login/", HTTP_X_FORWARDED_PROTO="https")
    login = client.post(
        "/admin/login/?next=/admin/",
        {"username": "alice", "password": "pw"},
        HTTP_X_FORWARDED_PROTO="https",
    )
    # then HSTS and the policy are sent and the cookies are Secure
    assert page["Strict-Transport-Security"] == "max-age=31536000"
    assert page["Content-Security-Policy"] == tls.DEFAULT_CONTENT_SECURITY_POLICY
    assert page.cookies["csrftoken"]["secure"] is True
    assert login.status_code == 302 and login.cookies["sessionid"]["secure"] is True
    # and tracking answers carry the policy too
    assert client.post("/v1/track", "{}", content_type="application/json")["Content-Security-Policy"]


@pytest.mark.django_db
def test_plain_http_gets_no_hsts(client, tls):
    assert "Strict-Transport-Security" not in client.get("/admin/login/")


class ClientAPIClientHandler(ClientAPIStack, ClientHandler):
    """The test client's handler with the client APIs' middleware (what config.wsgi serves them with)."""


CLIENT_API_REQUESTS = [
    ("POST", "/v1/track", {}),
    ("POST", "/v1/batch", {"HTTP_ORIGIN": "https://shop.example"}),
    ("OPTIONS", "/v1/t", {"HTTP_ORIGIN": "https://shop.example"}),
    ("POST", "/v2/events", {}),
    ("GET", "/v1/projects/wk/settings", {}),
    ("GET", "/v1/spaces/s/collections/users/profiles/user_id:u1/traits", {}),
    ("POST", "/v1/actions", {}),
    ("GET", "/v1/no-such-endpoint", {}),
    ("GET", "/v1/track/", {}),
]


@pytest.mark.django_db
@pytest.mark.parametrize("method,path,headers", CLIENT_API_REQUESTS)
@pytest.mark.parametrize("proto", ["http", "https"])
def test_client_apis_get_the_same_headers_through_their_short_middleware_stack(
    tls, method, path, headers, proto
):
    # given the full stack and the client APIs' one, served over TLS or not
    full, short = Client(), Client()
    short.handler = ClientAPIClientHandler()
    headers = {**headers, "HTTP_X_FORWARDED_PROTO": proto}
    # when both answer the same request
    answers = [
        c.generic(method, path, b"{}", content_type="application/json", **headers) for c in (full, short)
    ]
    # then status, headers (HSTS, CSP, X-Frame-Options, nosniff, CORS...) and body are the same
    # (but the Profile API's Request-Id, new on each answer)
    full_answer, short_answer = (
        (a.status_code, sorted((k, v) for k, v in a.items() if k != "Request-Id"), a.content) for a in answers
    )
    assert short_answer == full_answer
    assert "Strict-Transport-Security" in answers[1] or proto == "http"
    assert answers[1]["Content-Security-Policy"] == tls.DEFAULT_CONTENT_SECURITY_POLICY


def wsgi_get(path: str) -> tuple[str, dict]:
    from config.wsgi import application

    answer = {}
    environ = RequestFactory().get(path).environ
    body = b"".join(application(environ, lambda status, headers: answer.update(status=status, h=headers)))
    assert body is not None
    return answer["status"], dict(answer["h"])


@pytest.mark.django_db
def test_the_wsgi_application_keeps_the_full_stack_for_the_admin():
    # the admin needs sessions and users: it still redirects an anonymous visitor to its login
    status, headers = wsgi_get("/admin/")
    assert status.startswith("302") and headers["Location"] == "/admin/login/?next=/admin/"
    # and a client API answers with the security headers
    status, headers = wsgi_get("/v1/projects/wk/settings")
    assert status.startswith("200")
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"


@browser_test
@pytest.mark.django_db(transaction=True)
def test_the_admin_runs_under_the_policy_without_violations(live_server, admin_user, settings):
    # given the policy of HTTPS=1
    settings.CONTENT_SECURITY_POLICY = django_settings.DEFAULT_CONTENT_SECURITY_POLICY
    violations = []
    with chromium_page() as page:
        page.on(
            "console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None
        )
        # when an Admin logs in and opens pages that run scripts
        login(page, live_server, admin_user)
        for path in ["/admin/people/person/", "/admin/authtoken/tokenproxy/add/", "/api/docs/"]:
            response = page.goto(f"{live_server.url}{path}")
            assert response.headers["content-security-policy"].startswith("default-src 'self'")
            page.wait_for_load_state("networkidle")
        swagger_loaded = page.locator(".swagger-ui").count() > 0
    # then nothing was blocked
    assert violations == []
    assert swagger_loaded
