"""Bulk import from CSV and JSONL: ``rapport import KIND FILE`` and the service under it."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from rapport.catalog.models import Product
from rapport.cli import app
from rapport.commerce.models import Order, OrderLine
from rapport.customers.models import Consent, Customer, TimelineEntry
from rapport.db import Database
from rapport.identity.models import Identifier
from rapport.ingest import importer
from rapport.ingest.importer import ImportOptions, ImportUsageError, import_file, parse_map
from rapport.ingest.service import ingest_records

SAMPLES = Path(__file__).parent / "samples"
CUSTOMER_MAP = {"Client No": "id", "E-mail": "email", "Loyalty Points": ""}


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A private copy of the samples: imports write rejects files beside their input."""
    for sample in SAMPLES.iterdir():
        shutil.copy(sample, tmp_path / sample.name)
    return tmp_path


def run(db: Database, kind: str, path: Path, **options: object) -> importer.ImportStats:
    return import_file(db, ImportOptions(kind=kind, path=path, **options))  # type: ignore[arg-type]


def identifiers(db: Database, kind: str) -> dict[str, int]:
    with db.read() as s:
        rows = s.execute(select(Identifier.value, Identifier.customer_id).where(Identifier.kind == kind))
        return {value: cid for value, cid in rows}


def count(db: Database, model: type) -> int:
    with db.read() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def read_rejects(path: Path) -> list[dict[str, str]]:
    """A CSV rejects file, written with the input's delimiter."""
    text = path.read_text(encoding="utf-8")
    delimiter = ";" if text.startswith("_line;") else ","
    return list(csv.DictReader(text.splitlines(), delimiter=delimiter))


def seed_catalogue(db: Database, files: Path) -> None:
    result = ingest_records(db, "locations", [
        {"code": "PAR1", "name": "Paris Saint-Honoré", "country": "FR", "timezone": "Europe/Paris", "currency": "EUR"},
    ])  # fmt: skip
    assert result.rejected == 0
    assert run(db, "products", files / "products_eu.csv", decimal_comma=True).records == {"created": 2}


# --- customers --------------------------------------------------------------------------------------


def test_customers_csv_with_semicolons_and_renamed_columns_becomes_one_client_per_row(db: Database, files: Path):
    stats = run(db, "customers", files / "customers_pos.csv", mapping=CUSTOMER_MAP, source="pos")

    assert stats.delimiter == ";"
    assert stats.records == {"created": 3}
    assert stats.rows == 3
    emails = identifiers(db, "email")
    assert emails["ana.silva@example.com"] == emails["ana@work.example"]  # email and email_2: one client
    ana = emails["ana.silva@example.com"]
    assert identifiers(db, "phone")["+33612345678"] == ana  # national number read in the address's country
    assert identifiers(db, "external")["C-100"] == ana  # "Client No" mapped to id
    with db.read() as s:
        client = s.get(Customer, ana)
        assert client is not None
        assert (client.first_name, client.city, client.country) == ("Ana", "Paris", "FR")
        assert client.tags == ["vip", "fragrance"]
        assert client.sizes == {"shoes": "38"}
        consent = dict(s.execute(select(Consent.channel, Consent.granted).where(Consent.customer_id == ana)).all())
    assert consent == {"email": True, "sms": False}


def test_reimporting_the_same_customers_file_changes_nothing(db: Database, files: Path):
    first = run(db, "customers", files / "customers_pos.csv", mapping=CUSTOMER_MAP, source="pos")
    customers, ids = count(db, Customer), count(db, Identifier)

    second = run(db, "customers", files / "customers_pos.csv", mapping=CUSTOMER_MAP, source="pos")

    assert first.records == {"created": 3}
    assert second.records == {"unchanged": 3}
    assert (count(db, Customer), count(db, Identifier)) == (customers, ids)


def test_a_utf8_byte_order_mark_does_not_hide_the_first_column(db: Database, tmp_path: Path):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "id,first_name,email\nX-1,Zoë,zoe@example.com\n".encode())

    stats = run(db, "customers", path, source="pos")

    assert stats.records == {"created": 1}
    assert "X-1" in identifiers(db, "external")


def test_a_jsonl_file_with_a_byte_order_mark_imports(db: Database, tmp_path: Path):
    path = tmp_path / "clients.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"source": "web", "id": "W-1", "emails": ["w@example.com"]}).encode())

    assert run(db, "customers", path).records == {"created": 1}


# --- rejects ----------------------------------------------------------------------------------------


def test_bad_rows_go_to_the_rejects_file_with_line_number_and_field_and_the_rest_is_kept(db: Database, files: Path):
    stats = run(db, "customers", files / "customers_with_errors.csv", source="pos")

    assert stats.records == {"created": 2, "rejected": 2}
    assert stats.rejected_rows == 2
    assert stats.rejects_path == files / "customers_with_errors.csv.rejects.csv"
    rejects = read_rejects(stats.rejects_path)
    assert [r["_line"] for r in rejects] == ["3", "4"]
    assert "column 'email' (emails.0.address)" in rejects[0]["_errors"]
    assert rejects[0]["email"] == "not-an-email"  # the original row, as it was
    assert "has 3 cells where the header has 4" in rejects[1]["_errors"]
    assert set(identifiers(db, "external")) == {"R-1", "R-4"}  # nothing written for R-2 or R-3


def test_a_fixed_rejects_file_imports_as_it_is(db: Database, files: Path):
    stats = run(db, "customers", files / "customers_with_errors.csv", source="pos")
    fixed = files / "fixed.csv"
    text = stats.rejects_path.read_text(encoding="utf-8")
    fixed.write_text(text.replace("not-an-email", "hal@example.com").replace("ines@example.com", "ines@example.com,FR"))

    again = run(db, "customers", fixed, source="pos")

    assert again.records == {"created": 2}
    assert set(identifiers(db, "external")) == {"R-1", "R-2", "R-3", "R-4"}
    assert not (files / "fixed.csv.rejects.csv").exists()


def test_unreadable_jsonl_lines_are_rejected_and_the_good_ones_imported(db: Database, files: Path):
    stats = run(db, "events", files / "events.jsonl", source="web")

    assert stats.records == {"created": 3, "rejected": 2}
    rejects = [json.loads(line) for line in stats.rejects_path.read_text().splitlines()]
    assert [r["_line"] for r in rejects] == [3, 4]
    assert "not valid JSON" in rejects[0]["_errors"][0]
    assert rejects[0]["_text"].startswith('{"source": "web", "type": "cart_abandoned"')
    assert rejects[1]["_errors"] == ["(line): must be a JSON object, one record per line"]
    with db.read() as s:
        kinds = sorted(s.execute(select(TimelineEntry.kind, TimelineEntry.source)).all())
    assert kinds == [("message", "web"), ("page_view", "web"), ("social_like", "instagram")]


def test_reimporting_events_without_ids_changes_nothing(db: Database, files: Path):
    run(db, "events", files / "events.jsonl", source="web")

    again = run(db, "events", files / "events.jsonl", source="web")

    assert again.records == {"unchanged": 3, "rejected": 2}
    assert count(db, TimelineEntry) == 3


def test_a_clean_run_removes_the_rejects_file_of_an_earlier_run(db: Database, files: Path):
    path = files / "customers_pos.csv"
    stale = files / "customers_pos.csv.rejects.csv"
    stale.write_text("_line;_errors\n2;old\n")

    run(db, "customers", path, mapping=CUSTOMER_MAP, source="pos")

    assert not stale.exists()


# --- orders -----------------------------------------------------------------------------------------


def test_order_lines_are_grouped_into_one_order_per_id_even_when_not_adjacent(db: Database, files: Path):
    run(db, "customers", files / "customers_pos.csv", mapping=CUSTOMER_MAP, source="pos")
    seed_catalogue(db, files)

    stats = run(db, "orders", files / "orders_lines.csv", source="pos", timezone="Europe/Paris")

    assert stats.rows == 4
    assert stats.records == {"created": 3}
    assert stats.rows_by_status == {"created": 4}
    with db.read() as s:
        order = s.execute(select(Order).where(Order.external_id == "O-1")).scalar_one()
        lines = s.execute(
            select(OrderLine.line_ref, OrderLine.quantity, OrderLine.total_minor)
            .where(OrderLine.order_id == order.id)
            .order_by(OrderLine.line_ref)
        ).all()
        guest = s.execute(select(Order).where(Order.external_id == "O-3")).scalar_one()
    assert [tuple(line) for line in lines] == [("1", 1, 145000), ("2", 1, 5990)]
    assert order.total_minor == 150990
    assert order.placed_at == datetime(2026, 11, 2, 13, 31, tzinfo=UTC)  # 14:31 in Paris
    assert order.customer_id == identifiers(db, "email")["ana.silva@example.com"]
    assert guest.customer_id is None  # a guest at the till is kept as such


def test_reimporting_the_same_orders_file_changes_nothing(db: Database, files: Path):
    seed_catalogue(db, files)
    run(db, "orders", files / "orders_lines.csv", source="pos", timezone="Europe/Paris")

    again = run(db, "orders", files / "orders_lines.csv", source="pos", timezone="Europe/Paris")

    assert again.records == {"unchanged": 3}
    assert (count(db, Order), count(db, OrderLine)) == (3, 4)


def test_an_order_whose_rows_disagree_is_rejected_whole(db: Database, files: Path):
    seed_catalogue(db, files)
    path = files / "conflict.csv"
    path.write_text(
        "order_id,placed_at,channel,currency,sku,quantity,unit_price\n"
        "O-9,2026-11-02T14:31:00+01:00,store,EUR,SKU-COAT-38,1,1450.00\n"
        "O-9,2026-11-02T14:31:00+01:00,store,USD,SKU-SCARF,1,59.90\n"
    )

    stats = run(db, "orders", path, source="pos")

    assert stats.records == {"rejected": 1}
    assert stats.rejected_rows == 2
    rejects = read_rejects(stats.rejects_path)
    assert [r["_line"] for r in rejects] == ["2", "3"]
    assert "currency: differs between rows of order_id 'O-9'" in rejects[0]["_errors"]
    assert count(db, Order) == 0


def test_an_error_in_one_line_names_the_line_and_column_and_rejects_the_order(db: Database, files: Path):
    seed_catalogue(db, files)
    path = files / "bad_line.csv"
    path.write_text(
        "order_id,placed_at,channel,currency,sku,quantity,unit_price\n"
        "O-7,2026-11-02T14:31:00+01:00,store,EUR,SKU-COAT-38,1,1450.00\n"
        "O-7,2026-11-02T14:31:00+01:00,store,EUR,SKU-SCARF,0,59.90\n"
    )

    stats = run(db, "orders", path, source="pos")

    assert stats.records == {"rejected": 1}
    errors = read_rejects(stats.rejects_path)[0]["_errors"]
    assert "line 3, column 'quantity' (lines.1.quantity)" in errors
    assert count(db, Order) == 0


def test_a_row_far_from_the_rest_of_its_order_is_rejected_not_silently_added(
    db: Database, files: Path, monkeypatch: pytest.MonkeyPatch
):
    seed_catalogue(db, files)
    monkeypatch.setattr(importer, "GROUP_WINDOW", 2)
    path = files / "unsorted.csv"
    rows = [f"O-{n},2026-11-02T14:31:00+01:00,store,EUR,SKU-SCARF,1,59.90" for n in (1, 2, 3, 4, 1)]
    path.write_text("order_id,placed_at,channel,currency,sku,quantity,unit_price\n" + "\n".join(rows) + "\n")

    stats = run(db, "orders", path, source="pos")

    assert stats.records == {"created": 4, "rejected": 1}
    reject = read_rejects(stats.rejects_path)[0]
    assert reject["_line"] == "6"
    assert "sort the file by order_id" in reject["_errors"]


# --- options ----------------------------------------------------------------------------------------


def test_decimal_commas_are_read_as_amounts(db: Database, files: Path):
    run(db, "products", files / "products_eu.csv", decimal_comma=True)

    with db.read() as s:
        prices = dict(s.execute(select(Product.sku, Product.price_minor)).all())
    assert prices == {"SKU-COAT-38": 145000, "SKU-SCARF": 5990}


@pytest.mark.parametrize(
    ("text", "amount"),
    [("1.234,50", "1234.50"), ("59,9", "59.9"), ("12", "12"), ("1 234,50", "1234.50"), ("-3,00", "-3.00")],
)
def test_decimal_comma_amounts(text: str, amount: str):
    assert importer._decimal_comma(text) == amount


@pytest.mark.parametrize("text", ["12.5", "1,234.50", "1.23,4,5"])
def test_a_dot_decimal_under_decimal_comma_is_an_error_not_a_guess(text: str):
    with pytest.raises(ValueError, match="decimal comma"):
        importer._decimal_comma(text)


def test_map_syntax():
    assert parse_map(["Client No=id", "Points=", " E-mail = email "]) == {
        "Client No": "id",
        "Points": "",
        "E-mail": "email",
    }
    with pytest.raises(ImportUsageError, match="COLUMN=FIELD"):
        parse_map(["email"])


def test_unknown_columns_stop_the_import_before_anything_is_written(db: Database, files: Path):
    with pytest.raises(ImportUsageError, match=r"'Client No'.*--map"):
        run(db, "customers", files / "customers_pos.csv", source="pos")
    assert count(db, Customer) == 0


def test_unknown_columns_can_be_skipped(db: Database, files: Path):
    stats = run(
        db,
        "customers",
        files / "customers_pos.csv",
        mapping={"Client No": "id"},
        source="pos",
        ignore_unknown_columns=True,
    )

    assert stats.records == {"created": 3}
    assert "ana.silva@example.com" not in identifiers(db, "email")  # "E-mail" was skipped


def test_records_without_a_source_column_need_source(db: Database, files: Path):
    with pytest.raises(ImportUsageError, match="--source"):
        run(db, "customers", files / "customers_pos.csv", mapping=CUSTOMER_MAP)


def test_dotted_columns_fill_nested_fields(db: Database, tmp_path: Path):
    path = tmp_path / "nested.csv"
    path.write_text(
        "source,id,emails.0.address,emails.0.verified,addresses.0.kind,addresses.0.city,"
        "addresses.0.country,preferences.colours\n"
        "eshop,E-1,nested@example.com,true,shipping,Milano,IT,navy|camel\n"
    )

    assert run(db, "customers", path).records == {"created": 1}
    with db.read() as s:
        client = s.execute(select(Customer)).scalar_one()
        verified = s.execute(select(Identifier.verified).where(Identifier.kind == "email")).scalar_one()
    assert (client.city, client.preferences, verified) == ("Milano", {"colours": ["navy", "camel"]}, True)


# --- the command ------------------------------------------------------------------------------------


def invoke(db: Database, *args: str) -> Result:
    env = {"RAPPORT_DATABASE_URL": db.engine.url.render_as_string(hide_password=False)}
    return CliRunner().invoke(app, ["import", *args], env=env)


def test_command_exits_0_when_every_row_is_imported(db: Database, files: Path):
    result = invoke(
        db,
        "customers",
        str(files / "customers_pos.csv"),
        "--source",
        "pos",
        "--map",
        "Client No=id",
        "--map",
        "E-mail=email",
        "-m",
        "Loyalty Points=",
    )

    assert result.exit_code == 0, result.output
    assert "created" in result.output and "All 3 rows imported" in result.output
    assert count(db, Customer) == 3


def test_command_exits_1_and_says_where_the_rejects_are(db: Database, files: Path):
    result = invoke(db, "customers", str(files / "customers_with_errors.csv"), "--source", "pos")

    assert result.exit_code == 1
    assert "2 row(s) rejected" in result.output
    assert "customers_with_errors.csv.rejects.csv" in result.output


def test_command_writes_rejects_where_asked(db: Database, files: Path):
    target = files / "out" / "bad.jsonl"
    target.parent.mkdir()

    result = invoke(db, "events", str(files / "events.jsonl"), "--source", "web", "--rejects", str(target))

    assert result.exit_code == 1
    assert len(target.read_text().splitlines()) == 2


@pytest.mark.parametrize(("args", "message"), [
    (["clients", "{dir}/customers_pos.csv"], "unknown kind 'clients'"),
    (["customers", "{dir}/missing.csv", "--source", "pos"], "no such file"),
    (["customers", "{dir}/customers_pos.csv", "--source", "pos", "--map", "Client No"], "expected COLUMN=FIELD"),
    (["customers", "{dir}/customers_pos.csv", "--source", "pos"], "not fields of customers"),
    (["customers", "{dir}/customers_pos.csv", "--source", "pos", "--map", "Nope=id"], "no column 'Nope'"),
    (["customers", "{dir}/customers_pos.csv", "--source", "pos", "--map", "Client No=ident"], "not a field"),
    (["products", "{dir}/products_eu.csv", "--source", "pos"], "products records have no source"),
    (["customers", "{dir}/customers_pos.csv", "--format", "xml"], "expected csv or jsonl"),
])  # fmt: skip
def test_command_exits_2_on_usage_errors_without_importing(db: Database, files: Path, args: list[str], message: str):
    result = invoke(db, *[a.format(dir=files) for a in args])

    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert count(db, Customer) == 0


def test_command_help_lists_kinds_and_options():
    result = CliRunner().invoke(app, ["import", "--help"])

    assert result.exit_code == 0
    for word in (
        "customers",
        "events",
        "--map",
        "--source",
        "--batch-size",
        "--rejects",
        "--format",
        "--decimal-comma",
        "Exit status",
    ):
        assert word in result.output


def test_a_line_in_another_encoding_is_a_reject_until_the_encoding_is_given(db: Database, tmp_path: Path):
    path = tmp_path / "windows.csv"
    path.write_bytes(b"id,first_name,email\nW-1,Zoe,zoe@example.com\nW-2,Ren\xe9e,renee@example.com\n")

    first = run(db, "customers", path, source="pos")
    rejects = read_rejects(first.rejects_path)
    second = run(db, "customers", path, source="pos", encoding="cp1252")

    assert first.records == {"created": 1, "rejected": 1}
    assert rejects[0]["_line"] == "3"
    assert "line 3 is not valid utf-8" in rejects[0]["_errors"]
    assert second.records == {"unchanged": 1, "created": 1}
    with db.read() as s:
        assert "Renée" in s.execute(select(Customer.first_name)).scalars().all()


def test_an_import_stopped_midway_keeps_its_batches_and_stops_reading(db: Database, tmp_path: Path):
    import threading

    path = tmp_path / "people.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for n in range(30):
            f.write(json.dumps({"source": "web", "id": f"w{n}", "emails": [f"w{n}@example.com"]}) + "\n")

    class Stop(Exception):
        pass

    def stop_after_first_batch(stats: importer.ImportStats) -> None:
        if stats.finished is None:
            raise Stop

    with pytest.raises(Stop):
        import_file(db, ImportOptions(kind="customers", path=path, batch_size=10), progress=stop_after_first_batch)
    assert count(db, Customer) == 10  # the batch sent before the stop is stored
    assert not [t for t in threading.enumerate() if t.name == "import-reader"]  # the reader is gone
    assert run(db, "customers", path).rows_by_status == {"unchanged": 10, "created": 20}  # safe to run again
