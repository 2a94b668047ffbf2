"""Bind: envelope + layout + tenant → `BoundDocument` (data validated against the layout's data model).

In: an `Envelope`, the `LayoutSpec` it names and the `Tenant`. Out: a `BoundDocument` holding the
validated data model, the request, the signer in office on 交付年月日 and the standard options in force.
No rule of the standard is applied here (see `renderer.rules`), and nothing is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, ValidationError

from renderer.datamodels import DATA_MODELS
from renderer.diagnostics import Diagnostic, from_pydantic
from renderer.envelope import Envelope, Request
from renderer.errors import InputError, LayoutError
from renderer.spec.model import LayoutSpec, OmissionItem
from renderer.tenants import SignerInOffice, Tenant


@dataclass(frozen=True)
class BoundDocument:
    layout: LayoutSpec
    tenant: Tenant
    request: Request
    data: BaseModel
    signer: SignerInOffice
    options: dict[str, bool]
    included: frozenset[OmissionItem] = field(default_factory=frozenset)
    params: dict[str, int | str | bool | None] = field(default_factory=dict)
    #: list path → positions in the input of the items as printed (rules may select and reorder them),
    #: so errors and reports name the input's index: data.household.members[0] is the first member given
    positions: dict[str, list[int]] = field(default_factory=dict)


def bind(envelope: Envelope, layout: LayoutSpec, tenant: Tenant) -> BoundDocument:
    model = DATA_MODELS[layout.data_model]
    try:
        data = model.model_validate(envelope.data)
    except ValidationError as exc:
        diags = from_pydantic(exc, prefix="data")
        raise InputError(f"data does not match the {layout.data_model} model: {len(diags)} problem(s)",
                         diagnostics=diags, field=diags[0].path if diags else "data") from None
    options = {name: spec.default for name, spec in layout.options.items()}
    for name, value in tenant.file.defaults.options.items():
        # A tenant may switch only options a layout declares (`chohyo layouts validate` checks each
        # tenant option against the union of all layouts' declared options).
        if name in layout.options:
            options[name] = value
    signer = tenant.signer_for(envelope.request.issued_on, envelope.request.signer)
    params = bind_parameters(layout, tenant)
    check_figures(layout, tenant, data, params)
    return BoundDocument(layout=layout, tenant=tenant, request=envelope.request, data=data,
                         signer=signer, options=options, params=params)


def check_figures(layout: LayoutSpec, tenant: Tenant, data: BaseModel,
                  params: dict[str, int | str | bool | None]) -> None:
    """The layout's declared consistency checks (`checks:`): data whose figures contradict each other is
    refused with every broken check named (exit 2), before anything is drawn or any number is spent."""
    problems: list[Diagnostic] = []
    for i, check in enumerate(layout.checks):
        try:
            failure = check.failure(data, params)
        except ValueError as exc:   # a tenant's value for a parameter the check reads as a number
            raise LayoutError(f"tenant {tenant.code}: check {check.name!r} of {layout.id} reads a parameter "
                              f"that is not a number ({exc})", field=f"checks[{i}]") from None
        if failure is not None:
            problems.append(Diagnostic(path=failure.field, message=failure.message,
                                       hint=f"{layout.id} declares that these figures agree; correct the data"))
    if problems:
        raise InputError(f"data: {len(problems)} figure(s) contradict each other", diagnostics=problems,
                         field=problems[0].path)


def bind_parameters(layout: LayoutSpec, tenant: Tenant) -> dict[str, int | str | bool | None]:
    """The layout's declared parameters with the tenant's values; anything undeclared or invalid is refused
    (ノン・カスタマイズ: a tenant sets declared parameters only)."""
    values: dict[str, int | str | bool | None] = {name: spec.default for name, spec in layout.parameters.items()}
    given = tenant.file.defaults.parameters.get(layout.id, {})
    problems = parameter_problems(layout, given)
    if problems:
        raise LayoutError(f"tenant {tenant.code}: {len(problems)} invalid parameter(s) for {layout.id}",
                          diagnostics=[Diagnostic(path=p, message=m, source=str(tenant.source))
                                       for p, m in problems], field=problems[0][0])
    values.update(given)
    return values


def parameter_problems(layout: LayoutSpec, given: dict[str, int | str | bool | None]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, value in given.items():
        path = f"defaults.parameters.{layout.id}.{name}"
        spec = layout.parameters.get(name)
        if spec is None:
            declared = ", ".join(sorted(layout.parameters)) or "none"
            out.append((path, f"{layout.id} declares no parameter {name!r} (declared: {declared})"))
            continue
        problem = spec.problem(value)
        if problem:
            out.append((path, problem))
    return out

