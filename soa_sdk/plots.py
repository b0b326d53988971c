"""The figures the notebooks show (matplotlib)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from matplotlib import pyplot as plt

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from soa_sdk.org import EnsureResult


def organization_tree(result: EnsureResult, title: str = "AWS Organization") -> Figure:
    """The organization as a tree: the root, its OUs, and the accounts in each OU."""
    ous = [name for name in result.ou_ids if name != "Root"]
    by_ou = {ou: [a for a in result.accounts if a.ou == ou] for ou in ous}
    width = max(len(ous), 1)
    figure, axes = plt.subplots(figsize=(2.8 * width + 1, 3.4))
    axes.set_axis_off()
    axes.set_xlim(-0.6, width - 0.4)
    deepest = max((len(v) for v in by_ou.values()), default=1)
    axes.set_ylim(0.3 - (deepest - 1) * 0.55 - 0.45, 2.6)
    root_x = (width - 1) / 2

    def node(x: float, y: float, label: str, facecolor: str, fontsize: int = 8) -> None:
        axes.text(
            x,
            y,
            label,
            ha="center",
            va="center",
            bbox={"boxstyle": "round,pad=0.4", "linewidth": 1, "facecolor": facecolor},
            fontsize=fontsize,
        )

    node(root_x, 2.2, f"Root\n{result.root_id}", "#ffe8c2", fontsize=9)
    for index, ou in enumerate(ous):
        axes.plot([root_x, index], [2.0, 1.35], color="#888888", linewidth=1)
        node(index, 1.2, f"OU {ou}\n{result.ou_ids[ou]}", "#d7e8ff")
        for row, account in enumerate(by_ou[ou]):
            y = 0.3 - row * 0.55
            axes.plot([index, index], [1.02, y + 0.15], color="#bbbbbb", linewidth=0.8)
            node(index, y, f"{account.name}\n{account.id}", "#e3f5e1")
    axes.set_title(f"{title} ({len(result.accounts)} member accounts)")
    figure.tight_layout()
    return figure
