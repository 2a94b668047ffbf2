"""督促状 on a V-fold 圧着はがき (layout tokusokujo-hagaki, data model tokusoku): two sheets (outside, inside) of
200 × 148 mm with fold marks, nothing personal on the outside but the address block, and the data model's
refusals. The sample and every figure are fictitious."""

from __future__ import annotations

import copy
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from pypdf import PdfReader

from renderer.api import Renderer
from renderer.datamodels.tokusoku import TOKUSOKU_ROWS, TokusokuNotice
from renderer.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SAMPLE: dict[str, Any] = json.loads(
    (ROOT / "layouts" / "samples" / "tokusokujo-hagaki.json").read_text(encoding="utf-8"))
MM = 72 / 25.4


def render(tmp: Path, env: dict[str, Any]) -> bytes:
    renderer = Renderer(Settings(layouts_dir=ROOT / "layouts", fonts_dir=ROOT / "fonts", state_dir=tmp))
    return renderer.render(env, layout_id="tokusokujo-hagaki").pdf


def pages(pdf: bytes) -> list[str]:
    return [re.sub(r"\s+", "", p.extract_text()) for p in PdfReader(io.BytesIO(pdf)).pages]


def test_outside_and_inside_are_two_sheets_of_the_unfolded_postcard(tmp_path: Path) -> None:
    pdf = render(tmp_path, copy.deepcopy(SAMPLE))
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 2
    for page in reader.pages:
        assert (round(float(page.mediabox.width) / MM, 1), round(float(page.mediabox.height) / MM, 1)) == (200.0, 148.0)
    outside, inside = pages(pdf)
    # the outside: 郵便はがき, 料金後納, the address block — and nothing of the 督促
    assert "郵便はがき" in outside and "料金後納" in outside and "285-0014" in outside
    assert "千葉県佐倉市栄町7番5号見本マンション302号室" in outside and "見本三郎様" in outside
    for secret in ("督促", "24,500", "24,600", "T8-000203", "佐収第2046号", "1221-2046-0203", "延滞金"):
        assert secret not in outside, secret
    # the inside: the 督促 itself, the amounts and the stub
    for shown in ("督促状", "24,500", "24,600円", "T8-000203", "佐収第2046号", "1221-2046-0203", "領収日付印",
                  "指定期限", "延滞金"):
        assert shown in inside, shown


def test_too_many_rows_or_a_deadline_before_the_due_date_is_refused() -> None:
    data = copy.deepcopy(SAMPLE["data"])
    data["rows"] = data["rows"] * (TOKUSOKU_ROWS + 1)
    with pytest.raises(ValidationError, match="at most 6 items"):
        TokusokuNotice.model_validate(data)
    data = copy.deepcopy(SAMPLE["data"])
    data["payment"]["due_on"] = data["rows"][0]["due_on"]
    with pytest.raises(ValidationError, match=r"payment.due_on \(指定期限\) is not after rows\[0\].due_on"):
        TokusokuNotice.model_validate(data)


def test_a_convenience_barcode_above_999999_yen_is_refused() -> None:
    data = copy.deepcopy(SAMPLE["data"])
    data["payment"]["amount"] = 1_000_000
    with pytest.raises(ValidationError, match="at most 999,999"):
        TokusokuNotice.model_validate(data)
    data["payment"]["slip"] = None
    assert TokusokuNotice.model_validate(data).payment.slip is None
