"""The paper's fixed lists, defined once (Kim et al., Table 1, Sect. 4.3, Sect. 5.2, Fig. 5).

Everything that needs "the paper's sources" or "the six strategies" imports them from here;
what a user may select is whatever ``conf/source`` and ``conf/arch`` hold
(:func:`mtl_music.config.group_options`).
"""

from __future__ import annotations

#: The learning source trained by the siamese self-supervision head (no labels, no z_t).
SELF_SOURCE = "self"

#: The paper's eight learning sources (Table 1), in the order of its Sect. 4.3.
PAPER_SOURCES: tuple[str, ...] = ("self", "bpm", "year", "tag", "taste", "cdr_tag", "lyrics", "artist")
#: The same eight in the order of the paper's Table 6 (the analysis reports them so).
TABLE6_SOURCE_ORDER: tuple[str, ...] = ("self", "year", "bpm", "taste", "tag", "lyrics", "cdr_tag", "artist")

#: The six strategies (``arch`` option names), from most to least shared (r* = 0 … 1), as the
#: paper orders them in Sect. 5.2 and Fig. 5.
STRATEGIES: tuple[str, ...] = ("ss_r", "ms_sr@fc", "ms_cr@6", "ms_cr@4", "ms_cr@2", "mss_cr")
#: The one single-source strategy.
SINGLE_SOURCE_STRATEGY = "ss_r"
#: How the paper writes them.
STRATEGY_LABELS: dict[str, str] = {
    "ss_r": "SS-R", "ms_sr@fc": "MS-SR@FC", "ms_cr@6": "MS-CR@6", "ms_cr@4": "MS-CR@4",
    "ms_cr@2": "MS-CR@2", "mss_cr": "MSS-CR",
}
#: The order of Table 4 (the parameter-count table): SS-R, then from most to least shared branches.
TABLE4_STRATEGY_ORDER: tuple[str, ...] = ("ss_r", "mss_cr", "ms_cr@2", "ms_cr@4", "ms_cr@6", "ms_sr@fc")

__all__ = ["PAPER_SOURCES", "SELF_SOURCE", "SINGLE_SOURCE_STRATEGY", "STRATEGIES", "STRATEGY_LABELS",
           "TABLE4_STRATEGY_ORDER", "TABLE6_SOURCE_ORDER"]
