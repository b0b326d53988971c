"""``soa-lab run``'s notebook runner: a cell that runs out of time, or a kernel that dies, is
reported like any failure (notebook, cell, what to do), and the executed notebook is written
with that cell marked."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest

from soa_sdk import runner
from soa_sdk.cli import main as cli_main
from soa_sdk.errors import ValidationError


def _notebook(folder: Path, name: str, *sources: str) -> Path:
    document = nbformat.v4.new_notebook()
    document.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    document.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = folder / name
    nbformat.write(document, path)
    return path


def _executed_cell(output: Path, index: int) -> dict:
    return json.loads(output.read_text())["cells"][index]


def test_a_cell_that_runs_too_long_is_stopped_and_named(tmp_path: Path) -> None:
    notebook = _notebook(tmp_path, "00_slow.ipynb", "x = 1", "import time; time.sleep(600)", "y")
    result = runner.run_notebook(notebook, tmp_path / "out.ipynb", timeout=3)
    assert not result.ok
    assert result.failed_cell == 1
    assert result.error.startswith("CellTimeoutError: the cell ran for more than 3 s")
    assert "--cell-timeout" in result.hint
    cell = _executed_cell(result.output, 1)
    assert cell["metadata"]["papermill"]["status"] == "failed"
    assert cell["outputs"][-1]["ename"] == "CellTimeoutError"
    assert not _executed_cell(result.output, 2)["metadata"]["papermill"]["start_time"]


def test_a_kernel_that_dies_is_a_failure_with_its_cell(tmp_path: Path) -> None:
    notebook = _notebook(tmp_path, "00_dies.ipynb", "x = 1", "import os; os._exit(9)", "y = 2")
    result = runner.run_notebook(notebook, tmp_path / "out.ipynb", timeout=120)
    assert not result.ok
    assert result.failed_cell == 1
    assert result.error.startswith("DeadKernelError")
    assert "memory" in result.hint
    assert _executed_cell(result.output, 1)["outputs"][-1]["ename"] == "DeadKernelError"


def test_the_cli_reports_a_timed_out_cell_and_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOA_LAB_CHECKOV", sys.executable)  # `run` prepares no checkov here
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _notebook(folder, "00_slow.ipynb", "import time; time.sleep(600)")
    argv = ["run", "--target", "aws", "--notebooks", str(folder), "--output", str(tmp_path)]
    assert cli_main([*argv, "--cell-timeout", "3"]) == 1
    out = capsys.readouterr().out
    # Cell 1: papermill put the injected parameters (TARGET) first.
    assert "00_slow failed at cell 1: CellTimeoutError" in out
    assert "soa-lab run --cell-timeout SECONDS" in out


@pytest.mark.parametrize("bad", [0, -5, "soon", True])
def test_a_bad_cell_timeout_is_refused_before_anything_runs(bad: object) -> None:
    with pytest.raises(ValidationError, match="positive number of seconds"):
        runner.cell_timeout(bad)  # type: ignore[arg-type]


def test_the_cell_timeout_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOA_LAB_CELL_TIMEOUT", "42")
    assert runner.cell_timeout() == 42
    monkeypatch.delenv("SOA_LAB_CELL_TIMEOUT")
    assert runner.cell_timeout() == runner.DEFAULT_CELL_TIMEOUT


def test_a_notebook_s_kernel_exits_cleanly_so_its_exit_handlers_run(tmp_path: Path) -> None:
    """A kernel stopped at once (SIGKILL) runs no atexit handler or finalizer: what the lab
    cleans up there (lab.tf's provider folders, soa-lab-tf-*) stayed in the temporary folder
    after every notebook. The runner asks the kernel to shut down instead."""
    marker = tmp_path / "cleaned-up"
    notebook = _notebook(
        tmp_path,
        "00_exit.ipynb",
        f"import atexit, pathlib; atexit.register(pathlib.Path({str(marker)!r}).touch)",
    )
    result = runner.run_notebook(notebook, tmp_path / "out.ipynb", timeout=60)
    assert result.ok, result.error
    assert marker.exists()


def test_a_notebook_that_cannot_be_read_is_a_failure_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOA_LAB_CHECKOV", sys.executable)  # `run` prepares no checkov here
    folder = tmp_path / "notebooks"
    folder.mkdir()
    path = folder / "00_broken.ipynb"
    path.write_text("{oops")
    result = runner.run_notebook(path, tmp_path / "out.ipynb", timeout=60)
    assert not result.ok and result.failed_cell is None
    assert "could not be run" in result.error and str(path) in result.hint, result
    argv = ["run", "--target", "aws", "--notebooks", str(folder), "--output", str(tmp_path)]
    assert cli_main(argv) == 1
    output = capsys.readouterr()
    assert "00_broken could not be run" in output.out, output.out
    assert "Traceback" not in output.out + output.err


def test_a_notebook_without_a_kernelspec_runs_with_the_lab_s_parameters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """papermill finds the language of the parameters it injects in the notebook's metadata;
    a notebook saved without one raised ValueError out of `soa-lab run`."""
    monkeypatch.setenv("SOA_LAB_CHECKOV", sys.executable)
    folder = tmp_path / "notebooks"
    folder.mkdir()
    cells = [nbformat.v4.new_code_cell("assert TARGET == 'aws'")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), folder / "00_plain.ipynb")
    argv = ["run", "--target", "aws", "--notebooks", str(folder), "--output", str(tmp_path)]
    assert cli_main(argv) == 0


def _parameters_notebook(folder: Path, name: str, parameters: str, check: str) -> Path:
    """A notebook whose first cell is tagged ``parameters``, as the lab's are."""
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    document = nbformat.v4.new_notebook(cells=[cell, nbformat.v4.new_code_cell(check)])
    document.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    path = folder / name
    nbformat.write(document, path)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STEP_SECONDS=2", ("STEP_SECONDS", 2)),
        ("RATE=0.5", ("RATE", 0.5)),
        ("REMOVE_AT_END=False", ("REMOVE_AT_END", False)),
        ("RUNTIME=runtime-ecs", ("RUNTIME", "runtime-ecs")),
        ("NOTE=", ("NOTE", "")),
    ],
)
def test_a_parameter_is_read_as_papermill_reads_p(text: str, expected: tuple) -> None:
    assert runner.parse_parameter(text) == expected


@pytest.mark.parametrize("bad", ["STEP_SECONDS", "=2", "2X=1", "A-B=1"])
def test_a_parameter_that_is_not_name_value_is_refused(bad: str) -> None:
    with pytest.raises(ValidationError, match="NAME=VALUE"):
        runner.parse_parameter(bad)


def test_the_cli_gives_each_notebook_the_parameters_it_declares(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The headless default (no canary hold) and ``-p`` reach the notebooks that declare them;
    the others run without a stray variable."""
    monkeypatch.setenv("SOA_LAB_CHECKOV", sys.executable)
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _parameters_notebook(
        folder,
        "00_holds.ipynb",
        "TARGET = 'sandbox'\nSTEP_SECONDS = 2.0\nRATE = 1",
        "assert (TARGET, STEP_SECONDS, RATE) == ('aws', 0, 5), (TARGET, STEP_SECONDS, RATE)",
    )
    _parameters_notebook(
        folder,
        "01_plain.ipynb",
        "TARGET = 'sandbox'",
        "assert 'STEP_SECONDS' not in globals() and 'RATE' not in globals()",
    )
    argv = ["run", "--target", "aws", "--notebooks", str(folder), "--output", str(tmp_path)]
    assert cli_main([*argv, "-p", "RATE=5"]) == 0


def test_a_parameter_no_notebook_declares_is_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _parameters_notebook(folder, "00_one.ipynb", "TARGET = 'sandbox'", "raise SystemExit(3)")
    argv = ["run", "--target", "aws", "--notebooks", str(folder), "--output", str(tmp_path)]
    assert cli_main([*argv, "-p", "STEP_SECOND=0"]) != 0
    message = "no notebook has a parameter STEP_SECOND; their parameters are: TARGET"
    assert message in capsys.readouterr().err
    assert not list(tmp_path.glob("run-*"))


def test_the_target_is_refused_as_a_parameter(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["run", "-p", "TARGET=aws"]) != 0
    assert "soa-lab run --target aws" in capsys.readouterr().err
