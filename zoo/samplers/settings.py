"""Sampler settings as users write them on the command line and in checkpoints.json:
`SOLVER[:STEPS][+wGUIDANCE][@NUM]`, e.g. `euler:10`, `rk45@200`, `heun:18+w2@1000`."""

import dataclasses
import re


@dataclasses.dataclass(frozen=True)
class SamplerSetting:
    """One way to sample: `solver`, `steps` (None for rk45), an optional classifier-free
    guidance scale w (class-conditional models; None: w = 1, plain conditional) and an
    optional sample count overriding the evaluation's `num`. Written `euler:10`, `rk45`,
    `rk45@200`, `heun:18+w2@1000` (w = 2; `+w0` samples the unconditional denoiser)."""

    solver: str
    steps: int | None = None
    num: int | None = None
    guidance: float | None = None

    @classmethod
    def parse(cls, text):
        match = re.fullmatch(r"\s*([a-z0-9_-]+)(?::(\d+))?(?:\+w(\d+(?:\.\d+)?))?(?:@(\d+))?\s*", str(text))
        if match is None:
            raise ValueError(f"Bad sampler setting {text!r}: write SOLVER[:STEPS][+wGUIDANCE][@NUM], e.g. "
                             "'euler:10', 'rk45@200' or 'heun:18+w2@1000'.")
        solver, steps, guidance, num = match.groups()
        steps, num = (int(steps) if steps else None), (int(num) if num else None)
        if (steps is not None and steps < 1) or (num is not None and num < 2):
            raise ValueError(f"Bad sampler setting {text!r}: steps must be >= 1 and @NUM >= 2.")
        return cls(solver, steps, num, None if guidance is None else float(guidance))

    @property
    def label(self):
        label = self.solver if self.steps is None else f"{self.solver} {self.steps}"
        return label if self.guidance is None else f"{label} w {self.guidance:g}"

    def __str__(self):
        return (self.solver + (f":{self.steps}" if self.steps else "")
                + (f"+w{self.guidance:g}" if self.guidance is not None else "") + (f"@{self.num}" if self.num else ""))
