"""Sub-commands of the ``neakta`` CLI, one module each with a ``register`` function."""
