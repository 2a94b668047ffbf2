"""Routes ``GET /v1/layouts`` (id, kind, title, data model of each) and ``GET /v1/layouts/{layout_id}`` (one
layout with its options, omissions and the JSON Schema of the envelope it accepts).

In: a key with any role. Out: `LayoutSummary` list / `LayoutDetail`; 503 while the layouts are not loaded,
404 for an unknown id.
"""

from typing import Annotated

from fastapi import APIRouter, Depends

from renderer.service.deps import LayoutId, ServiceDep, require
from renderer.service.keys import Principal
from renderer.service.models import LayoutDetail, LayoutSummary
from renderer.service.openapi import problem_responses
from renderer.service.problems import not_ready

router = APIRouter(tags=["layouts"])
AnyRole = Annotated[Principal, Depends(require(None))]


@router.get("/v1/layouts", operation_id="listLayouts",
            summary="The layouts (id, kind, title)", responses=problem_responses(401, 429, 500, 503))
async def layouts(_: AnyRole, service: ServiceDep) -> list[LayoutSummary]:
    if not service.layouts:
        raise not_ready()
    return [LayoutSummary(id=s.id, kind=s.kind, title=s.title, data_model=s.data_model)
            for s in service.layouts.values()]


@router.get("/v1/layouts/{layout_id}", operation_id="getLayout", summary="One layout with its input JSON Schema",
            responses=problem_responses(401, 404, 422, 429, 500, 503))
async def layout(layout_id: LayoutId, _: AnyRole, service: ServiceDep) -> LayoutDetail:
    spec = service.layout(layout_id)
    return LayoutDetail(id=spec.id, kind=spec.kind, title=spec.title, data_model=spec.data_model,
                        options=sorted(spec.options), omissions=sorted(spec.omissions),
                        input_schema=service.input_schema(spec))
