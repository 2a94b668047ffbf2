"""`chohyo keys`: API keys of the HTTP service — create (the secret is shown once), list, revoke.

In: a tenant code (its tenant file must exist), roles (render, identity-verified, mailing, lift, sync, admin), a
label; the state directory. Out: the key file ``<state_dir>/api-keys.json`` (hashes only, mode 0600) and, for `create`,
the key on stdout (``--json``: one object). Exit codes: 0 done, 2 invalid usage (unknown tenant or role).
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from renderer.cli.common import Cli, command, err, out
from renderer.service.keys import ROLES, KeyStore
from renderer.service.settings import KEYS_FILE

keys_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False,
                       help="API keys of the HTTP service (`chohyo serve`).")


@keys_app.command("create")
@command()
def keys_create(
    cli: Cli,
    tenant: Annotated[str, typer.Option("--tenant", help="全国地方公共団体コード of the key's tenant")],
    role: Annotated[list[str], typer.Option("--role", help=f"repeatable: {', '.join(ROLES)}")],
    label: Annotated[str, typer.Option("--label", help="who uses it, e.g. zeimu-batch (no personal names)")] = "",
) -> int:
    """Create a key for one tenant; prints it once (only its hash is stored)."""
    cli.renderer().tenant(tenant)   # the tenant file must exist (exit 2 otherwise)
    stored, key = KeyStore(cli.settings.state_dir / KEYS_FILE).create(tenant, role, label=label)
    if cli.as_json:
        sys.stdout.write(json.dumps({**stored.public(), "key": key}, ensure_ascii=False) + "\n")
    else:
        out.print(key, markup=False)
        err.print(f"key {stored.id} for tenant {stored.tenant}, roles {', '.join(stored.roles)}: "
                  f"the key above is shown only now", markup=False)
    return 0


@keys_app.command("list")
@command(("--state-dir", "--json"))
def keys_list(cli: Cli) -> int:
    """List keys (id, tenant, roles, label, created, revoked); never secrets or hashes."""
    keys = KeyStore(cli.settings.state_dir / KEYS_FILE).all()
    if cli.as_json:
        sys.stdout.write(json.dumps([k.public() for k in keys], ensure_ascii=False, indent=2) + "\n")
        return 0
    table = Table("id", "tenant", "roles", "label", "created", "revoked")
    for k in keys:
        table.add_row(k.id, k.tenant, ",".join(k.roles), k.label, k.created_at, k.revoked_at or "")
    out.print(table)
    return 0


@keys_app.command("revoke")
@command(("--state-dir", "--json"))
def keys_revoke(
    cli: Cli,
    key_id: Annotated[str, typer.Argument(metavar="KEY_ID", help="the 12-hex-digit id from `keys list`")],
) -> int:
    """Revoke a key (the running service rereads the file: it stops working at once)."""
    stored = KeyStore(cli.settings.state_dir / KEYS_FILE).revoke(key_id)
    if cli.as_json:
        sys.stdout.write(json.dumps(stored.public(), ensure_ascii=False) + "\n")
    else:
        err.print(f"key {stored.id} revoked at {stored.revoked_at}", markup=False)
    return 0
