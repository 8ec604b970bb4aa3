"""The network zoo (paper Sect. 3.1–3.2, Table 3, Table 4, Fig. 5): the base CNN as a list
of blocks, one builder that cuts it at the branch point for all six strategies, two trunks
(``vgg``, ``musically_motivated``), per-source heads and the siamese ``self`` head."""

from mtl_music.models.network import STRATEGIES, MultiSourceNetwork, build_network

__all__ = [
    "STRATEGIES",
    "MultiSourceNetwork",
    "ParameterRow",
    "build_network",
    "count_network",
    "count_parameters",
    "parameter_table",
]

_FROM_SIZE = {"ParameterRow", "count_network", "count_parameters", "parameter_table"}


def __getattr__(name: str):
    # Imported on first use: counting needs only the builder, the builder never needs counting.
    if name in _FROM_SIZE:
        from mtl_music.models import size

        return getattr(size, name)
    raise AttributeError(f"module 'mtl_music.models' has no attribute {name!r}")
