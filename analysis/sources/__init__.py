"""Where predictions come from (a file, an offline run, a sweep, W&B) and how they are read and checked."""
