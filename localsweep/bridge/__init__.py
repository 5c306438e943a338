"""The bridge to W&B: an offline sweep uploaded with wandb's own tools (``sync``). May import ``core`` and
``storage``."""
