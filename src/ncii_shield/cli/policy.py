"""``ncii-shield policy rules``: a tenant's review-priority rules (docs/policy.md), in-process."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from ncii_shield.cli.common import DATA_DIR_OPTION, DB_OPTION, JSON_OPTION, TENANT_OPTION, fail, print_json
from ncii_shield.errors import NciiShieldError

app = typer.Typer(help="A platform's policy over what it finds: which findings a person reviews first.",
                  no_args_is_help=True)
rules_app = typer.Typer(
    help=(
        "Review-priority rules: which findings reach a reviewer first (docs/policy.md).\n\n"
        "A rule is TERM \\[+ TERM...] -> PRIORITY|observe \\[: REASON]. A TERM is KIND\\[@BANK]\\[>=SCORE], "
        "KIND one of match, derivative, mark, likeness, ai_made (match takes <=DISTANCE instead of a score). "
        "Your rules are checked in order before the defaults; the first that holds sets the priority (1-99).\n\n"
        "No rule removes anything, and a minor's hash is always a mandatory report at priority 100."
    ),
    no_args_is_help=True,
)
app.add_typer(rules_app, name="rules")


def _render(table: dict) -> None:
    typer.echo(f"  0. {table['mandatory']['when']} -> {table['mandatory']['priority']} "
               f"(mandatory report; fixed)")
    if table["rules"]:
        typer.echo("your rules (checked first, in this order):")
        for r in table["rules"]:
            typer.echo(f"  {r['position']}. {r['text']}")
    else:
        typer.echo("your rules: none (the defaults alone apply)")
    typer.echo("defaults (for every finding your rules leave):")
    for r in table["defaults"]:
        typer.echo(f"   - {r['text']}")


def _run(db: str | None, tenant: str, json_output: bool, action) -> None:  # noqa: ANN001
    """Open the store, do ``action(shield.policy_rules, the tenant's local principal)``, print the table."""
    from ncii_shield.core import Shield

    shield = Shield.open(db, load_index=False)
    try:
        table = action(shield.policy_rules, shield.local_principal(tenant, ("policy",)))
    except NciiShieldError as exc:
        fail(exc)
    finally:
        shield.close()
    if json_output:
        print_json(table)
    else:
        _render(table)


@rules_app.command("list")
def list_rules(tenant: str = TENANT_OPTION, db: str | None = DB_OPTION, data_dir: Path | None = DATA_DIR_OPTION,
               json_output: bool = JSON_OPTION) -> None:
    """Show the tenant's rules, the defaults checked after them, and the fixed first rule.

      ncii-shield policy rules list --tenant forum --json
    """
    _run(db, tenant, json_output, lambda rules, who: rules.table(who))


CANNOT = ("What a rule cannot do, and says so when asked: remove anything (\"-> act\" is refused), touch a minor's "
          "hash (always a mandatory report at 100; priorities are 1-99), or keep hash matches, derivative or "
          "likeness flags out of the queue (only mark and ai_made may be observed).")


@rules_app.command("set", epilog=CANNOT)
def set_rules(
    rule: list[str] = typer.Option(
        [], "--rule", "-r", show_default=False,
        help="One rule, TERM \\[+ TERM] -> PRIORITY|observe \\[: REASON]; repeat in the order they are checked."),
    file: Path | None = typer.Option(
        None, "--file", "-f", show_default=False,
        help="A JSON file as PUT /v1/policy/rules takes it ({\"rules\": \\[...]} or a list); '-' reads stdin."),
    tenant: str = TENANT_OPTION,
    db: str | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Replace the tenant's whole rule table (validated whole; recorded in the audit log).

      ncii-shield policy rules set -r "mark@nudify-services -> 95: the service our users report most"

      ncii-shield policy rules set -r "ai_made + derivative>=80 -> 97" -r "mark@generic-stamps -> observe"

      ncii-shield policy rules set --file rules.json --tenant forum

    Exit status: 0 set, 1 refused (the message names the rule and what is accepted).
    """
    if (file is None) == (not rule):
        fail("give the rules with --rule (repeatable) or --file, one of the two; "
             "`ncii-shield policy rules reset` goes back to the defaults", 2)
    rules: object = list(rule)
    if file is not None:
        try:
            text = sys.stdin.read() if str(file) == "-" else file.read_text()
            rules = json.loads(text)
        except OSError as exc:
            fail(f"cannot read {file}: {exc.strerror or exc}", 1)
        except ValueError as exc:
            fail(f"{file} is not JSON: {exc}", 1)
        if isinstance(rules, dict) and set(rules) == {"rules"}:
            rules = rules["rules"]
    _run(db, tenant, json_output, lambda table, who: table.replace(who, rules))


@rules_app.command("reset")
def reset_rules(tenant: str = TENANT_OPTION, db: str | None = DB_OPTION, data_dir: Path | None = DATA_DIR_OPTION,
                json_output: bool = JSON_OPTION) -> None:
    """Drop the tenant's rules: the defaults alone apply again (recorded in the audit log).

      ncii-shield policy rules reset --tenant forum
    """
    _run(db, tenant, json_output, lambda rules, who: rules.reset(who))
