"""``soa-lab``: start, inspect and stop the sandbox, run the lab headless, diagnose problems.

soa-lab up              start the sandbox (no-op when it runs)
soa-lab status [--json] services, endpoints and health
soa-lab down            stop everything the sandbox started and remove its state
soa-lab run             up, then every notebook in order with papermill, then a summary
soa-lab doctor          what is missing or wrong, and how to fix it
soa-lab tools           install the tools the lab runs from their own environments (checkov)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from soa_sdk.errors import SoaLabError, ValidationError


def _say(message: str) -> None:
    print(message, flush=True)


def cmd_up(args: argparse.Namespace) -> int:
    from soa_sdk import progress
    from soa_sdk.sandbox import lifecycle

    started = time.monotonic()
    state, created = lifecycle.up(progress=progress.stamped())
    if created:
        _say(f"Sandbox up in {time.monotonic() - started:.1f} s (state in {state.home}).")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from soa_sdk.sandbox import lifecycle

    if lifecycle.down(progress=_say):
        _say("Sandbox stopped; nothing left running.")
    else:
        _say("No sandbox was running.")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from soa_sdk.sandbox import lifecycle
    from soa_sdk.sandbox.process import is_running
    from soa_sdk.sandbox.state import (
        SandboxState,
        SandboxStateInvalid,
        read_run_records,
        sandbox_home,
    )
    from soa_sdk.tables import Table

    home = sandbox_home()

    def fail(message: str, code: int, **fields: object) -> int:
        if args.json:
            document = {"running": None, "healthy": False, "home": str(home), "services": []}
            print(json.dumps({**document, **fields, "error": message}, indent=2))
        else:
            print(f"error: {message}", file=sys.stderr)
        return code

    if not SandboxState.exists(home):
        starter = lifecycle.busy(home)
        if starter is not None:
            who = f" (pid {starter})" if starter else ""
            message = (
                f"A soa-lab command{who} is starting or stopping the sandbox right now; "
                "run `soa-lab status` again in a few seconds."
            )
            return fail(message, 3, running=False, starting=True)
        alive = [r for r in read_run_records(home).values() if is_running(r.pid, r.started_at)]
        if alive:
            pids = ", ".join(f"{r.name} {r.pid}" for r in alive)
            message = (
                f"The sandbox's state.json is missing, but processes it started still run "
                f"({pids}). `soa-lab up` writes it again; `soa-lab down` stops them."
            )
            return fail(message, 2)
        if args.json:
            print(json.dumps({"running": False, "home": str(home), "services": []}))
        else:
            _say("No sandbox is running. Start one with `soa-lab up`.")
        return 3
    try:
        state = SandboxState.load(home)
    except SandboxStateInvalid as error:
        return fail(str(error), 2)
    statuses = lifecycle.status(state, observe=True)
    healthy = all(s.healthy for s in statuses)
    if args.json:
        document = {
            "running": True,
            "healthy": healthy,
            "home": str(state.home),
            "services": [s.as_dict() for s in statuses],
        }
        print(json.dumps(document, indent=2))
    else:
        rows = [
            {
                "service": s.name,
                "health": s.health,
                "endpoint": s.url,
                "pid": s.pid,
                "what": s.summary,
            }
            for s in statuses
        ]
        _say(str(Table(rows)))
        for s in statuses:
            for line in s.notes:
                _say(f"{s.name}: {line}")
    return 0 if healthy else 1


def cmd_doctor(args: argparse.Namespace) -> int:
    from soa_sdk.sandbox.doctor import examine

    findings = examine()
    for finding in findings:
        mark = "ok  " if finding.ok else "FIX "
        _say(f"{mark} {finding.what}")
        if finding.fix:
            _say(f"     -> {finding.fix}")
    problems = sum(not f.ok for f in findings)
    _say("Everything looks right." if not problems else f"{problems} problem(s) found.")
    return 0 if not problems else 1


def cmd_run(args: argparse.Namespace) -> int:
    from soa_sdk import progress, runner, tools
    from soa_sdk.paths import notebooks_root, project_root
    from soa_sdk.sandbox import lifecycle
    from soa_sdk.tables import Table

    notebooks = runner.notebooks_in(Path(args.notebooks or notebooks_root()), args.only)
    timeout = runner.cell_timeout(args.cell_timeout)
    given = dict(runner.parse_parameter(text) for text in args.parameter)
    if "TARGET" in given:
        raise ValidationError("the target is an option of its own: soa-lab run --target aws")
    runner.check_parameters(notebooks, given)  # before the sandbox starts
    chosen = {**runner.HEADLESS_PARAMETERS, **given}
    say = progress.stamped()
    # Step 5 scans Terraform with checkov: prepare it while the first notebooks run.
    preparing = tools.prepare_in_background(tools.CHECKOV)
    if args.target == "sandbox":
        lifecycle.up(progress=say)
    folder = runner.new_run_folder(Path(args.output or project_root() / "runs"))
    _say(f"Running {len(notebooks)} notebook(s) into {folder}")
    results = runner.run_all(
        notebooks,
        folder,
        {"TARGET": args.target},
        progress=say,
        timeout=timeout,
        where_declared=chosen,
    )
    preparing.join(timeout=tools.INSTALL_TIMEOUT)  # never leave a half-made environment
    rows = [
        {
            "notebook": r.name,
            "status": "passed" if r.ok else "FAILED",
            "seconds": f"{r.seconds:.1f}",
            "failed cell": "" if r.ok else str(r.failed_cell),
        }
        for r in results
    ]
    skipped = notebooks[len(results) :]
    rows += [
        {"notebook": p.stem, "status": "not run", "seconds": "", "failed cell": ""} for p in skipped
    ]
    _say(str(Table(rows, title="Summary")))
    failures = [r for r in results if not r.ok]
    for failure in failures:
        verdict = (
            "failed" + failure.where if failure.failed_cell is not None else "could not be run"
        )
        _say(
            f"{failure.name} {verdict}: {failure.error}\n"
            f"  the executed notebook is {failure.output}"
            + (f"\n  {failure.hint}" if failure.hint else "")
        )
    return 1 if failures else 0


def cmd_tools(args: argparse.Namespace) -> int:
    from soa_sdk import tools

    for tool in (tools.CHECKOV,):
        _say(f"{tool.requirement}: {tools.ensure(tool, progress=_say)}")
    return 0


def cmd_tf(args: argparse.Namespace) -> int:
    from soa_sdk.sandbox.state import SandboxState
    from soa_sdk.sandbox.terraform.run import Terraform

    with Terraform(args.folder, SandboxState.load(), progress=_say) as terraform:
        if args.action != "init":
            terraform.init()
        getattr(terraform, args.action)()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="soa-lab", description="The soa-lab sandbox and notebook runner."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start the sandbox").set_defaults(func=cmd_up)
    commands.add_parser("down", help="stop the sandbox, leave nothing behind").set_defaults(
        func=cmd_down
    )
    status = commands.add_parser("status", help="services and their health")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=cmd_status)
    commands.add_parser("doctor", help="diagnose problems").set_defaults(func=cmd_doctor)
    run = commands.add_parser("run", help="run every notebook headless and summarize")
    run.add_argument("--target", choices=["sandbox", "aws"], default="sandbox")
    run.add_argument("--notebooks", help="folder of notebooks (default: the project's)")
    run.add_argument("--output", help="where run folders go (default: ./runs)")
    run.add_argument("--only", nargs="*", help="notebook name prefixes, e.g. 00 01")
    run.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a notebook parameter, as papermill's -p (repeatable; default: STEP_SECONDS=0)",
    )
    run.add_argument(
        "--cell-timeout",
        type=float,
        metavar="SECONDS",
        help="stop a cell that runs longer (default: $SOA_LAB_CELL_TIMEOUT or 600)",
    )
    run.set_defaults(func=cmd_run)
    commands.add_parser(
        "tools", help="install checkov into the lab's own tool environment (done on first use)"
    ).set_defaults(func=cmd_tools)
    tf = commands.add_parser(
        "tf", help="real Terraform on a folder of terraform/, against the sandbox"
    )
    tf.add_argument("folder", help="a folder of terraform/, e.g. org")
    tf.add_argument("action", choices=["init", "plan", "apply", "destroy"])
    tf.set_defaults(func=cmd_tf)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except SoaLabError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`soa-lab status | head -1`): as the Python docs advise,
        # point stdout at devnull so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a writer into a closed pipe


if __name__ == "__main__":
    sys.exit(main())
