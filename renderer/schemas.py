"""JSON Schemas generated from the models, committed so editors and callers can use them.

In: the models (`LayoutSpec`, `Envelope`, the data models) and the layouts. Out: `layouts/schema.json`
(the layout language) and `layouts/input-schemas/<layout-id>.json` (the envelope each layout accepts,
with its `data` typed). `check=True` writes nothing and returns the files that are stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, create_model

from renderer.datamodels import DATA_MODELS
from renderer.envelope import Request
from renderer.spec.model import LayoutSpec

if TYPE_CHECKING:
    from renderer.api import Renderer


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def built_models() -> None:
    """Build every model of the loaded renderer modules that is declared ``defer_build`` (validator and
    serializer are otherwise made at its first validation): a schema that states one of their instances as a
    default (a layout's ``paper``, made with ``model_construct``) needs its serializer, in a fresh process too."""
    for name, module in list(sys.modules.items()):
        if not name.startswith("renderer.") or module is None:
            continue
        for value in list(vars(module).values()):
            if (isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == name
                    and value.model_config.get("defer_build") and not value.__pydantic_complete__):
                value.model_rebuild()   # builds a deferred model once; later calls find it complete


def layout_schema() -> dict[str, Any]:
    built_models()
    schema = LayoutSpec.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "chohyo layout (schema_version 1)"
    return schema


def envelope_schema(layout_id: str, data_model: str) -> dict[str, Any]:
    built_models()
    model = create_model(
        f"Envelope_{layout_id.replace('-', '_')}",
        layout=(str, ...),
        tenant=(str, ...),
        request=(Request, ...),
        data=(DATA_MODELS[data_model], ...),
    )
    schema = model.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"input envelope for {layout_id}"
    schema["properties"]["layout"] = {"const": layout_id, "title": "Layout", "type": "string"}
    schema["properties"]["tenant"]["pattern"] = "^[0-9]{6}$"
    return schema


def expected_files(renderer: Renderer) -> dict[Path, str]:
    layouts_dir = renderer.settings.layouts_dir
    files = {layouts_dir / "schema.json": _dump(layout_schema())}
    for layout_id in renderer.layout_ids():
        spec = renderer.layout(layout_id)
        files[layouts_dir / "input-schemas" / f"{layout_id}.json"] = _dump(envelope_schema(layout_id, spec.data_model))
    return files


def write_schemas(renderer: Renderer, *, check: bool) -> list[Path]:
    changed: list[Path] = []
    for path, text in expected_files(renderer).items():
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current != text:
            changed.append(path)
            if not check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
    return changed
