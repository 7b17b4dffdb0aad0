"""The zoo's one optimizer factory: Lion, AdamW, Adam or SGD, with a linear warm-up and a
constant or cosine schedule, described by data (`OptimizerSettings`) so that a recipe's
optimizer can be swapped, overridden from the command line and recorded in its card.

Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms",
arXiv:2302.06675) is Keras's own `keras.optimizers.Lion`; this module only writes the
paper's rules into the defaults:

- betas (0.9, 0.99), Lion's own (not Adam's 0.9, 0.999);
- its update `sign(b1 m + (1 - b1) g)` has a larger norm than Adam's, so its learning
  rate is 3-10x smaller than AdamW's and its decoupled weight decay 3-10x larger, which
  keeps the decay strength `lr * wd` the same. `OptimizerSettings.switch("lion")` applies
  that rule with `LION_RATIO` (3, the paper's cautious end);
- a linear warm-up (`LION_WARMUP_STEPS` when the settings name none): users report
  Lion diffusion runs exploding without one, above all when a run is warm-started
  from a checkpoint with fresh momentum.

One Lion step: `u = sign(b1 m + (1 - b1) g)`, `theta -= lr (u + wd theta)`,
`m = b2 m + (1 - b2) g`; it keeps one moment per weight where Adam(W) keeps two.
"""

import dataclasses

import keras

from zoo.registry import did_you_mean

NAMES = ("lion", "adamw", "adam", "sgd")
LION_RATIO = 3.0  # Lion's rate = AdamW's / ratio, its weight decay = AdamW's * ratio (paper: 3-10)
LION_WARMUP_STEPS = 500
LION_BETAS = (0.9, 0.99)
ADAM_BETAS = (0.9, 0.999)
NO_DECAY = ("gamma", "beta", "bias")  # normalization scales and shifts, biases: never decayed


@dataclasses.dataclass(frozen=True)
class OptimizerSettings:
    """An optimizer as data: what `build()` makes, `switch()` converts and cards record.

    Args:
        name: str. One of `NAMES`.
        learning_rate: float. The peak rate, reached after the warm-up.
        weight_decay: float or None. Decoupled weight decay (`theta -= lr * wd * theta`),
            not applied to `NO_DECAY` variables; None or 0 for none.
        warmup_steps: int or None. Linear warm-up from 0; None is `LION_WARMUP_STEPS`
            for Lion and 0 for the others.
        decay_steps: int or None. Cosine decay over this many steps after the warm-up,
            to `final_fraction * learning_rate`; None keeps the rate constant.
        final_fraction: float. The cosine schedule's end, as a fraction of the peak.
        clipnorm: float or None. Per-tensor gradient norm clipping.
        beta_1, beta_2: float or None. None takes the optimizer's own (Lion 0.9 / 0.99,
            Adam(W) 0.9 / 0.999).
        momentum: float. SGD only.
        nesterov: bool. SGD only.
    """

    name: str = "adam"
    learning_rate: float = 1e-3
    weight_decay: float | None = None
    warmup_steps: int | None = None
    decay_steps: int | None = None
    final_fraction: float = 0.0
    clipnorm: float | None = None
    beta_1: float | None = None
    beta_2: float | None = None
    momentum: float = 0.9
    nesterov: bool = True

    def __post_init__(self):
        if self.name not in NAMES:
            raise ValueError(f"Unknown optimizer {self.name!r}.{did_you_mean(self.name, NAMES)} "
                             f"Known: {', '.join(NAMES)}.")
        if not self.learning_rate > 0:
            raise ValueError(f"`learning_rate` must be positive; received {self.learning_rate}.")
        if self.weight_decay is not None and self.weight_decay < 0:
            raise ValueError(f"`weight_decay` must be >= 0; received {self.weight_decay}.")
        for field in ("warmup_steps", "decay_steps"):
            value = getattr(self, field)
            if value is not None and (int(value) != value or value < 0):
                raise ValueError(f"`{field}` must be a whole number >= 0; received {value}.")

    @property
    def warmup(self):
        """The warm-up steps in effect (`LION_WARMUP_STEPS` for Lion when unset)."""
        if self.warmup_steps is not None:
            return int(self.warmup_steps)
        return LION_WARMUP_STEPS if self.name == "lion" else 0

    def schedule(self):
        """The learning rate: a float, or a warm-up / cosine `LearningRateSchedule`."""
        warmup = self.warmup
        if self.decay_steps is None:
            if not warmup:
                return self.learning_rate
            # alpha=1: a cosine "decay" to the same value, i.e. constant after the warm-up.
            return keras.optimizers.schedules.CosineDecay(0.0, decay_steps=1, alpha=1.0,
                                                          warmup_target=self.learning_rate, warmup_steps=warmup)
        if not warmup:
            return keras.optimizers.schedules.CosineDecay(self.learning_rate, decay_steps=int(self.decay_steps),
                                                          alpha=self.final_fraction)
        return keras.optimizers.schedules.CosineDecay(0.0, decay_steps=max(int(self.decay_steps), 1),
                                                      alpha=self.final_fraction,
                                                      warmup_target=self.learning_rate, warmup_steps=warmup)

    def build(self):
        """A fresh Keras optimizer for these settings."""
        common = {"learning_rate": self.schedule(), "clipnorm": self.clipnorm,
                  "weight_decay": self.weight_decay or None}
        if self.name == "sgd":
            optimizer = keras.optimizers.SGD(momentum=self.momentum, nesterov=self.nesterov, **common)
        else:
            default = LION_BETAS if self.name == "lion" else ADAM_BETAS
            betas = {"beta_1": default[0] if self.beta_1 is None else self.beta_1,
                     "beta_2": default[1] if self.beta_2 is None else self.beta_2}
            if self.name == "adamw":
                common["weight_decay"] = self.weight_decay or 0.0  # AdamW's own default is 0.004
            optimizer = {"lion": keras.optimizers.Lion, "adamw": keras.optimizers.AdamW,
                         "adam": keras.optimizers.Adam}[self.name](**betas, **common)
        if self.weight_decay:
            optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY))
        return optimizer

    def switch(self, name, ratio=LION_RATIO):
        """These settings for optimizer `name`, converted by Lion's rule: to Lion, the
        rate divided and the weight decay multiplied by `ratio`, Lion's betas and at least
        its warm-up; back from Lion, the inverse. Adam <-> AdamW keep everything. SGD's
        rates do not translate: give the target's settings explicitly."""
        if name == self.name:
            return self
        adam_like = {"adam", "adamw"}
        changes = {"name": name}
        if self.name in adam_like and name in adam_like:
            pass
        elif self.name in adam_like and name == "lion":
            changes.update(learning_rate=self.learning_rate / ratio, beta_1=None, beta_2=None,
                           weight_decay=None if self.weight_decay is None else self.weight_decay * ratio,
                           warmup_steps=max(self.warmup, LION_WARMUP_STEPS))
        elif self.name == "lion" and name in adam_like:
            changes.update(learning_rate=self.learning_rate * ratio, beta_1=None, beta_2=None,
                           weight_decay=None if self.weight_decay is None else self.weight_decay / ratio)
        else:
            OptimizerSettings(name=name)  # an unknown name fails here, with suggestions
            raise ValueError(f"No rule converts {self.name} settings to {name}: give {name}'s learning rate "
                             f"(and weight decay) explicitly, e.g. `--optimizer {name} --learning-rate LR`.")
        return dataclasses.replace(self, **changes)

    def replace(self, **changes):
        """A copy with `changes` (a recipe fills in its run's step counts this way)."""
        return dataclasses.replace(self, **changes)

    def describe(self):
        """One sentence for a model card: `Lion (lr 6.67e-05, betas 0.9/0.99, weight decay
        0.03, 500-step warm-up, then constant)`."""
        return describe(self.to_dict())

    def to_dict(self):
        """The settings as they go into `metadata.json` and the model card."""
        return {**dataclasses.asdict(self), "warmup_steps": self.warmup}


def resolve(default, choice=None):
    """The settings a recipe trains with. `default` is its `OptimizerSettings`, or a dict
    `{name: OptimizerSettings}` of the settings it states for each optimizer (the first is
    its default). `choice` (what `zoo train --optimizer ...` passes) is None, an optimizer
    name, or a dict of fields (`{"name": "lion", "learning_rate": 3e-5}`): the named
    optimizer's stated settings, else the default's converted by Lion's rule
    (`OptimizerSettings.switch`), then the explicit fields replaced."""
    stated = default if isinstance(default, dict) else {default.name: default}
    default = next(iter(stated.values()))
    if choice is None:
        return default
    if isinstance(choice, OptimizerSettings):
        return choice
    if isinstance(choice, str):
        choice = {"name": choice}
    if not isinstance(choice, dict):
        raise TypeError(f"`optimizer` must be a name, a dict of settings or OptimizerSettings; received {choice!r}.")
    unknown = sorted(set(choice) - {f.name for f in dataclasses.fields(OptimizerSettings)})
    if unknown:
        raise ValueError(f"Unknown optimizer setting(s) {', '.join(unknown)}; known: "
                         f"{', '.join(f.name for f in dataclasses.fields(OptimizerSettings))}.")
    overrides = dict(choice)
    name = overrides.pop("name", default.name)
    if name in stated:
        return dataclasses.replace(stated[name], **overrides)
    try:
        settings = default.switch(name)
    except ValueError:
        if "learning_rate" not in overrides:
            raise
        settings = dataclasses.replace(default, name=name, beta_1=None, beta_2=None)
    return dataclasses.replace(settings, **overrides)


def optimizer(name="adam", learning_rate=1e-3, **settings):
    """A Keras optimizer from the factory: `optimizer("lion", 1e-4, weight_decay=0.1,
    warmup_steps=1000, decay_steps=50_000)`. See `OptimizerSettings` for the settings."""
    return OptimizerSettings(name, learning_rate, **settings).build()


def describe(settings):
    """A model card's sentence for `OptimizerSettings.to_dict()` (as checkpoints record it
    in `metadata.json`), or for `{network: that dict}` of a model with several optimizers."""
    if "name" not in settings:  # one per network
        texts = {network: describe(s) for network, s in settings.items()}
        if len(set(texts.values())) == 1:
            names = [f"the {network}" for network in texts]
            return f"{next(iter(texts.values()))}, one each for {', '.join(names[:-1])} and {names[-1]}"
        return "; ".join(f"{network}: {text}" for network, text in texts.items())
    name = settings["name"]
    label = {"lion": "Lion", "adamw": "AdamW", "adam": "Adam", "sgd": "SGD"}[name]
    parts = [f"lr {settings['learning_rate']:.3g}"]
    if name == "sgd":
        parts.append(f"{'Nesterov ' if settings.get('nesterov') else ''}momentum {settings.get('momentum', 0.9):g}")
    else:
        default = LION_BETAS if name == "lion" else ADAM_BETAS
        betas = (settings.get("beta_1") or default[0], settings.get("beta_2") or default[1])
        parts.append(f"betas {betas[0]:g}/{betas[1]:g}")
    if settings.get("weight_decay"):
        parts.append(f"weight decay {settings['weight_decay']:.3g}")
    warmup, decay = settings.get("warmup_steps") or 0, settings.get("decay_steps")
    if warmup:
        parts.append(f"{warmup:,}-step linear warm-up")
    if decay:
        final = settings.get("final_fraction") or 0.0
        parts.append(f"cosine over {decay:,} steps to {f'{final:g} x lr' if final else '0'}")
    elif warmup:
        parts.append("then constant")
    if settings.get("clipnorm"):
        parts.append(f"clipnorm {settings['clipnorm']:g}")
    return f"{label} ({', '.join(parts)})"
