"""Signing in and out over HTTP, sessions that end, CSRF on every write, and API parity."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update

from rapport.associates import auth, permissions, tokens
from rapport.associates.models import WebSession
from rapport.http import Caller, api_caller, read_session, session_or_token_caller
from rapport.ingest.service import ingest_records
from rapport.settings import get_settings
from tests.associates.staff import PASSWORD
from tests.web.conftest import form_token, sign_in, signed_in

# -- the sign-in page -------------------------------------------------------------------------------


def test_a_stranger_is_sent_to_the_sign_in_page_and_back_afterwards(browser, staffed):
    response = browser.get("/?tab=today")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/%3Ftab%3Dtoday"
    page = browser.get(response.headers["location"])
    assert page.status_code == 200 and 'name="next" value="/?tab=today"' in page.text
    assert page.headers["cache-control"] == "no-store"
    done = browser.post("/login", data={"email": "ana@maison.example", "password": PASSWORD,
                                        "csrf_token": form_token(page), "next": "/?tab=today"})  # fmt: skip
    assert (done.status_code, done.headers["location"]) == (303, "/?tab=today")


def test_signing_in_sets_an_http_only_same_site_session_cookie_and_shows_who_is_signed_in(browser, staffed):
    response = sign_in(browser, "Ana@Maison.example")
    assert (response.status_code, response.headers["location"]) == (303, "/")
    cookie = _session_cookie(response)
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path", "max-age"} <= attributes and "samesite=lax" in cookie.lower()
    assert "secure" not in attributes  # plain http on a laptop: a Secure cookie would never come back
    home = browser.get("/")
    assert home.status_code == 200
    assert "Ana Duval" in home.text and "Associate" in home.text and "Paris Saint-Honoré" in home.text
    assert browser.get("/login").headers["location"] == "/"  # already signed in


def _session_cookie(response) -> str:
    return next(c for c in response.headers.get_list("set-cookie") if c.startswith(auth.SESSION_COOKIE + "="))


def test_the_cookie_is_secure_over_https(app, staffed):
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    assert "secure" in _session_cookie(sign_in(client, "ana@maison.example")).lower()


def test_the_cookies_are_secure_when_configured_behind_a_tls_proxy(app, staffed, monkeypatch):
    monkeypatch.setattr(get_settings(), "secure_cookies", True)
    client = TestClient(app, follow_redirects=False)  # the proxy speaks plain http to the app
    page = client.get("/login")
    assert "secure" in page.headers["set-cookie"].lower()
    token = form_token(page)
    response = client.post(
        "/login",
        data={"email": "ana@maison.example", "password": PASSWORD, "csrf_token": token},
        headers={"Cookie": f"{auth.LOGIN_CSRF_COOKIE}={token}"},  # what the browser, on https, sends back
    )
    assert response.status_code == 303
    assert "secure" in _session_cookie(response).lower()


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "/login"])
def test_sign_in_never_redirects_off_site(browser, staffed, target):
    response = sign_in(browser, "ana@maison.example", next=target)
    assert response.headers["location"] == "/"


def test_a_wrong_password_shows_the_form_again_with_the_email_kept(browser, staffed):
    response = sign_in(browser, "ana@maison.example", password="not the password")
    assert response.status_code == 401
    assert "Wrong email or password." in response.text
    assert 'value="ana@maison.example"' in response.text
    assert auth.SESSION_COOKIE not in browser.cookies


def test_after_five_failures_the_page_says_when_to_try_again(browser, staffed, fixed_clock):
    for _ in range(5):
        assert sign_in(browser, "ana@maison.example", password="guessing again").status_code == 401
    response = sign_in(browser, "ana@maison.example")
    assert response.status_code == 429
    assert "Too many failed sign-ins. Try again in 15 minutes." in response.text
    assert response.headers["retry-after"] == "900"
    fixed_clock.advance(timedelta(minutes=15))
    assert sign_in(browser, "ana@maison.example").status_code == 303


def test_a_sign_in_post_without_the_forms_token_is_refused(browser, staffed):
    browser.get("/login")  # the cookie half is there, the form half is not
    response = browser.post("/login", data={"email": "ana@maison.example", "password": PASSWORD})
    assert response.status_code == 403 and "expired" in response.text
    forged = browser.post("/login", data={"email": "ana@maison.example", "password": PASSWORD, "csrf_token": "forged"})
    assert forged.status_code == 403
    assert auth.SESSION_COOKIE not in browser.cookies


# -- signing out and sessions that end --------------------------------------------------------------


def test_signing_out_needs_the_csrf_token_and_ends_the_session(browser, staffed):
    csrf = signed_in(browser, "ana@maison.example")
    refused = browser.post("/logout")
    assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]
    assert browser.post("/logout", data={"csrf_token": "wrong"}).status_code == 403
    assert browser.get("/").status_code == 200  # still signed in
    token = browser.cookies.get(auth.SESSION_COOKIE)
    done = browser.post("/logout", data={"csrf_token": csrf})
    assert (done.status_code, done.headers["location"]) == (303, "/login")
    browser.cookies.set(auth.SESSION_COOKIE, token)  # a stolen copy of the cookie is worthless now
    assert browser.get("/").status_code == 303


def test_htmx_requests_send_the_token_as_a_header(browser, staffed):
    csrf = signed_in(browser, "ana@maison.example")
    response = browser.post("/logout", headers={"HX-Request": "true", "X-CSRF-Token": csrf})
    assert response.headers["hx-redirect"] == "/login"


def test_an_expired_session_is_refused(browser, staffed, fixed_clock):
    signed_in(browser, "ana@maison.example")
    fixed_clock.advance(timedelta(minutes=get_settings().session_idle_minutes))
    assert browser.get("/").status_code == 303
    htmx = browser.get("/", headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and htmx.headers["hx-redirect"] == "/login"
    # After signing in again the person lands on the page they were on, not on the fragment.
    fragment = browser.get("/", headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/?tab=book"})
    assert fragment.headers["hx-redirect"] == "/login?next=/%3Ftab%3Dbook"
    elsewhere = browser.get("/", headers={"HX-Request": "true", "HX-Current-URL": "https://evil.example/x"})
    assert elsewhere.headers["hx-redirect"] == "/login"


def test_a_session_past_its_absolute_expiry_is_refused_even_if_active(browser, staffed, db, fixed_clock):
    signed_in(browser, "ana@maison.example")
    with db.write() as session:
        session.execute(update(WebSession).values(expires_at=fixed_clock.now() + timedelta(minutes=1)))
    fixed_clock.advance(timedelta(minutes=1))
    assert browser.get("/").status_code == 303


# -- the JSON API: tokens and sessions alike --------------------------------------------------------


@pytest.fixture
def parity_app(app: FastAPI) -> FastAPI:
    """Two routes the screens would call: who am I, and "may I edit this client" (a write)."""
    router = APIRouter()

    @router.get("/api/v1/test/me")
    def me(caller: Caller = Depends(session_or_token_caller)) -> dict[str, object]:
        return {"kind": caller.kind, "name": caller.name, "role": caller.role}

    @router.post("/api/v1/test/clients/{customer_id}/touch")
    def touch(customer_id: int, caller: Caller = Depends(session_or_token_caller), session=Depends(read_session)):
        permissions.require_edit_client(caller.actor, permissions.client_facts(session, customer_id))
        return {"ok": True}

    app.include_router(router)
    return app


@pytest.fixture
def new_yorker(db, staffed) -> int:
    result = ingest_records(db, "customers", [{"source": "pos", "id": "ny-1", "first_name": "Grace",
                                               "last_name": "Hopper", "home_store": "NYC"}])  # fmt: skip
    assert result.outcomes[0].id is not None
    return result.outcomes[0].id


def test_the_api_answers_a_signed_in_associate_and_refuses_a_cookie_write_without_the_csrf_header(
    parity_app, staffed, new_yorker
):
    client = TestClient(parity_app, follow_redirects=False)
    assert client.get("/api/v1/test/me").status_code == 401
    csrf = signed_in(client, "ben@maison.example")
    assert client.get("/api/v1/test/me").json() == {"kind": "associate", "name": "Ben Carter", "role": "associate"}
    refused = client.post(f"/api/v1/test/clients/{new_yorker}/touch")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    ok = client.post(f"/api/v1/test/clients/{new_yorker}/touch", headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize(
    ("email", "allowed"),
    [
        ("ana@maison.example", False),  # a Paris associate, a New York client
        ("ben@maison.example", True),  # his store's client
        ("mia@maison.example", False),  # not in her book
        ("max@maison.example", False),  # manages Paris
        ("ada@maison.example", True),  # head office
    ],
)
def test_the_same_edit_rule_answers_over_http_for_each_role(parity_app, staffed, new_yorker, email, allowed):
    client = TestClient(parity_app, follow_redirects=False)
    csrf = signed_in(client, email)
    response = client.post(f"/api/v1/test/clients/{new_yorker}/touch", headers={"X-CSRF-Token": csrf})
    assert response.status_code == (200 if allowed else 403), response.text
    if not allowed:
        assert response.json()["error"] == "forbidden"


def test_a_bearer_token_works_and_a_revoked_one_is_refused(parity_app, db, staffed):
    with db.write() as session:
        issued = tokens.create_token(session, "pos-export")
    client = TestClient(parity_app)
    headers = {"Authorization": f"Bearer {issued.token}"}
    assert client.get("/api/v1/test/me", headers=headers).json()["kind"] == "token"
    assert client.get("/api/v1/customers", params={"q": "grace"}, headers=headers).status_code == 200
    with db.write() as session:
        tokens.revoke_token(session, issued.id)
    for path in ("/api/v1/test/me", "/api/v1/customers?q=grace"):
        refused = client.get(path, headers=headers)
        assert refused.status_code == 401 and refused.json()["detail"] == "invalid or revoked token"


def test_a_wrong_bearer_token_is_not_rescued_by_a_session_cookie(parity_app, staffed):
    client = TestClient(parity_app, follow_redirects=False)
    signed_in(client, "ana@maison.example")
    response = client.get("/api/v1/test/me", headers={"Authorization": "Bearer rpt_made_up"})
    assert response.status_code == 401


def test_integration_only_routes_refuse_a_browser_session(app, staffed):
    client = TestClient(app, follow_redirects=False)
    csrf = signed_in(client, "ada@maison.example")
    response = client.post(
        "/api/v1/ingest/associates",
        json={"code": "X", "email": "ada@maison.example", "display_name": "Ada", "role": "admin"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 401
    assert api_caller is not session_or_token_caller


def test_an_expired_session_is_refused_by_the_api(parity_app, staffed, fixed_clock):
    client = TestClient(parity_app, follow_redirects=False)
    signed_in(client, "ana@maison.example")
    assert client.get("/api/v1/test/me").status_code == 200
    fixed_clock.advance(timedelta(hours=get_settings().session_max_hours))
    assert client.get("/api/v1/test/me").status_code == 401
