"""Signing inside the render pipeline: `request.sign`, a tenant's ``signing`` policy, the issue log, failures.

Renders the sample 住民票 (tenant 122122, issued today by the real clock) with a signing directory outside the
repository that names the loopback PKI's PKCS#12 signer. Checks: the delivered PDF is the unsigned drawing plus
a signature that validates; the render record carries ``signed_sha256`` (the delivered bytes) and
``signer_fingerprint`` beside ``pdf_sha256`` (the unsigned drawing); a TSA that is down delivers nothing and
voids the reserved 発行番号; a tenant policy requiring a signature without a configuration is refused before a
serial is spent; a layout's visible ``signature_field`` shows on the sheet (rasterised); batch runs are not
signed; ``chohyo render`` exits 1 with the cause and writes no file when the TSA is down.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pypdf
import pytest
from fontTools.ttLib import TTFont
from signkit import ROOT, LoopbackPki, free_port
from typer.testing import CliRunner

from renderer.api import Mode, Renderer
from renderer.cli import app
from renderer.errors import InputError, LayoutError
from renderer.pdfa_check import check as check_pdfa
from renderer.settings import Settings
from renderer.signing.errors import SigningConfigError, SigningUnavailableError
from renderer.signing.inspect import describe_signatures

pytest_plugins = ("sigfixtures",)

SAMPLE: dict[str, Any] = json.loads((ROOT / "layouts" / "samples" / "juminhyo-setai.json").read_text("utf-8"))


def envelope(**request: Any) -> dict[str, Any]:
    env = copy.deepcopy(SAMPLE)
    env["request"].update(request)
    return env


def renderer(tmp_path: Path, signing_dir: Path | None, layouts_dir: Path | None = None) -> Renderer:
    return Renderer(Settings(layouts_dir=layouts_dir or ROOT / "layouts", fonts_dir=ROOT / "fonts",
                             state_dir=tmp_path / "state", signing_dir=signing_dir))


def bodies(r: Renderer) -> list[dict[str, Any]]:
    return [json.loads(row["body"]) for row in r.issue_log.records()]


def layouts_with(tmp_path: Path, *, tenant_extra: str = "", layout_extra: str = "") -> Path:
    """A copy of the bundled layouts with lines appended to tenant 122122 and to juminhyo-setai."""
    d = tmp_path / "layouts"
    shutil.copytree(ROOT / "layouts", d)
    for path, extra in ((d / "tenants" / "122122.yaml", tenant_extra), (d / "juminhyo-setai.yaml", layout_extra)):
        if extra:
            path.write_text(path.read_text("utf-8") + "\n" + extra + "\n", encoding="utf-8")
    return d


def test_signed_render_and_its_record(pki: LoopbackPki, signing_dir: Path, tmp_path: Path) -> None:
    pki.signing_config(signing_dir / "122122.yaml")
    r = renderer(tmp_path, signing_dir)
    result = r.render(envelope(output="file", sign={"level": "B-LT"}))
    assert result.signed_sha256 == hashlib.sha256(result.pdf).hexdigest()
    assert result.pdf_sha256 != result.signed_sha256
    end = result.pdf.index(b"%%EOF") + len(b"%%EOF")   # the drawing, unchanged, then the signature's update
    assert result.pdf_sha256 in {hashlib.sha256(result.pdf[:end + k]).hexdigest() for k in (0, 1, 2)}
    assert check_pdfa(result.pdf).ok, check_pdfa(result.pdf).failed   # output: file is PDF/A-2: still, signed
    (entry,) = describe_signatures(result.pdf, trust_roots=[pki.root_pem])
    assert entry["integrity_ok"] and entry["trusted_chain"] and entry["level"] == "B-LT"
    assert entry["ltv"]["validates_offline"] is True
    render = [b for b in bodies(r) if b["event"] == "render"]
    assert len(render) == 1
    assert render[0]["signed_sha256"] == result.signed_sha256
    assert render[0]["signer_fingerprint"] == result.signer_fingerprint == entry["signer_fingerprint"]
    assert render[0]["signature_level"] == "B-LT" and render[0]["pdf_sha256"] == result.pdf_sha256
    assert r.issue_log.verify().ok


def test_unsigned_render_has_no_signature_fields(tmp_path: Path) -> None:
    r = renderer(tmp_path, None)
    result = r.render(envelope())
    assert result.signed_sha256 == "" and b"/ByteRange" not in result.pdf
    (render,) = [b for b in bodies(r) if b["event"] == "render"]
    assert "signed_sha256" not in render and "signer_fingerprint" not in render


def test_tsa_down_delivers_nothing_and_voids_the_numbers(pki: LoopbackPki, signing_dir: Path,
                                                          tmp_path: Path) -> None:
    down = f"http://127.0.0.1:{free_port()}/tsa"
    pki.signing_config(signing_dir / "122122.yaml", tsa_url=down)
    r = renderer(tmp_path, signing_dir)
    with pytest.raises(SigningUnavailableError) as exc:
        r.render(envelope(output="file", sign={"level": "B-T"}))
    assert exc.value.exit_code == 1 and down in exc.value.message
    events = [b["event"] for b in bodies(r)]
    assert events == ["reserve", "void"]   # the 発行番号 was reserved, then accounted for; no render record
    assert bodies(r)[1]["reason"] == "failed (SigningUnavailableError)"
    assert r.issue_log.open_reservations() == []


def test_policy_without_configuration_is_refused_before_a_serial(tmp_path: Path, signing_dir: Path) -> None:
    layouts = layouts_with(tmp_path, tenant_extra="signing: {require_for: [file], level: B-LT}")
    r = renderer(tmp_path, signing_dir, layouts)   # the directory exists, but has no 122122.yaml
    with pytest.raises(SigningConfigError) as exc:
        r.render(envelope(output="file"))
    assert exc.value.exit_code == 2 and "requires a signature" in exc.value.message
    assert exc.value.field == "request.sign"
    assert bodies(r) == []   # nothing reserved, nothing logged
    assert r.render(envelope(output="print")).signed_sha256 == ""   # a print is not covered by the policy


def test_policy_signs_every_file_and_sets_the_least_level(pki: LoopbackPki, tmp_path: Path,
                                                          signing_dir: Path) -> None:
    layouts = layouts_with(tmp_path, tenant_extra="signing: {require_for: [file], level: B-T}")
    pki.signing_config(signing_dir / "122122.yaml")
    r = renderer(tmp_path, signing_dir, layouts)
    result = r.render(envelope(output="file"))
    (entry,) = describe_signatures(result.pdf, trust_roots=[pki.root_pem])
    assert entry["level"] == "B-T" and entry["integrity_ok"]
    with pytest.raises(SigningConfigError) as low:
        r.render(envelope(output="file", sign={"level": "B-B"}))
    assert low.value.field == "request.sign.level"
    with pytest.raises(InputError) as batch:
        r.prepare(envelope(output="file"), layout_id="juminhyo-setai", mode=Mode.BATCH)
    assert batch.value.field == "request.sign" and "batch runs are not signed" in batch.value.message


def test_request_sign_without_configuration(tmp_path: Path) -> None:
    r = renderer(tmp_path, None)
    with pytest.raises(SigningConfigError, match="CHOHYO_SIGNING_DIR is not set"):
        r.render(envelope(output="file", sign={}))
    with pytest.raises(InputError):   # an unknown level is invalid input (the envelope model)
        r.render(envelope(output="file", sign={"level": "B-LTA"}))
    assert bodies(r) == []


def test_visible_signature_field(pki: LoopbackPki, signing_dir: Path, tmp_path: Path) -> None:
    layouts = layouts_with(tmp_path, layout_extra="signature_field: {at: [18, 262], size: [80, 20], sheet: last}")
    pki.signing_config(signing_dir / "122122.yaml")
    r = renderer(tmp_path, signing_dir, layouts)
    result = r.render(envelope(output="file", sign={"level": "B-T"}))
    (entry,) = describe_signatures(result.pdf, trust_roots=[pki.root_pem])
    assert entry["integrity_ok"] and entry["trusted_chain"]
    # PDF/A still holds: the widget prints, the stamp's font is embedded with /W equal to its advances (6.2.11.5)
    assert check_pdfa(result.pdf).ok, check_pdfa(result.pdf).failed
    reader = pypdf.PdfReader(io.BytesIO(result.pdf))
    page = reader.pages[-1]
    (widget,) = [a.get_object() for a in page.get("/Annots", []) if a.get_object().get("/FT") == "/Sig"]
    x1, y1, x2, y2 = (float(v) for v in widget["/Rect"])
    mm = 72 / 25.4
    height = float(page.mediabox.height)
    assert (round(x1 / mm), round((height - y2) / mm), round((x2 - x1) / mm), round((y2 - y1) / mm)) == \
        (18, 262, 80, 20)
    fonts = widget["/AP"]["/N"].get_object()["/Resources"]["/Font"]
    (font,) = [f.get_object() for f in fonts.values()]
    descendant = font["/DescendantFonts"][0].get_object()
    program = descendant["/FontDescriptor"]["/FontFile2"].get_object().get_data()   # embedded (a subset)
    tt = TTFont(io.BytesIO(program))
    upem, order = tt["head"].unitsPerEm, tt.getGlyphOrder()
    widths = list(descendant["/W"])
    checked = 0
    for first, values in zip(widths[::2], widths[1::2], strict=True):   # /W in 1/1000 em = the glyphs' advances
        for gid, width in enumerate(values, start=int(first)):
            assert int(width) == round(tt["hmtx"][order[gid]][0] * 1000 / upem)
            checked += 1
    assert checked >= 10
    # the stamp draws ink inside its box and nowhere else changes (rasterised with PDFium)
    import pypdfium2 as pdfium

    def gray(pdf: bytes) -> Any:
        doc = pdfium.PdfDocument(pdf)
        doc.init_forms()   # draw widget appearances (the signature's stamp)
        try:
            page = doc[len(doc) - 1]
            image = page.render(scale=1, may_draw_forms=True).to_pil().convert("L")
            page.close()
            return image
        finally:
            doc.close()

    from PIL import ImageChops

    unsigned = gray(result.pdf[:result.pdf.index(b"%%EOF") + 5])
    signed = gray(result.pdf)
    signed.save(tmp_path / "signed-last-page.png")
    bbox = ImageChops.difference(unsigned, signed).getbbox()
    assert bbox is not None
    scale = signed.width / float(page.mediabox.width)
    assert bbox[0] >= x1 * scale - 2 and bbox[2] <= x2 * scale + 2
    assert bbox[1] >= (height - y2) * scale - 2 and bbox[3] <= (height - y1) * scale + 2


def test_a_signature_field_off_the_sheet_is_a_layout_error(tmp_path: Path) -> None:
    layouts = layouts_with(tmp_path, layout_extra="signature_field: {at: [150, 280], size: [80, 20]}")
    with pytest.raises(LayoutError) as exc:
        renderer(tmp_path, None, layouts).layout("juminhyo-setai")
    (diag,) = [d for d in exc.value.diagnostics if d.path == "signature_field.at"]
    assert "outside the 210×297 mm sheet" in diag.message and diag.line is not None


def test_cli_render_tsa_down_exits_1_without_a_file(pki: LoopbackPki, signing_dir: Path, tmp_path: Path) -> None:
    pki.signing_config(signing_dir / "122122.yaml", tsa_url=f"http://127.0.0.1:{free_port()}/tsa")
    source = tmp_path / "in.json"
    source.write_text(json.dumps(envelope(output="file", sign={"level": "B-LT"}), ensure_ascii=False), "utf-8")
    out = tmp_path / "out.pdf"
    result = CliRunner().invoke(app, ["render", "juminhyo-setai", str(source), "-o", str(out),
                                      "--state-dir", str(tmp_path / "state"), "--json"],
                                env={"CHOHYO_SIGNING_DIR": str(signing_dir)})
    assert result.exit_code == 1, result.output
    problem = json.loads(result.stderr.strip().splitlines()[-1])
    assert problem["type"] == "urn:chohyo:problem:signing-unavailable"
    assert "the timestamp authority at http://127.0.0.1:" in problem["detail"]
    assert not out.exists() and not list(tmp_path.glob("*.pdf*"))
