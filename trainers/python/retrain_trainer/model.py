"""sklearn/tabular: the model part of the reference trainer, what a team replaces with its own.

A scikit-learn Pipeline: a ColumnTransformer (number: median imputation and scaling; category and
boolean: a 'missing' category and one-hot encoding; text: hashed word and bigram counts, tf-idf
weighted) in front of logistic regression or histogram gradient boosting. The seed is the only
source of randomness.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from . import __version__
from .contract import Table, bad_data

HERE = Path(__file__).parent
# Gradient boosting grows this many trees between looks at the cancel flag.
GROWTH_STEP = 10

PARAMS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "sklearn/tabular params",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "estimator": {"enum": ["logistic_regression", "gradient_boosting"], "default": "logistic_regression",
                      "description": "logistic_regression (every feature kind) or gradient_boosting (HistGradientBoostingClassifier; no text features)"},
        "C": {"type": "number", "exclusiveMinimum": 0, "default": 1.0, "description": "logistic regression: inverse regularisation strength"},
        "max_iter": {"type": "integer", "minimum": 1, "maximum": 1000000, "default": 200,
                     "description": "logistic regression: solver iterations; gradient boosting: trees"},
        "learning_rate": {"type": "number", "exclusiveMinimum": 0, "maximum": 10, "default": 0.1, "description": "gradient boosting"},
        "max_depth": {"type": ["integer", "null"], "minimum": 1, "maximum": 64, "default": None, "description": "gradient boosting: tree depth (null: unlimited)"},
        "max_leaf_nodes": {"type": "integer", "minimum": 2, "maximum": 4096, "default": 31, "description": "gradient boosting"},
        "class_weight": {"enum": ["balanced", None], "default": None, "description": "balanced: weight classes inversely to their frequency"},
        "text_hash_bits": {"type": "integer", "minimum": 8, "maximum": 24, "default": 18, "description": "text features are hashed into 2^bits columns"},
        "ngram_max": {"type": "integer", "enum": [1, 2], "default": 2, "description": "text: words (1) or words and bigrams (2)"},
        "recencyHalfLifeDays": {"type": "number", "exclusiveMinimum": 0, "maximum": 36500,
                                "description": "recency weighting: a training row of age a days (at the snapshot's asOf) weighs 0.5^(a / recencyHalfLifeDays); absent: every row weighs 1"},
    },
}


def recency_weights(table: Table, half_life_days: float | None) -> Any:
    """The rows' sample weights: their own (absent: 1) times 0.5^(max(0, age) / half-life) where the row has an age; None when all are 1."""
    base = None if table.weights is None else np.asarray(table.weights, dtype=float)
    if half_life_days is None or table.ages is None:
        return base
    ages = np.array([np.nan if a is None else a for a in table.ages], dtype=float)
    decay = np.where(np.isnan(ages), 1.0, 0.5 ** (np.maximum(ages, 0.0) / half_life_days))
    return decay if base is None else base * decay


def as_float(x: Any) -> Any:
    # Module level (not a lambda) so a saved pipeline loads on any worker.
    return np.asarray(x, dtype=float)


def as_text(x: Any) -> Any:
    return np.asarray(x, dtype=object).ravel()


class SklearnTabular:
    name = "sklearn/tabular"
    version = __version__
    params_schema = PARAMS_SCHEMA
    label_sets = ["binary"]
    feature_kinds = ["number", "category", "boolean", "text"]
    source_files = sorted(HERE.glob("*.py")) + [HERE.parent / "requirements.txt"]

    def check(self, params: dict[str, Any], features: list[dict[str, Any]]) -> None:
        text = [f["name"] for f in features if f["kind"] == "text"]
        if params["estimator"] == "gradient_boosting" and text:
            raise bad_data(f"estimator gradient_boosting takes number, category and boolean features; {', '.join(text)} are text (use logistic_regression)")

    def fit(self, table: Table, params: dict[str, Any], seed: int, should_stop: Callable[[], bool]) -> tuple[Any, dict[str, float]]:
        X, y = matrix(table), np.asarray(table.labels)
        weights = recency_weights(table, params.get("recencyHalfLifeDays"))
        pipe = self.pipeline(table.features, params, seed)
        model = pipe.steps[-1][1]
        if isinstance(model, HistGradientBoostingClassifier):
            # Grown a few trees at a time (warm start) so a cancelled job stops within seconds.
            prep = pipe[:-1]
            Xt = prep.fit_transform(X, y)
            total = params["max_iter"]
            for trees in range(min(GROWTH_STEP, total), total + GROWTH_STEP, GROWTH_STEP):
                if should_stop():
                    return None, {}
                model.set_params(max_iter=min(trees, total))
                model.fit(Xt, y, sample_weight=weights)
                if trees >= total:
                    break
        else:
            pipe.fit(X, y, **({"model__sample_weight": weights} if weights is not None else {}))
        p = pipe.predict_proba(X)[:, 1]
        return pipe, {"train_log_loss": float(log_loss(y, p, sample_weight=weights, labels=[0, 1])), "features_out": float(pipe[:-1].transform(X[:1]).shape[1])}

    def predict(self, fitted: Any, table: Table) -> Any:
        return fitted.predict_proba(matrix(table))[:, 1]

    def pipeline(self, features: list[dict[str, Any]], params: dict[str, Any], seed: int) -> Pipeline:
        index = {f["name"]: i for i, f in enumerate(features)}
        by_kind = lambda *kinds: [index[f["name"]] for f in features if f["kind"] in kinds]  # noqa: E731
        parts: list[tuple[str, Any, Any]] = []
        if by_kind("number"):
            parts.append(("number", make_pipeline(FunctionTransformer(as_float), SimpleImputer(strategy="median"), StandardScaler()), by_kind("number")))
        if by_kind("category", "boolean"):
            parts.append(("category", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"), OneHotEncoder(handle_unknown="ignore")), by_kind("category", "boolean")))
        for i in by_kind("text"):
            # One vectoriser per text column: a column index (not a list) hands it a 1-D array of strings.
            parts.append((f"text_{i}", make_pipeline(FunctionTransformer(as_text), HashingVectorizer(
                n_features=2 ** params["text_hash_bits"], ngram_range=(1, params["ngram_max"]), alternate_sign=False, norm=None), TfidfTransformer(sublinear_tf=True)), i))
        state = seed % 2**32
        if params["estimator"] == "gradient_boosting":
            model: Any = HistGradientBoostingClassifier(learning_rate=params["learning_rate"], max_depth=params["max_depth"], max_leaf_nodes=params["max_leaf_nodes"],
                                                        class_weight=params["class_weight"], early_stopping=False, warm_start=True, random_state=state)
        else:
            model = LogisticRegression(C=params["C"], max_iter=params["max_iter"], class_weight=params["class_weight"], random_state=state)
        # Gradient boosting takes a dense matrix; the linear model keeps text sparse.
        dense = params["estimator"] == "gradient_boosting"
        return Pipeline([("features", ColumnTransformer(parts, sparse_threshold=0.0 if dense else 1.0)), ("model", model)])


def matrix(table: Table) -> Any:
    """Rows as an object matrix in feature order: numbers as floats (NaN missing), categories and booleans as strings, text as strings."""
    n = len(table)
    X = np.empty((n, len(table.features)), dtype=object)
    for j, f in enumerate(table.features):
        values = table.columns.get(f["name"], [None] * n)
        if f["kind"] == "number":
            bad = next((i for i, v in enumerate(values) if v is not None and (isinstance(v, (str, bool)) or not isinstance(v, (int, float)))), None)
            if bad is not None:
                raise bad_data(f"feature {f['name']} is a number, row {bad + 1} (exampleId {table.ids[bad]}) has {values[bad]!r}")
            X[:, j] = [np.nan if v is None else float(v) for v in values]
        elif f["kind"] == "text":
            X[:, j] = ["" if v is None else str(v) for v in values]
        else:
            X[:, j] = [np.nan if v is None else ("true" if v is True else "false" if v is False else str(v)) for v in values]
    return X


MODEL = SklearnTabular()
