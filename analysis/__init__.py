"""Explain the best run of a sweep: metrics, plots and a report from its test-set predictions."""
