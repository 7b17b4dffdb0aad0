"""The backbones through the shared harness, and the weight layout that bundled
checkpoints pin: `MLPClassifier` is an `MLP`, `UNetEncoder` the down path of a `UNet`."""

import json
import tempfile
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
from harness import check_layer

from zoo.networks import MLP, MLPClassifier, UNet, UNetEncoder

WEIGHTS = Path(__file__).parent.parent / "zoo" / "weights"


def _images(rng, shape=(2, 8, 8, 4)):
    return rng.normal(size=shape).astype("float32")


def test_unet(rng):
    kwargs = dict(base_channels=8, channel_mults=(1, 2), num_res_blocks=1, attention_resolutions=(4,),
                  groups=4, dropout=0.1)
    check_layer(UNet, kwargs, (_images(rng, (2, 8, 8, 3)), rng.uniform(size=(2,)).astype("float32")),
                (2, 8, 8, 3))


def test_unet_class_conditional_and_fourier(rng):
    kwargs = dict(base_channels=8, channel_mults=(1, 2), num_res_blocks=1, attention_resolutions=(),
                  groups=4, num_classes=3, embedding="fourier", embedding_scale=16.0)
    layer = check_layer(UNet, kwargs, (_images(rng, (2, 8, 8, 1)), rng.uniform(size=(2,)).astype("float32"),
                                       np.array([0, 2], "int32")), (2, 8, 8, 1))
    # Labels change the output once the zero-initialized convs are not zero any more.
    layer.set_weights([rng.normal(size=w.shape).astype("float32") * 0.2 for w in layer.get_weights()])
    x, t = _images(rng, (2, 8, 8, 1)), np.full((2,), 0.3, "float32")
    a = keras.ops.convert_to_numpy(layer(x, t, np.array([0, 0], "int32")))
    b = keras.ops.convert_to_numpy(layer(x, t, np.array([1, 1], "int32")))
    assert np.abs(a - b).max() > 1e-4


def test_unet_rejects_bad_sizes(rng):
    with pytest.raises(ValueError, match="divisible"):
        UNet(base_channels=8, channel_mults=(1, 2, 2), groups=4)(_images(rng, (1, 6, 6, 3)), np.zeros(1, "float32"))
    with pytest.raises(ValueError, match="embedding"):
        UNet(embedding="learned")


def test_mlp(rng):
    check_layer(MLP, {"hidden": 16, "depth": 2, "embedding_dim": 8},
                (rng.normal(size=(4, 2)).astype("float32"), rng.uniform(size=(4,)).astype("float32")), (4, 2))
    check_layer(MLP, {"hidden": 16, "depth": 1, "embedding_dim": 8, "num_classes": 2, "output_dim": 5},
                (rng.normal(size=(4, 3)).astype("float32"), rng.uniform(size=(4,)).astype("float32"),
                 np.array([0, 1, 2, 1], "int32")), (4, 5))


def test_mlp_classifier_is_an_mlp_without_labels(rng):
    # Its `num_classes` counts logits: no class embedding, and no `output_dim` in its config,
    # which must stay what the bundled checkpoint's config.json holds.
    network = json.loads((WEIGHTS / "noisy-classifier-moons" / "config.json").read_text())["config"]["network"]
    layer = MLPClassifier.from_config(network["config"])
    layer(rng.normal(size=(3, 2)).astype("float32"), np.ones((3,), "float32"))
    assert layer.label_embed is None and layer.compute_output_shape((3, 5)) == (3, 2)
    assert layer.get_config() == network["config"]


def _weight_shapes(layer):
    """`{path: shape}` of the datasets a `.weights.h5` file holds for `layer`, relative to it."""
    holder = keras.Model()
    holder.network = layer
    holder.built = True
    path = Path(tempfile.mkdtemp()) / "network.weights.h5"
    holder.save_weights(path)
    return _network_shapes(path)


def _network_shapes(path):
    """`{path: shape}` below `layers/<network>/` in a model's `.weights.h5` file."""
    shapes = {}
    with h5py.File(path, "r") as file:
        file.visititems(lambda name, obj: shapes.__setitem__(name.split("/", 2)[2], obj.shape)
                        if isinstance(obj, h5py.Dataset) and name.startswith("layers/") else None)
    return shapes


def _bundled_networks():
    for path in sorted(WEIGHTS.glob("*/config.json")):
        network = json.loads(path.read_text())["config"].get("network")
        if network and network["registered_name"] in ("zoo>MLP", "zoo>MLPClassifier", "zoo>UNet"):
            yield pytest.param(path.parent, network, id=path.parent.name)


@pytest.mark.parametrize("checkpoint, network", list(_bundled_networks()))
def test_weight_paths_match_the_bundled_checkpoints(checkpoint, network):
    # `.weights.h5` addresses weights by attribute names and list positions: a network
    # refactor that renames either orphans every published checkpoint.
    layer = keras.saving.deserialize_keras_object(network)  # built from its build_config
    bundled = _network_shapes(checkpoint / "model.weights.h5")
    assert bundled and _weight_shapes(layer) == bundled


def test_unet_encoder_is_the_unet_down_path():
    # One construction: the encoder holds the U-Net's time embedding and down path, weight
    # for weight under the same paths, plus its own head.
    shared = dict(base_channels=8, channel_mults=(1, 2, 2), num_res_blocks=2, attention_resolutions=(4,), groups=4)
    unet, encoder = UNet(**shared), UNetEncoder(num_classes=3, **shared)
    unet.build((None, 16, 16, 3))
    encoder.build((None, 16, 16, 3))
    down_path = ("time_embed/", "time_mlp/", "conv_in/", "down/", "downsample/")
    unet_shapes = {path: shape for path, shape in _weight_shapes(unet).items() if path.startswith(down_path)}
    encoder_shapes = _weight_shapes(encoder)
    assert unet_shapes == {path: shape for path, shape in encoder_shapes.items() if path.startswith(down_path)}
    assert sorted(set(encoder_shapes) - set(unet_shapes)) == ["head/vars/0", "head/vars/1",
                                                              "norm_out/vars/0", "norm_out/vars/1"]
    assert [len(pair) for pair in encoder.down] == [2] * 6 and len(encoder.downsample) == 2
