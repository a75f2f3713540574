"""Whole-file problems are refused before anything is written, with a message saying what to do."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from db.importers.formats import GENERIC_ORDERS, ONLINE_RETAIL
from db.importers.source import ImportFileError, inspect_file, read_chunks, resolve_columns


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(ImportFileError, match="is empty"):
        inspect_file(path, "utf-8")


def test_whitespace_only_file(tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_text("\n\n  \n")
    with pytest.raises(ImportFileError, match="is empty"):
        inspect_file(path, "utf-8")


@pytest.mark.parametrize(("magic", "expected"), [
    (b"PK\x03\x04rest-of-zip", "Excel .xlsx"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "old Excel .xls"),
    (b"%PDF-1.7", "PDF"),
    (b"a,b\n1,\x00\x002\n", "NUL bytes"),
])
def test_binary_files_are_named_for_what_they_are(tmp_path: Path, magic: bytes, expected: str) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(magic)
    with pytest.raises(ImportFileError, match=expected):
        inspect_file(path, "utf-8")


def test_wrong_encoding_names_the_line_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("customer_id,name\n1,Anna\n2,Ren\xe9\n".encode("latin-1"))
    with pytest.raises(ImportFileError, match=r"line 3 is not valid utf-8.*--encoding cp1252"):
        inspect_file(path, "utf-8")
    assert inspect_file(path, "cp1252").line_count == 3


def test_unknown_encoding(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("a\n1\n")
    with pytest.raises(ImportFileError, match="unknown encoding 'klingon'"):
        inspect_file(path, "klingon")


def test_corrupt_gzip(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv.gz"
    content = "a,b\n" + "".join(f"{i},{i * 7919 % 10007}\n" for i in range(5000))
    compressed = gzip.compress(content.encode())
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(ImportFileError, match="cannot be read as gzip"):
        inspect_file(path, "utf-8")


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="no such file"):
        inspect_file(tmp_path / "nope.csv", "utf-8")
    with pytest.raises(ImportFileError, match="is a folder"):
        inspect_file(tmp_path, "utf-8")


def test_missing_columns_are_named_with_what_was_found(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("Invoice,Item,Qty\n1,A,2\n")
    facts = inspect_file(path, "utf-8")
    with pytest.raises(ImportFileError) as caught:
        resolve_columns(facts.header, GENERIC_ORDERS.columns, {}, path.name)
    message = str(caught.value)
    assert "missing required column(s): date" in message
    assert "sku (or product_code" in message and "unit_price" in message
    assert "Found: Invoice, Item, Qty" in message
    assert "--map" in message


def test_duplicate_header_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="appears twice"):
        resolve_columns(["InvoiceNo", "Invoice No"], ONLINE_RETAIL.columns, {}, "x.csv")


def test_semicolon_files_and_byte_order_mark_are_understood(tmp_path: Path) -> None:
    path = tmp_path / "eu.csv"
    path.write_text("\ufefforder_id;date;sku;quantity;unit_price\n1;2024-01-01;A;2;3.5\n", encoding="utf-8")
    facts = inspect_file(path, "utf-8")
    assert facts.delimiter == ";"
    positions = resolve_columns(facts.header, GENERIC_ORDERS.columns, {}, path.name)
    chunk = next(read_chunks(path, facts, "utf-8", positions, GENERIC_ORDERS.columns, 100))
    assert chunk.frame.loc[0, "unit_price"] == "3.5"
    assert chunk.frame.loc[0, "status"] == ""


def test_line_numbers_count_quoted_newlines_and_skip_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "multi.csv"
    path.write_text('order_id,date,sku,quantity,unit_price,description\n'
                    '1,2024-01-01,A,1,2,"two\nlines"\n'
                    '\n'
                    '2,2024-01-01,B,1,2,plain\n'
                    '3,2024-01-01,C,1\n')
    facts = inspect_file(path, "utf-8")
    positions = resolve_columns(facts.header, GENERIC_ORDERS.columns, {}, path.name)
    chunks = list(read_chunks(path, facts, "utf-8", positions, GENERIC_ORDERS.columns, 100))
    assert chunks[0].line_numbers == [2, 5]
    assert [(line, reason[:20]) for line, reason, _ in chunks[0].malformed] == [(6, "expected 6 fields, f")]
