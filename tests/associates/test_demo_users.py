"""The demo retailer comes with one user per role, whose logins ``rapport serve`` prints."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from rapport.app import create_app
from rapport.associates import auth
from rapport.demo.generator import DEMO_PASSWORD, demo_logins, load_demo
from tests.associates.staff import cheap_hashing


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    with cheap_hashing():
        yield


def test_the_demo_has_a_user_per_role_who_can_sign_in(db, tmp_path):
    report = load_demo(db, customers=5, catalogue=0.05, credentials_dir=tmp_path, parallel=False)
    assert [u["role"] for u in report.logins] == ["associate", "virtual_associate", "store_manager", "admin"]
    on_file = json.loads((tmp_path / "demo-credentials.json").read_text())
    assert on_file["sign_in"]["users"] == report.logins and on_file["api_token"]["token"] == report.token

    printed = demo_logins(db, tmp_path)
    assert printed[0] == ("integration API token", "Authorization: Bearer", report.token)
    assert [what.split(" (")[0] for what, _, _ in printed[1:]] == [
        "associate", "online expert", "store manager", "head office admin",
    ]  # fmt: skip
    assert all(secret == DEMO_PASSWORD for _, _, secret in printed[1:])

    manager = next(u for u in report.logins if u["role"] == "store_manager")
    client = TestClient(create_app(), follow_redirects=False)
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post("/login", data={"email": manager["email"], "password": DEMO_PASSWORD, "csrf_token": token})
    assert response.status_code == 303 and client.cookies.get(auth.SESSION_COOKIE)
    home = client.get("/")
    assert manager["name"] in home.text and "Store manager" in home.text and "Maison Rapport" in home.text


def test_a_demo_user_disabled_since_is_no_longer_printed(db, tmp_path):
    from rapport.associates import users

    report = load_demo(db, customers=5, catalogue=0.05, credentials_dir=tmp_path, parallel=False)
    with db.write() as session:
        users.disable_user(session, report.logins[0]["email"])
    assert len(demo_logins(db, tmp_path)) == 1 + len(report.logins) - 1
