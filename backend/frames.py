"""pandas operations the read side does over 100k runs, in forms that stay fast on text columns."""
from __future__ import annotations

import numpy as np
import pandas as pd


def isin(column: pd.Series, values) -> np.ndarray:
    """``column.isin(values)`` as a boolean array. A text column (pandas' Arrow strings) with text values asks
    Arrow's own ``is_in`` in one call: pandas' ``isin`` made one Arrow scalar per value (0.5 s for 100k run ids,
    paid on every first load of a page after a write)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    if isinstance(column.array, pd.arrays.ArrowStringArray):
        if isinstance(values, pd.Series) and isinstance(values.array, pd.arrays.ArrowStringArray):
            value_set = pa.array(values.array) if not values.hasnans else None
        else:
            values = list(values)
            value_set = pa.array(values, type=pa.large_string()) if all(isinstance(v, str) for v in values) \
                else None
        if value_set is not None:
            data = pa.array(column.array)
            found = pc.is_in(data, value_set=value_set.cast(data.type))
            return pc.fill_null(found, False).to_numpy(zero_copy_only=False)
    return column.isin(values).to_numpy(dtype=bool)
