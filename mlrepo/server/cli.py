"""The team-server commands of `python -m mlrepo`: `users`, `promote`, `trace`.

`add_commands` adds their parsers; `run` runs one. The server is `--uri`, else
`MLFLOW_TRACKING_URI`, else the production super-branch's tracking URI.
"""

from __future__ import annotations

import argparse
from pathlib import Path

COMMANDS = ("users", "promote", "trace")
PERMISSIONS = ("READ", "USE", "EDIT", "MANAGE", "NO_PERMISSIONS")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add the `users`, `promote` and `trace` parsers to `python -m mlrepo`'s subcommands."""
    users = sub.add_parser("users", help="manage the tracking server's users (as an admin)")
    users.add_argument(
        "--uri", default=None, help="the server (default: MLFLOW_TRACKING_URI, else production's)"
    )
    actions = users.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="create a user (password from --password-file, stdin or a prompt)")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="make the user an admin")
    add.add_argument("--password-file", type=Path, default=None)
    grant = actions.add_parser("grant", help="give a user a permission on an experiment (or --model)")
    grant.add_argument("name")
    grant.add_argument("target", help="the experiment's name (with --model: the registered model's)")
    grant.add_argument(
        "permission", type=str.upper, choices=("READ", "USE", "EDIT", "MANAGE", "NO_PERMISSIONS")
    )
    grant.add_argument("--model", action="store_true", help="TARGET is a registered model")

    promote = sub.add_parser("promote", help="point a registry alias (champion) at a checked production run")
    promote.add_argument("run_id", nargs="?", help="the run to promote (not with --history)")
    promote.add_argument("--history", metavar="MODEL", default=None,
                         help="list the audit trail of a registered model's aliases instead")  # fmt: skip
    promote.add_argument("--json", action="store_true", help="with --history: print JSON")
    promote.add_argument("--alias", default="champion")
    promote.add_argument("--force", action="store_true", help="promote a worse run (needs --reason)")
    promote.add_argument("--reason", default="", help="why a worse run is promoted (recorded as a tag)")
    promote.add_argument("--uri", default=None)

    trace = sub.add_parser("trace", help="the lineage of an image, Bento, model, registered version or run")
    trace.add_argument(
        "thing", help="image URI or digest, Bento tag, BentoML model tag, Model@alias, Model/3, run id"
    )
    trace.add_argument("--json", action="store_true", help="print JSON")
    trace.add_argument(
        "--at", default=None, help="Model@alias as it was at a date or UTC time (the audit trail)"
    )
    trace.add_argument("--uri", default=None)


def server_uri(explicit: str | None) -> str:
    """The tracking URI the command talks to (see the module docstring)."""
    from mlrepo.track.runs import store_uri

    return store_uri("production", explicit)


def run(args: argparse.Namespace) -> int:
    """Run the team-server command in `args`; return its exit code (UserError propagates)."""
    uri = server_uri(args.uri)
    if args.command == "users":
        from mlrepo.server import users

        if args.action == "add":
            users.add(uri, args.name, users.read_password(args.password_file), admin=args.admin)
            print(f"users: added {'admin ' if args.admin else ''}{args.name} on {uri}")
        else:
            kind = "registered_model" if args.model else "experiment"
            users.grant(uri, args.name, args.target, args.permission, kind)
            print(f"users: {args.name} has {args.permission} on {kind} {args.target}")
        return 0
    if args.command == "promote":
        from mlrepo.server import promote

        if args.history:
            return _history(uri, args.history, args.json)
        if not args.run_id:
            from mlrepo.errors import UserError

            raise UserError("promote needs a RUN_ID (or --history MODEL to list the audit trail).")
        print(promote.promote(uri, args.run_id, args.alias, force=args.force, reason=args.reason))
        return 0
    from mlrepo.server import trace

    if args.at:
        from mlrepo.server import audit, promote

        found = _guarded(uri, lambda: audit.trace_at(uri, args.thing, args.at, promote.who(uri)))
        shown = trace.show(found, as_json=args.json)
        print(shown if args.json else audit.show_at(found) + "\n" + shown)
        return 0
    print(trace.show(trace.trace(uri, args.thing), as_json=args.json))
    return 0


def _guarded(uri: str, call):
    """Run `call()`, turning the server's refusal of a login into a one-paragraph UserError."""
    from mlflow.exceptions import MlflowException

    from mlrepo.server.auth import access_error

    try:
        return call()
    except MlflowException as exc:
        error = access_error(uri, exc)
        if error is None:
            raise
        raise error from None


def _history(uri: str, model: str, as_json: bool) -> int:
    from mlflow.tracking import MlflowClient

    from mlrepo.server import audit, promote

    entries = _guarded(uri, lambda: audit.history(MlflowClient(uri), model, promote.who(uri)))
    print(audit.show_history(entries, as_json))
    return 0
