"""``rapport worker`` runs the duplicate scan outside the app processes, which can then leave it out."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from rapport.app import create_app
from rapport.cli import app
from rapport.identity.models import MatchCandidate, ScanPending
from rapport.ingest.service import ingest_records
from rapport.settings import get_settings

HOME = [{"line1": "3 Via Roma", "postal_code": "20121", "country": "IT"}]


def _two_likely_duplicates(db) -> None:
    ingest_records(db, "customers", [
        {"source": "pos", "id": "1", "first_name": "Giulia", "last_name": "Bianchi", "birth_date": "1992-12-01",
         "addresses": HOME},
        {"source": "web", "id": "2", "first_name": "Giullia", "last_name": "Bianchi", "birth_date": "1992-12-01",
         "addresses": HOME},
    ])  # fmt: skip


def _counts(db) -> tuple[int, int]:
    with db.read() as s:
        return (
            s.scalar(select(func.count()).select_from(ScanPending)),
            s.scalar(select(func.count()).select_from(MatchCandidate)),
        )


def test_the_worker_drains_the_scan_queue(db):
    _two_likely_duplicates(db)
    assert _counts(db) == (2, 0)
    result = CliRunner().invoke(app, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "1 pair(s) added to the review list" in result.output
    assert _counts(db) == (0, 1)


@pytest.mark.parametrize(("setting", "scanning"), [("true", True), ("false", False)])
def test_app_processes_leave_the_scan_to_workers_when_told(db, monkeypatch, setting, scanning):
    monkeypatch.setenv("RAPPORT_BACKGROUND_SCAN", setting)
    get_settings.cache_clear()
    try:
        with TestClient(create_app()):  # inside: the app has started
            running = any(t.name == "identity-scan" and t.is_alive() for t in threading.enumerate())
    finally:
        monkeypatch.delenv("RAPPORT_BACKGROUND_SCAN")
        get_settings.cache_clear()
    assert running is scanning
    assert not any(t.name == "identity-scan" and t.is_alive() for t in threading.enumerate())  # stopped with the app
