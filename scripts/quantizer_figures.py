"""The README's picture of the 2-D quantized autoencoders, drawn with Pillow.

    python scripts/quantizer_figures.py scripts/figures/quantizers-moons.png fsq-moons vq-moons

One panel per model (a registered name or a checkpoint directory): the plane coloured by
the code each point of it gets (encode), 2,000 moons test points on top, and each code's
decoded point (decode): a black dot for codes the test points use, a grey ring for the
others.
"""

import sys

import numpy as np
from PIL import Image, ImageDraw

import zoo

SIZE, EXTENT = 360, 4.2  # pixels per panel; the panel spans [-EXTENT, EXTENT]^2 around the data's centre


def _palette(num_codes):
    rng = np.random.default_rng(0)  # neighbouring codes get unrelated pale colours
    return (rng.uniform(150, 245, (num_codes, 3))).astype(np.uint8)


def cells(model, points, centre):
    axis = (np.arange(SIZE) + 0.5) / SIZE * 2 * EXTENT - EXTENT
    xx, yy = np.meshgrid(axis + centre[0], -axis + centre[1])
    codes = model.encode(np.stack([xx.ravel(), yy.ravel()], 1).astype("float32"), batch_size=4096)
    image = Image.fromarray(_palette(model.num_codes)[codes.reshape(SIZE, SIZE)])
    draw = ImageDraw.Draw(image)

    def pixel(p):
        return ((p[0] - centre[0] + EXTENT) / (2 * EXTENT) * SIZE, (centre[1] - p[1] + EXTENT) / (2 * EXTENT) * SIZE)

    for p in points:
        draw.point(pixel(p), fill=(60, 60, 60))
    used = set(model.encode(points).tolist())
    for code, p in enumerate(model.decode(np.arange(model.num_codes))):
        x, y = pixel(p)
        if code in used:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill="black")
        else:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], outline=(120, 120, 120))
    return image, len(used)


def main(out, *names):
    points, _ = zoo.datasets.load("moons", "test", num=2000)
    centre = points.mean(0)
    canvas = Image.new("RGB", (len(names) * (SIZE + 10), SIZE + 22), "white")
    draw = ImageDraw.Draw(canvas)
    for index, name in enumerate(names):
        model = zoo.load(name)
        panel, used = cells(model, points, centre)
        canvas.paste(panel, (index * (SIZE + 10), 22))
        draw.text((index * (SIZE + 10) + 4, 4), f"{name}: {used} of {model.num_codes} codes used", fill="black")
    canvas.save(out)


if __name__ == "__main__":
    main(*sys.argv[1:])
