"""The numbers: metrics equal to scikit-learn's from one sort per class, intervals, calibration, paired tests."""
