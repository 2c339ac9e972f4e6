"""`warmpool simulate` on a trace that is not what it should be: one line naming the fix, exit 2."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from warmpool.cli.main import main


def test_a_quote_never_closed_is_named_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the rest of the file became one field, past the csv module's limit: `_csv.Error`, a traceback
    trace = tmp_path / "trace.csv"
    rows = "".join(f"{n * 600},300,pool-{n % 3}\n" for n in range(20_000))
    trace.write_text(f'submit_time_s,duration_s,pool\n0,300,"pool-0\n{rows}')
    assert main(["simulate", str(trace), "--workers", "1"]) == 2
    assert capsys.readouterr().err == (
        f"warmpool simulate: {trace}:2: is not CSV the csv module can read (field larger than field limit "
        '(131072)); a quote (") that is never closed makes the rest of the file one field: close it or '
        "remove it\n"
    )


def test_a_quote_never_closed_in_a_small_trace_is_refused_not_replayed_as_fewer_jobs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # under csv's field limit the rest of the file became the pool's name: 3 jobs replayed as 1, no word
    trace = tmp_path / "trace.csv"
    trace.write_text('submit_time_s,duration_s,pool\n0,300,"pool-a\n600,300,pool-b\n1200,300,pool-c\n')
    assert main(["simulate", str(trace), "--workers", "1"]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        f"warmpool simulate: {trace}:2: is not CSV the csv module can read (unexpected end of data); a quote "
        '(") that is never closed makes the rest of the file one field: close it or remove it\n'
    )
    assert captured.out == ""


def test_a_column_named_twice_is_named_with_its_places(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # csv.DictReader kept the last `pool` column's value: every job was replayed on pool-x
    trace = tmp_path / "trace.csv"
    trace.write_text("submit_time_s,duration_s,pool,user, pool\n0,300,a,ann,pool-x\n900,300,b,bob,pool-x\n")
    assert main(["simulate", str(trace), "--workers", "1"]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        f"warmpool simulate: {trace}:1: column 'pool' is there 2 times (columns 3, 5); a trace has each "
        "column once: remove or rename all but one\n"
    )
    assert captured.out == ""
    # columns it does not read may repeat: a spreadsheet's export with empty columns at the end has ''
    # twice in its header
    trace.write_text("submit_time_s,duration_s,pool,note,note,,\n0,300,a,x,y,,\n900,300,a,x,y,,\n")
    assert main(["simulate", str(trace), "--workers", "1", "--strategies", "none"]) == 0
    assert "none" in capsys.readouterr().out


TRACE = (
    "submit_time_s,duration_s,pool,team\n"
    "0,300,a,ml\n400,300,a,ml\n2000,600,b,ml\n2100,300,a,ml\n9000,300,b,ml\n"
)


def _replayed(path: str, capsys: pytest.CaptureFixture[str], *options: str) -> dict[str, Any]:
    """The JSON document `simulate` prints for `path`, without the replays' timings."""
    command = ["simulate", path, "--workers", "1", "--strategies", "none,fixed-600", "--format", "json"]
    assert main([*command, *options]) == 0
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    for result in report["results"].values():
        del result["seconds"]
    return report


def test_headers_in_another_case_are_the_columns_they_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a spreadsheet's title-cased header was refused as missing every column it has
    plain, titled = tmp_path / "plain.csv", tmp_path / "titled.csv"
    plain.write_text(TRACE)
    titled.write_text(
        TRACE.replace("submit_time_s,duration_s,pool,team", "Submit_Time_S, Duration_S,POOL ,Team")
    )
    assert _replayed(str(titled), capsys, "--by", "team") == _replayed(str(plain), capsys, "--by", "team")
    # still one column each: `pool` and `Pool` are the same column named twice
    titled.write_text("submit_time_s,duration_s,pool,Pool\n0,300,a,b\n")
    assert main(["simulate", str(titled)]) == 2
    assert capsys.readouterr().err == (
        f"warmpool simulate: {titled}:1: column 'pool' is there 2 times (columns 3, 4); a trace has each "
        "column once: remove or rename all but one\n"
    )


def test_a_row_of_empty_fields_is_skipped_as_a_blank_line_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a spreadsheet writes the rows it once formatted as `,,,`: each was "column 'pool' is empty", exit 2
    plain, padded = tmp_path / "plain.csv", tmp_path / "padded.csv"
    plain.write_text(TRACE)
    padded.write_text(TRACE.replace("2000,600,b,ml\n", ",,,\n2000,600,b,ml\n , ,,\n") + ",,,\n,,,\n")
    assert _replayed(str(padded), capsys) == _replayed(str(plain), capsys)


def test_a_row_with_more_fields_than_its_header_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 1,234.5 unquoted is two fields: the job was replayed at second 1 for 234.5 s on pool '300', exit 0
    trace = tmp_path / "t.csv"
    trace.write_text("submit_time_s,duration_s,pool\n0,300,a\n1,234.5,300,a\n")
    assert main(["simulate", str(trace)]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        f"warmpool simulate: {trace}:3: has 4 fields but its header 3; a value with a comma in it (such as "
        "a thousands separator, 1,234.5) is split in two: quote it or write it without the comma, 1234.5\n"
    )
    assert captured.out == ""
    # an empty field past the header's (a trailing comma) holds nothing to misread
    trace.write_text("submit_time_s,duration_s,pool\n0,300,a,\n900,300,a,\n")
    assert main(["simulate", str(trace), "--strategies", "none"]) == 0


THOUSANDS = (
    "; write numbers without a thousands separator and with '.' for decimals (1234.5, not 1,234.5 or 1234,5)"
)

UNDERSCORE = "; write numbers without '_' between the digits (1000, not 1_000)"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ('"1,234.5",300,a', "column 'submit_time_s' must be a number of seconds, got '1,234.5'" + THOUSANDS),
        ('"900,5",300,a', "column 'submit_time_s' must be a number of seconds, got '900,5'" + THOUSANDS),
        ("900,nan,a", "column 'duration_s' must be a number of seconds, got 'nan'; fix or remove the row"),
        ("900,inf,a", "column 'duration_s' must be a number of seconds, got 'inf'; fix or remove the row"),
        # Python's float() reads these, and the job was replayed at second 1000 or 900
        ("1_000,300,a", "column 'submit_time_s' must be a number of seconds, got '1_000'" + UNDERSCORE),
        (
            "\uff19\uff10\uff10,300,a",  # fullwidth digits, as an East Asian input method types them
            "column 'submit_time_s' must be a number of seconds, got '\uff19\uff10\uff10'; write numbers in "
            "the digits 0 to 9",
        ),
        (
            "900,-5,a",
            "column 'duration_s' must be 0 or more, got '-5'; a job's duration is its end less its start: "
            "fix or remove the row",
        ),
        (
            "-900,5,a",
            "column 'submit_time_s' must be 0 or more, got '-900'; it counts seconds from the trace's start: "
            "subtract the earliest submit_time_s from every row's",
        ),
    ],
    ids=[
        "thousands",
        "decimal-comma",
        "nan",
        "inf",
        "underscore",
        "fullwidth-digits",
        "negative-duration",
        "negative-submit",
    ],
)
def test_a_number_it_cannot_replay_names_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], row: str, message: str
) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text(f"submit_time_s,duration_s,pool\n0,300,a\n{row}\n", encoding="utf-8")
    assert main(["simulate", str(trace)]) == 2
    assert capsys.readouterr().err == f"warmpool simulate: {trace}:3: {message}\n"


def test_a_header_repeated_inside_the_trace_is_named_as_two_traces_joined(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `cat week1.csv week2.csv > both.csv`: "column 'submit_time_s' must be a number of seconds, got
    # 'submit_time_s'"
    trace = tmp_path / "both.csv"
    trace.write_text(TRACE + TRACE)
    assert main(["simulate", str(trace)]) == 2
    assert capsys.readouterr().err == (
        f"warmpool simulate: {trace}:7: repeats the header (traces joined one after the other?): remove "
        "the line, and give the second trace's submit_time_s the first trace's clock\n"
    )
    # two spreadsheet exports: the second one's byte-order mark is inside the text
    trace.write_text("\ufeff" + TRACE + "\ufeff" + TRACE.upper(), encoding="utf-8")
    assert main(["simulate", str(trace)]) == 2
    assert capsys.readouterr().err == (
        f"warmpool simulate: {trace}:7: repeats the header (traces joined one after the other?): remove "
        "the line, and give the second trace's submit_time_s the first trace's clock\n"
    )


def test_a_gzipped_trace_reads_as_its_csv_from_a_file_or_standard_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # `simulate trace.csv.gz` was "is not UTF-8 text (byte 0x8b at offset 1)"
    plain, packed = tmp_path / "t.csv", tmp_path / "t.csv.gz"
    plain.write_text(TRACE)
    packed.write_bytes(gzip.compress(("\ufeff" + TRACE.replace("\n", "\r\n")).encode()))
    expected = _replayed(str(plain), capsys)
    assert _replayed(str(packed), capsys) == expected
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(packed.read_bytes())))
    assert _replayed("-", capsys) == expected
    # cut short (a download stopped half-way)
    packed.write_bytes(gzip.compress(TRACE.encode())[:-12])
    assert main(["simulate", str(packed)]) == 2
    assert capsys.readouterr().err == (
        f"warmpool simulate: {packed}: is gzip-compressed but cannot be decompressed (Compressed file ended "
        "before the end-of-stream marker was reached); compress it again, or give the CSV itself\n"
    )


def test_a_workbook_is_named_as_one_not_as_text_in_another_encoding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # an .xlsx was "is not UTF-8 text (byte 0x.. at offset ..); save it as CSV UTF-8", after a guess
    book = tmp_path / "trace.xlsx"
    with zipfile.ZipFile(book, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>" * 100)
    assert main(["simulate", str(book)]) == 2
    assert capsys.readouterr().err == (
        f"warmpool simulate: {book}: is a ZIP archive (a spreadsheet's workbook?), not CSV text; save it as "
        "CSV UTF-8\n"
    )


def test_an_instance_type_column_it_does_not_price_by_is_said_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a trace of p4d jobs replayed at g5 prices without a word, because --instance-type was not `trace`
    trace = tmp_path / "t.csv"
    trace.write_text(
        "submit_time_s,duration_s,pool,instance_type\n0,300,a,ml.p4d.24xlarge\n900,300,b,ml.g5.2xlarge\n"
        "1800,300,a,ml.p4d.24xlarge\n"
    )
    report = _replayed(str(trace), capsys)
    assert report["scenario"]["instance_type"] == "ml.g5.2xlarge"
    assert main(["simulate", str(trace), "--strategies", "none"]) == 0
    assert capsys.readouterr().err == (
        "warmpool simulate: column instance_type is not ml.g5.2xlarge for 2 of 3 jobs (ml.p4d.24xlarge); "
        "every job is replayed as ml.g5.2xlarge (--instance-type): --instance-type trace prices each at its "
        "own\n"
    )
    # nothing to say when the column agrees with --instance-type, or with --instance-type trace
    assert main(["simulate", str(trace), "--strategies", "none", "--instance-type", "trace"]) == 0
    assert capsys.readouterr().err == ""
