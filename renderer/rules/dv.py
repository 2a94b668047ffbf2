"""DV 支援措置 at render time (seed document rules; domain reference §0, §2).

In: a `BoundDocument` after `apply_rules` (omissions already `Withheld`), the persons of the whole bound
document (before members were selected), the registry `Snapshot` read in one transaction (a plain value from
`renderer.suppressions`: the rules never touch the database), the request.
Out: the document with every protected value replaced *before composition*, and a `DvOutcome` (lifts
used, warnings); or a refusal (exit 3) naming the rule and, for a block, the person_id.

Rules:
- ``dv-adversary``: a requester (or the person an agent acts for) registered as a 相手方 of an active
  case in the tenant is refused on every layout (`check_requester`).
- Persons included in a document: every person bound to a printed value (every object of the data that
  carries a ``person_id``, plus any `extra` the caller names, e.g. the 世帯主 whose name is printed, from
  `printed_heads`) and the owners of every printed protected address (paths walked with `renderer.paths`;
  the data models' fields the rules read are declared in `renderer.datamodels.protocols`). A protected
  path inside an object with a ``person_id`` belongs to that person; any other protected path is the
  household's shared address and belongs to every person of the document: if any member is protected,
  the shared address is protected too.
- ``dv-block`` (certificates): a document that includes a protected person is refused unless an active
  一時解除 covers (tenant, person_id, layout) — each protected person needs their own. Under lifts for all
  of them the certificate prints in full.
- ``dv-unverified-claim``: a ``self`` or ``same_household`` claim naming a protected person is refused
  unless the caller holds ``identity-verified`` (`check_claim`; see `renderer.caller`); a notice stated to
  be the municipality's own mailing (relation ``public_office``, channel ``mail``) with a protected person on
  it is refused unless the caller holds ``mailing`` (`_redact`): that statement opens the addressee's address
  and makes the notice's ownerless content (a 課税明細書) the addressee's.
- ``redact_address`` (notices, lists, other forms): each protected value prints 「記載省略」 (and, being
  withheld, no postcode and no barcode), unless every protected owner of that value is its reader:
  the person themself (relation ``self`` with their own person_id, from an identity-verified caller), or
  — the addressee rule — a notice's addressee when the notice goes to them by the municipality's own
  mailing (relation ``public_office``, channel ``mail``). Anyone else (third party, agent, household
  member, a handover at the counter or as a file to another person) reads 「記載省略」. Precedence: a value
  already withheld keeps the layout's omitted text; else a protected value prints 「記載省略」, even when
  it is empty. A value hidden so is hidden wherever else the same value stands at a protected path (a
  co-resident's row on a list, a 共有者 at the same address: `hide_shared`), or 「記載省略」 would be undone by
  the next line.
A record protects a person on a layout when it is active and covers the layout's process (its `kind`)
and, if the record lists layouts, the layout's id; a protected address path counts when its address kind
(current, previous) is one the record protects.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from renderer.bind import BoundDocument
from renderer.caller import IDENTITY_VERIFIED, MAILING, Caller
from renderer.datamodels import DATA_MODELS
from renderer.datamodels.address import address_paths
from renderer.datamodels.protocols import has_addressee, has_household, is_household
from renderer.envelope import Request
from renderer.errors import RefusedError
from renderer.paths import OWNER_FIELD, Replacer, field_names, object_fields, owner_of, replace, walk
from renderer.spec.model import AddressKind, LayoutSpec
from renderer.suppressions import Snapshot, Suppression
from renderer.values import Withheld

M = TypeVar("M", bound=BaseModel)

ADVERSARY_RULE = "dv-adversary"
BLOCK_RULE = "dv-block"
CLAIM_RULE = "dv-unverified-claim"
PROTECTED_TEXT = "記載省略"
PROTECTED = Withheld(item="dv_protected", text=PROTECTED_TEXT)
BOTH: tuple[AddressKind, ...] = ("current", "previous")
#: relations under which a requester's own person_id identifies them as the 申出者 / 併せて支援を求める者
SELF_RELATIONS = frozenset({"self", "same_household"})
#: the 続柄 of the 世帯主
HEAD = "世帯主"


class DvRefusal(RefusedError):
    """A DV refusal; carries the person_ids involved for the issue log (never names or addresses)."""

    def __init__(self, message: str, *, rule: str, field: str, person_ids: Sequence[str] = ()) -> None:
        super().__init__(message, rule=rule, field=field)
        self.person_ids = list(person_ids)


@dataclass(frozen=True)
class DvOutcome:
    policy: str
    lifts: list[int] = field(default_factory=list)
    protected: list[str] = field(default_factory=list)   # person_ids whose protection applied
    redacted: int = 0                                     # values replaced by 「記載省略」
    warnings: list[str] = field(default_factory=list)
    #: the values hidden because a protected person's (`value_key`): the same value elsewhere is hidden too
    hidden: frozenset[str] = frozenset()


def policy_of(layout: LayoutSpec) -> str:
    return layout.dv_policy or ("block" if layout.kind == "certificate" else "redact_address")


def protected_paths(layout: LayoutSpec) -> list[tuple[str, frozenset[str]]]:
    """(data path, address kinds it counts as); the default is every address of the data model, as both."""
    if layout.dv_protected is None:
        return [(p, frozenset(BOTH)) for p in address_paths(DATA_MODELS[layout.data_model])]
    kinds: dict[str, set[str]] = {}
    for kind, paths in layout.dv_protected.items():
        for p in paths:
            kinds.setdefault(p, set()).add(kind)
    return [(p, frozenset(k)) for p, k in kinds.items()]


def requester_ids(request: Request) -> list[str]:
    r = request.requester
    return [pid for pid in (r.person_id, r.acting_for) if pid]


def check_requester(snapshot: Snapshot, request: Request) -> None:
    """Refuse a requester registered as a 相手方 (or an agent acting for one), on every layout."""
    r = request.requester
    for name, pid in (("request.requester.person_id", r.person_id), ("request.requester.acting_for", r.acting_for)):
        if pid and pid in snapshot.adversary_of:
            raise DvRefusal(f"{name}: the requester is registered as the 相手方 of a DV 支援措置; "
                            f"refused on every layout", rule=ADVERSARY_RULE, field=name, person_ids=[pid])


def check_claim(snapshot: Snapshot, request: Request, caller: Caller) -> None:
    """Refuse a claim to be a DV-protected person (``self`` or ``same_household`` naming an active record's
    person_id) from a caller not granted `IDENTITY_VERIFIED`: such a claim would open that person's
    own protected data, so only a caller that checked identity documents may make it."""
    r = request.requester
    if r.relation in SELF_RELATIONS and r.person_id and r.person_id in snapshot.suppressions \
            and not caller.identity_verified:
        raise DvRefusal(
            f"request.requester: a {r.relation} claim for a person under a DV 支援措置 is honoured only from a "
            f"caller granted {IDENTITY_VERIFIED} (an API key with that role, or the CLI's --identity-verified "
            f"after the identity documents were checked)",
            rule=CLAIM_RULE, field="request.requester.person_id", person_ids=[r.person_id])


def persons_in(data: BaseModel, prefix: str = "data") -> list[tuple[str, str]]:
    """(input path, person_id) of every object in `data` that carries a person_id, in input order."""
    out: list[tuple[str, str]] = []
    _collect(data, prefix, out)
    return out


def _collect(node: Any, path: str, out: list[tuple[str, str]]) -> None:
    # Only models and sequences are descended into (leaf values are skipped without a call), and of a model
    # only the fields whose declared type may hold them (`object_fields`): this runs twice per render and
    # twice per record of a batch plan.
    if isinstance(node, BaseModel):
        model = type(node)
        pid = getattr(node, OWNER_FIELD, None) if OWNER_FIELD in field_names(model) else None
        if isinstance(pid, str):
            out.append((path, pid))
        for name in object_fields(model):
            value = getattr(node, name)
            if isinstance(value, BaseModel | list | tuple):
                _collect(value, f"{path}.{name}", out)
    elif isinstance(node, list | tuple):
        for i, v in enumerate(node):
            if isinstance(v, BaseModel | list | tuple):
                _collect(v, f"{path}[{i}]", out)


def printed_heads(bound: BaseModel, printed: BaseModel) -> list[str]:
    """The person_ids of the 世帯主 when the document prints the 世帯主氏名 (`printed` is the data after the
    rules): the head is then bound to a printed value even when not among the selected members. A withheld
    (falsy) or absent head name prints nothing: []."""
    if not has_household(bound) or not has_household(printed):
        return []
    household, shown = bound.household, printed.household
    if not is_household(household) or not is_household(shown) or not shown.head_name:
        return []
    return [m.person_id for m in household.members if m.relationship == HEAD]


def apply_dv(doc: BoundDocument, everyone: Sequence[tuple[str, str]], snapshot: Snapshot, caller: Caller, *,
             extra: Iterable[str] = ()) -> tuple[BoundDocument, DvOutcome]:
    layout = doc.layout
    policy = policy_of(layout)
    covering = {pid: s for pid, s in snapshot.suppressions.items() if s.covers(layout.id, layout.kind)}
    all_ids = [pid for _, pid in everyone]
    if not covering.keys() & (set(all_ids) | set(extra)):
        return doc, DvOutcome(policy=policy)
    paths = protected_paths(layout)
    if policy == "block":
        return doc, _block(doc, everyone, covering, snapshot, paths, extra)
    return _redact(doc, all_ids, covering, paths, caller)


def _block(doc: BoundDocument, everyone: Sequence[tuple[str, str]], covering: Mapping[str, Suppression],
           snapshot: Snapshot, paths: Sequence[tuple[str, frozenset[str]]], extra: Iterable[str]) -> DvOutcome:
    printed = {pid for _, pid in persons_in(doc.data)} | set(extra)
    included: set[str] = set()
    for pid in printed:
        if pid in covering:
            included.add(pid)
    all_ids = [pid for _, pid in everyone]
    for path, kinds in paths:
        for owners in _owners_of_present(doc.data, path, all_ids):
            for pid in owners:
                s = covering.get(pid)
                if s is not None and s.addresses & kinds:
                    included.add(pid)
    ordered = [(p, pid) for p, pid in everyone if pid in included]
    ordered += [(f"person {pid}", pid) for pid in sorted(included - {pid for _, pid in everyone})]
    for where, pid in ordered:
        if pid not in snapshot.lifts:
            raise DvRefusal(
                f"{where}: person {pid} is under a DV 支援措置 (抑止) for layout {doc.layout.id}; "
                f"a 一時解除 must cover each protected person (chohyo suppressions lift)",
                rule=BLOCK_RULE, field=where, person_ids=sorted(included))
    return DvOutcome(policy="block", lifts=sorted(snapshot.lifts[pid].id for pid in included),
                     protected=sorted(included))


def _owners_of_present(data: BaseModel, path: str, everyone: Sequence[str]) -> Iterator[Sequence[str]]:
    """The owners of every present (printed) value at `path`: its own person's, or everyone's."""
    for found in walk(data, path):
        if found.value is None or isinstance(found.value, Withheld):
            continue
        yield [found.owner] if found.owner else list(everyone)


def _redact(doc: BoundDocument, everyone: Sequence[str], covering: Mapping[str, Suppression],
            paths: Sequence[tuple[str, frozenset[str]]], caller: Caller) -> tuple[BoundDocument, DvOutcome]:
    request = doc.request
    r = request.requester
    # The only reader of a protected value is the protected person themself: a `self` request whose
    # person_id is theirs, from a caller that verified the identity (an unverified claim was refused
    # in `check_claim`). Everyone else — a third party, an agent, a household member, a clerk handing the
    # document over at the counter or as a file — reads 「記載省略」.
    viewer = r.person_id if r.relation == "self" and caller.identity_verified else None
    # The addressee rule: a notice carries its addressee's own address only on its way to that
    # addressee — the municipality's own mailing (public_office by mail), or the addressee asking for it.
    # Saying so opens what it opens (the addressee's address, the 課税明細書 as the addressee's own) only from a
    # caller granted `mailing`; with anyone protected on the notice, from any other caller it is refused.
    mailing = doc.layout.kind == "notice" and r.relation == "public_office" and request.channel == "mail"
    shielded = sorted(covering.keys() & set(everyone))
    if mailing and shielded and not caller.mails:
        raise DvRefusal(
            f"request.requester: a public_office mailing (channel mail) of a notice with a person under a DV "
            f"支援措置 on it prints what their protection hides from others, so it is honoured only from a caller "
            f"granted {MAILING} (an API key with that role, or the CLI's --mailing when the municipality mails "
            f"the run itself)", rule=CLAIM_RULE, field="request.requester.relation", person_ids=shielded)
    addressee = _addressee(doc) if mailing else None
    # A value of no person of its own (a 住民票's household address, a 納税通知書's 課税明細書 所在・地番) is
    # everyone's on the document: hidden when any protected person is on it. On that mailing a notice's own
    # content is its addressee's (the 課税明細書 lists the addressee's property, 地方税法364条3項): the addressee
    # reads it, and a 共有者's protection does not hide it (that 共有者's address is hidden).
    ownerless = [addressee] if addressee is not None else list(everyone)
    protected: set[str] = set()
    count = 0

    def sees(pid: str, owners: Sequence[str]) -> bool:
        return pid == viewer or (pid == addressee and list(owners) == [addressee])

    def hides(owners: Sequence[str], kinds: frozenset[str]) -> bool:
        hidden = False
        for pid in owners:
            s = covering.get(pid)
            if s is None or not s.addresses & kinds:
                continue
            protected.add(pid)
            if not sees(pid, owners):
                hidden = True
        return hidden

    hidden: set[str] = set()

    def protect(kinds: frozenset[str]) -> Replacer:
        def new(value: Any, owner: str | None) -> Any:
            nonlocal count
            # precedence: withheld (kept) → 記載省略 (even for an empty value) → 【空欄】
            if isinstance(value, Withheld) or not hides([owner] if owner else ownerless, kinds):
                return value
            count += 1
            if isinstance(value, BaseModel):   # an address; never a 行政区 or other group key many people share
                hidden.add(value_key(value))
            return PROTECTED
        return new

    data = doc.data
    for path, kinds in paths:
        data = replace(data, path, protect(kinds))
    # the document's own reader keeps their own values (the addressee's address on the mailing to them, the
    # verified person's own): they live there, and a letter must reach them
    readers = frozenset(p for p in (viewer, addressee) if p is not None)
    data, shared = hide_shared(data, paths, frozenset(hidden), readers=readers, ownerless=addressee)
    outcome = DvOutcome(policy="redact_address", protected=sorted(protected), redacted=count + shared,
                        hidden=frozenset(hidden))
    return dataclasses.replace(doc, data=data), outcome


def value_key(value: BaseModel) -> str:
    """What makes two protected addresses the same place: every part but the 郵便番号, with the model's name. Only
    whole addresses are compared: a text at a protected path (a list's 行政区) is a group many people share."""
    body = value.model_dump(mode="json", exclude={"postal_code"} if "postal_code" in type(value).model_fields
                            else None)
    return f"{type(value).__name__}:{json.dumps(body, ensure_ascii=False, sort_keys=True)}"


def hide_shared(data: M, paths: Sequence[tuple[str, frozenset[str]]], hidden: frozenset[str], *,
                readers: frozenset[str] = frozenset(), ownerless: str | None = None) -> tuple[M, int]:
    """`data` with every value at a protected path that equals a hidden one (`value_key`) hidden too, and how many.
    A protected person's address printed as someone else's — a co-resident's row on a list, a 共有者 living at
    the same address — would give away what 「記載省略」 hides (found by a hostile review: the row after the
    protected one, same surname, same 決定日, printed the address). A value of one of the document's `readers`
    (a value of no person of its own counts as `ownerless`'s) stays: the addressee of a mailing living with a
    protected 共有者 still gets the letter at their own address."""
    if not hidden:
        return data, 0
    count = 0

    def new(value: Any, owner: str | None) -> Any:
        nonlocal count
        if not isinstance(value, BaseModel) or value_key(value) not in hidden or (owner or ownerless) in readers:
            return value
        count += 1
        return PROTECTED

    for path, _kinds in paths:
        data = replace(data, path, new)
    return data, count


def _addressee(doc: BoundDocument) -> str | None:
    """The person_id of a notice's addressee (宛名), if the layout is a notice and its data has one."""
    if doc.layout.kind != "notice" or not has_addressee(doc.data):
        return None
    return owner_of(doc.data.addressee)


def warnings_for(snapshot: Snapshot, person_ids: Iterable[str], today: Any) -> list[str]:
    out: list[str] = []
    for pid in sorted(set(person_ids)):
        s = snapshot.suppressions.get(pid)
        if s is not None:
            out.extend(s.warnings(today))
    return out
