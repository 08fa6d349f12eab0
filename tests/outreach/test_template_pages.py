"""The message templates pages: the list, a template with its preview, the editor with a live (HTMX) preview.

The team (tests/associates/staff.py): Ana (associate, Paris), Max (store manager, Paris), Ada (head
office). Alicia is a Paris client in Ana's book who bought a camel coat.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rapport.app import create_app
from rapport.db import Database
from rapport.outreach import message_templates as saved_templates
from rapport.web import message_templates
from tests.associates.staff import Team, cheap_hashing, team
from tests.web.conftest import form_token, signed_in
from tests.web.shop import client, coats, sale

ANA, MAX, ADA = "ana@maison.example", "max@maison.example", "ada@maison.example"
HTMX = {"HX-Request": "true", "HX-Target": "template-preview"}
FORM = {
    "name": "Thank you",
    "channel": "sms",
    "language": "en",
    "subject": "",
    "body": "Hello {first_name}, enjoy your {last_purchase}! {associate_first_name}",
    "provider_template_id": "",
}


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    with cheap_hashing():
        yield


@pytest.fixture
def staffed(db) -> Team:
    return team(db)


@pytest.fixture
def alicia(db, staffed) -> int:
    coats(db)
    cid = client(db, "alicia", "Alicia", "Moreau", home_store="PAR", associate=ANA)
    sale(db, "o1", "alicia", at="2026-11-01T10:00:00+00:00")
    return cid


@pytest.fixture
def browser(db, staffed) -> TestClient:
    app: FastAPI = create_app()
    app.include_router(message_templates.router)
    return TestClient(app, follow_redirects=False)


def saved(browser: TestClient, **changes: str) -> int:
    """Whoever is signed in fills in the editor and saves; returns the template's id."""
    page = browser.get("/templates/new")
    assert page.status_code == 200, page.text
    response = browser.post("/templates", data={**FORM, **changes, "csrf_token": form_token(page)})
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.endswith("?saved=1")
    return int(location.split("?")[0].rsplit("/", 1)[1])


def existing(db: Database, actor: int, **values: str | None) -> int:
    fields = {"name": "Thank you", "channel": "sms", "subject": None, "body": FORM["body"], **values}
    with db.write() as session:
        return saved_templates.create_template(session, actor, **fields).id  # type: ignore[arg-type]


def test_a_manager_writes_a_template_in_the_editor_and_finds_it_in_the_list(browser, alicia) -> None:
    signed_in(browser, MAX)
    listing = browser.get("/templates")
    assert listing.status_code == 200 and 'href="/templates/new"' in listing.text
    editor = browser.get("/templates/new")
    assert "{last_purchase_date}" in editor.text and "the client&#39;s first name" in editor.text  # the fields
    assert 'hx-get="/templates/preview"' in editor.text
    template_id = saved(browser)
    page = browser.get(f"/templates/{template_id}?saved=1")
    assert page.status_code == 200 and "Saved." in page.text
    assert "Hello Alicia, enjoy your Camel coat! Max" in page.text  # the preview, for a sample client
    assert f'href="/templates/{template_id}/edit"' in page.text
    assert "Thank you" in browser.get("/templates").text


def test_an_associate_may_read_templates_but_not_write_them(db, browser, staffed, alicia) -> None:
    template_id = existing(db, staffed.max)
    token = signed_in(browser, ANA)
    listing = browser.get("/templates")
    assert listing.status_code == 200 and "Thank you" in listing.text and "/templates/new" not in listing.text
    page = browser.get(f"/templates/{template_id}")
    assert page.status_code == 200 and "Hello Alicia, enjoy your Camel coat! Ana" in page.text
    assert "/edit" not in page.text and "Retire" not in page.text
    assert browser.get("/templates/new").status_code == 403
    assert browser.get(f"/templates/{template_id}/edit").status_code == 403
    assert browser.post("/templates", data={**FORM, "name": "Mine", "csrf_token": token}).status_code == 403
    assert browser.post(f"/templates/{template_id}/retire", data={"csrf_token": token}).status_code == 403


def test_a_form_without_its_csrf_token_is_refused(browser, alicia) -> None:
    signed_in(browser, ADA)
    assert browser.post("/templates", data=FORM).status_code == 403


def test_a_refused_template_comes_back_with_the_problem_and_the_text_as_typed(browser, alicia) -> None:
    signed_in(browser, ADA)
    page = browser.get("/templates/new")
    typed = {**FORM, "body": "Your size: {shoe_size}", "csrf_token": form_token(page)}
    response = browser.post("/templates", data=typed)
    assert response.status_code == 422
    assert "Message: unknown field {shoe_size}; known: {first_name}" in response.text
    assert ">Your size: {shoe_size}</textarea>" in response.text
    approved = browser.post("/templates", data={**FORM, "whatsapp_approved": "1", "csrf_token": form_token(page)})
    assert approved.status_code == 422 and "Approved for WhatsApp: only WhatsApp templates" in approved.text


def test_the_live_preview_fills_the_text_as_typed_for_the_chosen_client(browser, alicia) -> None:
    signed_in(browser, MAX)
    params = {"body": "Hi {first_name}! {{not a field}} {product}", "channel": "sms", "sample": str(alicia)}
    fragment = browser.get("/templates/preview", params=params, headers=HTMX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'data-preview="body">Hi Alicia! {not a field} [product]</p>' in fragment.text
    assert "No product is picked for this message: remove {product}" in fragment.text
    assert re.search(r'data-preview="segments">1 SMS segment<', fragment.text)
    long = browser.get("/templates/preview", params={**params, "body": "ł" * 71}, headers=HTMX)
    assert re.search(r'data-preview="segments">2 SMS segments<', long.text) and "UCS-2" in long.text
    wrong = browser.get("/templates/preview", params={**params, "body": "{shoe_size}"}, headers=HTMX)
    assert "unknown field {shoe_size}" in wrong.text


def test_a_manager_changes_then_retires_a_template(db, browser, staffed, alicia) -> None:
    template_id = existing(db, staffed.ada)
    token = signed_in(browser, MAX)
    editor = browser.get(f"/templates/{template_id}/edit")
    assert editor.status_code == 200 and 'value="Thank you"' in editor.text
    changed = browser.post(
        f"/templates/{template_id}", data={**FORM, "body": "Merci {first_name}", "csrf_token": form_token(editor)}
    )
    assert changed.status_code == 303
    assert "Merci Alicia" in browser.get(f"/templates/{template_id}").text
    retired = browser.post(f"/templates/{template_id}/retire", data={"csrf_token": token})
    assert retired.status_code == 303
    page = browser.get(f"/templates/{template_id}")
    assert "Retired" in page.text and "Retire the template" not in page.text
    listing = browser.get("/templates").text
    assert "Retired (1)" in listing and "No templates yet." in listing


def test_a_template_body_is_shown_as_text_never_run_as_markup(db, browser, staffed, alicia) -> None:
    attack = '<script>alert("x")</script><img src=x onerror=alert(1)> Hello {first_name}'
    template_id = existing(db, staffed.ada, name="<b>Bold</b> offer", body=attack)
    signed_in(browser, ANA)
    for page in (browser.get("/templates"), browser.get(f"/templates/{template_id}")):
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "<img src=x" not in page.text and "<b>Bold</b>" not in page.text
        assert "&lt;b&gt;Bold&lt;/b&gt; offer" in page.text
    page = browser.get(f"/templates/{template_id}")
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; Hello Alicia" in page.text
    fragment = browser.get("/templates/preview", params={"body": attack, "sample": str(alicia)}, headers=HTMX)
    assert "<script>" not in fragment.text and "&lt;script&gt;" in fragment.text
