"""The associate's notification feed, and email delivery through a real (local) SMTP server."""

from __future__ import annotations

import email
import email.policy
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import func, select

from rapport.associates import notifications
from rapport.associates.models import Notification
from rapport.associates.notifications import EmailSettings
from rapport.errors import NotFound
from rapport.ingest.service import ingest_records


@dataclass
class Inbox:
    """An SMTP server's handler that keeps what it is sent, and who logged in."""

    messages: list[tuple[str, list[str], email.message.EmailMessage]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    #: Recipients the server answers "550 no such mailbox".
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        """aiosmtpd's authenticator: one account, rapport / s3cret."""
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"rapport", b"s3cret")
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, authenticator=inbox, auth_require_tls=False, auth_required=False
    )
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()
        notifications.set_email_settings(None)


def enable_email(port: int, **extra: Any) -> None:
    notifications.set_email_settings(
        EmailSettings(
            notify_email=True, smtp_host="127.0.0.1", smtp_port=port, smtp_timeout=5,
            mail_from="Maison Rapport <rapport@maison.example>", public_url="https://rapport.maison.example/",
            **extra,
        )
    )  # fmt: skip


@pytest.fixture
def team(db) -> dict[str, int]:
    result = ingest_records(db, "associates", [
        {"code": "MIC", "email": "michelle@maison.example", "display_name": "Michelle Laurent",
         "role": "virtual_associate", "regions": ["US"]},
        {"code": "ANA", "email": "ana@maison.example", "display_name": "Ana Duval"},
        {"code": "OLD", "email": "old@maison.example", "display_name": "Gone Away", "active": False},
    ])  # fmt: skip
    return {code: o.id for code, o in zip(("MIC", "ANA", "OLD"), result.outcomes, strict=True)}  # type: ignore[misc]


def stored(db) -> int:
    with db.read() as session:
        return int(session.execute(select(func.count()).select_from(Notification)).scalar_one())


def test_the_feed_is_newest_first_with_an_unread_count(db, team, fixed_clock):
    with db.write() as session:
        first = notifications.notify(session, team["MIC"], "clients_assigned", "3 new clients in your book")
        fixed_clock.advance(timedelta(minutes=5))
        second = notifications.notify(
            session, team["MIC"], "handover", "Alicia visits Paris on Friday", "Treat her well", "/clients/7"
        )
        notifications.notify(session, team["ANA"], "clients_assigned", "For Ana")
    with db.read() as session:
        feed = notifications.list_for(session, team["MIC"])
        assert [n.id for n in feed] == [second, first]
        assert (feed[0].body, feed[0].link, feed[0].read_at) == ("Treat her well", "/clients/7", None)
        assert notifications.unread_count(session, team["MIC"]) == 2
        assert [n.id for n in notifications.list_for(session, team["MIC"], limit=1)] == [second]


def test_marking_read_touches_only_the_associates_own_notifications(db, team, fixed_clock):
    with db.write() as session:
        mine = [notifications.notify(session, team["MIC"], "k", f"n{i}") for i in range(3)]
        anas = notifications.notify(session, team["ANA"], "k", "hers")
    with db.write() as session:
        assert notifications.mark_read(session, team["MIC"], [mine[0], anas]) == 1
    with db.read() as session:
        assert notifications.unread_count(session, team["MIC"]) == 2
        assert notifications.unread_count(session, team["ANA"]) == 1
        assert [n.id for n in notifications.list_for(session, team["MIC"], unread_only=True)] == [mine[2], mine[1]]
        assert notifications.get(session, mine[0]).read_at == fixed_clock.now()
    with db.write() as session:
        assert notifications.mark_read(session, team["MIC"]) == 2
        assert notifications.mark_read(session, team["MIC"]) == 0
    with db.read() as session:
        assert notifications.unread_count(session, team["MIC"]) == 0


def test_a_notification_for_an_unknown_associate_is_refused(db, team):
    with db.write() as session, pytest.raises(NotFound):
        notifications.notify(session, 424242, "k", "nobody")


def test_no_email_is_sent_unless_enabled(db, team, smtp):
    inbox, _port = smtp
    with db.write() as session:
        notifications.notify(session, team["MIC"], "k", "Quiet")
    assert stored(db) == 1 and inbox.messages == []


def test_when_enabled_the_associate_gets_an_email_after_the_commit(db, team, smtp):
    inbox, port = smtp
    enable_email(port)
    with db.write() as session:
        nid = notifications.notify(
            session,
            team["MIC"],
            "clients_assigned",
            "A new client: Alicia Moreau",
            "Assigned to you (US).",
            "/clients/7",
        )
        assert inbox.messages == []  # nothing leaves before the change is committed
    ((sender, recipients, message),) = inbox.messages
    assert sender == "rapport@maison.example" and recipients == ["michelle@maison.example"]
    assert message["To"] == "Michelle Laurent <michelle@maison.example>"
    assert message["From"] == "Maison Rapport <rapport@maison.example>"
    assert message["Subject"] == "A new client: Alicia Moreau"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Rapport-Notification"] == f"{nid} clients_assigned"
    assert message["Message-ID"].endswith("@maison.example>")
    assert message["Date"] == "Mon, 23 Nov 2026 15:00:00 +0000"
    body = message.get_content()
    assert "Assigned to you (US)." in body and "https://rapport.maison.example/clients/7" in body


def test_the_smtp_login_uses_the_configured_credentials(db, team, smtp):
    inbox, port = smtp
    enable_email(port, smtp_username="rapport", smtp_password="s3cret")
    with db.write() as session:
        notifications.notify(session, team["ANA"], "k", "Hello Ana")
    assert inbox.logins == ["rapport"] and len(inbox.messages) == 1


def test_no_email_leaves_for_a_change_that_was_rolled_back(db, team, smtp):
    inbox, port = smtp
    enable_email(port)
    with pytest.raises(RuntimeError), db.write() as session:
        notifications.notify(session, team["MIC"], "k", "Never happened")
        raise RuntimeError("the assignment failed")
    assert stored(db) == 0 and inbox.messages == []
    with db.write() as session:  # the next unit of work is not haunted by the discarded email
        notifications.notify(session, team["MIC"], "k", "This one")
    assert [m["Subject"] for _, _, m in inbox.messages] == ["This one"]


def test_an_inactive_associate_is_not_emailed(db, team, smtp):
    inbox, port = smtp
    enable_email(port)
    with db.write() as session:
        notifications.notify(session, team["OLD"], "k", "Still in the feed")
    assert stored(db) == 1 and inbox.messages == []


def test_an_smtp_failure_never_loses_the_in_app_notification(db, team, smtp, caplog):
    inbox, port = smtp
    inbox.refuse.add("michelle@maison.example")
    enable_email(port)
    with caplog.at_level(logging.WARNING, logger="rapport.associates.notifications"), db.write() as session:
        notifications.notify(session, team["MIC"], "k", "Refused mailbox")
        notifications.notify(session, team["ANA"], "k", "Delivered")
    enable_email(_free_port())  # nobody listens there
    with caplog.at_level(logging.WARNING, logger="rapport.associates.notifications"), db.write() as session:
        notifications.notify(session, team["ANA"], "k", "Server down")
    assert stored(db) == 3
    assert [m["Subject"] for _, _, m in inbox.messages] == ["Delivered"]
    warnings = [r.getMessage() for r in caplog.records]
    assert any("to Michelle Laurent <michelle@maison.example> refused" in w for w in warnings)
    assert any("notification emails not sent (1)" in w for w in warnings)


def test_an_assignment_run_emails_each_associate_once(db, smtp):
    inbox, port = smtp
    enable_email(port)
    from rapport.clientbook import service

    ingest_records(db, "associates", [
        {"code": "MIC", "email": "michelle@maison.example", "display_name": "Michelle Laurent",
         "role": "virtual_associate", "regions": ["US"]},
        {"code": "ZOE", "email": "zoe@maison.example", "display_name": "Zoé Marchetti",
         "role": "virtual_associate", "regions": ["FR"]},
    ])  # fmt: skip
    ingest_records(db, "customers", [
        {"source": "web", "id": str(i), "first_name": f"Client{i}", "last_name": "Doe",
         "addresses": [{"country": "US" if i % 3 else "FR", "primary": True}]}
        for i in range(9)
    ])  # fmt: skip
    with db.write() as session:
        summary = service.assign_unassigned(session)
    assert summary.total == 9
    subjects = sorted((r[0], m["Subject"]) for _, r, m in inbox.messages)
    assert subjects == [
        ("michelle@maison.example", "6 new clients in your book"),
        ("zoe@maison.example", "3 new clients in your book"),
    ]
