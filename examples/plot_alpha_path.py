"""
=====================================
How alpha is chosen: the alpha path
=====================================

``alpha`` prices the change of the training weights against the fairness gap
left on the validation set: small values reweight hard, large ones stay close
to the unweighted model. :class:`~sklearn_fairif.AlphaPathDisplay` plots how
a fitted :class:`~sklearn_fairif.FairIFClassifier` chose its ``alpha_``,
from ``cv_results_``. This example fits it on the bundled Adult census data
(predict an income above $50K; the sensitive attribute is sex), first with
the default ``alpha="auto"``, then with a list of values. See
:ref:`choosing_alpha` for the rule in full.
"""

# %%
# ``alpha="auto"``: the cross-fitted path
# ---------------------------------------
# The default judges 16 candidates from 1e-4 to 10 on validation folds their
# weights did not see, by first-order predictions from the one influence
# pass: no model is refitted per candidate.
import matplotlib.pyplot as plt
import pandas as pd
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sklearn_fairif import AlphaPathDisplay, FairIFClassifier
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

AlphaPathDisplay.from_estimator(fair)
plt.show()

# %%
# The blue curve is the predicted held-out gap (the mean absolute TPR and
# TNR gaps between the groups) averaged over the 5 folds, the orange one the
# predicted change of held-out accuracy; the bands are one standard deviation
# over the folds. Smaller alphas close more of the gap and cost more accuracy.
# The shaded alphas lose more than ``tol`` (one point, the dashed line) of
# predicted accuracy; the smallest ones were not scanned, since the scan
# stops once the loss is far beyond ``tol``. ``alpha_`` (the red line) is the
# candidate of least held-out gap among the others; the model is then refitted
# once, at ``alpha_``. The numbers are in ``cv_results_``:
results = pd.DataFrame({key: value for key, value in fair.cv_results_.items()
                        if not key.endswith("_chosen")})
print(f"alpha_ = {fair.alpha_:g}, tol = {fair.tol:g}")
print(results[["alpha", "heldout_gap", "heldout_gap_std",
               "heldout_utility_change", "admissible"]].round(4))

# %%
# A list of alphas: the refitted path
# -----------------------------------
# With a list, FairIF refits the model once per value and keeps the smallest
# validation gap among the values whose validation accuracy is within ``tol``
# of the unweighted model's. ``cv_results_`` does not hold that accuracy: pass
# the validation set to draw the ``tol`` line and the shading. These numbers
# are in-sample (the weights were fitted to the same rows), which is why
# every small alpha looks fair here.
alphas = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
fair_list = FairIFClassifier(model, alpha=alphas, random_state=0)
fair_list.fit(X_train, y_train, X_val=X_val, y_val=y_val, s_val=s_val)

AlphaPathDisplay.from_estimator(fair_list, X_val=X_val, y_val=y_val)
plt.show()

# %%
# The dotted line is the unweighted model's validation gap. The two choices
# can differ: ``"auto"`` judges each candidate on rows its weights did not
# see, the list on the rows they were fitted to.
print(f"alpha='auto' chose {fair.alpha_:g}; the list chose {fair_list.alpha_:g}")
