"""What an Sst can be: the bounds on its shape, checked before anything is built or loaded.

`ModelConfig` (training, export, the torch backend) and the model-file reader (the node,
without torch) check the same numbers here, so a model description cannot ask for a
network or an input that costs gigabytes: a resolution outside [16, 512], a channel width
over 512, more than 10 M parameters, or a layer output over 2**25 values per frame.
Plain Python, no torch.
"""

from __future__ import annotations

from skd_ros.quoting import shown

MIN_RESOLUTION = 16  # two 2x poolings and two 2x up-samplings need a multiple of 4, >= 16
MAX_RESOLUTION = 512  # the paper's largest is 256; a 512 input is 4x its cost
MAX_WIDTH = 512  # channels of one layer; the demo network's widest has 128
MAX_KERNEL = 15
MAX_PARAMETERS = 10_000_000  # the demo network has 0.3 M
MAX_ACTIVATION = 1 << 25  # values of one layer's output per frame (128 MiB as float32)


def is_int(value: object) -> bool:
    """An int that is not a bool (JSON and YAML `true` are ints to Python)."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_resolution(resolution: object) -> int:
    """`resolution` if it is an integer side Sst can have, else ValueError saying why."""
    if not is_int(resolution) or not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION:
        raise ValueError(
            f"resolution must be an integer in [{MIN_RESOLUTION}, {MAX_RESOLUTION}], "
            f"got {shown(resolution)}"
        )
    if resolution % 4:
        raise ValueError(
            f"resolution={resolution}: the input side must be a multiple of 4 "
            "(two 2x poolings and two 2x up-samplings)"
        )
    return resolution


def check_shape(
    resolution: object, first_kernels: object, stream_widths: object, head_widths: object
) -> None:
    """Refuse an Sst shape that is malformed or too large (ValueError names the field)."""
    side = check_resolution(resolution)
    kernels = _ints("first_kernels", first_kernels, 2, MAX_KERNEL)
    if any(k % 2 == 0 for k in kernels):
        raise ValueError(f"first_kernels={kernels}: need two odd kernel sizes")
    stream = _ints("stream_widths", stream_widths, 6, MAX_WIDTH)
    head = _ints("head_widths", head_widths, 4, MAX_WIDTH)
    parameters = sst_parameters(kernels, stream, head)
    if parameters > MAX_PARAMETERS:
        raise ValueError(
            f"these widths make an Sst of {parameters:,} parameters, more than the "
            f"{MAX_PARAMETERS:,} allowed (the demo network has about 300,000)"
        )
    largest = largest_activation(side, stream, head)
    if largest > MAX_ACTIVATION:
        raise ValueError(
            f"at resolution {side} these widths make a layer output of {largest:,} values per "
            f"frame, more than the {MAX_ACTIVATION:,} allowed"
        )


def sst_parameters(kernels: tuple, stream: tuple, head: tuple) -> int:
    """Trainable parameters of Sst (two streams of layers 1-8, one head of layers 9-13)."""
    w1, w2, w4, w6, w7, w8 = stream
    w9, w10, w11, w12 = head

    def conv(inputs: int, outputs: int, kernel: int) -> int:
        return inputs * outputs * kernel * kernel + outputs

    def stream_of(inputs: int) -> int:
        k1, k2 = kernels
        layers = [(inputs, w1, k1), (w1, w2, k2), (w2, w4, 3), (w4, w6, 3), (w6, w7, 3)]
        return sum(conv(*layer) for layer in [*layers, (w7, w8, 3)])

    head_layers = [(2 * w8, w9, 1), (w9, w10, 3), (w10, w11, 3), (w11, w12, 4), (w12, 1, 4)]
    return stream_of(3) + stream_of(6) + sum(conv(*layer) for layer in head_layers)


def largest_activation(side: int, stream: tuple, head: tuple) -> int:
    """The largest layer output of Sst for one frame, in values."""
    w1, w2, w4, w6, w7, w8 = stream
    w9, w10, w11, w12 = head
    quarter = (side // 4) ** 2
    return max(
        max(w1, w2) * side * side,
        w4 * (side // 2) ** 2,
        max(w6, w7, 2 * w8, w9, w10, w11) * quarter,
        w12 * (side // 2) ** 2,
    )


def _ints(name: str, values: object, count: int, largest: int) -> tuple[int, ...]:
    if (
        not isinstance(values, (list, tuple))
        or len(values) != count
        or not all(is_int(v) and 1 <= v <= largest for v in values)
    ):
        raise ValueError(
            f"{name} needs {count} entries, integers in [1, {largest}], got {shown(values)}"
        )
    return tuple(values)
