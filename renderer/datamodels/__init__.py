"""Input data models, one per `data_model` a layout may name, and the shared address model.

In: the `data` object of an envelope. Out: validated, frozen pydantic models. `DATA_MODELS` maps the
name a layout declares (`data_model: juminhyo`) to its model; `chohyo layouts schema` exports them.

`DATA_MODELS` is a read-only mapping over `MODEL_PATHS` (name → module and class): a model's module is
imported the first time its name is looked up, so a process rendering one layout builds that layout's
pydantic classes only (building all of them cost about a tenth of a second of every cold start). Its keys,
`len` and `in` never import anything; `values()`/`items()` import every model (schemas, docs and tests that
list them all see them all). The model classes are also importable from this package by name (imported on
first access).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import BaseModel

#: data model name → (module, class); a test checks that every layout's `data_model` is here and every
#: module of this package that defines a top-level data model is named
MODEL_PATHS: dict[str, tuple[str, str]] = {
    "juminhyo": ("renderer.datamodels.juminhyo", "JuminhyoData"),
    "idosha_list": ("renderer.datamodels.lists", "IdoshaList"),
    "kyufu_list": ("renderer.datamodels.lists", "KyufuList"),
    "kyufu_kettei_notice": ("renderer.datamodels.notices", "KyufuKetteiNotice"),
    "nozei_notice": ("renderer.datamodels.notices", "NozeiNotice"),
    "inkan": ("renderer.datamodels.inkan", "InkanData"),                        # 印鑑登録証明書
    "juminhyo_kisaijiko": ("renderer.datamodels.kisaijiko", "KisaijikoData"),   # 住民票記載事項証明書
    "shotoku_kazei": ("renderer.datamodels.shotoku", "ShotokuKazeiData"),       # 所得・課税証明書 (個人住民税)
    "tenshutsu": ("renderer.datamodels.tenshutsu", "TenshutsuData"),            # 転出証明書
    "tokusoku": ("renderer.datamodels.tokusoku", "TokusokuNotice"),             # 督促状（圧着はがき）
}

_CLASSES: dict[str, str] = {cls: module for module, cls in MODEL_PATHS.values()}


class _LazyModels(Mapping[str, "type[BaseModel]"]):
    """`MODEL_PATHS` as a mapping to the model classes, each module imported on first look-up."""

    def __getitem__(self, name: str) -> type[BaseModel]:
        module, cls = MODEL_PATHS[name]
        model: type[BaseModel] = getattr(importlib.import_module(module), cls)
        return model

    def __iter__(self) -> Iterator[str]:
        return iter(MODEL_PATHS)

    def __len__(self) -> int:
        return len(MODEL_PATHS)

    def __contains__(self, name: object) -> bool:
        return name in MODEL_PATHS

    def __repr__(self) -> str:
        return f"DATA_MODELS({', '.join(MODEL_PATHS)})"


DATA_MODELS: Mapping[str, type[BaseModel]] = _LazyModels()


def __getattr__(name: str) -> type[BaseModel]:
    """The model classes by name (``from renderer.datamodels import JuminhyoData``), imported on first use."""
    module = _CLASSES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    model: type[BaseModel] = getattr(importlib.import_module(module), name)
    return model


__all__ = ["DATA_MODELS", "MODEL_PATHS", "IdoshaList", "InkanData", "JuminhyoData", "KisaijikoData",
           "KyufuKetteiNotice", "KyufuList", "NozeiNotice", "ShotokuKazeiData", "TenshutsuData", "TokusokuNotice"]
