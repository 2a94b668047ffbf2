"""Input data models, one per `data_model` a layout may name, and the shared address model.

In: the `data` object of an envelope. Out: validated, frozen pydantic models. `DATA_MODELS` maps the
name a layout declares (`data_model: juminhyo`) to its model; `chohyo layouts schema` exports them.
"""

from __future__ import annotations

from pydantic import BaseModel

from renderer.datamodels.inkan import InkanData
from renderer.datamodels.juminhyo import JuminhyoData
from renderer.datamodels.kisaijiko import KisaijikoData
from renderer.datamodels.lists import IdoshaList, KyufuList
from renderer.datamodels.notices import KyufuKetteiNotice, NozeiNotice
from renderer.datamodels.shotoku import ShotokuKazeiData
from renderer.datamodels.tenshutsu import TenshutsuData
from renderer.datamodels.tokusoku import TokusokuNotice

DATA_MODELS: dict[str, type[BaseModel]] = {
    "juminhyo": JuminhyoData,
    "idosha_list": IdoshaList,
    "kyufu_list": KyufuList,
    "kyufu_kettei_notice": KyufuKetteiNotice,
    "nozei_notice": NozeiNotice,
    "inkan": InkanData,                        # 印鑑登録証明書
    "juminhyo_kisaijiko": KisaijikoData,       # 住民票記載事項証明書
    "shotoku_kazei": ShotokuKazeiData,         # 所得・課税証明書 (個人住民税)
    "tenshutsu": TenshutsuData,                # 転出証明書
    "tokusoku": TokusokuNotice,                # 督促状（圧着はがき）
}

__all__ = ["DATA_MODELS", "IdoshaList", "InkanData", "JuminhyoData", "KisaijikoData", "KyufuKetteiNotice", "KyufuList",
           "NozeiNotice", "ShotokuKazeiData", "TenshutsuData", "TokusokuNotice"]
