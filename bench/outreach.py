"""Benchmark 6 — outreach: the sending queue's throughput, and an inbound message reaching the thread.

* **Queue throughput** (target >= 200 messages/s with 2 workers on PostgreSQL; SQLite reported):
  messages are queued through ``send_message`` for clients who agreed to SMS (quiet hours off and
  the daily cap raised for the run), then ``outreach_workers`` processes (:mod:`bench.outreach_worker`,
  the job runner ``rapport worker`` starts) send them to a local server speaking Twilio's Messages
  API (:class:`rapport.outreach.channels.local_twilio.LocalTwilio`) through the real ``twilio``
  client. The rate counts from the workers' start until every message is recorded sent. Baseline:
  the same number of messages posted straight to the local server by as many threads through the
  same client — the provider path alone, without Rapport.
* **Inbound to thread** (target p95 < 1 s): the app serves the data; for one client at a time a
  signed Twilio webhook (``/api/v1/webhooks/twilio/messages``) is posted and the client's thread
  (``/api/v1/customers/{id}/messages?after_id=``) polled every 10 ms until the message is in it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import time as clock_time

from sqlalchemy import select
from twilio.request_validator import RequestValidator

from bench import harness
from bench.harness import Log
from bench.plan import Plan
from bench.report import Baseline, Figure, Measure, Target
from rapport.associates.models import Associate
from rapport.associates.permissions import load_actor
from rapport.customers.edits import Editor
from rapport.customers.models import Customer
from rapport.db import Database
from rapport.ingest.service import ingest_records
from rapport.outreach import service
from rapport.outreach.channels.local_twilio import LocalTwilio
from rapport.outreach.channels.registry import close_channels
from rapport.outreach.channels.twilio import twilio_client
from rapport.outreach.models import Message
from rapport.outreach.settings import OutreachSettings, set_outreach_settings

THROUGHPUT_TARGET = Target(">= 200 messages/s", 200.0, higher_is_better=True)
LATENCY_TARGET = Target("p95 < 1,000 ms", 1000.0, higher_is_better=False)
POLL_EVERY = 0.01
GIVE_UP = 10.0
STORE_NUMBER = "+33100000010"
TOKEN = "bench-twilio-auth-token"
PUBLIC_URL = "http://127.0.0.1:8000"


def _seed(db: Database, clients: int) -> tuple[int, list[tuple[int, str]]]:
    """A store, an associate with a business line, clients who agreed to SMS; (associate, [(client, phone)])."""

    def ok(kind: str, records: list[dict[str, object]]) -> None:
        result = ingest_records(db, kind, records)
        bad = [o.errors for o in result.outcomes if o.status == "rejected"]
        if bad:
            raise RuntimeError(f"{kind} refused: {bad[:3]}")

    ok("locations", [{"code": "PAR", "name": "Paris", "country": "FR", "timezone": "Europe/Paris", "currency": "EUR"}])
    ok("associates", [{"code": "ANA", "email": "ana@bench.example", "display_name": "Ana", "home_store": "PAR"}])
    people = [
        {"source": "bench", "id": f"c{i}", "first_name": f"Client{i}", "phones": [f"+336{10_000_000 + i:08d}"],
         "home_store": "PAR", "assigned_associate": "ANA", "consent": [{"channel": "sms", "granted": True}]}
        for i in range(clients)
    ]  # fmt: skip
    for start in range(0, len(people), 1000):
        ok("customers", people[start : start + 1000])
    with db.write() as session:
        ana = session.scalar(select(Associate.id).where(Associate.code == "ANA"))
        session.execute(Associate.__table__.update().values(business_phone=STORE_NUMBER))
        rows = session.execute(select(Customer.id, Customer.first_name).order_by(Customer.id)).all()
    assert ana is not None
    return ana, [(r.id, f"+336{10_000_000 + int(r.first_name[6:]):08d}") for r in rows]


def _settings(twilio: LocalTwilio) -> OutreachSettings:
    return twilio.settings(
        quiet_hours_start=clock_time(0), quiet_hours_end=clock_time(0), daily_cap=50,
        twilio_sms_from=STORE_NUMBER,
    )  # fmt: skip


def _env(url: str, twilio: LocalTwilio) -> dict[str, str]:
    return {
        **harness.rapport_env(url), "RAPPORT_TWILIO_ACCOUNT_SID": twilio.account_sid,
        "RAPPORT_TWILIO_AUTH_TOKEN": twilio.auth_token, "RAPPORT_TWILIO_API_BASE": twilio.url,
        "RAPPORT_TWILIO_SMS_FROM": STORE_NUMBER, "RAPPORT_QUIET_HOURS_START": "00:00",
        "RAPPORT_QUIET_HOURS_END": "00:00", "RAPPORT_DAILY_CAP": "50", "RAPPORT_PUBLIC_URL": PUBLIC_URL,
    }  # fmt: skip


def throughput(engine: str, plan: Plan, log: Log) -> Figure:
    url = harness.fresh_database(engine, harness.db_name("outreach"))
    db = harness.migrated(url)
    try:
        ana, clients = _seed(db, plan.outreach_clients)
        with LocalTwilio() as twilio:
            set_outreach_settings(_settings(twilio))
            log(f"outreach/{engine}: queueing {plan.outreach_messages:,} messages")
            with db.read() as session:
                actor = load_actor(session, ana)
            assert actor is not None
            editor = Editor(actor, "Ana")
            for start in range(0, plan.outreach_messages, 200):
                with db.write() as session:
                    for i in range(start, min(start + 200, plan.outreach_messages)):
                        cid = clients[i % len(clients)][0]
                        service.send_message(session, editor, cid, channel="sms", body=f"Hello {{first_name}}, #{i}")
            set_outreach_settings(None)
            close_channels()
            log(f"outreach/{engine}: {plan.outreach_workers} workers sending to the local Twilio API")
            env = {**os.environ, **_env(url, twilio), "PYTHONPATH": str(harness.ROOT)}
            started = time.perf_counter()
            workers = [
                subprocess.Popen([sys.executable, "-m", "bench.outreach_worker"], cwd=harness.ROOT, env=env)
                for _ in range(plan.outreach_workers)
            ]
            codes = [w.wait(timeout=900) for w in workers]
            seconds = time.perf_counter() - started
            if any(codes):
                raise RuntimeError(f"a worker failed: exit codes {codes}")
            with db.read() as session:
                statuses = session.execute(select(Message.status)).scalars().all()
            sent = sum(1 for s in statuses if s == "sent")
            if sent != plan.outreach_messages or len(twilio.messages) != plan.outreach_messages:
                raise RuntimeError(f"{sent} sent, {len(twilio.messages)} at the provider, of {plan.outreach_messages}")
            twilio.clear()
            raw = _raw_provider_rate(twilio, plan.outreach_messages, plan.outreach_workers)
    finally:
        db.engine.dispose()
        harness.drop_database(url)
    rate = plan.outreach_messages / seconds
    return Figure(
        bench="outreach", engine=engine, name="queue → provider, 2 workers", size=f"{plan.outreach_messages:,} SMS",
        measure=Measure(rate, "messages/s", {"messages": plan.outreach_messages, "seconds": seconds,
                                              "workers": plan.outreach_workers}),
        baselines=[Baseline("raw engine", f"the provider path alone: {plan.outreach_messages:,} creates posted to the "
                            f"local Twilio API by {plan.outreach_workers} threads through the twilio client, "
                            "no database", Measure(raw, "messages/s"))],
        target=THROUGHPUT_TARGET if engine == "postgresql" else None,
        notes=["each message: claim (batches of 50), mark sending, provider call, record sent — three short "
               "transactions; worker start-up (Python imports) is inside the time"],
    )  # fmt: skip


def _raw_provider_rate(twilio: LocalTwilio, n: int, threads: int) -> float:
    settings = twilio.settings()
    per = [n // threads + (1 if i < n % threads else 0) for i in range(threads)]

    def push(count: int) -> None:
        client = twilio_client(settings)
        for i in range(count):
            client.messages.create(to=f"+336{10_000_000 + i:08d}", from_=STORE_NUMBER, body=f"raw {i}")

    pool = [threading.Thread(target=push, args=(c,)) for c in per]
    started = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return n / (time.perf_counter() - started)


def inbound(engine: str, plan: Plan, log: Log) -> Figure:
    url = harness.fresh_database(engine, harness.db_name("outreach_in"))
    db = harness.migrated(url)
    try:
        _, clients = _seed(db, max(plan.outreach_inbound_samples, 1))
    finally:
        db.engine.dispose()
    token = harness.create_token(url, "bench-outreach")
    latencies: list[float] = []
    try:
        with LocalTwilio(auth_token=TOKEN) as twilio:
            env = _env(url, twilio)
            app = harness.Server("rapport.app:create_app", factory=True, env=env, name=f"outreach-{engine}")
            with app as server, harness.client(server, token) as http:
                validator = RequestValidator(TOKEN)
                path = "/api/v1/webhooks/twilio/messages"
                log(f"outreach/{engine}: {plan.outreach_inbound_samples} inbound SMS, each until it is in the thread")
                for i, (cid, phone) in enumerate(clients[: plan.outreach_inbound_samples]):
                    form = {"MessageSid": f"SMbench{os.getpid()}{i:06d}", "From": phone, "To": STORE_NUMBER,
                            "Body": f"Is the coat in? ({i})", "NumMedia": "0"}  # fmt: skip
                    # Signed over the public URL the app believes it has (RAPPORT_PUBLIC_URL, default).
                    signature = validator.compute_signature(PUBLIC_URL + path, form)
                    started = time.perf_counter()
                    answer = http.post(path, data=form, headers={"X-Twilio-Signature": signature})
                    if answer.status_code != 200:
                        raise RuntimeError(f"webhook answered {answer.status_code}: {answer.text[:300]}")
                    while True:
                        thread = http.get(f"/api/v1/customers/{cid}/messages", params={"after_id": 0})
                        if thread.status_code != 200:
                            raise RuntimeError(f"thread answered {thread.status_code}: {thread.text[:300]}")
                        if any(m["body"] == form["Body"] for m in thread.json()["messages"]):
                            break
                        if time.perf_counter() - started > GIVE_UP:
                            raise RuntimeError(f"message {i} not in the thread after {GIVE_UP:.0f} s")
                        time.sleep(POLL_EVERY)
                    latencies.append(time.perf_counter() - started)
    finally:
        harness.drop_database(url)
    ms = sorted(x * 1000 for x in latencies)
    detail = {"p50": harness.percentile(ms, 50), "p95": harness.percentile(ms, 95), "p99": harness.percentile(ms, 99),
              "samples": float(len(ms))}  # fmt: skip
    return Figure(
        bench="outreach", engine=engine, name="inbound webhook → thread", size=f"{len(ms)} SMS",
        measure=Measure(detail["p95"], "ms", detail), target=LATENCY_TARGET,
        notes=["signed Twilio webhook posted, then the thread API polled every 10 ms; includes both requests"],
    )  # fmt: skip


def run(engine: str, plan: Plan, log: Log = harness.log_to_stderr) -> list[Figure]:
    return [throughput(engine, plan, log), inbound(engine, plan, log)]


__all__ = ["run"]
