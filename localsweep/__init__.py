"""Offline W&B sweeps: the same sweep YAML, W&B's own search engine, local workers, a durable run store."""
