"""The curated whitelist document: parsing, validation and reading (similarity/whitelist.py)."""

import json
import re

import pytest

from taar_assets.similarity.whitelist import WhitelistError, load_whitelist, parse_whitelist

LOCATION = "s3://bucket/only_guids_top_200.json"


# --- parse_whitelist -------------------------------------------------------------------------------


def test_a_valid_list_is_returned_in_file_order():
    guids = ["uBlock0@raymondhill.net", "{d10d0bf8-f5b5-c8b4-a8b2-2b9879e08c5d}", "café@example.org"]
    assert parse_whitelist(json.dumps(guids), LOCATION) == guids


def test_duplicates_are_removed_keeping_the_first_occurrence():
    assert parse_whitelist('["b@x", "a@x", "b@x", "c@x", "a@x"]', LOCATION) == ["b@x", "a@x", "c@x"]


def test_whitespace_around_the_document_is_fine():
    assert parse_whitelist('\n  ["a@x"]  \n', LOCATION) == ["a@x"]


@pytest.mark.parametrize("text", ["", "[\"a@x\",", "not json", "['a@x']", "\ufeff[\"a@x\"]"])
def test_text_that_is_not_json_is_refused(text):
    with pytest.raises(WhitelistError, match=f"^whitelist {re.escape(LOCATION)} is not valid JSON: "):
        parse_whitelist(text, LOCATION)


@pytest.mark.parametrize(
    ("text", "type_name"),
    [('{"guids": ["a@x"]}', "dict"), ('"a@x"', "str"), ("null", "NoneType"), ("200", "int")],
)
def test_a_document_that_is_not_a_list_is_refused_naming_its_type(text, type_name):
    with pytest.raises(WhitelistError) as raised:
        parse_whitelist(text, LOCATION)
    assert str(raised.value) == f"whitelist {LOCATION} must be a JSON list of GUID strings, got {type_name}"


def test_an_empty_list_is_refused():
    with pytest.raises(WhitelistError) as raised:
        parse_whitelist("[]", LOCATION)
    assert str(raised.value) == f"whitelist {LOCATION} is empty: no add-on could ever be recommended"


@pytest.mark.parametrize(
    ("entries", "index", "shown"),
    [
        (["a@x", 42], 1, "42"),
        ([None], 0, "None"),
        (["a@x", "b@x", ""], 2, "''"),
        (["a@x", "   "], 1, "'   '"),
        (["a@x", ["b@x"]], 1, "['b@x']"),
        (["a@x", {"guid": "b@x"}], 1, "{'guid': 'b@x'}"),
        (["a@x", True], 1, "True"),
    ],
)
def test_a_non_string_or_blank_entry_is_named_by_its_index(entries, index, shown):
    with pytest.raises(WhitelistError) as raised:
        parse_whitelist(json.dumps(entries), LOCATION)
    assert str(raised.value) == f"whitelist {LOCATION}: entry {index} is {shown}, expected a non-empty GUID string"


def test_whitelist_errors_are_value_errors():
    assert issubclass(WhitelistError, ValueError)


# --- load_whitelist --------------------------------------------------------------------------------


def test_load_reads_and_validates_a_file(tmp_path):
    path = tmp_path / "whitelist.json"
    path.write_text(json.dumps(["b@x", "a@x", "b@x", "café@example.org"]), encoding="utf-8")
    assert load_whitelist(str(path)) == ["b@x", "a@x", "café@example.org"]
    assert load_whitelist(f"file://{path}") == ["b@x", "a@x", "café@example.org"]


def test_load_names_the_location_in_validation_errors(tmp_path):
    path = tmp_path / "whitelist.json"
    path.write_text('["a@x", 7]', encoding="utf-8")
    with pytest.raises(WhitelistError, match=f"^whitelist {re.escape(str(path))}: entry 1 is 7"):
        load_whitelist(str(path))


def test_a_missing_file_is_a_whitelist_error(tmp_path):
    missing = tmp_path / "nowhere" / "whitelist.json"
    with pytest.raises(WhitelistError) as raised:
        load_whitelist(str(missing))
    assert str(raised.value) == f"whitelist not found at {missing}"
    assert isinstance(raised.value.__cause__, FileNotFoundError)


def test_a_file_that_is_not_utf8_is_a_whitelist_error(tmp_path):
    path = tmp_path / "whitelist.json"
    path.write_bytes('["café@example.org"]'.encode("latin-1"))
    with pytest.raises(WhitelistError, match=re.escape(str(path))):
        load_whitelist(str(path))
