"""A `rapport worker` process killed (SIGKILL) in the middle of sending: nothing lost, nothing sent twice.

The local Twilio server stalls the worker's request at the exact point — before it accepts the
message, or after it accepted it but before answering — and the test kills the worker there. Another
worker then finds the message in doubt, waits out the grace period, asks the provider, and sends it
only if the provider never got it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from rapport.db import Database
from rapport.outreach.channels.local_twilio import LocalTwilio
from rapport.outreach.channels.registry import close_channels
from rapport.outreach.dispatch import outreach_runner
from rapport.outreach.models import Message
from rapport.outreach.settings import set_outreach_settings
from tests.outreach.shop import send as queue_message

SENDER = "+33100000009"
GRACE = 30


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    yield
    set_outreach_settings(None)
    close_channels()


def _rapport() -> list[str]:
    script = Path(sys.executable).with_name("rapport")
    return [str(script)] if script.exists() else [sys.executable, "-m", "rapport.cli"]


@pytest.mark.parametrize("after_accepting", [False, True], ids=["before-the-provider-took-it", "after"])
def test_a_worker_killed_mid_send_neither_loses_nor_doubles_the_message(
    db: Database,
    shop: dict,
    fixed_clock,
    after_accepting: bool,
) -> None:
    fixed_clock.set(datetime.now(UTC))  # the worker process lives on the real clock
    with LocalTwilio() as twilio:
        quiet_off = {"quiet_hours_start": time(0), "quiet_hours_end": time(0)}
        set_outreach_settings(twilio.settings(twilio_sms_from=SENDER, in_doubt_grace_seconds=GRACE, **quiet_off))
        queued = queue_message(db, shop, body="Exactly once, please")
        twilio.stall_next(after_accepting=after_accepting)
        env = {
            **os.environ, "RAPPORT_DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
            "RAPPORT_TWILIO_ACCOUNT_SID": twilio.account_sid, "RAPPORT_TWILIO_AUTH_TOKEN": twilio.auth_token,
            "RAPPORT_TWILIO_API_BASE": twilio.url, "RAPPORT_TWILIO_SMS_FROM": SENDER,
            "RAPPORT_QUIET_HOURS_START": "00:00", "RAPPORT_QUIET_HOURS_END": "00:00",
        }  # fmt: skip
        worker = subprocess.Popen(
            [*_rapport(), "worker", "--no-tasks", "--interval", "0.5"], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            assert twilio.stalled.wait(60), "the worker never reached the provider"
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=30)
        twilio.release()
        with db.read() as session:
            assert session.get(Message, queued.id).status == "sending"  # in doubt: the worker died mid-call
        # Another worker, once the dead one's lease (60 s) and the grace period have passed.
        fixed_clock.set(datetime.now(UTC) + timedelta(seconds=61 + GRACE))
        outreach_runner(lambda: db).drain()
        outreach_runner(lambda: db).drain()
        assert [m["Body"] for m in twilio.messages] == ["Exactly once, please"]
    with db.read() as session:
        (message,) = session.execute(select(Message)).scalars().all()
    assert message.status == "sent" and message.provider_message_id
