"""Named backbone sizes, defined once and shared by every family's configs
(`<family>_<size>` in `zoo.list_configs()`), and `backbone` that builds one."""

from zoo.networks.mlp import MLP
from zoo.networks.unet import UNet

UNET = {
    # Tests and smoke runs (16x16x3 data).
    "tiny": dict(base_channels=16, channel_mults=(1, 2), num_res_blocks=1, attention_resolutions=(8,), groups=8),
    # Sized for 2 CPU cores: ~30 CIFAR images/s training on PyTorch (64 channels: ~10/s); 1.6M.
    "small": dict(base_channels=32, channel_mults=(1, 2, 2), num_res_blocks=2, attention_resolutions=(8,),
                  dropout=0.1, groups=8),
    # 28x28x1 digits on 2 CPU cores: 16 channels, mults 1-2-4, 1 block, attention at 7x7; 0.69M.
    "mnist": dict(base_channels=16, channel_mults=(1, 2, 4), num_res_blocks=1, attention_resolutions=(7,), groups=8),
    # CIFAR-10 on one CPU thread (~16 images/s training): "small" at 24 channels, without
    # dropout (a few passes over the data cannot overfit); 0.9M.
    "cpu_thread": dict(base_channels=24, channel_mults=(1, 2, 2), num_res_blocks=2, attention_resolutions=(8,),
                       dropout=0.0, groups=8),
    # Trained on a lent GPU, sampled on CPUs: 14 MiB of float32 weights (the bundle's
    # 16 MiB cap) and ~2.2x the small model's sampling cost; 3.6M.
    "medium": dict(base_channels=48, channel_mults=(1, 2, 2), num_res_blocks=2, attention_resolutions=(8,),
                   dropout=0.1, groups=8),
    # DDPM++-size for CIFAR-10 on a GPU; ~36M.
    "base": dict(base_channels=128, channel_mults=(1, 2, 2, 2), num_res_blocks=2, dropout=0.1,
                 attention_resolutions=(16,), num_heads=1),
}

# Quantized autoencoders (`zoo.networks.autoencoder`): the encoder and decoder share these.
AUTOENCODER = {
    # Tests (16x16x3 -> 4x4 codes).
    "tiny": dict(channels=16, num_downsamples=2, num_res_blocks=1, res_channels=8),
    # 32x32 images -> 8x8 codes on 2 shared CPU cores: VQ-VAE's CIFAR network at a quarter
    # of its width (16M multiply-adds per image forward).
    "small": dict(channels=64, num_downsamples=2, num_res_blocks=2, res_channels=32),
}

MLP_SIZES = {
    # 2-D toy data (moons, 8 Gaussians ...).
    "toy": dict(hidden=128, depth=3, embedding_dim=32),
}

# GANs (`zoo.models.gan`): DCGAN generator/critic width, conv kernel, latent width and the
# BiGAN joint critic's hidden width; "mlp" is the 2-D toy pair (hidden, depth).
DCGAN = {
    "tiny": dict(width=8, kernel_size=4, latent_dim=16, joint_hidden=32),  # tests
    # 32x32x3 on 2 CPU cores: generator 0.43M, critic 0.17M.
    "small": dict(width=32, kernel_size=4, latent_dim=128, joint_hidden=256),
    "mnist": dict(width=32, kernel_size=4, latent_dim=64, joint_hidden=256),
    "mlp": dict(hidden=128, depth=3, latent_dim=8),
}

BACKBONES = {"unet": UNet, "mlp": MLP}


def backbone(spec):
    """Build a backbone from a config's `(kind, kwargs)` spec, e.g. `("unet", UNET["small"])`."""
    kind, kwargs = spec
    return BACKBONES[kind](**kwargs)
