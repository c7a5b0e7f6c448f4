"""Names of the IrisClassifier V2 deploy and how it answers (this file travels inside the Bento)."""

MODEL_NAME = "iris_classifier_v2"
"""The name of the model in the BentoML model store (and of the Bento)."""

PIPELINE = "train_iris"
"""The training pipeline whose runs this deploy serves."""


def label_and_probabilities(model, frame) -> list[dict]:
    """Each record's class and the probability of every class: `{"label": ..., "probabilities": {...}}`.

    Args:
        model: the MLflow pyfunc model; its raw scikit-learn estimator gives `predict_proba`.
        frame: the checked records, typed as the model's signature says.
    """
    classifier = model.get_raw_model()
    classes = [str(c) for c in classifier.classes_]
    answers = []
    for row in classifier.predict_proba(frame):
        probabilities = {name: round(float(p), 6) for name, p in zip(classes, row, strict=True)}
        answers.append({"label": max(probabilities, key=probabilities.get), "probabilities": probabilities})
    return answers
