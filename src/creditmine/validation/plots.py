"""Small plots of the validation report that belong to no single statistic."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

__all__ = ["bars", "grade_shares"]


def bars(table: pd.DataFrame, label: str, value: str, title: str) -> Figure:
    """Horizontal bars of `table[value]` labelled by `table[label]`, the first row on top."""
    fig = Figure(figsize=(6, max(2.5, 0.28 * len(table) + 1)))
    ax = fig.subplots()
    ax.barh(table[label].astype(str), table[value], color="#1565c0")
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=7)
    ax.set(xlabel=value, title=title)
    fig.tight_layout()
    return fig


def grade_shares(shares: pd.DataFrame, approve_grades) -> Figure:
    """Share of out-of-time applications per grade; grades the policy approves in green."""
    fig = Figure(figsize=(6, 3.2))
    ax = fig.subplots()
    colours = ["#2e7d32" if g in approve_grades else "#9e9e9e" for g in shares.index]
    ax.bar(shares.index.astype(str), shares["share"], color=colours)
    ax.set(xlabel="grade (green: approved by policy)", ylabel="share of applications",
           title="Out-of-time applications per grade")
    fig.tight_layout()
    return fig
