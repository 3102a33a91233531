"""Benchmarks (`make bench`): printed figures, compared as ratios within one run."""
