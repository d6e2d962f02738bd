"""Floor 3: ready-made problems built from the engine.

A task that a sweep can run is a function ``(config, seed) -> dict of metrics`` whose
``defaults`` attribute holds its configuration keys and their default values.
"""


def check_config_keys(task, keys, defaults):
    """Raise ValueError naming the first of ``keys`` that ``defaults`` lacks (and the known ones)."""
    for key in keys:
        if key not in defaults:
            raise ValueError(f"unknown config key {key!r} for task {task!r}; "
                             f"known keys: {', '.join(defaults)}")


def config_with_defaults(task, config, defaults):
    """``defaults`` updated by ``config`` (a dict or None); TypeError if ``config`` is not
    a dict, ValueError for an unknown key."""
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise TypeError(f"'config' of task {task!r} must be a dict, got {type(config).__name__}")
    check_config_keys(task, config, defaults)
    return {**defaults, **config}
