"""``lab.tf``: real Terraform on the monorepo's folders, from Python.

>>> lab.tf.apply("org")            # terraform init (once), plan, apply of that plan
PlanSummary(add=23, change=0, destroy=0, no_changes=False, created=(...), ...)
>>> lab.tf.plan("org").no_changes
True

One :class:`LabTerraform` per lab (the composition root builds it): it keeps one runner per
folder, initialised on first use (unless an earlier process did), so a step that applies
twice pays for ``init`` and for starting the sandbox's provider once. The runner is the target's
(:class:`soa_sdk.tf.runner.FolderRunner`): the sandbox's local providers with dynamic
credentials and state in its S3, or the registry's real providers on real endpoints.
Terraform's own output goes line by line to ``progress``; the returned
:class:`~soa_sdk.tf.result.PlanSummary` has the counts and resource addresses.

Left out: ``import``, ``output`` and ``state`` subcommands (a step reads what was applied
through the services' APIs instead), workspaces other than ``default``.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from soa_sdk import validate
from soa_sdk.tf.result import PlanSummary
from soa_sdk.tf.runner import FolderRunner, Progress

RunnerFactory = Callable[[str, Progress, Path | None], FolderRunner]


class LabTerraform:
    """Terraform on the lab's folders (``"org"``, ``"shared_services/vault"`` ...)."""

    def __init__(self, make_runner: RunnerFactory, target: str, progress: Progress) -> None:
        self._make_runner = make_runner
        self.target = target
        self._progress = progress
        self._runners: dict[str, FolderRunner] = {}
        self._lock = threading.Lock()
        self._folder_locks: dict[str, threading.Lock] = {}
        # The sandbox's runner holds a provider process: stop it with the lab.
        self._finalizer = weakref.finalize(self, _close_all, self._runners)

    def __repr__(self) -> str:
        return f"LabTerraform(target={self.target!r}, folders={sorted(self._runners)!r})"

    def runner(self, folder: str, root: Path | None = None) -> FolderRunner:
        """The folder's runner, made on first use and ``terraform init``-ed unless its working
        data already is (by an earlier process: each notebook's kernel is one). ``root``: the
        monorepo the folder is in, ``terraform/`` by default (step 5: a scratch copy)."""
        validate.text(folder, "folder (a folder of terraform/, e.g. 'org')")
        key = folder if root is None else f"{Path(root).resolve()}:{folder}"
        with self._lock:  # one lock per folder: two folders start (and init) side by side
            folder_lock = self._folder_locks.setdefault(key, threading.Lock())
        with folder_lock:
            found = self._runners.get(key)
            if found is None:
                found = self._make_runner(folder, self._progress, root)
                if not found.initialised():
                    found.init()
                with self._lock:
                    self._runners[key] = found
            return found

    def init(self, folder: str) -> str:
        """``terraform init`` again (providers and backend), e.g. after the sandbox restarted."""
        return self.runner(folder).init()

    def plan(
        self, folder: str, variables: Mapping[str, Any] | None = None, root: Path | None = None
    ) -> PlanSummary:
        """``terraform plan``; ``variables`` win over the folder's ``*.auto.tfvars.json``."""
        return self.runner(folder, root).plan(variables=variables)

    def apply(
        self, folder: str, variables: Mapping[str, Any] | None = None, root: Path | None = None
    ) -> PlanSummary:
        """``terraform plan -out`` and, if it has changes, ``terraform apply`` of that plan:
        the folder as declared, or with ``variables``."""
        return self.runner(folder, root).apply(variables=variables)

    def destroy(
        self,
        folder: str,
        variables: Mapping[str, Any] | None = None,
        root: Path | None = None,
        targets: Sequence[str] = (),
    ) -> PlanSummary:
        """``terraform destroy -auto-approve``: everything the folder's state holds, or with
        ``targets`` (resource addresses) those and what depends on them (``-target``)."""
        extra = [f"-target={address}" for address in targets]
        return self.runner(folder, root).destroy(*extra, variables=variables)

    def close(self) -> None:
        """Stop what the runners hold (the sandbox's provider process); safe to call twice,
        and the next command starts afresh (the finalizer still closes it at exit)."""
        with self._lock:
            _close_all(self._runners)


def _close_all(runners: dict[str, FolderRunner]) -> None:
    for runner in runners.values():
        runner.close()
    runners.clear()
