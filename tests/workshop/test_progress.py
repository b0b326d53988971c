"""soa_sdk.progress in a terminal (lines with elapsed seconds) and in a real Jupyter kernel
(one display that updates in place)."""

from __future__ import annotations

import io

import nbformat
import pytest
from nbclient import NotebookClient

from soa_sdk import progress


class Ticks:
    """A clock that moves only when told: elapsed seconds become exact."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_terminal_lines_are_stamped_throttled_and_closed():
    out, clock = io.StringIO(), Ticks()
    with progress.task("Driving 2,000 requests", total=2000, stream=out, clock=clock) as bar:
        for _ in range(20):  # 20 batches of 100 requests, 0.5 s each
            clock.now += 0.5
            bar.advance(100)
    lines = out.getvalue().splitlines()
    assert lines[0] == "[   0.0 s] Driving 2,000 requests: 0/2,000 (0%)"
    # one line every 2 s of the 10 s, not one per batch
    assert lines[1:-1] == [
        f"[{s:6.1f} s] Driving 2,000 requests: {400 * s // 2:,.0f}/2,000 ({s * 10:.0f}%)"
        for s in (2.0, 4.0, 6.0, 8.0, 10.0)
    ]
    assert lines[-1] == "[  10.0 s] Driving 2,000 requests: done, 2,000/2,000 (100%)"


def test_a_new_status_shows_at_once_and_a_failure_says_so():
    out, clock = io.StringIO(), Ticks()
    with (
        pytest.raises(RuntimeError),
        progress.task("Canary inventory v2", stream=out, clock=clock) as canary,
    ):
        clock.now += 0.1
        canary.update(status="weight 10%")
        clock.now += 0.1
        canary.update(status="weight 10%")  # unchanged and too soon: no line
        raise RuntimeError("analysis failed")
    assert out.getvalue().splitlines() == [
        "[   0.0 s] Canary inventory v2",
        "[   0.1 s] Canary inventory v2: weight 10%",
        "[   0.2 s] Canary inventory v2: failed (RuntimeError), weight 10%",
    ]


def test_bad_total_is_refused_and_stamped_messages_count_from_creation():
    with pytest.raises(ValueError, match="total must be 0 or more"):
        progress.task("x", total=-1, mode="terminal")
    out, clock = io.StringIO(), Ticks()
    say = progress.stamped(stream=out, clock=clock)
    clock.now += 1.25
    say("vault healthy")
    assert out.getvalue() == "[   1.2 s] vault healthy\n"
    assert progress.in_kernel() is False  # pytest is no kernel


def test_in_a_kernel_one_output_updates_in_place():
    code = (
        "from soa_sdk import progress\n"
        "print('kernel:', progress.in_kernel())\n"
        "with progress.task('Driving 300 requests', total=300, interval=0) as bar:\n"
        "    for _ in range(3):\n"
        "        bar.advance(100)\n"
    )
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(notebook, kernel_name="python3", timeout=60).execute()
    outputs = notebook.cells[0].outputs
    assert outputs[0]["text"] == "kernel: True\n"
    displays = [o for o in outputs if o["output_type"] == "display_data"]
    assert len(displays) == 1, "one output, updated in place, not one per step"
    final = displays[0]["data"]
    assert final["text/plain"].endswith("Driving 300 requests: done, 300/300 (100%)")
    assert '<progress value="300" max="300"' in final["text/html"]
