"""The analyses of the Iris study: permutation importance, per-class errors, a pairwise plot."""

from __future__ import annotations

from typing import Any

import pandas as pd


def permutation_importance_table(
    model: Any, features: pd.DataFrame, labels: pd.Series, repeats: int, seed: int
) -> pd.DataFrame:
    """How much accuracy drops when each feature is shuffled (mean and spread over `repeats`).

    Returns:
        One row per feature, most important first, columns `importance_mean`, `importance_std`.
    """
    from sklearn.inspection import permutation_importance

    found = permutation_importance(model, features, labels, n_repeats=repeats, random_state=seed)
    table = pd.DataFrame(
        {"importance_mean": found.importances_mean, "importance_std": found.importances_std},
        index=features.columns,
    )
    return table.sort_values("importance_mean", ascending=False)


def per_class_errors(labels: pd.Series, predicted: pd.Series, classes: list[str]) -> pd.DataFrame:
    """Precision, recall, errors and the class each one is most often mistaken for, per class."""
    from sklearn.metrics import precision_recall_fscore_support

    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=classes, zero_division=0
    )
    rows = []
    for i, name in enumerate(classes):
        wrong = predicted[(labels == name) & (predicted != name)]
        rows.append(
            {
                "precision": precision[i],
                "recall": recall[i],
                "f1": f1[i],
                "support": int(support[i]),
                "errors": int(len(wrong)),
                "mistaken_for": wrong.mode().iloc[0] if len(wrong) else "-",
            }
        )
    return pd.DataFrame(rows, index=classes)


def importance_figure(table: pd.DataFrame) -> Any:
    """A horizontal bar chart of the permutation importances, with their spread."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(5, 3))
    ordered = table.iloc[::-1]
    ax.barh(ordered.index, ordered["importance_mean"], xerr=ordered["importance_std"], color="#4c72b0")
    ax.set_xlabel("accuracy drop when shuffled")
    ax.set_title("Permutation importance (test set)")
    figure.tight_layout()
    return figure


def pairwise_figure(features: pd.DataFrame, labels: pd.Series, classes: list[str]) -> Any:
    """Every pair of features as a scatter plot, coloured by class (histograms on the diagonal)."""
    import matplotlib

    matplotlib.use("Agg")
    from pandas.plotting import scatter_matrix

    colours = dict(zip(classes, ["#4c72b0", "#dd8452", "#55a868"], strict=False))
    axes = scatter_matrix(
        features, c=labels.map(colours).tolist(), figsize=(7, 7), diagonal="hist", alpha=0.7, s=14
    )
    figure = axes[0, 0].get_figure()
    figure.suptitle("Pairwise features, coloured by species")
    return figure
