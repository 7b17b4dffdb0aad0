"""Named model configs (`<family>_<size>`) -> untrained models. Presets are data;
families register theirs at import."""

import contextlib
import difflib
import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Config:
    """A named recipe for an untrained model: `builder(**kwargs)`."""

    name: str
    builder: object
    description: str
    kwargs: dict = field(default_factory=dict)


_CONFIGS: dict[str, Config] = {}


def register_config(name, builder, description, **kwargs):
    """Register `name` so that `zoo.create(name)` calls `builder(**kwargs)`."""
    if name in _CONFIGS:
        raise ValueError(f"Config {name!r} is already registered.")
    _CONFIGS[name] = Config(name, builder, description, kwargs)


def did_you_mean(name, options):
    """' Did you mean ...?' with up to three close matches, or ''."""
    close = difflib.get_close_matches(str(name), list(options), n=3, cutoff=0.5)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def get_config(name):
    """The registered `Config` called `name`, or a ValueError with suggestions."""
    if name not in _CONFIGS:
        raise ValueError(f"Unknown config {name!r}.{did_you_mean(name, _CONFIGS)} "
                         f"`zoo.list_configs()` lists all {len(_CONFIGS)}.")
    return _CONFIGS[name]


def create(name, **overrides):
    """Build an untrained model from the named config; `overrides` replace its
    arguments (e.g. `data_shape=(28, 28, 1)`, `seed=0`). With a `seed`, the initial
    weights are a function of it (on a given backend), whatever ran before."""
    config = get_config(name)
    kwargs = {**config.kwargs, **overrides}
    with seeded_initializers(kwargs.get("seed")):
        return config.builder(**kwargs)


@contextlib.contextmanager
def seeded_initializers(seed):
    """Keras initializers made without a seed take one from Python's global `random`
    (`keras.random.make_default_seed`) when their layer is constructed: seed that
    generator for the block, then give it back its state, so that models built inside
    get the same initial weights for the same `seed` and the caller's RNG is untouched.
    `seed=None` changes nothing."""
    if seed is None:
        yield
        return
    state = random.getstate()
    random.seed(f"zoo.create:{int(seed)}")
    try:
        yield
    finally:
        random.setstate(state)


def list_configs():
    """Names of all registered configs, sorted."""
    return sorted(_CONFIGS)


def describe_configs():
    """`{name: description}` for all registered configs."""
    return {name: _CONFIGS[name].description for name in list_configs()}
