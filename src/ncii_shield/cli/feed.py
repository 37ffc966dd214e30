"""``ncii-shield feed``: publish banks as signed feeds, subscribe to other instances' feeds."""

from __future__ import annotations

from pathlib import Path

import typer

from ncii_shield.cli.common import DATA_DIR_OPTION, DB_OPTION, JSON_OPTION, TENANT_OPTION, fail, print_json
from ncii_shield.errors import NciiShieldError

app = typer.Typer(help="Share banks between instances as signed feeds (Ed25519), withdrawals included.",
                  no_args_is_help=True)


@app.command("publish")
def publish(bank: str, name: str | None = typer.Option(None, "--name", help="Feed name (default: the bank's)."),
            subscriber: list[str] = typer.Option([], "--subscriber", "-s", help="Create an access token for this subscriber (repeatable)."),
            tenant: str = TENANT_OPTION, db: str | None = DB_OPTION, data_dir: Path | None = DATA_DIR_OPTION,
            json_output: bool = JSON_OPTION) -> None:
    """Publish a bank as a feed and print the public key subscribers must pin.

      ncii-shield feed publish victims --subscriber platform-a --data-dir /var/lib/ncii-shield

    The key printed is the one in the data directory: give the same --data-dir (or NCII_SHIELD_DATA)
    as `ncii-shield serve`, which signs the pages with it. Give each subscriber its token and the
    public key over a channel you trust.
    """
    from ncii_shield.core import Shield

    shield = Shield.open(db, load_index=False)
    try:
        principal = shield.local_principal(tenant)
        feed = shield.publisher.publish(principal, bank, name)
        tokens = {s: shield.publisher.add_subscriber(principal, feed, s) for s in subscriber}
    except NciiShieldError as exc:
        fail(exc)
    finally:
        shield.close()
    if json_output:
        print_json({"feed": feed, "public_key": shield.publisher.public_key, "tokens": tokens})
        return
    typer.echo(f"published bank {bank!r} as feed {feed!r}; publisher public key: {shield.publisher.public_key}")
    for s, token in tokens.items():
        typer.echo(f"access token for {s} (shown once): {token}")


@app.command("subscriber")
def subscriber(feed: str, name: str, revoke: bool = typer.Option(False, "--revoke", help="Revoke instead of create."),
               tenant: str = TENANT_OPTION, db: str | None = DB_OPTION, data_dir: Path | None = DATA_DIR_OPTION) -> None:
    """Create (or --revoke) a subscriber's access token for a feed. The token is the last word."""
    from ncii_shield.core import Shield

    shield = Shield.open(db, load_index=False)
    try:
        principal = shield.local_principal(tenant)
        if revoke:
            shield.publisher.revoke_subscriber(principal, feed, name)
            typer.echo(f"revoked {name} on feed {feed}")
        else:
            typer.echo(f"access token for {name} on feed {feed} (shown once): "
                       f"{shield.publisher.add_subscriber(principal, feed, name)}")
    except NciiShieldError as exc:
        fail(exc)
    finally:
        shield.close()


@app.command("subscribe")
def subscribe(
    url: str = typer.Argument(..., help="The publishing instance, e.g. https://helpline.example"),
    feed: str = typer.Option(..., "--feed", help="Feed name on the publisher."),
    publisher_key: str = typer.Option(..., "--publisher-key", help="The publisher's Ed25519 public key (base64), pinned."),
    token: str = typer.Option(..., "--token", envvar="NCII_SHIELD_FEED_TOKEN", help="Your access token (nsf_...)."),
    bank: str = typer.Option(..., "--bank", help="Local bank to apply the feed into (created if missing)."),
    name: str | None = typer.Option(None, "--name", help="Name of this subscription (default: the feed's)."),
    pull_now: bool = typer.Option(True, "--pull/--no-pull", help="Pull until caught up right away."),
    allow_private_address: bool = typer.Option(
        False, "--allow-private-address",
        help="The publisher is on your private network (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7, "
             "loopback): allow it for this subscription. Link-local addresses are refused even then."),
    tenant: str = TENANT_OPTION, db: str | None = DB_OPTION, data_dir: Path | None = DATA_DIR_OPTION,
) -> None:
    """Subscribe to another instance's feed. `ncii-shield serve` then follows it (long-poll).

      ncii-shield feed subscribe https://helpline.example --feed victims --publisher-key BASE64 --token nsf_... --bank helpline

    Only public addresses are called (checked again before every pull), unless --allow-private-address.
    The token is stored encrypted with the key in the data directory: run this with the same data
    directory (--data-dir or NCII_SHIELD_DATA) as `ncii-shield serve`.
    """
    from ncii_shield.core import Shield
    from ncii_shield.services.exchange import subscriber as sub

    shield = Shield.open(db, load_index=False)
    try:
        sub.subscribe(shield.db, shield.local_principal(tenant), name=name or feed, url=url, feed=feed,
                      publisher_key=publisher_key, token=token, bank=bank, allow_private_address=allow_private_address)
        if pull_now:
            result = sub.pull(shield.db, name or feed)
            typer.echo(f"subscribed; {result.applied:,} changes applied from {result.pages} pages")
        else:
            typer.echo("subscribed")
    except NciiShieldError as exc:
        fail(exc)
    finally:
        shield.close()


@app.command("allow-private-address")
def allow_private_address_(name: str, off: bool = typer.Option(False, "--off", help="Refuse private addresses again."),
                           tenant: str = TENANT_OPTION, db: str | None = DB_OPTION, data_dir: Path | None = DATA_DIR_OPTION) -> None:
    """Allow (or, with --off, refuse again) a private address for an existing subscription, e.g. one
    made before subscriptions were checked whose publisher is on your private network."""
    from ncii_shield.core import Shield
    from ncii_shield.services.exchange import subscriber as sub

    shield = Shield.open(db, load_index=False)
    try:
        sub.set_private_address(shield.db, shield.local_principal(tenant), name, not off)
    except NciiShieldError as exc:
        fail(exc)
    finally:
        shield.close()
    typer.echo(f"subscription {name}: private addresses {'refused' if off else 'allowed'}")


@app.command("pull")
def pull(name: str, db: str | None = DB_OPTION, data_dir: Path | None = DATA_DIR_OPTION, json_output: bool = JSON_OPTION) -> None:
    """Pull a subscription until caught up (verifying and applying every page); resumable."""
    from ncii_shield.core import Shield
    from ncii_shield.services.exchange import subscriber as sub

    shield = Shield.open(db, load_index=False)
    try:
        result = sub.pull(shield.db, name)
    except NciiShieldError as exc:
        fail(exc)
    finally:
        shield.close()
    if json_output:
        print_json(vars(result))
    else:
        typer.echo(f"{result.applied:,} changes applied from {result.pages} pages; checkpoint {result.cursor}")


@app.command("status")
def status(db: str | None = DB_OPTION, data_dir: Path | None = DATA_DIR_OPTION, json_output: bool = JSON_OPTION) -> None:
    """Subscriptions with their checkpoint, changes applied, last pull and last error."""
    from ncii_shield.core import Shield
    from ncii_shield.services.exchange import subscriber as sub

    shield = Shield.open(db, load_index=False)
    rows = sub.status(shield.db)
    shield.close()
    if json_output:
        print_json(rows)
        return
    for r in rows:
        typer.echo(f"{r['name']}: {r['url']} feed={r['feed']} publisher={r['publisher']} cursor={r['cursor']} "
                   f"applied={r['applied']:,} last_pull={r['last_pull_at']} error={r['last_error'] or '-'}")


@app.command("stopncii")
def stopncii(
    bank: str = typer.Argument(..., help="Local bank to fetch into (created if missing)."),
    url: str = typer.Option("https://api.stopncii.org/v1", "--url", help="Base URL of the StopNCII-shaped API."),
    function_key: str = typer.Option(..., "--function-key", envvar="STOPNCII_FUNCTION_KEY", help="x-functions-key."),
    subscription_key: str = typer.Option(..., "--subscription-key", envvar="STOPNCII_SUBSCRIPTION_KEY",
                                         help="Ocp-Apim-Subscription-Key."),
    tenant: str = TENANT_OPTION, db: str | None = DB_OPTION, data_dir: Path | None = DATA_DIR_OPTION, json_output: bool = JSON_OPTION,
) -> None:
    """Fetch StopNCII hash records into a bank, from the last checkpoint; Withdrawn/Deleted records withdraw.

      STOPNCII_FUNCTION_KEY=... STOPNCII_SUBSCRIPTION_KEY=... ncii-shield feed stopncii stopncii
    """
    from ncii_shield.core import Shield
    from ncii_shield.services.exchange.stopncii import StopNCIIClient, sync

    shield = Shield.open(db, load_index=False)
    client = StopNCIIClient(url, function_key=function_key, subscription_key=subscription_key)
    try:
        principal = shield.local_principal(tenant)
        shield.banks.ensure(principal, bank)
        report = sync(shield.db, principal, bank, client)
    except NciiShieldError as exc:
        fail(exc)
    finally:
        client.close()
        shield.close()
    if json_output:
        print_json(vars(report))
    else:
        typer.echo(f"{report.pages} pages: {report.added:,} added, {report.withdrawn:,} withdrawn, "
                   f"{report.skipped:,} skipped; checkpoint {report.checkpoint}")


@app.command("ncmec")
def ncmec(
    bank: str = typer.Argument(..., help="Local bank to fetch into (created if missing)."),
    url: str = typer.Option("https://report.cybertip.org/hashsharing", "--url",
                            help="Base URL of the NCMEC hash-sharing environment (before /v2)."),
    username: str = typer.Option(..., "--username", envvar="NCMEC_USERNAME", help="NCMEC hash-sharing user."),
    password: str = typer.Option(..., "--password", envvar="NCMEC_PASSWORD", help="Its password."),
    since: int = typer.Option(0, "--since", help="Unix time to start from on the first fetch (later: the checkpoint)."),
    name: str = typer.Option("ncmec", "--name", help="Name of the checkpoint (one per bank and environment)."),
    tenant: str = TENANT_OPTION, db: str | None = DB_OPTION, data_dir: Path | None = DATA_DIR_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Fetch NCMEC hash-sharing entries into a bank, from the last checkpoint; deleted entries withdraw.

      NCMEC_USERNAME=... NCMEC_PASSWORD=... ncii-shield feed ncmec ncmec --url https://report.cybertip.org/hashsharing
    """
    from ncii_shield.core import Shield
    from ncii_shield.services.exchange.ncmec_fetch import NCMECClient, fetch

    shield = Shield.open(db, load_index=False)
    try:
        client = NCMECClient(url, username=username, password=password)
        try:
            principal = shield.local_principal(tenant)
            shield.banks.ensure(principal, bank)
            report = fetch(shield.db, principal, bank, client, name=name, start=since)
        finally:
            client.close()
    except NciiShieldError as exc:
        fail(exc)
    finally:
        shield.close()
    if json_output:
        print_json(vars(report))
    else:
        typer.echo(f"{report.pages} pages: {report.added:,} added, {report.withdrawn:,} withdrawn, "
                   f"{report.skipped:,} skipped; checkpoint {report.checkpoint}")
