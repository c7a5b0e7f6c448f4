"""The registry's audit trail: every alias move, who made it, when, from which version to which,
why and after which checks; and what an alias pointed at at any past time.

    python -m mlrepo promote --history IrisClassifier [--json]
    python -m mlrepo trace IrisClassifier@champion --at 2026-12-01        # or 2026-12-01T14:30

Where it is kept: each entry is a tag of the registered model on the tracking server,
`audit.<UTC time>.<random>` = the entry as JSON. Tags live in the server's PostgreSQL database
(the `registered_model_tags` table), so the trail is on the team server, not on a laptop; the
backup's `pg_dump` carries it and a restore gives it back; writing it needs the same login and
permission (EDIT on the model) as moving the alias, and a read-only user reads it. The key sorts
by time and carries a random suffix, so two promotions at the same moment both keep their entry.
Decisions: a tag value holds at most 5 000 characters, so a reason is cut at `MAX_REASON`
characters (the whole reason stays in the version's `promotion.reason` tag); the trail is as
tamper-proof as the registry itself (whoever may edit the model's tags may edit it).

An alias moved outside `promote` (directly through MLflow's API or UI) leaves no entry: the next
time the history is read, the alias is compared with the last entry, and a difference is appended
as an `unaudited` entry (who and why unknown; `when` is when it was noticed, the move happened
between the previous entry and then). A reader who may not write (the read-only `ci` user) sees
the unaudited entry without it being stored. `trace --at` says when the answer rests on one.

A date without a time (`--at 2026-12-01`) means the end of that day (UTC): what was serving on
that day when it ended. A time without a zone is UTC.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, time
from typing import Any

from mlrepo.errors import UserError

PREFIX = "audit."
MAX_REASON = 2000
"""The longest reason kept in an entry (a registry tag holds 5 000 characters)."""


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _key(when: datetime) -> str:
    return f"{PREFIX}{when.astimezone(UTC).strftime('%Y%m%dT%H%M%S.%fZ')}.{secrets.token_hex(3)}"


def entry(
    model: str,
    alias: str,
    from_version: str | None,
    to_version: str | None,
    *,
    run_id: str = "",
    run_uid: str = "",
    who: str = "",
    reason: str = "",
    checks: list[str] | None = None,
    forced: bool = False,
    kind: str = "promote",
    when: datetime | None = None,
) -> dict[str, Any]:
    """One audit entry (the JSON kept in a tag)."""
    return {
        "kind": kind,
        "model": model,
        "alias": alias,
        "from": from_version,
        "to": to_version,
        "run_id": run_id,
        "run_uid": run_uid,
        "who": who,
        "when": _stamp(when or _now()),
        "reason": reason[:MAX_REASON],
        "checks": list(checks or []),
        "forced": forced,
    }


def append(client: Any, found: dict[str, Any]) -> str:
    """Store an entry as a tag of its registered model; return the tag's key."""
    when = datetime.fromisoformat(found["when"].replace("Z", "+00:00"))
    key = _key(when)
    client.set_registered_model_tag(found["model"], key, json.dumps(found, sort_keys=True))
    return key


def record_promotion(
    client: Any,
    version: Any,
    alias: str,
    from_version: str | None,
    run: Any,
    who: str,
    checks: list[str],
    reason: str = "",
    forced: bool = False,
) -> dict[str, Any]:
    """Append the entry of a `promote` that just moved `alias` to `version` (an MLflow
    ModelVersion) from `from_version`; return it."""
    found = entry(
        version.name, alias, from_version, str(version.version), run_id=run.info.run_id,
        run_uid=run.data.tags.get("run.uid", ""), who=who, reason=reason, checks=checks, forced=forced,
    )  # fmt: skip
    append(client, found)
    return found


def stored(client: Any, model: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The model's stored entries, oldest first, and its aliases now (`{alias: version}`).

    Raises:
        UserError: there is no such registered model.
    """
    from mlflow.exceptions import MlflowException

    try:
        registered = client.get_registered_model(model)
    except MlflowException as exc:
        if getattr(exc, "error_code", "") != "RESOURCE_DOES_NOT_EXIST":
            raise
        raise UserError(f"There is no registered model '{model}' on the tracking server.") from None
    entries = []
    for key in sorted(k for k in registered.tags if k.startswith(PREFIX)):
        try:
            entries.append(json.loads(registered.tags[key]))
        except ValueError:
            entries.append(entry(model, "?", None, None, kind="unreadable", reason=f"tag {key} is not JSON"))
    aliases = {alias: str(v) for alias, v in (registered.aliases or {}).items()}
    return entries, aliases


def unaudited_moves(
    model: str, entries: list[dict[str, Any]], aliases: dict[str, str], who: str
) -> list[dict]:
    """The alias moves the trail does not explain: for each alias, where it points now against
    the last entry's `to` (an alias with no entry at all counts as moved from nothing)."""
    last: dict[str, str | None] = {}
    for found in entries:
        if found.get("kind") != "unreadable":
            last[found["alias"]] = found["to"]
    moves = []
    for alias in sorted(set(last) | set(aliases)):
        now = aliases.get(alias)
        if last.get(alias) != now:
            moves.append(
                entry(
                    model,
                    alias,
                    last.get(alias),
                    now,
                    kind="unaudited",
                    who="?",
                    reason=f"moved outside promote; noticed by {who or '?'} reading the history",
                )  # fmt: skip
            )
    return moves


def history(client: Any, model: str, who: str = "") -> list[dict[str, Any]]:
    """The model's audit trail, oldest first, with any unaudited move found now appended (and
    stored, when this login may write; an entry that could not be stored has `"stored": false`).

    Raises:
        UserError: there is no such registered model.
    """
    from mlflow.exceptions import MlflowException

    entries, aliases = stored(client, model)
    for move in unaudited_moves(model, entries, aliases, who):
        try:
            append(client, move)
        except MlflowException:  # a read-only login: show it all the same
            move["stored"] = False
        entries.append(move)
    return entries


def parse_time(text: str) -> datetime:
    """`--at`: an ISO 8601 date (its end, UTC) or date and time (UTC unless it has a zone).

    Raises:
        UserError: not a date or time.
    """
    value = text.strip()
    try:
        if len(value) == 10:
            day = datetime.fromisoformat(value).date()
            return datetime.combine(day, time.max, tzinfo=UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UserError(
            f"--at '{text}' is not a date or time: give 2026-12-01 (the end of that day, UTC) or "
            "2026-12-01T14:30 (UTC unless a zone is given, e.g. 2026-12-01T14:30+01:00)."
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _when(found: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(found["when"].replace("Z", "+00:00"))


def holder_at(entries: list[dict[str, Any]], alias: str, at: datetime) -> tuple[dict | None, dict | None]:
    """The entry that set `alias` as it was at `at`, and the next entry if it is an unaudited one
    (the alias may then already have moved by `at`: when exactly is unknown)."""
    moves = [e for e in entries if e.get("alias") == alias]
    before = [e for e in moves if _when(e) <= at]
    after = [e for e in moves if _when(e) > at]
    held = before[-1] if before else None
    pending = after[0] if after and after[0].get("kind") == "unaudited" else None
    return held, pending


def trace_at(uri: str, thing: str, at_text: str, who: str = "") -> dict[str, Any]:
    """`trace Model@alias --at TIME`: the lineage of the version the alias pointed at then.

    Returns:
        The trace of that version (see `mlrepo.server.trace.trace`) with `at`: the time asked,
        the entry that set it, and `unaudited` notes when the answer rests on a move made outside
        `promote`.

    Raises:
        UserError: THING is not `Model@alias`, the time is not one, or the alias pointed at
            nothing then.
    """
    from mlflow.tracking import MlflowClient

    from mlrepo.server import trace

    if "@" not in thing or "/" in thing.removeprefix("models:/"):
        raise UserError(
            f"--at needs a registry alias, Model@alias (e.g. IrisClassifier@champion), not '{thing}'."
        )
    model, alias = thing.removeprefix("models:/").split("@", 1)
    at = parse_time(at_text)
    entries = history(MlflowClient(uri), model, who)
    held, pending = holder_at(entries, alias, at)
    if held is None or held["to"] is None:
        first = next((e["when"] for e in entries if e.get("alias") == alias), None)
        since = f"; its first entry is at {first}" if first else "; the trail has no entry for it"
        raise UserError(f"{model}@{alias} pointed at no version at {_stamp(at)}{since}.")
    found = trace.trace(uri, f"{model}/{held['to']}")
    notes = []
    if held.get("kind") == "unaudited":
        notes.append(
            f"version {held['to']} was set outside promote (no who, why or checks); noticed at "
            f"{held['when']}, so it may have been set earlier, after the entry before it"
        )
    if pending is not None:
        notes.append(
            f"the alias was then moved outside promote to version {pending['to']} at an unknown time "
            f"before {pending['when']}: at {_stamp(at)} it pointed at version {held['to']} or already "
            f"at {pending['to']}"
        )
    found["at"] = {"time": _stamp(at), "alias": alias, "entry": held, "unaudited": notes}
    return found


def show_history(entries: list[dict[str, Any]], as_json: bool = False) -> str:
    """The trail as text (one entry a line, oldest first, unaudited moves flagged) or JSON."""
    if as_json:
        return json.dumps(entries, indent=2, sort_keys=True)
    if not entries:
        return "history: no alias move recorded"
    lines = []
    for e in entries:
        move = f"{e['model']}@{e['alias']} {e['from'] or '-'} -> {e['to'] or '-'}"
        if e.get("kind") == "unaudited":
            stored_note = "" if e.get("stored", True) else " (not stored: this login may not write)"
            lines.append(f"{e['when']}  {move}  UNAUDITED: {e['reason']}{stored_note}")
            continue
        forced = " FORCED" if e.get("forced") else ""
        lines.append(
            f"{e['when']}  {move}  by {e['who']}{forced}  run {e['run_id']} (run.uid {e['run_uid'] or '?'})"
            + (f"  reason: {e['reason']}" if e.get("reason") else "")
            + (f"\n{'':26}checks: {'; '.join(e['checks'])}" if e.get("checks") else "")
        )
    return "\n".join(lines)


def show_at(found: dict[str, Any]) -> str:
    """The lines `trace --at` adds in front of the trace: the time, the entry, any warning."""
    at = found["at"]
    held = at["entry"]
    head = f"at {at['time']}: @{at['alias']} -> version {held['to']} " + (
        f"(set {held['when']} by {held['who']}" + (", forced" if held.get("forced") else "") + ")"
    )
    return "\n".join([head, *(f"  UNAUDITED      {note}" for note in at["unaudited"])])
