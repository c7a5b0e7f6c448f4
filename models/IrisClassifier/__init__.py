"""IrisClassifier: the species of an Iris flower from four measurements.

## Description

A multinomial logistic regression on standardized sepal and petal measurements (cm),
predicting one of `setosa`, `versicolor`, `virginica`. Trained by the `train_iris` pipeline
(`python -m train pipeline=train_iris`) on `datasets/iris`.

## Explanation

Each measurement $x_j$ is standardized, $z_j = (x_j - \\mu_j) / \\sigma_j$, and the class
probabilities are a softmax of linear scores:

$$P(y = k \\mid z) = \\frac{e^{w_k^\\top z + b_k}}{\\sum_{l} e^{w_l^\\top z + b_l}}$$

`C` is the inverse strength of the L2 penalty on the weights $w$.

## Motivation

The smallest real model that exercises the whole monorepo: config, tracking, run identity,
deploy. Iris is bundled with scikit-learn, so it trains in a second with no network.

## Diagram

```mermaid
classDiagram
    class IrisClassifier["IrisClassifier"] {
        C ~float~
        max_iter ~int~
        seed ~int~
        +build() Pipeline
    }
```
"""
