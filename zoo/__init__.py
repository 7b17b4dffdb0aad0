"""zoo: generative models for Keras 3 on JAX, TensorFlow and PyTorch, with pretrained
checkpoints.

    import zoo
    zoo.list_models()                        # registered pretrained checkpoints
    model = zoo.load("rectified-flow-moons") # a trained keras.Model
    x = model.sample(16, steps=50, seed=0)
    zoo.create("rectified_flow_small")       # an untrained model from a named config
"""

from zoo.version import __version__  # noqa: F401
from zoo import datasets, metrics  # noqa: E402  (pure NumPy, no backend needed)
from zoo import optimizers  # noqa: E402,F401  (the optimizer factory: Lion, AdamW, Adam, SGD)
from zoo import layers, networks  # noqa: E402  (registers the layer classes)
from zoo import models  # noqa: E402  (registers the families and their configs)
from zoo.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from zoo.pretrained import list_models, load, push_to_hub  # noqa: E402
from zoo.registry import create, list_configs  # noqa: E402

__all__ = ["create", "datasets", "layers", "list_configs", "list_models", "load", "load_checkpoint",
           "metrics", "models", "networks", "push_to_hub", "save_checkpoint"]
