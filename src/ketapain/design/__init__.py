"""Crossover designs and sample size: Williams / Latin / all-orders designs, their balance and
efficiency, the sequences a protocol randomises, and analytic power and sample size for
within-patient treatment comparisons.

Simulation-based power (which runs the in-silico trial) is :func:`ketapain.simulate.simulate_power`;
its figure is :func:`ketapain.report.plot_power`. This package imports no package above it.
"""

from __future__ import annotations

from ketapain.design._designs import (
    CrossoverDesign,
    DesignProperties,
    all_orders,
    check_design,
    latin_square,
    williams,
)
from ketapain.design._samplesize import (
    SampleSizeResult,
    crossover_power,
    crossover_sample_size,
)
from ketapain.design._sequences import DESIGN_BUILDERS, protocol_sequences

__all__ = [
    "CrossoverDesign",
    "DESIGN_BUILDERS",
    "DesignProperties",
    "SampleSizeResult",
    "all_orders",
    "check_design",
    "crossover_power",
    "crossover_sample_size",
    "latin_square",
    "protocol_sequences",
    "williams",
]
