"""Names shared by the housing dataset, its pipeline and its deploy."""

NUMERIC = ["area_m2", "rooms", "age_years", "distance_km"]
"""The numeric columns: floor area (m²), rooms, the building's age (years), distance to the centre (km)."""

CATEGORICAL = ["district"]
"""The string columns: the district the house is in (one of `DISTRICTS`)."""

FEATURES = [*NUMERIC, *CATEGORICAL]
"""Every model input, in the order the table stores them."""

TARGET = "price"
"""The value to predict: the sale price (euros)."""

DISTRICTS = ["north", "south", "east", "west"]
"""The districts, each with its own price level."""

ROWS = 600
"""How many sales the table holds."""
