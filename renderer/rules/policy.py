"""Apply the standard's rules to a bound document, before anything is composed.

In: a `BoundDocument`. Out: a new `BoundDocument` whose data has
- only the members the request selected, in the standard order of §1.5 (unless the clerk's manual order
  was declared with ``household.order: as_given``);
- every optional item (§1.6) that is not printed *replaced* by a `Withheld` marker carrying the layout's
  declared omitted text, so a withheld value never reaches composition, the PDF or its text layer.

A form whose data names the persons it is about (`FixesMembers`: the 転出証明書's 転出届) prints exactly
those members; a layout's ``requires:`` refuses data lacking what the form is issued on (`renderer.rules.requires`).

Which optional items print: the request's ``include`` when it names them; otherwise the tenant's defaults
(``defaults.include``), but only for the requesters those defaults are meant for (`uses_tenant_defaults`):
- ``self``, ``same_household`` and ``agent`` (a 本人等の請求, 住基法12条; an agent asks for the person acted
  for): the tenant's defaults — 12条5項 lets the municipality omit 世帯主・続柄, 本籍 etc. unless specially
  requested, so what it prints by default is its setting;
- ``third_party`` (本人等以外の者の申出, 住基法12条の3): never the tenant's defaults. A third party gets
  世帯主の氏名及び続柄, 本籍・筆頭者 (and every other optional item) only when its request names the item in
  ``include`` (domain reference §1.6: 続柄・本籍 only with a justified reason);
- ``public_office`` (国又は地方公共団体の機関の請求, 住基法12条の2): the sources say nothing, so it is the
  layout option ``public_office_tenant_defaults`` (declared: default off = only what the request names).

Hard rules that no layout, tenant or request can weaken (a request that explicitly asks for a forbidden
item is refused with exit 3 naming the rule; a tenant default never smuggles one in):
- a ``third_party`` request never gets 個人番号 or 住民票コード;
- a ``wide_area`` (広域交付) request never gets 本籍・筆頭者;
- a certificate issued before a person's 転出予定日 omits everything the 転出届 recorded (§1.6): the
  whole ``moving_out`` item becomes `Withheld` with the layout's ``moving_out_omitted_text``.

A layout that declares ``requesters:`` is issued only to the relations it lists (`check_requesters`: e.g.
the 所得・課税証明書, 地方税法22条: the taxpayer, the household, an agent with a 委任状, a 公用請求), and with
a ``subject`` a ``self`` requester must be that person and an ``agent`` act for them, and with ``channels``
only through those channels (a notice: at the counter or by mail); refused with exit 3 (rules
``requester-relation``, ``requester-subject``, ``requester-channel``) before anything is spent.

The DV 支援措置 rules (block, 「記載省略」, 相手方) are applied after these, in `renderer.rules.dv`.
A `Withheld` marker is falsy, so a layout's ``when:`` treats a withheld item as absent (the existence
of a withheld 転出届 is not shown by its labels either). `Withheld` is defined in `renderer.values` and
re-exported here; the omission paths are applied with `renderer.paths`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from renderer import paths
from renderer.bind import BoundDocument
from renderer.datamodels.juminhyo import JuminhyoData, Person
from renderer.datamodels.kisaijiko import HOUSEHOLD_ITEMS, PERSON_ITEMS, KisaijikoData
from renderer.datamodels.protocols import fixes_members
from renderer.errors import InputError, RefusedError
from renderer.rules.household_order import MemberKey, standard_order
from renderer.rules.requires import check_requires
from renderer.spec.model import OmissionItem
from renderer.values import Withheld, WithheldItem

# (rule name, requester relation or channel, items that can never be printed)
HARD_RULES: tuple[tuple[str, str, frozenset[OmissionItem]], ...] = (
    ("third-party-no-my-number", "third_party", frozenset({"my_number", "resident_code"})),
    ("wide-area-no-honseki", "wide_area", frozenset({"honseki"})),
)


def forbidden_items(relation: str, channel: str) -> dict[OmissionItem, str]:
    """Items this request may never get, with the rule that forbids each."""
    out: dict[OmissionItem, str] = {}
    for rule, who, items in HARD_RULES:
        if who in (relation, channel):
            for item in items:
                out.setdefault(item, rule)
    return out


#: requesters a tenant's ``defaults.include`` is for (住基法12条: 本人等の請求; an agent acts for the 本人)
TENANT_DEFAULT_RELATIONS = frozenset({"self", "same_household", "agent"})
#: the layout option that extends the tenant's defaults to a 公用請求 (住基法12条の2); off unless declared on
PUBLIC_OFFICE_OPTION = "public_office_tenant_defaults"


def uses_tenant_defaults(relation: str, options: dict[str, bool]) -> bool:
    """Whether a request that names no ``include`` gets the tenant's default optional items. A third party
    (住基法12条の3) never does: it gets only what its request names."""
    if relation in TENANT_DEFAULT_RELATIONS:
        return True
    if relation == "public_office":
        return bool(options.get(PUBLIC_OFFICE_OPTION, False))
    return False


RELATION_RULE = "requester-relation"
SUBJECT_RULE = "requester-subject"
CHANNEL_RULE = "requester-channel"
#: a 記載事項証明書 asked to certify an optional item the request does not include
CERTIFY_RULE = "certify-item-not-included"


def check_requesters(doc: BoundDocument) -> None:
    """Refuse a requester the layout's ``requesters:`` does not allow (see the module docstring)."""
    policy = doc.layout.requesters
    if policy is None:
        return
    r = doc.request.requester
    if r.relation not in policy.relations:
        raise RefusedError(
            f"request.requester.relation: {doc.layout.id} is not issued to a {r.relation} requester "
            f"(issued to: {', '.join(policy.relations)}): {policy.reason}",
            rule=RELATION_RULE, field="request.requester.relation")
    if policy.channels is not None and doc.request.channel not in policy.channels:
        raise RefusedError(
            f"request.channel: {doc.layout.id} is not issued through {doc.request.channel} "
            f"(issued through: {', '.join(policy.channels)}): {policy.reason}",
            rule=CHANNEL_RULE, field="request.channel")
    if policy.subject is None or r.relation not in ("self", "agent"):
        return
    subjects = [f.value for f in paths.walk(doc.data, policy.subject)]
    claimed, where = (r.person_id, "person_id") if r.relation == "self" else (r.acting_for, "acting_for")
    if claimed is None or claimed not in subjects:
        whom = "name the person" if r.relation == "self" else "act for the person"
        raise RefusedError(
            f"request.requester.{where}: a {r.relation} requester must {whom} the {doc.layout.id} is about "
            f"(data.{policy.subject})", rule=SUBJECT_RULE, field=f"request.requester.{where}")


def apply_rules(doc: BoundDocument) -> BoundDocument:
    request = doc.request
    check_requires(doc)   # data the form cannot be issued without (layout `requires:`), before anything else
    check_requesters(doc)
    forbidden = forbidden_items(request.requester.relation, request.channel)
    if request.include is not None:
        for i, item in enumerate(request.include):
            if item in forbidden:
                raise RefusedError(
                    f"request.include[{i}] asks for {item}, which rule {forbidden[item]} never allows",
                    rule=forbidden[item], field=f"request.include[{i}]")
        included = frozenset(request.include)
    elif uses_tenant_defaults(request.requester.relation, doc.options):
        included = frozenset(doc.tenant.file.defaults.include) - frozenset(forbidden)
    else:
        included = frozenset()
    data = doc.data
    if isinstance(data, KisaijikoData):
        check_certified_items(data, doc, included, forbidden)
    positions: dict[str, list[int]] = {}
    if isinstance(data, JuminhyoData):
        original = {m.person_id: i for i, m in enumerate(data.household.members)}
        data = _select_and_order(data, _selection(data, request.members))
        positions["data.household.members"] = [original[m.person_id] for m in data.household.members]
    withheld: list[tuple[str, paths.Replacer]] = []
    for item, spec in doc.layout.omissions.items():
        if item in included:
            continue
        marker = Withheld(item=item, text=spec.omitted_text)
        withheld.extend((path, _withholder(marker)) for path in spec.paths)
    if withheld:   # one walk for every omission (an absent optional item is withheld too: even its absence)
        data = paths.replace_all(data, withheld)
    if isinstance(data, JuminhyoData) and doc.layout.kind == "certificate":
        data = _withhold_moving_out(data, request.issued_on, doc.layout.moving_out_omitted_text)
    return dataclasses.replace(doc, data=data, included=included, positions=positions)


#: the data path of each item a 記載事項証明書 can certify
_CERTIFIED_PATHS = {item: f"household.{attr}" for item, _, attr, _ in HOUSEHOLD_ITEMS} | {
    item: f"household.members[].{attr}" for item, _, attr, _ in PERSON_ITEMS}


def check_certified_items(data: KisaijikoData, doc: BoundDocument, included: frozenset[str],
                          forbidden: dict[OmissionItem, str]) -> None:
    """A 記載事項証明書 certifies what it lists (「上記のとおり、住民票に記載されていることを証明する」): an
    optional item (任意記載事項: 続柄, 本籍, 個人番号 …) asked for in ``data.certify.items`` but not included by
    the request is refused, never printed as a blank under the 認証文 — a blank 本籍 certified as the
    住民票's content would be false. A forbidden one names the hard rule (a third party's 個人番号)."""
    for i, item in enumerate(data.certify.items):
        path = _CERTIFIED_PATHS[item]
        for omitted, spec in doc.layout.omissions.items():
            if path not in spec.paths or omitted in included:
                continue
            if omitted in forbidden:
                raise RefusedError(f"data.certify.items[{i}] asks to certify {item}, which rule "
                                   f"{forbidden[omitted]} never allows", rule=forbidden[omitted],
                                   field=f"data.certify.items[{i}]")
            raise RefusedError(
                f"data.certify.items[{i}] asks to certify {item}, an optional item (任意記載事項) this request "
                f"does not include: name {omitted} in request.include (where the rules allow it) or leave {item} "
                f"out; a certificate never certifies a blank", rule=CERTIFY_RULE, field=f"data.certify.items[{i}]")


def _withhold_moving_out(data: JuminhyoData, issued_on: dt.date, text: str) -> JuminhyoData:
    """Before the 転出予定日, a certificate shows nothing of the 転出届 (its date, destination, 届出日)."""
    marker = Withheld(item="moving_out", text=text)
    members: list[Any] = []
    changed = False
    for m in data.household.members:
        mo = m.moving_out
        if mo is not None and not isinstance(mo, Withheld) and issued_on < mo.planned_on:
            members.append(m.model_copy(update={"moving_out": marker}))
            changed = True
        else:
            members.append(m)
    if not changed:
        return data
    return data.model_copy(update={"household": data.household.model_copy(update={"members": members})})


def _selection(data: JuminhyoData, requested: Sequence[str] | None) -> Sequence[str] | None:
    """The members to print: those a form's data names (`FixesMembers`, e.g. the persons of a 転出届) — a
    ``request.members`` naming others is invalid — else ``request.members`` (None: the whole household)."""
    fixed = data.fixed_members if fixes_members(data) else None
    if fixed is None:
        return requested
    where, ids = fixed
    if requested is not None and sorted(requested) != sorted(ids):
        raise InputError(f"request.members: this form prints exactly the persons of {where}; leave "
                         f"request.members out or name those persons", field="request.members")
    return ids


def _select_and_order(data: JuminhyoData, selected: Sequence[str] | None) -> JuminhyoData:
    """Order the whole household (the standard order needs its 世帯主), then keep the selected members."""
    members = list(data.household.members)
    if data.household.order == "standard":
        try:
            members = standard_order(members, _member_key)
        except ValueError as exc:
            raise InputError(f"data.household.members: {exc}", field="data.household.members") from None
    if selected is not None:
        ids = {m.person_id for m in members}
        seen: set[str] = set()
        for i, pid in enumerate(selected):
            if pid not in ids:
                raise InputError(f"request.members[{i}] names no member of the household",
                                 field=f"request.members[{i}]")
            if pid in seen:
                raise InputError(f"request.members[{i}] repeats a member", field=f"request.members[{i}]")
            seen.add(pid)
        members = [m for m in members if m.person_id in seen]
    household = data.household.model_copy(update={"members": members})
    return data.model_copy(update={"household": household})


def _member_key(p: Person) -> MemberKey:
    return MemberKey(relationship=p.relationship, birth_date=p.birth_date, person_id=p.person_id)


def _withholder(marker: Withheld) -> paths.Replacer:
    """The replacer putting `marker` in place of a value (whatever it was, even absent)."""
    return lambda _value, _owner: marker


__all__ = ["HARD_RULES", "PUBLIC_OFFICE_OPTION", "TENANT_DEFAULT_RELATIONS", "Withheld", "WithheldItem",
           "apply_rules", "forbidden_items", "uses_tenant_defaults"]
