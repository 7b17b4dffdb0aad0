"""InfoNCE (van den Oord et al. 2018, arXiv:1807.03748, eq. 4): classify the one
positive among N candidates (N - 1 negatives) by their scores. Training only.

With positives drawn from p(x, y) and negatives from p(y), log N - InfoNCE is a lower
bound on I(x; y) (Poole et al. 2019, arXiv:1905.06922, eq. 12) that can never exceed
log N; it is tight for large N with the optimal critic f(x, y) = log p(y | x) / p(y) + const.
"""

import math

from keras import ops


def info_nce(scores, positives):
    """InfoNCE loss per row: `-log softmax(scores)[positive]`.

    Args:
        scores: `(M, N)` critic values f(x_m, y_n) of M queries against N candidates.
        positives: `(M,)` int. The column of each query's positive.

    Returns:
        `(M,)` losses in nats.
    """
    scores = ops.cast(scores, "float32")
    positive = ops.take_along_axis(scores, ops.cast(positives, "int32")[:, None], axis=1)[:, 0]
    return ops.logsumexp(scores, axis=1) - positive


def info_nce_diagonal(scores):
    """InfoNCE of a square `(N, N)` batch whose positives are on the diagonal (pairs
    `(x_i, y_i)`, each `y_j`, j != i, a negative of `x_i`); `(N,)` losses."""
    return info_nce(scores, ops.arange(ops.shape(scores)[0]))


def mutual_information_bound(loss, num_candidates):
    """The InfoNCE bound I(x; y) >= log N - loss, in nats."""
    return math.log(num_candidates) - loss


def cpc_losses(z, predictions, offsets):
    """CPC's InfoNCE, one mean loss per offset k: each prediction `W_k c[b, i, j]` scores
    every patch code of the batch, and its positive is `z[b, i + k, j]` (the other
    B * rows * cols - 1 codes, of the same image or another, are the negatives).

    Args:
        z: `(B, rows, cols, d)` patch codes.
        predictions: `(B, rows, cols, len(offsets), d)` from the context network.
        offsets: tuple of int. Rows ahead of each prediction.

    Returns:
        `((len(offsets),) losses, N)`: N = B * rows * cols candidates per query, as a
        float32 scalar tensor.
    """
    rows, cols, dim = z.shape[1:]
    candidates = ops.reshape(ops.cast(z, "float32"), (-1, dim))
    index = ops.reshape(ops.arange(ops.shape(candidates)[0]), (-1, rows, cols))
    losses = []
    for slot, k in enumerate(offsets):
        queries = ops.reshape(ops.cast(predictions[:, :rows - k, :, slot], "float32"), (-1, dim))
        positives = ops.reshape(index[:, k:], (-1,))
        losses.append(ops.mean(info_nce(ops.matmul(queries, ops.transpose(candidates)), positives)))
    return ops.stack(losses), ops.cast(ops.shape(candidates)[0], "float32")
