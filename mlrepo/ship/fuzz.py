"""Fuzz a served contract from its own OpenAPI document: `make fuzz MODEL=<Model>/V<n>`.

    python -m mlrepo fuzz --model IrisClassifier/V1 [--examples 50] [--max-response-ms 1000]

Starts the deploy with `bentoml serve` on a free loopback port (as `make serve` does), runs
Schemathesis (`st run`, a locked development dependency) against `/docs.json`, stops the server,
and prints the cases tried, the failures and the slowest response. Exit 0 when nothing failed,
1 on any failure, 2 for a mistake in the command (no imported model, say).

What is checked, on every operation of the document (the record APIs and BentoML's probes):
Schemathesis's examples, coverage and fuzzing phases, positive and negative data, with every
check it has (`--checks all`: no 5xx, status codes, content types and bodies that conform to the
document, schema-valid data accepted, schema-invalid data refused, undeclared methods answered
405), the project's own check (`mlrepo/ship/fuzz_hooks.py`: every 4xx is a JSON
`{"error": "..."}`), and no response slower than `--max-response-ms`.

Decisions: the examples per operation default to `DEFAULT_EXAMPLES` (a run of both Iris versions
takes well under a minute here; `FUZZ_EXAMPLES=` asks for more); the seed is fixed by default so
that a failure found in CI is found again on a laptop (`--seed` to explore); the response bound
is `DEFAULT_MAX_RESPONSE_MS`, loose enough for a loaded CI machine and tight enough to catch a
request that makes the service spin (a healthy answer here takes a few milliseconds).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mlrepo.errors import UserError

DEFAULT_EXAMPLES = 50
"""Examples per operation and phase when `--examples` (FUZZ_EXAMPLES) is not given."""

DEFAULT_MAX_RESPONSE_MS = 1000
"""The slowest answer allowed (milliseconds); a slower one is a failure."""

DEFAULT_SEED = 23
"""The default seed: the same cases on every run."""

SHOWN_FAILURES = 25
"""The most failures the summary lists one by one."""

HOOKS = Path(__file__).with_name("fuzz_hooks.py")
READY_TIMEOUT_S = 120


@dataclass
class Report:
    """What one fuzz run found.

    Attributes:
        deploy: the deploy, `<Model>/V<n>`.
        cases: requests sent (test cases tried).
        operations: the operations tested (`POST /predict`, ...).
        failures: one line per failed check of a case: `METHOD path: check: message`.
        slowest_ms: the slowest response, in milliseconds.
        slowest: the request that took it (`METHOD path -> status`).
        exit_code: Schemathesis's own exit code.
        output: Schemathesis's printed report.
    """

    deploy: str
    cases: int = 0
    operations: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)
    slowest_ms: float = 0.0
    slowest: str = ""
    exit_code: int = 0
    output: str = ""

    @property
    def ok(self) -> bool:
        """True when no check failed and Schemathesis found no error."""
        return not self.failures and self.exit_code == 0

    def summary(self) -> str:
        """The closing lines: cases, failures, slowest response."""
        lines = [
            f"fuzz {self.deploy}: {self.cases} cases on {len(self.operations)} operations, "
            f"{len(self.failures)} failures; slowest response {self.slowest_ms:.0f} ms ({self.slowest})"
        ]
        lines += [f"  FAIL {line}" for line in self.failures[:SHOWN_FAILURES]]
        if len(self.failures) > SHOWN_FAILURES:
            lines.append(
                f"  ... and {len(self.failures) - SHOWN_FAILURES} more (Schemathesis's report above has each)"
            )
        if self.exit_code and not self.failures:
            lines.append(f"  Schemathesis exited with {self.exit_code} (see its report above)")
        return "\n".join(lines)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def served(deploy: str, port: int, log: Path) -> Iterator[str]:
    """`bentoml serve` the deploy on 127.0.0.1:`port` (as `make serve` does); yield its base URL
    once `/readyz` answers; stop it (its whole process group) on the way out.

    Raises:
        UserError: the deploy does not exist or its model is not imported, or the server died
            or did not get ready (the end of its log is in the message).
    """
    from mlrepo.ship import deploy as ship

    common = ship.load_common(deploy)
    ship.stored_model(common, deploy)
    args, env, folder = ship.serve_command(deploy, "127.0.0.1", port)
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc, log)
        yield url
    finally:
        _stop(proc)


def _wait_ready(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise UserError(f"bentoml serve exited with {proc.returncode} before it was ready:\n{_tail(log)}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        time.sleep(0.3)
    raise UserError(f"bentoml serve was not ready within {READY_TIMEOUT_S} s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]


def _stop(proc: subprocess.Popen) -> None:
    import signal

    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def schemathesis_args(url: str, examples: int, max_response_ms: float, seed: int, events: Path) -> list[str]:
    """The `st run` command line of a fuzz run against the server at `url`."""
    st = Path(sys.executable).with_name("st")
    return [
        str(st), "run", f"{url}/docs.json",
        "--checks", "all",
        "--max-examples", str(examples),
        "--max-response-time", str(max_response_ms / 1000),
        "--seed", str(seed),
        "--continue-on-failure",
        "--request-timeout", "30",
        "--workers", "1",
        "--report", "ndjson", "--report-ndjson-path", str(events),
    ]  # fmt: skip


def read_events(path: Path, report: Report) -> Report:
    """Fill `report` from Schemathesis's NDJSON event stream: every case's request, response time
    and checks (each `ScenarioFinished` event records them)."""
    seen: set[str] = set()
    failed: set[tuple[str, str]] = set()
    for line in path.read_text().splitlines():
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if finished is None:
            continue
        recorder = finished["recorder"]
        for case_id, interaction in recorder.get("interactions", {}).items():
            if case_id in seen:
                continue
            seen.add(case_id)
            request, response = interaction["request"], interaction.get("response")
            path_ = urllib.parse.urlsplit(request["uri"]).path
            label = f"{request['method']} {path_}"
            report.operations.add(recorder.get("label", label))
            report.cases += 1
            if response is not None and response["elapsed"] * 1000 > report.slowest_ms:
                report.slowest_ms = response["elapsed"] * 1000
                report.slowest = f"{label} -> {response['status_code']}"
            for check in recorder.get("checks", {}).get(case_id, []):
                if check["status"] == "failure" and (case_id, check["name"]) not in failed:
                    failed.add((case_id, check["name"]))
                    status = response["status_code"] if response else "no answer"
                    body = _body_text(response) if response else ""
                    report.failures.append(f"{label} -> {status}: {check['name']}: {body}")
    return report


def _body_text(response: dict) -> str:
    content = response.get("content") or {}
    raw = (
        base64.b64decode(content["$base64"])
        if "$base64" in content
        else str(content.get("string", "")).encode()
    )
    return raw[:160].decode("utf-8", "replace")


def fuzz(
    deploy: str,
    examples: int = DEFAULT_EXAMPLES,
    max_response_ms: float = DEFAULT_MAX_RESPONSE_MS,
    seed: int = DEFAULT_SEED,
    port: int | None = None,
    quiet: bool = False,
) -> Report:
    """Serve `deploy` and fuzz it; return what was found (the server is stopped either way).

    Args:
        deploy: `<Model>/V<n>`.
        examples: the most examples per operation and phase.
        max_response_ms: the slowest answer allowed.
        seed: Schemathesis's random seed.
        port: the loopback port to serve on (default: a free one).
        quiet: do not print Schemathesis's report as it runs.

    Raises:
        UserError: no such deploy, its model is not imported, or the server did not start.
    """
    if examples < 1:
        raise UserError(f"--examples must be at least 1, not {examples}.")
    report = Report(deploy)
    with tempfile.TemporaryDirectory(prefix="mlrepo-fuzz-") as tmp:
        work = Path(tmp)
        with served(deploy, port or free_port(), work / "serve.log") as url:
            env = {**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS), "NO_COLOR": "1"}
            done = subprocess.run(
                schemathesis_args(url, examples, max_response_ms, seed, work / "events.ndjson"),
                cwd=work, env=env, capture_output=True, text=True, timeout=1800,
            )  # fmt: skip
        report.exit_code, report.output = done.returncode, done.stdout + done.stderr
        if not quiet:
            print(report.output, end="")
        if (work / "events.ndjson").is_file():
            read_events(work / "events.ndjson", report)
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `python -m mlrepo fuzz`."""
    parser.add_argument("--model", required=True, help="the deploy, e.g. IrisClassifier/V1")
    parser.add_argument(
        "--examples", type=int, default=int(os.environ.get("FUZZ_EXAMPLES") or DEFAULT_EXAMPLES),
        help=f"examples per operation and phase (default $FUZZ_EXAMPLES, else {DEFAULT_EXAMPLES})",
    )  # fmt: skip
    parser.add_argument(
        "--max-response-ms", type=float, default=DEFAULT_MAX_RESPONSE_MS,
        help=f"the slowest answer allowed, in ms (default {DEFAULT_MAX_RESPONSE_MS})",
    )  # fmt: skip
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})"
    )
    parser.add_argument("--port", type=int, default=None, help="the loopback port (default: a free one)")


def run(args: argparse.Namespace) -> int:
    """Run `python -m mlrepo fuzz`; return 0 when nothing failed, else 1."""
    report = fuzz(args.model, args.examples, args.max_response_ms, args.seed, args.port)
    print(report.summary())
    return 0 if report.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m mlrepo.ship.fuzz --model <Model>/V<n> ...` (the same as `python -m mlrepo fuzz`)."""
    parser = argparse.ArgumentParser(prog="python -m mlrepo.ship.fuzz", description=__doc__.split("\n")[0])
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
