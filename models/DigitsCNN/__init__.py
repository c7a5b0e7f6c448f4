"""DigitsCNN: the digit (0–9) drawn in an 8×8 grey-level image, by a small convolutional network.

## Description

A Keras convolutional network (TensorFlow backend) that reads the 64 pixels of an 8×8
handwritten digit, each an ink level from 0 to 16, and gives the probability of each digit
0–9. Trained by the `cnnv1-digitsv1` pipeline (`python -m train pipeline=cnnv1-digitsv1`) on
the table `cnnv1_dataset_v1` of `datasets/digits` (version `v1`, kept by DVC). The input is
the table's pixel columns as they are: scaling and reshaping are layers of the model.

## Explanation

The pixels are scaled to $[0, 1]$ and reshaped into an image $X$. Two $3 \\times 3$
convolutions with ReLU build feature maps; channel $c$ of a convolution is

$$H_c(i, j) = \\max\\Big(0,\\; b_c + \\sum_{u,v,k} W_c(u, v, k)\\, X(i + u, j + v, k)\\Big)$$

A $2 \\times 2$ max-pooling halves the resolution, dropout regularizes, a dense ReLU layer
mixes the features and a softmax gives $P(y = d \\mid X) = e^{z_d} / \\sum_{l=0}^{9} e^{z_l}$.
Training minimizes the cross-entropy $-\\log P(y = y_\\text{true} \\mid X)$ with Adam, and
stops early when the validation loss no longer improves (the best weights are kept).

## Motivation

The monorepo's deep-learning example: a neural model trained epoch by epoch (per-epoch
metrics, learning curves, early stopping, a GPU when there is one) on data that has versions.
The digits ship with scikit-learn, so it trains in seconds on a CPU with no network, and a
convolution, which sees neighbouring pixels together, does better on images than a linear model.

## Diagram

```mermaid
classDiagram
    class DigitsCNN["DigitsCNN"] {
        filters ~int~
        kernel_size ~int~
        dense_units ~int~
        dropout ~float~
        learning_rate ~float~
        +build() keras.Model
    }
```
"""
