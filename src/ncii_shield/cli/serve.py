"""``ncii-shield serve``: the matcher service (HTTP API) on SQLite or PostgreSQL."""

from __future__ import annotations

import json
import os
import sys
from contextlib import ExitStack
from importlib import resources
from pathlib import Path

import typer

from ncii_shield.cli import reuseport
from ncii_shield.cli.common import DB_OPTION
from ncii_shield.store.files import private_dir, write_private

DEMO_BANK = "demo"
APP = "ncii_shield.api.app:create_app_from_env"


def serve(
    db: str | None = DB_OPTION,
    data_dir: Path = typer.Option(Path("data"), "--data-dir", envvar="NCII_SHIELD_DATA", help="Where the default SQLite database lives."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, help="Worker processes (each holds its own index; use one per core)."),
    demo: bool = typer.Option(True, "--demo/--no-demo", help="On first start, create a demo bank of harmless photos' hashes."),
    max_body: int = typer.Option(64 * 1024 * 1024, help="Largest request body accepted, in bytes (413 above)."),
    log_level: str = typer.Option("info", help="debug, info, warning or error."),
    monitors: bool = typer.Option(True, "--monitors/--no-monitors", help="Run due scan monitors in the background "
                                  "(ncii-shield monitor add); each is claimed by one worker."),
) -> None:
    """Run the matcher service: /v1 API, /docs (OpenAPI), /healthz, /metrics.

    On first start it creates an admin API key and shows it once on the terminal (never in the log
    stream: without a terminal it is written to a 0600 file in the data directory and only the file's
    path is printed), and (unless --no-demo) a bank called 'demo' holding the PDQ hashes of a few
    harmless test photos, so a match can be tried at once.

      ncii-shield serve                                   # SQLite under ./data

      ncii-shield serve --db postgresql://postgres@127.0.0.1/ncii --workers 2 --host 0.0.0.0
    """
    import uvicorn

    from ncii_shield.core import Shield

    os.environ["NCII_SHIELD_DATA"] = str(data_dir)
    private_dir(data_dir)  # keys and the database live here: 0700 when we create it
    url = db or f"sqlite:///{data_dir / 'ncii-shield.db'}"
    shield = Shield.open(url, load_index=False)  # migrate once, before the workers start
    try:
        if not shield.keys.any_keys():
            key, principal = shield.keys.create(tenant="default", scopes=["admin"], name="first admin key")
            shown = _hand_over_first_key(key, principal.key_prefix, data_dir)
            if demo:
                _create_demo_bank(shield)
                typer.echo(f"Created bank {DEMO_BANK!r} with the hashes of harmless test photos. Try:")
                typer.echo(f'  curl -s -H "Authorization: Bearer {shown}" -F file=@tests/data/pdq-reference/'
                           f"bridge-mods/aaa-orig.jpg http://{host}:{port}/v1/match/media")
    finally:
        shield.close()
    typer.echo(f"Serving on http://{host}:{port}  (victim intake: http://{host}:{port}/ ; API docs: http://{host}:{port}/docs)")
    # Worker processes start with at most 2 malloc arenas: with the default (8 per core) the
    # thread pool that runs uploads and writes fragments memory and RSS creeps up for hours.
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    os.environ["NCII_SHIELD_DB"] = url
    os.environ["NCII_SHIELD_MAX_BODY"] = str(max_body)
    os.environ["NCII_SHIELD_LOG_LEVEL"] = log_level.upper()
    os.environ["NCII_SHIELD_MONITORS"] = "1" if monitors else "0"
    options = dict(factory=True, host=host, port=port, workers=workers, log_config=None, access_log=False,
                   timeout_keep_alive=15, limit_concurrency=1000, timeout_graceful_shutdown=10)
    if workers == 1 or not reuseport.supported():
        uvicorn.run(APP, **options)
        return
    # Each worker listens on its own SO_REUSEPORT socket: the kernel spreads connections over them.
    from uvicorn.supervisors import Multiprocess

    with ExitStack() as stack:
        try:
            sock = stack.enter_context(reuseport.hold(host, port))
        except OSError as exc:
            raise typer.BadParameter(f"cannot listen on {host}:{port}: {exc.strerror}", param_hint="--port") from exc
        config = uvicorn.Config(APP, **{**options, "port": sock.getsockname()[1]})
        try:  # uvicorn >= 0.52: the supervisor hands each worker the (unpickled) listeners
            Multiprocess(config, sockets=[reuseport.ReusePortListener(host, config.port)]).run()
        except KeyboardInterrupt:
            pass


def _hand_over_first_key(key: str, prefix: str, data_dir: Path) -> str:
    """Give the operator the first admin key without putting it in the log stream.

    On a terminal it is printed there. Otherwise stdout is a log (a file, journald, docker logs,
    shipped elsewhere), so the key goes to ``<data dir>/admin-key-<prefix>`` (0600, this user only)
    and only that path is printed. Returns what the demo hint may show in place of the key."""
    if sys.stdout.isatty():
        typer.echo("=" * 78)
        typer.echo("First start: created an admin API key. It is shown ONCE; store it now:")
        typer.echo(f"  {key}")
        typer.echo("=" * 78)
        return key
    path = Path(data_dir) / f"admin-key-{prefix}"
    write_private(path, (key + "\n").encode())
    typer.echo(f"First start: created an admin API key and wrote it to {path.resolve()} (mode 0600, no "
               f"terminal to show it on). Store it elsewhere, then delete the file.")
    return f"$(cat {path.resolve()})"


def _create_demo_bank(shield) -> None:  # noqa: ANN001
    from ncii_shield.services.banks import SignalInput

    data = json.loads(resources.files("ncii_shield.cli").joinpath("data/demo_bank.json").read_text())
    principal = shield.local_principal("default")
    shield.banks.create(principal, DEMO_BANK, description=data["description"])
    shield.banks.add(principal, DEMO_BANK, [SignalInput(s["signal_type"], s["value"], s.get("metadata")) for s in data["signals"]])
