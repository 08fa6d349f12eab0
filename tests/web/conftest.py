"""A browser's view of the app: a TestClient, a team with a user per role, and a way to sign in."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rapport.app import create_app
from rapport.associates import auth
from tests.associates.staff import PASSWORD, Team, cheap_hashing, team

_HIDDEN_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    with cheap_hashing():
        yield


@pytest.fixture
def staffed(db) -> Team:
    return team(db)


@pytest.fixture
def app(db) -> FastAPI:
    return create_app()


@pytest.fixture
def browser(app: FastAPI) -> TestClient:
    return TestClient(app, follow_redirects=False)


def form_token(page: httpx.Response) -> str:
    found = _HIDDEN_CSRF.search(page.text)
    assert found, f"no csrf_token field in:\n{page.text[:2000]}"
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD, next: str = "/") -> httpx.Response:
    """What a person does: open /login, fill in the form, submit it."""
    page = client.get("/login")
    assert page.status_code == 200, page.text
    data = {"email": email, "password": password, "csrf_token": form_token(page), "next": next}
    return client.post("/login", data=data)


def signed_in(client: TestClient, email: str) -> str:
    """Sign in and return the session's CSRF token (from the home page's sign-out form)."""
    response = sign_in(client, email)
    assert response.status_code == 303, response.text
    assert client.cookies.get(auth.SESSION_COOKIE)
    return form_token(client.get("/"))
