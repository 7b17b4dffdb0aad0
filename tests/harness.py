"""One call per component: `check_layer` (JSON config round trip, eager call with
shape and dtype checks, one `fit` step) and `check_model` (plus save/load equality)."""

import json

import keras
import numpy as np
from keras import ops

import zoo


class _LayerModel(keras.Model):
    """Fits a layer on loss = mean((output - 1)^2): not mean(output^2), whose gradient
    vanishes for layers with a zero-initialized output (U-Net, attention)."""

    def __init__(self, layer, **kwargs):
        # An explicit name: the default "__layer_model" is not a valid TensorFlow scope.
        super().__init__(name="layer_model", **kwargs)
        self.layer = layer

    def call(self, inputs, training=False):
        return self.layer(*[inputs[str(i)] for i in range(len(inputs))], training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return ops.mean(ops.square(y_pred - 1.0))


def _call(layer, inputs):
    try:
        return layer(*inputs, training=False)
    except TypeError:  # layers whose call has no `training` argument
        return layer(*inputs)


def check_layer(layer_cls, init_kwargs, inputs, expected_shape, fit=True):
    """Check a layer: build and call, config round trip through JSON, and one fit step.

    Args:
        layer_cls: the layer class.
        init_kwargs: dict of constructor arguments.
        inputs: tuple of NumPy arrays, the positional call arguments.
        expected_shape: the output shape.
        fit: run one SGD step and check that the trainable weights move.
    """
    layer = layer_cls(**init_kwargs)
    output = _call(layer, inputs)
    assert tuple(output.shape) == tuple(expected_shape), (output.shape, expected_shape)
    assert keras.backend.standardize_dtype(output.dtype) == "float32", output.dtype
    assert np.all(np.isfinite(ops.convert_to_numpy(output)))

    config = json.loads(json.dumps(layer.get_config()))
    clone = layer_cls.from_config(config)
    _call(clone, inputs)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(ops.convert_to_numpy(_call(clone, inputs)),
                               ops.convert_to_numpy(output), rtol=1e-6, atol=1e-6)
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    assert serialized["registered_name"] == f"zoo>{layer_cls.__name__}"
    assert type(keras.saving.deserialize_keras_object(serialized)) is layer_cls

    if fit and layer.trainable_weights:
        model = _LayerModel(layer)
        before = [ops.convert_to_numpy(w).copy() for w in layer.trainable_weights]
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        batch = {str(i): x for i, x in enumerate(inputs)}
        history = model.fit(batch, batch_size=len(inputs[0]), epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])
        moved = [not np.allclose(b, ops.convert_to_numpy(w)) for b, w in zip(before, layer.trainable_weights)]
        assert any(moved), "no trainable weight changed after one fit step"
    return layer


def check_model(model, data, tmp_path, sample_kwargs):
    """Check a family model: one fit step, then checkpoint save/load gives equal samples.

    Args:
        model: a zoo family model.
        data: model-space training batch (NumPy).
        tmp_path: directory for the checkpoint.
        sample_kwargs: arguments of `model.sample` that make it deterministic (noise=...).
    """
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(data, batch_size=len(data), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    expected = model.sample(**sample_kwargs)
    path = zoo.save_checkpoint(model, tmp_path / "checkpoint")
    loaded = zoo.load(path)
    np.testing.assert_allclose(loaded.sample(**sample_kwargs), expected, atol=1e-6)
    return loaded
