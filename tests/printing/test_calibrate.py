"""`chohyo calibrate PRINTER --tray T`: the calibration sheet, printed on real loopback IPP printers.

What arrives at the printer is checked: the received document is the sheet with the tray's calibration applied
(both rasterized with pypdfium2: the centre cross moved by dx 5 mm right and dy 3 mm down on printer lp-cal,
whose security_paper tray declares that calibration, and not at all on lp-good's uncalibrated tray), the job
attributes (media-source = the tray, job-name ``chohyo-calibrate-<printer>-<tray>-a1``) arrived, and nothing
reached the issue log. The sheet itself is deterministic (the same printer, tray and calibration give the same
bytes, without a time stamp) and says what it is for; unknown printers and trays, and a printer several
tenants declare, are exit 2 naming the option.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest

from printing.conftest import Chohyo
from printing.ippkit import Printers
from renderer.errors import GlyphError
from renderer.fonts import FontSet
from renderer.printing.sheet import SheetFacts, calibration_sheet
from renderer.settings import PROJECT_ROOT

CENTRE = (105.0, 148.5)   # A4: the centre cross's nominal position, mm from the top-left corner


def centre_cross(pdf: Path, scale: float = 4.0) -> tuple[float, float]:
    """Where the centre cross's arms meet on page 1, in mm from the sheet's top-left corner: the darkest column
    and row within 20 mm of the sheet's centre (the arms are the longest straight marks there)."""
    doc = pdfium.PdfDocument(pdf)
    try:
        pixels = np.asarray(doc[0].render(scale=scale, grayscale=True).to_pil().convert("L"), dtype=float)
    finally:
        doc.close()
    px_per_mm = scale * 72 / 25.4
    (cx, cy), reach = CENTRE, 20 * px_per_mm
    x0, y0 = round(cx * px_per_mm - reach), round(cy * px_per_mm - reach)
    ink = 255 - pixels[y0:y0 + round(2 * reach), x0:x0 + round(2 * reach)]

    def line_at(profile: np.ndarray) -> float:   # the ink-weighted middle of the strongest line
        best = profile >= 0.6 * profile.max()
        idx = np.nonzero(best)[0]
        return float((idx * profile[idx]).sum() / profile[idx].sum())

    return (x0 + line_at(ink.sum(axis=0))) / px_per_mm, (y0 + line_at(ink.sum(axis=1))) / px_per_mm


def text_of(pdf: Path) -> str:
    doc = pdfium.PdfDocument(pdf)
    try:
        return str(doc[0].get_textpage().get_text_range())
    finally:
        doc.close()


def test_the_sheet_arrives_with_the_trays_calibration_applied(tmp_path: Path, ipp: Printers,
                                                              chohyo: Chohyo) -> None:
    sheet = tmp_path / "sheet.pdf"
    done = chohyo("calibrate", "lp-cal", "--tray", "security_paper", "-o", str(sheet))
    assert done.returncode == 0, done.stderr
    assert "completed (calibration sheet, tray security_paper = by-pass-tray, A4, calibration dx_mm 5 dy_mm 3" \
        in done.stderr
    [doc] = ipp.good.printed()
    assert doc.read_bytes() != sheet.read_bytes()   # the print copy is calibrated; the sheet kept is the drawing
    (x0, y0), (x1, y1) = centre_cross(sheet), centre_cross(doc)
    assert abs(x0 - CENTRE[0]) < 0.3 and abs(y0 - CENTRE[1]) < 0.3, (x0, y0)
    assert abs((x1 - x0) - 5.0) < 0.3 and abs((y1 - y0) - 3.0) < 0.3, ((x0, y0), (x1, y1))
    attrs = ipp.good.attributes(doc)
    assert "media-source=by-pass-tray" in attrs["IPP_MEDIA_COL"]
    assert "media-size-name=iso_a4_210x297mm" in attrs["IPP_MEDIA_COL"]
    assert attrs["IPP_JOB_NAME"] == "chohyo-calibrate-lp-cal-security_paper-a1"
    assert (attrs["IPP_SIDES"], attrs["IPP_COPIES"]) == ("one-sided", "1")
    # no 発行番号, no issue log, no state at all; no journal or print copy left beside the sheet
    assert not (tmp_path / "state").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("sheet")) == ["sheet.pdf"]


def test_an_uncalibrated_tray_prints_the_sheet_as_drawn(tmp_path: Path, ipp: Printers, chohyo: Chohyo) -> None:
    sheet = tmp_path / "sheet.pdf"
    done = chohyo("calibrate", "lp-good", "--tray", "plain", "-o", str(sheet))
    assert done.returncode == 0, done.stderr
    [doc] = ipp.good.printed()
    assert doc.read_bytes() == sheet.read_bytes()
    x, y = centre_cross(doc)
    assert abs(x - CENTRE[0]) < 0.3 and abs(y - CENTRE[1]) < 0.3, (x, y)
    attrs = ipp.good.attributes(doc)
    assert "media-source=main" in attrs["IPP_MEDIA_COL"]
    assert attrs["IPP_JOB_NAME"] == "chohyo-calibrate-lp-good-plain-a1"


def test_an_unknown_printer_or_tray_is_refused_and_nothing_is_sent(tmp_path: Path, ipp: Printers,
                                                                   chohyo: Chohyo) -> None:
    done = chohyo("calibrate", "lp-cal", "--tray", "plain", "--json")
    assert done.returncode == 2
    problem = json.loads(done.stderr.strip().splitlines()[-1])
    assert problem["field"] == "--tray" and "has no tray 'plain'" in problem["detail"]
    done = chohyo("calibrate", "lp-none", "--tray", "plain", "--json")
    assert done.returncode == 2
    problem = json.loads(done.stderr.strip().splitlines()[-1])
    assert problem["field"] == "PRINTER" and "no tenant declares a printer 'lp-none'" in problem["detail"]
    done = chohyo("calibrate", "prn-003", "--tray", "plain", "--tenant", "122122", "--json")
    assert done.returncode == 2 and json.loads(done.stderr.strip().splitlines()[-1])["field"] == "PRINTER"
    # the printer itself: lp-notray's tray-9 is not a media-source the printer has
    done = chohyo("calibrate", "lp-notray", "--tray", "plain")
    assert done.returncode == 2 and "has no media-source 'tray-9'" in done.stderr, done.stderr
    assert ipp.good.received() == [] and ipp.flaky.received() == []


# --------------------------------------------------------------------------- the sheet (no printer needed)


def calibrate_shipped(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``chohyo calibrate`` on the shipped layouts (their tenants), never sending anything (--no-print)."""
    env = {**os.environ, "CHOHYO_STATE_DIR": str(tmp_path / "state")}
    env.pop("CHOHYO_LAYOUTS_DIR", None)
    return subprocess.run([sys.executable, "-m", "renderer", "calibrate", *args], capture_output=True, text=True,
                          env=env, cwd=tmp_path, check=False, timeout=120)


def test_the_sheet_is_deterministic_and_says_what_it_is_for(tmp_path: Path) -> None:
    outs = []
    for name in ("a.pdf", "b.pdf"):
        done = calibrate_shipped(tmp_path, "prn-002", "--tray", "plain", "--tenant", "122122", "--no-print",
                                 "-o", str(tmp_path / name))
        assert done.returncode == 0, done.stderr
        outs.append((tmp_path / name).read_bytes())
    assert outs[0] == outs[1]
    assert b"/CreationDate (D:20000101000000+09'00')" in outs[0]   # a fixed date: no time stamp
    text = " ".join(text_of(tmp_path / "a.pdf").split())
    for expected in ("印刷位置調整シート", "プリンタ: prn-002（プリンタ002）",
                     "トレイ: plain（media-source main、用紙 A4）", "テナント: 122122",
                     "現在の補正: dx_mm 1.5 dy_mm -1 scale 1.000", "(20, 20) mm",
                     "(105, 148.5) mm", "(190, 277) mm", "新しい dx_mm ＝ 1.5 ＋ 105 − 左端からの測定値",
                     "trays.plain.calibration"):
        assert expected in text, expected
    assert not (tmp_path / "state").exists()


def test_a_printer_several_tenants_declare_needs_tenant(tmp_path: Path) -> None:
    done = calibrate_shipped(tmp_path, "prn-002", "--tray", "plain", "--no-print", "-o", str(tmp_path / "s.pdf"),
                             "--json")
    assert done.returncode == 2
    problem = json.loads(done.stderr.strip().splitlines()[-1])
    assert problem["field"] == "--tenant" and "122122" in problem["detail"]
    done = calibrate_shipped(tmp_path, "prn-002", "--tray", "plain", "--tenant", "122122", "--no-print")
    assert done.returncode == 2 and "--no-print" in done.stderr   # nothing to do without -o
    assert not (tmp_path / "s.pdf").exists()


def test_a_character_the_font_lacks_is_an_error() -> None:
    facts = SheetFacts(tenant="122122", printer_id="prn-009", printer_name="試験機\U0001F5A8", purpose="plain",
                       source="main", paper="A4", dx_mm=0.0, dy_mm=0.0, scale=1.0)
    with pytest.raises(GlyphError):
        calibration_sheet(facts, FontSet(PROJECT_ROOT / "fonts"))
