"""PDF/A-2 output: every golden case that renders, rendered as PDF/A, passes the conformance self-check.

In: the committed golden cases (their input with ``request.pdf_profile: pdfa-2b``), rendered through
`renderer.golden.render_case` in a scratch copy (the golden files are never touched). Out: one test per case
(every clause of `renderer.pdfa_check` passes, the claim is 2U, the dates and Info twins are the ones a plain
render carries), determinism (same bytes twice), the default (``output: file`` is PDF/A, ``print`` is not),
and tests that the self-check and `finish` do fail on files that break a clause.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader

from renderer import golden
from renderer.draw import pdfa
from renderer.errors import ChohyoError
from renderer.finish import finish
from renderer.golden import GoldenCase
from renderer.pdfa_check import NotAPdf, check

CASES = [c for c in golden.discover() if (c.path / golden.EXPECTED_PDF).exists()]


def render_as(case: GoldenCase, tmp: Path, profile: str | None = "pdfa-2b", output: str | None = None) -> bytes:
    """The case rendered from a scratch copy whose request says `profile` (None: absent) and `output`."""
    target = tmp / case.layout_id / case.name
    shutil.copytree(case.path, target)
    raw = json.loads((target / golden.INPUT).read_text(encoding="utf-8"))
    raw["request"].pop("pdf_profile", None)
    if profile is not None:
        raw["request"]["pdf_profile"] = profile
    if output is not None:
        raw["request"]["output"] = output
    (target / golden.INPUT).write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    outcome = golden.render_case(target)
    assert outcome.pdf is not None, outcome.describe()
    return outcome.pdf


def test_cases_cover_a_certificate_and_a_notice() -> None:
    ids = {c.id for c in CASES}
    assert "juminhyo-setai/setai-4nin" in ids
    assert any(i.startswith("tsuchisho-") for i in ids)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_golden_case_as_pdfa_passes_the_conformance_check(case: GoldenCase, tmp_path: Path) -> None:
    pdf = render_as(case, tmp_path)
    report = check(pdf)
    assert report.claim == "2U"
    assert report.ok, "\n".join(f"{c.clause} {c.requirement}: {c.detail}" for c in report.failed)
    assert len(report.clauses) >= 25
    assert pdf.startswith(b"%PDF-1.7\n")
    plain = PdfReader(io.BytesIO(golden.render_case(case.path).pdf or b""))
    info = PdfReader(io.BytesIO(pdf)).metadata
    assert info is not None and plain.metadata is not None
    for key in ("/Title", "/Author", "/Subject", "/CreationDate", "/ModDate", "/Producer", "/Creator"):
        assert info[key] == plain.metadata[key], key   # the same document information as a plain render
    assert "/Trapped" not in info


@pytest.mark.parametrize("case_id", ["juminhyo-setai/setai-4nin", "tsuchisho-kyufu-kettei/x-30000"])
def test_pdfa_output_is_deterministic(case_id: str, tmp_path: Path) -> None:
    case = next(c for c in CASES if c.id == case_id)
    first = render_as(case, tmp_path / "a")
    second = render_as(case, tmp_path / "b")
    assert first == second
    ids = re.findall(rb"/ID \n\[<([0-9a-f]{32})>", first)
    assert len(ids) == 1   # one trailer, one document ID (derived from the input, not random)


def test_output_file_defaults_to_pdfa_and_print_does_not(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.id == "juminhyo-setai/setai-4nin")
    as_file = render_as(case, tmp_path / "file", profile=None, output="file")
    assert check(as_file).ok
    as_print = render_as(case, tmp_path / "print", profile=None, output="print")
    assert as_print.startswith(b"%PDF-1.3") and b"pdfaid" not in as_print
    assert check(as_print).claim is None and not check(as_print).ok
    opted_out = render_as(case, tmp_path / "none", profile="none", output="file")
    assert b"/OutputIntents" not in opted_out


def _glued(pdf: bytes) -> bytes:
    """The first stream whose data does not end in an EOL, with the EOL before endstream moved after it
    (same length: offsets stay right)."""
    found = re.search(rb"[^\r\n]\nendstream", pdf)
    assert found is not None
    return pdf[:found.start() + 1] + b"endstream\n" + pdf[found.end():]


def test_the_check_fails_on_broken_files(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.id == "juminhyo-setai/setai-4nin")
    pdf = render_as(case, tmp_path)
    widths = re.search(rb"/Widths \[[^\]]*\]", pdf)
    assert widths is not None   # same length, other widths: the offsets stay right
    wrong = pdf[:widths.start()] + widths.group(0).replace(b"1000", b"1500") + pdf[widths.end():]
    assert {c.clause for c in check(wrong).failed} == {"6.2.11.5"}
    failed = {c.clause for c in check(pdf.replace(b"<pdfaid:part>2<", b"<pdfaid:part>3<")).failed}
    assert "6.6.4" in failed
    xmp_title = re.search(rb'<rdf:li xml:lang="x-default">([^<]+)</rdf:li></rdf:Alt></dc:title>', pdf)
    assert xmp_title is not None
    changed = pdf.replace(xmp_title.group(1), b"X" * len(xmp_title.group(1)), 1)
    assert "6.6.3" in {c.clause for c in check(changed).failed}
    assert "6.1.7.1" in {c.clause for c in check(_glued(pdf)).failed}
    cmyk = pdf.replace(b"/S /GTS_PDFA1", b"/S /GTS_PDFX1", 1)
    assert "6.2.3" in {c.clause for c in check(cmyk).failed}
    with pytest.raises(NotAPdf):
        check(b"GIF89a not a pdf")


def test_finish_refuses_a_pdfa_file_missing_what_it_promises(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.id == "juminhyo-setai/setai-4nin")
    pdf = render_as(case, tmp_path)
    assert finish(pdf, pdfa_2=True) == pdf
    with pytest.raises(ChohyoError, match="OutputIntent"):
        finish(pdf.replace(b"/OutputIntents ", b"/OutputIntentz "), pdfa_2=True)
    with pytest.raises(ChohyoError, match="endstream"):
        finish(_glued(pdf), pdfa_2=True)
    with pytest.raises(ChohyoError, match=r"1\.7"):
        finish(golden.render_case(case.path).pdf or b"", pdfa_2=True)


def test_the_shipped_icc_profile_is_srgb_v2_with_its_licence() -> None:
    data = pdfa.icc_profile()
    assert data[36:40] == b"acsp" and data[8] == 2 and data[12:20] == b"mntrRGB "
    licence = Path(pdfa.__file__).resolve().parents[1] / "icc" / "LICENSE-sRGB.txt"
    assert "zlib/libpng License" in licence.read_text(encoding="utf-8")


@given(st.text(max_size=40))
def test_xmp_text_is_escaped_as_saxutils_escapes_it(value: str) -> None:
    """`xml_text` replaces `xml.sax.saxutils.escape` (whose import costs a cold render ≈ 10 ms): same output."""
    from xml.sax.saxutils import escape

    assert pdfa.xml_text(value) == escape(value)


def _with_stream_data(data: bytes) -> bytes:
    """A one-page PDF (not PDF/A) whose page content stream holds exactly `data` (stored as is, no filter)."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(100, 100)
    content = DecodedStreamObject()
    content.set_data(data)
    page[NameObject("/Contents")] = writer._add_object(content)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _stream_clause(pdf: bytes) -> tuple[bool, str]:
    clause = next(c for c in check(pdf).clauses if c.clause == "6.1.7.1")
    return clause.ok, clause.detail


@pytest.mark.parametrize("tail", [b"", b"\r", b"\n", b"\r\n", b"\n\r", b"\r\r"])
def test_stream_data_may_end_in_cr_or_lf(tail: bytes) -> None:
    """The data's own last bytes are data, not the EOL before 'endstream' (compressed data ends in CR or LF one
    stream in 256: a signed file failed this clause in CI when its data ended in CR)."""
    pdf = _with_stream_data(b"0 0 m 10 10 l S" + tail)
    assert _stream_clause(pdf) == (True, "")


def test_a_wrong_stream_length_fails() -> None:
    pdf = _with_stream_data(b"0 0 m 10 10 l S\r")
    declared = re.search(rb"/Length (\d+)", pdf)
    assert declared is not None and declared.group(1) == b"16"
    # 15 is right too: the data 'S', then CR LF as the EOL before endstream (the file reads the same either way)
    # 17 takes the LF into the data, leaving no EOL before endstream
    for length, why in ((b"14", "/Length 14, but 'endstream' is 17 bytes after the data starts"), (b"15", ""),
                        (b"16", ""), (b"17", "no EOL before 'endstream'")):   # same width: the offsets stay right
        got, detail = _stream_clause(pdf[:declared.start(1)] + length + pdf[declared.end(1):])
        assert (got, detail.endswith(why) if why else detail == "") == (not why, True), (length, detail)
    glued = pdf.replace(b"S\r\nendstream", b"S\rendstream\n")   # /Length 16 takes the CR: no EOL remains
    assert glued != pdf
    got, detail = _stream_clause(glued)
    assert not got and detail.endswith("no EOL before 'endstream'"), detail
