"""
======================================================================
Model selection with fairness scorers: Pipeline, GridSearchCV, routing
======================================================================

:class:`~sklearn_fairif.FairIFClassifier` is a scikit-learn meta-estimator, so
it can be tuned by :class:`~sklearn.model_selection.GridSearchCV` and scored
with the fairness gaps of :mod:`sklearn_fairif.metrics`. Group labels reach the
scorers and FairIF's validation set reaches ``fit`` through scikit-learn's
*metadata routing*. This example shows the recipe, a refit rule that trades
accuracy for fairness explicitly, the two ways to combine FairIF with a
Pipeline, and the slicing trap.
"""

# %%
# Data, and routing on
# --------------------
# A fairness scorer must know the group of every row it scores, so
# cross-validating one needs group labels on the training rows too (an audit
# setting). FairIF itself still sees groups on the validation set only.
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_fairif import FairIFClassifier
from sklearn_fairif.datasets import make_biased_classification, train_val_test_split
from sklearn_fairif.metrics import average_odds_difference, make_fairness_scorer

X, y, s = make_biased_classification(6000, bias="group_size", random_state=0)
X_train, X_val, X_test, y_train, y_val, y_test, s_train, s_val, s_test = (
    train_val_test_split(X, y, s, random_state=0)
)
sklearn.set_config(enable_metadata_routing=True)

# %%
# A grid over alpha and C
# -----------------------
# FairIF wraps the whole Pipeline, so its preprocessing is fitted once on the
# unweighted data and the weights go to the final step. The grid names the
# Pipeline's parameters through ``estimator__``. Scorers made by
# :func:`~sklearn_fairif.metrics.make_fairness_scorer` request
# ``sensitive_features``; FairIF requests ``X_val``, ``y_val`` and ``s_val``.
# ``GridSearchCV.fit`` routes each to whoever asked for it, and slices
# ``sensitive_features`` (one label per training row) to each test fold.
fairif = FairIFClassifier(make_pipeline(StandardScaler(), LogisticRegression()),
                          random_state=0)
grid = {"alpha": [0.01, 0.1, 0.3, 1.0],
        "estimator__logisticregression__C": [0.1, 1.0]}
scoring = {"accuracy": "accuracy", "aod": make_fairness_scorer("aod")}


def fairest_within_two_points(cv_results):
    """Index of the smallest AOD among candidates within 2 points of the best."""
    accuracy = np.asarray(cv_results["mean_test_accuracy"])
    aod = -np.asarray(cv_results["mean_test_aod"])  # scorers negate gaps
    admissible = accuracy >= accuracy.max() - 0.02
    return int(np.flatnonzero(admissible)[np.argmin(aod[admissible])])


search = GridSearchCV(fairif, grid, scoring=scoring,
                      refit=fairest_within_two_points, cv=3)
search.fit(X_train, y_train, X_val=X_val, y_val=y_val, s_val=s_val,
           sensitive_features=s_train)

results = pd.DataFrame(search.cv_results_)
results["mean AOD"] = -results["mean_test_aod"]
print(results[["param_alpha", "param_estimator__logisticregression__C",
               "mean_test_accuracy", "mean AOD"]].round(3).to_string(index=False))
print("chosen:", search.best_params_)

# %%
# The fairness scorer returns the *negated* gap (scikit-learn maximises
# scores), hence the sign flip. Each point below is one candidate; the refit
# rule keeps the fairest one within two points of the best accuracy. On these
# folds, drawn like the training set, the minority group is rare, so closing
# its gap costs some accuracy: the rule makes that price explicit.
fig, ax = plt.subplots(figsize=(5.5, 3.6))
for C, marker, offset in [(0.1, "s", (7, -9)), (1.0, "o", (7, 3))]:
    rows = results[results["param_estimator__logisticregression__C"] == C]
    ax.plot(rows["mean AOD"], rows["mean_test_accuracy"], marker, ms=8,
            label=f"C={C}")
    for _, row in rows.iterrows():
        ax.annotate(f"alpha={row['param_alpha']:g}",
                    (row["mean AOD"], row["mean_test_accuracy"]),
                    textcoords="offset points", xytext=offset, fontsize=7)
best = results.iloc[search.best_index_]
ax.plot(best["mean AOD"], best["mean_test_accuracy"], "o", ms=16, mfc="none",
        mec="tab:red", mew=2, label="refit")
ax.set_xlim(right=ax.get_xlim()[1] + 0.03)  # room for the labels
ax.set_xlabel("cross-validated AOD (lower is fairer)")
ax.set_ylabel("cross-validated accuracy")
ax.legend(fontsize=8)
plt.tight_layout()
plt.show()

print("test AOD of the refitted search:",
      round(average_odds_difference(y_test, search.predict(X_test),
                                    sensitive_features=s_test), 3))

# %%
# FairIF as the last step of a Pipeline
# -------------------------------------
# The other way round also works, with routing on: a Pipeline hands ``X_val``
# to its last step *untransformed* unless told otherwise, so name it in
# ``transform_input``. Wrapping the Pipeline in FairIF (as above) needs no
# such care and works with routing on or off.
pipe = Pipeline(
    [("scale", StandardScaler()),
     ("fairif", FairIFClassifier(LogisticRegression(), random_state=0))],
    transform_input=["X_val"],
)
pipe.fit(X_train, y_train, X_val=X_val, y_val=y_val, s_val=s_val)
print("test AOD, FairIF inside the Pipeline:",
      round(average_odds_difference(y_test, pipe.predict(X_test),
                                    sensitive_features=s_test), 3))

# %%
# The slicing trap
# ----------------
# ``GridSearchCV`` and ``cross_validate`` slice *every* fit parameter whose
# length equals ``len(X)`` to the training fold. A validation set exactly as
# long as the training set would be silently cut down; FairIF warns when it
# sees ``len(X_val) == len(X)``.
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    FairIFClassifier().fit(X_train[:len(y_val)], y_train[:len(y_val)],
                           X_val=X_val, y_val=y_val, s_val=s_val)
print(caught[0].message)

sklearn.set_config(enable_metadata_routing=False)
