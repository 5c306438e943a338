"""Explain a sweep's best run (metrics, intervals, calibration, errors, figures) and compare two runs, from their
test-set predictions."""
