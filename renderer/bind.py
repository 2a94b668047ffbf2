"""Bind: envelope + layout + tenant → `BoundDocument` (data validated against the layout's data model).

In: an `Envelope`, the `LayoutSpec` it names and the `Tenant`. Out: a `BoundDocument` holding the
validated data model, the request, the signer in office on 交付年月日 and the standard options in force.
No rule of the standard is applied here (see `renderer.rules`), and nothing is drawn.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from functools import cache

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
    check_once_per_person(data)
    check_figures(layout, tenant, data, params)
    return BoundDocument(layout=layout, tenant=tenant, request=envelope.request, data=data,
                         signer=signer, options=options, params=params)


def once_per_person(row: type[BaseModel]) -> str | None:
    """Why a person may have one row only in a list of `row` rows (the row model's ``ONCE_PER_PERSON``:
    the 支給決定者一覧's, whose every row is paid and totalled), or None (a 異動者一覧 lists every 異動)."""
    reason = getattr(row, "ONCE_PER_PERSON", None)
    return reason if isinstance(reason, str) else None


@cache
def _once_per_person_lists(model: type[BaseModel]) -> tuple[tuple[str, str], ...]:
    """(field, reason) of each list at the top of `model` whose rows are once per person."""
    found: list[tuple[str, str]] = []
    for name, info in model.model_fields.items():
        if typing.get_origin(info.annotation) is not list:
            continue
        (item,) = typing.get_args(info.annotation)
        reason = once_per_person(item) if isinstance(item, type) and issubclass(item, BaseModel) else None
        if reason is not None:
            found.append((name, reason))
    return tuple(found)


def repeated_person(field: str, first: int, again: int, reason: str, *, line: int | None = None,
                    first_line: int | None = None, source: str | None = None) -> InputError:
    """The error for row `again` of `data.<field>` naming the person of row `first` again (no person_id is
    quoted: the two rows are named by index, and by line when they come from a rows file)."""
    path = f"data.{field}[{again}].person_id"
    where = f" (line {first_line})" if first_line is not None else ""
    message = f"the same person_id as data.{field}[{first}]{where}: {reason}"
    head = f"--rows {source} line {line}: " if source is not None and line is not None else ""
    return InputError(f"{head}data.{field}[{again}] names the person of data.{field}[{first}]{where} again",
                      field=path,
                      diagnostics=[Diagnostic(path=path, message=message, line=line, source=source)])


def check_once_per_person(data: BaseModel) -> None:
    """A person given two rows of a list whose rows are once per person (`once_per_person`) is refused
    (exit 2), naming both rows: the 支給決定者一覧 would pay and total them twice."""
    for name, reason in _once_per_person_lists(type(data)):
        first: dict[str, int] = {}
        for index, row in enumerate(getattr(data, name)):
            seen = first.setdefault(row.person_id, index)
            if seen != index:
                raise repeated_person(name, seen, index, reason)


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

