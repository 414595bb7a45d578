"""Hypothesis strategies shared by the test modules: one definition of a cell and of a seed."""

from __future__ import annotations

from hypothesis import strategies as st

from tfnas.checks import MAX_SEED
from tfnas.space import NUM_EDGES, OPS, Arch
from tfnas.spaces.size import CANDIDATES, SizeArch

archs = st.tuples(*[st.sampled_from(OPS)] * NUM_EDGES).map(Arch)
"""Any cell of the topology space, uniformly over its 15,625 (shrinks towards all-``none``)."""

size_archs = st.tuples(*[st.sampled_from(CANDIDATES)] * 5).map(SizeArch)
"""Any configuration of the size space."""

seeds = st.integers(0, MAX_SEED)
"""Any seed tfnas accepts (signed 64-bit, as the store and torch take it)."""

st.register_type_strategy(Arch, archs)
st.register_type_strategy(SizeArch, size_archs)
