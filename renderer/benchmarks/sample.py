"""The input of the pipeline benchmark: the bundled 1-page 住民票の写し sample (layouts/samples/juminhyo-setai.json,
issued today) and a shaping variant of it whose names need IVS variant glyphs and font fallback.

In: nothing (the committed sample). Out: fresh envelope dicts (the caller may change them).
"""

from __future__ import annotations

import json
from typing import Any

from renderer.settings import PROJECT_ROOT

PIPELINE_LAYOUT = "juminhyo-setai"
SAMPLE = PROJECT_ROOT / "layouts" / "samples" / f"{PIPELINE_LAYOUT}.json"
#: the shaping variant: names whose glyphs need an ideographic variation sequence (辻󠄂 U+8FBB U+E0102,
#: 邊󠄉 U+908A U+E0109, 﨑󠄂 U+FA11 U+E0102, drawn from IPAmj明朝's format-14 cmap) and a former name whose
#: 𠮷 (U+20BB7) IPAex明朝 lacks, so the body style falls back to IPAmj明朝
TSUJI = "辻\U000E0102"
HEN = "邊\U000E0109"
SAKI = "﨑\U000E0102"
YOSHI = "\U00020BB7"


def sample_envelope() -> dict[str, Any]:
    """The bundled sample, as the CLI reads it (no issued_on: it is issued today)."""
    envelope: dict[str, Any] = json.loads(SAMPLE.read_text(encoding="utf-8"))
    return envelope


def shaping_envelope() -> dict[str, Any]:
    """The sample with names that need IVS variant glyphs and a former name that needs font fallback."""
    env = sample_envelope()
    household = env["data"]["household"]
    household["head_name"] = f"{TSUJI}　太郎"
    household["address"]["town"] = f"見本町{HEN}"
    for member in household["members"]:
        if member["name"].startswith("見本"):
            member["name"] = member["name"].replace("見本", TSUJI)
        if "hittosha" in member:
            member["hittosha"] = f"{TSUJI}　太郎"
        if "former_name" in member:
            member["former_name"] = f"{YOSHI}{SAKI}"
    return env
