"""HousingRegressor: the sale price of a house from its size, age, location and district.

## Description

Gradient-boosted regression trees on four numeric columns (`area_m2`, `rooms`, `age_years`,
`distance_km`) and the one-hot encoded `district`, predicting the `price` in euros. Trained by
the `train_housing` pipeline (`python -m train pipeline=train_housing`) on `datasets/housing`;
ranked by `rmse` (lower is better).

## Explanation

The prediction is a sum of $M$ small trees fitted one after the other, each on the residuals of
the ones before it, scaled by the learning rate $\\eta$:

$$\\hat y(x) = f_0 + \\eta \\sum_{m=1}^{M} t_m(x)$$

The district enters as four 0/1 columns; a district never seen in training encodes as all
zeros (`handle_unknown="ignore"`), though the deploy refuses it as outside the contract.

## Motivation

The regression example of the monorepo, as small and fast as Iris: a float target, a string
column served as an enumeration, a metric to minimize. The table is generated (no network).

## Diagram

```mermaid
classDiagram
    class HousingRegressor["HousingRegressor"] {
        learning_rate ~float~
        max_iter ~int~
        max_leaf_nodes ~int~
        seed ~int~
        +build() Pipeline
    }
```
"""
