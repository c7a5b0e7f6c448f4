"""Create the housing table: synthetic but realistic sales, the same rows on every machine."""

import numpy as np
import pandas as pd

from datasets.housing.common import DISTRICTS, FEATURES, ROWS, TARGET

_DISTRICT_PRICE_PER_M2 = {"north": 2600.0, "south": 2100.0, "east": 1800.0, "west": 3100.0}


def load_housing_frame(rows: int = ROWS, seed: int = 0) -> pd.DataFrame:
    """Generate the housing sales: `FEATURES` and the `TARGET` price.

    The price is the district's price per m² times the area, less 0.4 % a year of age and 1.5 %
    a km from the centre, plus 4 000 a room and multiplicative noise (sd 8 %).

    Args:
        rows: how many sales.
        seed: the generator's seed (fixed: the table is the same everywhere).

    Returns:
        `rows` rows, columns `FEATURES + [TARGET]`; `rooms` is an integer, `district` a string.
    """
    rng = np.random.default_rng(seed)
    area = rng.uniform(35, 180, rows).round(1)
    rooms = np.clip((area / 30 + rng.normal(0, 0.7, rows)).round(), 1, 8).astype("int64")
    age = rng.integers(0, 90, rows).astype("float64")
    distance = rng.gamma(2.0, 3.0, rows).round(2)
    district = rng.choice(DISTRICTS, rows)
    per_m2 = np.array([_DISTRICT_PRICE_PER_M2[d] for d in district])
    price = per_m2 * area * (1 - 0.004 * age) * (1 - 0.015 * np.minimum(distance, 30)) + 4000 * rooms
    price = (price * rng.lognormal(0, 0.08, rows)).round(-2)
    frame = pd.DataFrame(
        {"area_m2": area, "rooms": rooms, "age_years": age, "distance_km": distance, "district": district}
    )
    frame["district"] = frame["district"].astype(str)
    frame[TARGET] = price
    return frame[[*FEATURES, TARGET]]
