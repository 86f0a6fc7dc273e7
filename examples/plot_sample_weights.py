"""
===============================================
Which training rows did FairIF up-weight?
===============================================

FairIF's output is a weight per training row, so its effect can be inspected
row by row. This example fits it on the bundled Adult census data (predict an
income above $50K; the sensitive attribute is sex) and then, as the FairIF
paper's sample-weight study does, brings back the training rows' group labels
**only to explain the weights**: FairIF itself never saw them.
"""

# %%
# Fit
# ---
# A ColumnTransformer one-hot encodes the categorical columns and
# standardises the numeric ones; FairIF wraps the whole Pipeline.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sklearn_fairif import FairIFClassifier
from sklearn_fairif.datasets import load_adult, train_val_test_split

adult = load_adult()
X_train, X_val, X_test, y_train, y_val, y_test, s_train, s_val, s_test = (
    train_val_test_split(adult.data, adult.target, adult.sensitive, random_state=0)
)
preprocess = make_column_transformer(
    (OneHotEncoder(handle_unknown="ignore"),
     make_column_selector(dtype_include="category")),
    (StandardScaler(), make_column_selector(dtype_include="number")),
)
model = make_pipeline(preprocess, LogisticRegression(max_iter=1000))
fair = FairIFClassifier(model, random_state=0)
fair.fit(X_train, y_train, X_val=X_val, y_val=y_val, s_val=s_val)
weights = fair.sample_weight_
print(f"alpha_ = {fair.alpha_}; weights: mean {weights.mean():.3f}, "
      f"min {weights.min():.2f}, max {weights.max():.2f}, "
      f"{(weights == 0).sum()} rows at 0")

# %%
# Mean weight per group and label
# -------------------------------
# The weights have mean 1. A cell whose mean weight is above 1 counts more in
# the refit than in ERM. ``s_train`` is used here for the first time.
cells = pd.DataFrame({
    "sex": adult.sensitive_names[s_train],
    "income": adult.target_names[y_train],
    "weight": weights,
}).groupby(["sex", "income"])["weight"]
summary = pd.DataFrame({"rows": cells.size(), "mean weight": cells.mean(),
                        "share of weight": cells.sum() / weights.sum()})
print(summary.round(3))

ax = summary["mean weight"].unstack().plot.bar(
    rot=0, figsize=(5.5, 3.2), color=["tab:orange", "tab:blue"])
ax.axhline(1.0, color="black", lw=0.8, ls="--")
ax.set_ylabel("mean FairIF weight")
ax.legend(title="income", bbox_to_anchor=(1.02, 1), loc="upper left")
ax.set_title("Mean weight per cell of the training rows")
plt.tight_layout()
plt.show()

# %%
# ERM's true positive rate is lower for women than for men on this data,
# and its true negative rate higher. The weights shift mass between the
# cells to pull those rates together; the direction follows from the
# influence functions, not from the labels above.
#
# Influence of each row
# ---------------------
# ``influence_[i, c]`` is the derivative of validation constraint ``c`` (here
# the TPR and the TNR gap, women minus men) with respect to up-weighting
# training row ``i``. Each point below is one training row.
rng = np.random.default_rng(0)
shown = rng.choice(len(weights), size=4000, replace=False)
fig, ax = plt.subplots(figsize=(5.5, 4))
for group, colour in [(0, "tab:red"), (1, "tab:gray")]:
    rows = shown[np.asarray(s_train)[shown] == group]
    ax.scatter(fair.influence_[rows, 0], fair.influence_[rows, 1], s=4,
               alpha=0.5, color=colour, label=adult.sensitive_names[group])
ax.axhline(0, color="black", lw=0.5)
ax.axvline(0, color="black", lw=0.5)
ax.set_xlabel(f"influence on {fair.constraint_names_[0]}")
ax.set_ylabel(f"influence on {fair.constraint_names_[1]}")
ax.legend(title="sex (held back)", markerscale=3)
ax.set_title("Influence of 4,000 training rows on the validation gaps")
plt.tight_layout()
plt.show()

# %%
# Women's rows, the minority, have the largest influences, in both
# directions. ERM's TPR gap is negative and its TNR gap positive, so the rows
# that close both lie in the lower right quadrant: FairIF gives them more
# weight and takes weight from the upper left.
quadrants = {
    "lower right (closes both gaps)": (fair.influence_[:, 0] > 0)
    & (fair.influence_[:, 1] < 0),
    "upper left (widens both)": (fair.influence_[:, 0] < 0)
    & (fair.influence_[:, 1] > 0),
}
for name, rows in quadrants.items():
    print(f"{name}: {rows.sum()} rows, mean weight {weights[rows].mean():.3f}")

# %%
# Did the first-order prediction hold?
# ------------------------------------
# The weights are solved for using a linear prediction of the gaps.
# ``validation_gaps_`` compares it with the soft gaps measured after the
# refit, and shows the hard (0/1 prediction) gaps before and after.
print(pd.DataFrame(fair.validation_gaps_, index=fair.constraint_names_).round(4))

# %%
# The most up-weighted rows
# -------------------------
# The rows FairIF counts most; reading them is a quick sanity check of what
# the refit is asked to learn better.
top = np.argsort(weights)[::-1][:8]
columns = ["age", "education", "occupation", "relationship", "hours_per_week"]
print(X_train.iloc[top][columns]
      .assign(sex=adult.sensitive_names[np.asarray(s_train)[top]],
              income=adult.target_names[np.asarray(y_train)[top]],
              weight=weights[top].round(2))
      .to_string())
