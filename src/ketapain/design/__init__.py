"""Crossover designs and sample size: Williams / Latin / all-orders designs, their balance and
efficiency, and analytic power and sample size for within-patient treatment comparisons."""

from __future__ import annotations

from ketapain.design._designs import (
    CrossoverDesign,
    DesignProperties,
    all_orders,
    check_design,
    latin_square,
    williams,
)
from ketapain.design._samplesize import SampleSizeResult, crossover_power, crossover_sample_size
from ketapain.design._power import PowerEstimate, PowerResult, load_effects, plot_power, simulate_power

__all__ = [
    "CrossoverDesign",
    "DesignProperties",
    "PowerEstimate",
    "PowerResult",
    "SampleSizeResult",
    "all_orders",
    "check_design",
    "crossover_power",
    "crossover_sample_size",
    "latin_square",
    "load_effects",
    "plot_power",
    "simulate_power",
    "williams",
]
