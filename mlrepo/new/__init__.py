"""`python -m mlrepo new dataset|model|pipeline|project|update`: new work from templates, in one command.

Each kind renders its folder under `templates/` with Jinja2 as copier does (`mlrepo.new.render`),
checks its names with the checker's own rules (`mlrepo.new.names`), never overwrites (exit 2),
and prints the next steps. What it writes breaks no rule of `python -m mlrepo check` except the
placeholders (`TODO`, `<describe ...>`) the author fills. `new project` starts another team's
repository from this one and `new update` brings a later template version into it
(`mlrepo.new.project`). The command table is `mlrepo.new.kinds.KINDS`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mlrepo import ROOT


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `new` subcommands (one per kind, then `project` and `update`) to `parser`."""
    from mlrepo.new import project
    from mlrepo.new.kinds import KINDS

    sub = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    for kind in KINDS.values():
        one = sub.add_parser(kind.name, help=kind.help, description=kind.help)
        for flags, options in kind.arguments:
            one.add_argument(*flags, **options)
        one.add_argument("--root", type=Path, default=ROOT, help="repository root (default: this one)")
    project.add_arguments(sub)


def run(args: argparse.Namespace) -> int:
    """Run `new <kind>`: plan, write (never overwriting), print what was written and what to do next."""
    from mlrepo.new import project
    from mlrepo.new.kinds import KINDS
    from mlrepo.new.render import write

    if args.kind not in KINDS:
        return project.run(args)
    root = Path(args.root).resolve()
    plan, scaffold = KINDS[args.kind].plan(args, root)
    for note in scaffold.notes:
        print(note)
    for path in write(root, plan):
        print(f"{'appended' if path in plan.append else 'created'}: {path}")
    print("next:")
    for step in scaffold.next_steps:
        print(f"  {step}")
    return 0
