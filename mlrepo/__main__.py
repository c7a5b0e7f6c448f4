"""`python -m mlrepo check|diagrams|new|pr-check|prune|rules|cache|runs|fuzz|...`: the gates, and more.

Exit codes: 0 clean, 1 a rule is broken (each violation printed as `RULE-ID path:line message`
with how to fix it), 2 a mistake in the command (one paragraph, no traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mlrepo import ROOT
from mlrepo.errors import UserError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mlrepo", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="check the repository's rules (exit 1 on a violation)")
    check.add_argument("--root", type=Path, default=ROOT, help="repository root (default: this one)")
    check.add_argument("--rule", action="append", default=[], help="only this rule id (repeatable)")
    check.add_argument(
        "files", nargs="*", help="ignored: pre-commit may pass file names; the whole tree is checked"
    )
    sub.add_parser("rules", help="list every rule with its id and how to fix it")
    diagrams = sub.add_parser(
        "diagrams", help="write the Diagram section of every models/<Model>/__init__.py"
    )
    diagrams.add_argument("--root", type=Path, default=ROOT)
    diagrams.add_argument("--check", action="store_true", help="only report stale diagrams (exit 1)")
    pr = sub.add_parser(
        "pr-check", help="the pull-request gates from BASE to HEAD, with the base's rules and hooks"
    )
    pr.add_argument("--base", required=True, help="the base ref, e.g. origin/main")
    pr.add_argument(
        "--head", default=None, help="the head ref, read from git as data (default: the working tree's HEAD)"
    )
    pr.add_argument("--author", default=None, help="the PR's author (default: $PR_AUTHOR; CI sets it)")
    pr.add_argument("--body", type=Path, default=None, help="a file with the PR's body (the PR-BODY gate)")
    pr.add_argument("--branch", default=None, help="the super-branch runs are made on (e.g. production)")
    pr.add_argument("--head-name", default=None, help="the head's branch name (default: $HEAD_REF)")
    pr.add_argument(
        "--tracking-uri", default=None, help="default: $MLFLOW_TRACKING_URI, else the configured store"
    )
    pr.add_argument("--no-pre-commit", action="store_true", help="skip pre-commit's hooks")
    pr.add_argument("--root", type=Path, default=ROOT)
    from mlrepo import new

    new.add_arguments(sub.add_parser("new", help="scaffold a dataset, model, pipeline or project"))
    prune = sub.add_parser("prune", help="delete the MLflow runs of a branch closed unmerged")
    prune.add_argument("--branch", required=True)
    prune.add_argument(
        "--tracking-uri", default=None, help="default: $MLFLOW_TRACKING_URI, else the configured store"
    )
    prune.add_argument("--dry-run", action="store_true", help="list the runs without deleting them")
    cache = sub.add_parser("cache", help="the step cache: ls (entries, sizes, last use) or clean")
    cache.add_argument("action", choices=("ls", "clean"))
    cache.add_argument("--older-than", default=None, help="clean: only entries unused this long (7d, 12h)")
    cache.add_argument("--dir", type=Path, default=None, help="the cache folder (default: paths.cache)")
    from mlrepo.track import card

    card.add_arguments(sub.add_parser("card", help="write a run's card.html (any run, older ones too)"))
    runs = sub.add_parser("runs", help="runs reap: end FAILED the RUNNING runs whose heartbeat stopped")
    runs.add_argument("action", choices=("reap",))
    runs.add_argument("--branch", default="development", help="the super-branch whose store to reap")
    runs.add_argument("--uri", default=None, help="default: $MLFLOW_TRACKING_URI, else the branch's store")
    from mlrepo.ship import fuzz

    fuzz.add_arguments(sub.add_parser("fuzz", help="fuzz a served deploy from its OpenAPI (Schemathesis)"))
    from mlrepo.server import cli as server_cli  # users, promote, trace (the team server)

    server_cli.add_commands(sub)
    from mlrepo.ship import kube  # manifest, up, rollback, down (make deploy|rollback|undeploy)

    kube.add_arguments(sub.add_parser("deploy", help="a deploy's Kubernetes manifest; run it on podman"))
    return parser


def _check(args: argparse.Namespace) -> int:
    from mlrepo.govern import checks

    unknown = sorted(set(args.rule) - set(checks.RULES))
    if unknown:
        raise UserError(
            f"Unknown rule id(s): {', '.join(unknown)}. Known: {', '.join(sorted(checks.RULES))}."
        )
    if not args.root.is_dir():
        raise UserError(f"--root {args.root} is not a folder.")
    repo = checks.Repo.open(args.root)
    violations = checks.check_repo(repo, args.rule)
    if violations:
        print(checks.report(violations))
        return 1
    print(f"check: 0 problems in {len(repo.files)} files")
    return 0


def _rules() -> int:
    from mlrepo.govern import checks, review

    for rule in [*checks.RULES.values(), *review.RULES]:
        print(f"{rule.id:16} {rule.summary}\n{'':16} fix: {rule.fix}")
    return 0


def _diagrams(args: argparse.Namespace) -> int:
    from mlrepo.govern import diagrams

    try:
        changed = diagrams.write(args.root, check_only=args.check)
    except (ValueError, SyntaxError) as exc:
        raise UserError(f"Cannot write the diagram: {exc}") from exc
    for path in changed:
        print(f"{'stale' if args.check else 'updated'}: {path.relative_to(args.root)}")
    return 1 if args.check and changed else 0


def _pr_check(args: argparse.Namespace) -> int:
    from mlrepo.govern import checks, review

    body = None
    if args.body is not None:
        if not args.body.is_file():
            raise UserError(f"--body {args.body} is not a file.")
        body = args.body.read_text(encoding="utf-8", errors="replace")
    outcome = review.pr_gates(
        args.root,
        args.base,
        args.head,
        args.author,
        args.tracking_uri,
        pre_commit=not args.no_pre_commit,
        body=body,
        branch=args.branch,
        head_name=args.head_name,
    )
    for note in outcome.notes:
        print(f"note: {note}")
    for warning in outcome.warnings:
        print(f"warning: {warning.rule} {warning.path}:{warning.line} {warning.message}")
    head = args.head or "HEAD"
    if outcome.failures:
        print(checks.report(outcome.failures, review.RULES))
        return 1
    print(f"pr-check: {args.base}..{head} passes every gate")
    return 0


def _prune(args: argparse.Namespace) -> int:
    from mlrepo.govern import prune
    from mlrepo.track import tracking

    uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if uri is None:
        from mlrepo.run.config import compose

        uri = str(compose(["pipeline=" + _any_pipeline()]).tracking.uri)
    uri = tracking.resolve_uri(uri)
    ids = prune.prune(uri, args.branch, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    print(f"prune: {verb} {len(ids)} run(s) of branch {args.branch} in {uri}")
    for run_id in ids:
        print(f"  {run_id}")
    return 0


def _cache(args: argparse.Namespace) -> int:
    import time

    from mlrepo.run import steps

    folder = args.dir
    if folder is None:
        from mlrepo.run.config import compose

        folder = Path(str(compose(["pipeline=" + _any_pipeline()]).paths.cache))
    if args.action == "ls":
        found = steps.entries(folder)
        if not found:
            print(f"cache: no entries in {folder}")
            return 0
        now = time.time()
        print(f"{'STEP':16} {'KEY':26} {'SIZE':>9} {'COMPUTE':>8}  LAST USED")
        for e in sorted(found, key=lambda e: (e.step, -e.last_used)):
            print(f"{e.step:16} {e.key:26} {steps.human_size(e.size):>9} {e.computed_s:7.1f}s  "
                  f"{_ago(now - e.last_used)} ago")  # fmt: skip
        print(f"cache: {len(found)} entries, {steps.human_size(sum(e.size for e in found))} in {folder}")
        return 0
    try:
        older = None if args.older_than is None else steps.parse_age(args.older_than)
    except ValueError as exc:
        raise UserError(f"--older-than {exc}.") from None
    removed = steps.clean(folder, older)
    freed = steps.human_size(sum(e.size for e in removed))
    print(f"cache: removed {len(removed)} entries ({freed}) from {folder}")
    return 0


def _runs(args: argparse.Namespace) -> int:
    from mlrepo.track import runs

    uri = runs.store_uri(args.branch, args.uri or os.environ.get("MLFLOW_TRACKING_URI"))
    reaped = runs.reap(uri)
    for record in reaped:
        print(f"reaped {record.run_id} ({record.experiment}): {record.tags['mlrepo.error']} -> FAILED")
    print(f"runs reap: {len(reaped)} lost run(s) ended FAILED in {uri}")
    return 0


def _ago(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def _any_pipeline() -> str:
    from mlrepo.run.config import available

    names = available("pipeline")
    if not names:
        raise UserError(
            "No pipeline config in conf/pipeline/ to read the tracking URI from: pass --tracking-uri."
        )
    return names[0]


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit code (user mistakes print one paragraph and return 2)."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "check":
            return _check(args)
        if args.command == "rules":
            return _rules()
        if args.command == "diagrams":
            return _diagrams(args)
        if args.command == "pr-check":
            return _pr_check(args)
        if args.command == "fuzz":
            from mlrepo.ship import fuzz

            return fuzz.run(args)
        if args.command in ("users", "promote", "trace"):
            from mlrepo.server import cli as server_cli

            return server_cli.run(args)
        if args.command == "cache":
            return _cache(args)
        if args.command == "runs":
            return _runs(args)
        if args.command == "card":
            from mlrepo.track import card

            return card.run(args)
        if args.command == "deploy":
            from mlrepo.ship import kube

            return kube.run(args)
        if args.command == "new":
            from mlrepo import new

            return new.run(args)
        return _prune(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
