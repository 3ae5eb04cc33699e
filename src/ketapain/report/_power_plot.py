"""The power-curve figure of a simulation-based power result (reads the result, computes nothing)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from matplotlib.axes import Axes
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from ketapain.simulate import PowerResult

__all__ = ["plot_power"]


def plot_power(result: PowerResult, *, ax: Axes | None = None) -> Axes:
    """Power curves: simulated power with +/- 1.96 MC SE bars per test, analytic dashed.

    Parameters
    ----------
    result : PowerResult
        From :func:`ketapain.simulate.simulate_power`.
    ax : matplotlib Axes, optional
        Drawn on a new figure (object API, no pyplot state) when None.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from ketapain.simulate import simulate_power
    >>> res = simulate_power("ab_ba_example", n=[6, 8], sims=10, seed=1)
    >>> plot_power(res).get_ylabel()
    'power'
    """
    if ax is None:
        ax = Figure(figsize=(6.4, 4.2)).add_subplot()
    frame = result.to_frame()
    for i, test in enumerate(("omnibus", *result.contrasts)):
        part = frame[frame["contrast"] == test]
        color = f"C{i}"
        ax.errorbar(part["n"], part["power"], yerr=1.96 * part["mc_se"], marker="o", ms=3, capsize=2,
                    color=color, label=f"{test} (simulated)")
        if part["analytic_power"].notna().any():
            ax.plot(part["n"], part["analytic_power"], ls="--", color=color, label=f"{test} (analytic)")
    ax.axhline(result.alpha, color="grey", lw=0.8, ls=":")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("patients (n)")
    ax.set_ylabel("power")
    ax.set_title(f"{result.protocol_id}: {result.endpoint}, {result.sims} trials per n")
    ax.legend(fontsize="small")
    return ax
