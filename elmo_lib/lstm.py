"""The biLM's LSTM: ``LSTMP`` (LSTM with projection and clipping) and its fast recurrence.

- ``LSTMP``       one direction of one layer, a serializable Keras 3 layer (Sak et al., 2014)
- ``run_lstmps``  several LSTMP layers of equal sizes (the biLM's two directions) in ONE loop

The recurrence is a ``tf.while_loop`` (TensorFlow backend) with a hand-written gradient
(back-propagation through time that leaves the weight gradients to two large matmuls), optionally
XLA-compiled on its own. ``elmo_lib.layers`` re-exports both names. Introduced in lesson 03.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf
from keras import ops


def _check_positive(name: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer, received {name}={value!r}")


@keras.saving.register_keras_serializable(package="elmo_lib")
class LSTMP(keras.layers.Layer):
    """One direction of one layer of an LSTM with a projection (LSTMP) and clipping.

    For each step, with gates in Keras order ``i, f, g, o``::

        z   = x_t W + h_{t-1} R + b
        c_t = clip(sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g), -cell_clip, cell_clip)
        h_t = clip((sigmoid(o) * tanh(c_t)) P, -proj_clip, proj_clip)

    ``h_t`` (size ``projection_dim``) is both the output and the recurrent state. The input part
    ``x_t W + b`` is computed for all steps as one matmul before the recurrence; the recurrence is a
    ``tf.while_loop`` with a hand-written gradient (see :func:`run_lstmps`, which also runs several
    LSTMP layers in one loop). The state starts at zeros on every call (no state carried between
    batches), so outputs are deterministic.

    With a ``mask``, masked steps may be anywhere (left padding from ``keras.utils.pad_sequences``'
    default, gaps): the real steps run in order from a zero state, as if the padding were at the
    end, and masked outputs are zero. Without a mask every step is real. To run right-to-left, reverse each sequence
    within its length first (the biLM does this before :func:`run_lstmps`).

    Args:
        units: LSTM cell size ``H``.
        projection_dim: projection / output size ``P``.
        cell_clip: clip value for the cell state; ``None`` for no clipping.
        proj_clip: clip value for the projected output; ``None`` for no clipping.

    Call arguments:
        inputs: float tensor ``[batch, time, features]``.
        mask: optional bool tensor ``[batch, time]``.

    Returns:
        float tensor ``[batch, time, projection_dim]``.

    Example:
        >>> out = LSTMP(units=8, projection_dim=4)(keras.ops.ones((2, 5, 3)))  # [2, 5, 4]

    Reference: Sak et al. 2014, *LSTM RNN architectures for large scale acoustic modeling*;
    Józefowicz et al. 2016. Introduced in lesson 03.
    """

    def __init__(self, units: int, projection_dim: int, cell_clip: float | None = 3.0,
                 proj_clip: float | None = 3.0, **kwargs):
        super().__init__(**kwargs)
        _check_positive("units", units)
        _check_positive("projection_dim", projection_dim)
        for name, value in (("cell_clip", cell_clip), ("proj_clip", proj_clip)):
            if value is not None and not value > 0:
                raise ValueError(f"`{name}` must be positive or None, received {name}={value!r}")
        self.units = units
        self.projection_dim = projection_dim
        self.cell_clip = None if cell_clip is None else float(cell_clip)
        self.proj_clip = None if proj_clip is None else float(proj_clip)
        self.supports_masking = True

    def build(self, input_shape):
        features = input_shape[-1]
        if features is None:
            raise ValueError(f"LSTMP needs a known feature size, received input_shape={input_shape}")
        hidden = self.units
        self.kernel = self.add_weight(name="kernel", shape=(features, 4 * hidden),
                                      initializer="glorot_uniform")
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel",
                                                shape=(self.projection_dim, 4 * hidden),
                                                initializer="orthogonal")

        def bias_init(shape, dtype=None):  # forget-gate bias 1 (as TF's forget_bias=1.0)
            return ops.concatenate([ops.zeros((hidden,)), ops.ones((hidden,)),
                                    ops.zeros((2 * hidden,))])

        self.bias = self.add_weight(name="bias", shape=(4 * hidden,), initializer=bias_init)
        self.projection_kernel = self.add_weight(name="projection_kernel",
                                                 shape=(hidden, self.projection_dim),
                                                 initializer="glorot_uniform")

    def call(self, inputs, mask=None):
        # The input part of every gate for all steps is one big matmul, outside the loop; the
        # recurrence and its gradient are in `_lstmp_recurrence`.
        if mask is None:
            return run_lstmps([self], [inputs])[0]
        # Masked steps may sit anywhere: run the real steps moved to the front, put them back.
        where = positions_after_compaction(mask)
        order = ops.argsort(where, axis=1)
        outputs = run_lstmps([self], [ops.take_along_axis(inputs, order[..., None], axis=1)],
                             ops.take_along_axis(ops.cast(mask, "bool"), order, axis=1))[0]
        return ops.take_along_axis(outputs, where[..., None], axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.projection_dim)

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        return {**super().get_config(), "units": self.units, "projection_dim": self.projection_dim,
                "cell_clip": self.cell_clip, "proj_clip": self.proj_clip}


def _clip(x, bound):
    return x if bound is None else tf.clip_by_value(x, -bound, bound)


def _clip_gradient(x, bound, grad):
    """The gradient of ``clip_by_value``: passes where ``-bound <= x <= bound``, zero elsewhere."""
    if bound is None:
        return grad
    return tf.where((x >= -bound) & (x <= bound), grad, tf.zeros_like(grad))


def _recurrence_forward(projected, recurrent_kernel, projection_kernel, cell_clip, proj_clip,
                        save: bool = True, initial_state=None, return_state: bool = False):
    """The forward loop. Returns outputs and, with ``save``, what the hand-written gradient needs
    (gates, cells, projections, ``m``), all ``[T, N, B, *]``; without it only ``(outputs,)``.

    ``initial_state`` ``(h0 [N, B, P], c0 [N, B, H])`` replaces the zero state; ``return_state``
    appends the final ``(h, c)`` (after the last step, padding steps included) to the tuple."""
    dtype = projected.dtype
    steps = tf.shape(projected)[0]
    state_shape = tf.shape(projected)[1:3]
    hidden, proj = tf.shape(projection_kernel)[1], tf.shape(projection_kernel)[2]

    def array():
        return tf.TensorArray(dtype, size=steps)

    inputs = array().unstack(projected)

    def step(t, h, c, hs, *saved):
        z = inputs.read(t) + tf.matmul(h, recurrent_kernel)
        zi, zf, zg, zo = tf.split(z, 4, axis=-1)
        i, f, g, o = tf.sigmoid(zi), tf.sigmoid(zf), tf.tanh(zg), tf.sigmoid(zo)
        cell = f * c + i * g  # before clipping
        c = _clip(cell, cell_clip)
        m = o * tf.tanh(c)
        p = tf.matmul(m, projection_kernel)  # before clipping
        h = _clip(p, proj_clip)
        if saved:
            gates_ta, cells_ta, projs_ta, ms_ta = saved
            saved = (gates_ta.write(t, tf.concat([i, f, g, o], -1)), cells_ta.write(t, cell),
                     projs_ta.write(t, p), ms_ta.write(t, m))
        return (t + 1, h, c, hs.write(t, h), *saved)

    if initial_state is None:
        h0 = tf.zeros(tf.concat([state_shape, [proj]], 0), dtype)
        c0 = tf.zeros(tf.concat([state_shape, [hidden]], 0), dtype)
    else:
        h0, c0 = (tf.cast(x, dtype) for x in initial_state)
    arrays = (array(), array(), array(), array(), array()) if save else (array(),)
    loop = tf.while_loop(lambda t, *_: t < steps, step, (0, h0, c0, *arrays),
                         maximum_iterations=steps)
    stacked = tuple(ta.stack() for ta in loop[3:])  # outputs[, gates, cells, projs, ms]
    return (*stacked, loop[1], loop[2]) if return_state else stacked


def _recurrence_backward(d_outputs, outputs, gates, cells, projs, ms, recurrent_kernel,
                         projection_kernel, h0, c0, cell_clip, proj_clip):
    """Back-propagation through time: gradients of the projected inputs and the two kernels.

    ``h0``/``c0`` is the state the forward loop started from (no gradient flows into it: truncated
    back-propagation, as bilm-tf's carried state)."""
    dtype = d_outputs.dtype
    steps = tf.shape(d_outputs)[0]

    def array():
        return tf.TensorArray(dtype, size=steps)

    gates_ta, cells_ta = array().unstack(gates), array().unstack(cells)
    projs_ta, d_out_ta = array().unstack(projs), array().unstack(d_outputs)
    previous_cells = array().unstack(  # c_{t-1} after clipping, c0 before the first step
        tf.concat([c0[None], _clip(cells[:-1], cell_clip)], 0))
    recurrent_t = tf.transpose(recurrent_kernel, (0, 2, 1))
    projection_t = tf.transpose(projection_kernel, (0, 2, 1))

    def back(k, dh, dc, dz_ta, dp_ta):
        t = steps - 1 - k
        dp = _clip_gradient(projs_ta.read(t), proj_clip, d_out_ta.read(t) + dh)
        dm = tf.matmul(dp, projection_t)
        i, f, g, o = tf.split(gates_ta.read(t), 4, axis=-1)
        cell = cells_ta.read(t)
        tanh_c = tf.tanh(_clip(cell, cell_clip))
        dcell = _clip_gradient(cell, cell_clip, dc + dm * o * (1.0 - tanh_c * tanh_c))
        dz = tf.concat([dcell * g * i * (1.0 - i), dcell * previous_cells.read(t) * f * (1.0 - f),
                        dcell * i * (1.0 - g * g), dm * tanh_c * o * (1.0 - o)], -1)
        return k + 1, tf.matmul(dz, recurrent_t), dcell * f, dz_ta.write(t, dz), dp_ta.write(t, dp)

    loop = tf.while_loop(lambda k, *_: k < steps, back,
                         (0, tf.zeros_like(outputs[0]), tf.zeros_like(cells[0]), array(), array()),
                         maximum_iterations=steps)
    dz, dp = loop[3].stack(), loop[4].stack()
    h_previous = tf.concat([h0[None], outputs[:-1]], 0)
    d_recurrent = tf.einsum("tnbp,tnbg->npg", h_previous, dz)
    d_projection = tf.einsum("tnbh,tnbp->nhp", ms, dp)
    return dz, d_recurrent, d_projection


_COMPILED_RECURRENCES: dict = {}


def _recurrence_functions(cell_clip, proj_clip, compiled: bool):
    """The forward and backward loops for these clips, XLA-compiled ``tf.function``s if asked."""
    key = (cell_clip, proj_clip, compiled)
    if key not in _COMPILED_RECURRENCES:
        def forward(projected, recurrent_kernel, projection_kernel, h0, c0):
            return _recurrence_forward(projected, recurrent_kernel, projection_kernel,
                                       cell_clip, proj_clip, initial_state=(h0, c0))

        def backward(*tensors):
            return _recurrence_backward(*tensors, cell_clip=cell_clip, proj_clip=proj_clip)

        if compiled:
            forward = tf.function(forward, jit_compile=True, reduce_retracing=True)
            backward = tf.function(backward, jit_compile=True, reduce_retracing=True)
        _COMPILED_RECURRENCES[key] = forward, backward
    return _COMPILED_RECURRENCES[key]


def _lstmp_recurrence(projected, recurrent_kernel, projection_kernel, cell_clip, proj_clip,
                      compiled: bool = False, training: bool = True, initial_state=None):
    """The LSTMP recurrence of N independent cells at once, with a hand-written gradient.

    ``projected`` is ``x_t W + b`` for all steps, time-major ``[T, N, B, 4H]`` (N cells, e.g. the
    forward and backward direction of one layer); ``recurrent_kernel`` ``[N, P, 4H]``,
    ``projection_kernel`` ``[N, H, P]``. Returns the outputs ``h_t`` ``[T, N, B, P]`` and the final
    cell state ``c_T`` ``[N, B, H]`` (the final ``h`` is ``outputs[-1]``).

    Why not let TensorFlow differentiate the ``tf.while_loop``: its gradient adds ``h^T dz`` into a
    ``[P, 4H]`` accumulator (and ``m^T dp`` into ``[H, P]``) at every step. Here the backward loop
    only carries ``dh``/``dc`` back through time (two small matmuls per step) and stores ``dz_t`` and
    ``dp_t``; the weight gradients are then two large matmuls over all ``T*B`` rows. Batching N
    cells in one loop halves the loop iterations of the biLM. With ``compiled=True`` both loops are
    XLA-compiled on their own (the rest of the step need not be): XLA fuses each step's element-wise
    work. That costs one compilation per input shape, so the biLM uses it for training only. The
    gradient is checked against automatic differentiation of a plain loop in the tests.

    ``initial_state`` ``(h0, c0)`` starts the loop from a carried state (zeros if None); no
    gradient flows into it (truncated back-propagation through time).

    ``training=False`` runs a lighter loop that keeps nothing for the gradient (inference: ELMo
    features); TensorFlow can still differentiate it the slow, automatic way.
    """
    if initial_state is None:
        n, batch = tf.shape(projected)[1], tf.shape(projected)[2]
        h0 = tf.zeros(tf.stack([n, batch, tf.shape(projection_kernel)[2]]), projected.dtype)
        c0 = tf.zeros(tf.stack([n, batch, tf.shape(projection_kernel)[1]]), projected.dtype)
    else:
        h0, c0 = (tf.stop_gradient(tf.cast(x, projected.dtype)) for x in initial_state)
    if not training:
        outputs, _, c_final = _recurrence_forward(
            projected, recurrent_kernel, projection_kernel, cell_clip, proj_clip, save=False,
            initial_state=(h0, c0), return_state=True)
        return outputs, c_final
    forward, backward = _recurrence_functions(cell_clip, proj_clip, compiled)

    @tf.custom_gradient
    def recurrence(projected, recurrent_kernel, projection_kernel):
        # stop_gradient: an eager GradientTape would otherwise record the loop itself as well
        # (and could not differentiate an XLA function holding TensorLists).
        saved = forward(*(tf.stop_gradient(x) for x in (projected, recurrent_kernel,
                                                         projection_kernel)), h0, c0)

        def gradient(d_outputs, d_c_final):  # the final cell state is not differentiated
            return backward(d_outputs, *saved, recurrent_kernel, projection_kernel, h0, c0)

        return (saved[0], _clip(saved[2][-1], cell_clip)), gradient

    return recurrence(projected, recurrent_kernel, projection_kernel)


def positions_after_compaction(mask):
    """For each position of ``mask [B, T]``, where it goes when every row's real steps are moved
    to the front in order and its masked steps after them: ``int32 [B, T]``, a permutation per
    row (the identity for right padding). ``argsort`` of it gathers the compacted rows; gathering
    with it puts outputs back. Used by ``LSTMP`` and ``BiLMEncoder`` (issue: pre-padding)."""
    real = ops.cast(mask, "int32")
    n_real = ops.sum(real, axis=1, keepdims=True)
    return ops.where(ops.cast(mask, "bool"), ops.cumsum(real, axis=1) - 1,
                     n_real + ops.cumsum(1 - real, axis=1) - 1)


def run_lstmps(cells: Sequence[LSTMP], inputs: Sequence, mask=None, compiled: bool = False,
               training: bool = True, initial_state=None, return_state: bool = False):
    """Run several :class:`LSTMP` layers of the same sizes, each on its own input, in ONE loop.

    The biLM runs its forward and backward layer ``k`` this way (the backward input reversed within
    each sentence). Equal to ``[cell(x, mask=mask) for cell, x in zip(cells, inputs)]``.

    For a long text cut into consecutive windows (stateful evaluation and training, as bilm-tf),
    pass the previous window's final state as ``initial_state`` and ask for ``return_state``; the
    outputs are then the same as one call on the whole text.

    Args:
        cells: built ``LSTMP`` layers with equal ``units``, ``projection_dim`` and clipping.
        inputs: one ``[batch, time, features]`` tensor per cell, all of the same shape.
        mask: optional bool ``[batch, time]``, shared by all inputs (right padding).
        compiled: XLA-compile the recurrence and its gradient (one compilation per shape; worth it
            for training steps of a fixed shape, see ``_lstmp_recurrence``).
        training: False for inference: a forward-only loop that saves nothing for the gradient.
        initial_state: ``(h [N, B, P], c [N, B, H])`` (N = number of cells) to start from instead
            of zeros. In training no gradient flows into it (truncated back-propagation through
            time: bilm-tf trains this way, carrying the state from batch to batch).
        return_state: also return the final ``(h, c)``, as ``(outputs, (h, c))``, without
            gradient. It is the state after the last time step, padded steps included: only the
            last window of a text may be padded.

    Returns:
        one ``[batch, time, projection_dim]`` tensor per cell (zero where ``mask`` is False), and
        with ``return_state`` the final state.
    """
    first = cells[0]
    for cell in cells[1:]:
        if (cell.units, cell.projection_dim, cell.cell_clip, cell.proj_clip) != (
                first.units, first.projection_dim, first.cell_clip, first.proj_clip):
            raise ValueError(f"run_lstmps needs LSTMP layers of equal sizes and clipping, "
                             f"received {first.name} and {cell.name}")
    if len(cells) != len(inputs):
        raise ValueError(f"run_lstmps: {len(cells)} layers but {len(inputs)} inputs")
    dtype = inputs[0].dtype
    projected = ops.stack([ops.einsum("btd,dg->tbg", x, ops.cast(cell.kernel, dtype))
                           + ops.cast(cell.bias, dtype) for cell, x in zip(cells, inputs)], axis=1)
    recurrent = ops.stack([ops.cast(cell.recurrent_kernel, dtype) for cell in cells])
    projection = ops.stack([ops.cast(cell.projection_kernel, dtype) for cell in cells])
    outputs, c_final = _lstmp_recurrence(projected, recurrent, projection, first.cell_clip,
                                         first.proj_clip, compiled=compiled, training=training,
                                         initial_state=initial_state)
    state = (tf.stop_gradient(outputs[-1]), tf.stop_gradient(c_final))
    outputs = tf.transpose(outputs, (1, 2, 0, 3))  # [N, B, T, P]
    if mask is not None:
        outputs = outputs * ops.cast(mask, outputs.dtype)[None, :, :, None]
    outputs = [outputs[n] for n in range(len(cells))]
    return (outputs, tuple(state)) if return_state else outputs
