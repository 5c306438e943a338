"""Code that runs inside trial processes (put on their PYTHONPATH), not in the controller."""
