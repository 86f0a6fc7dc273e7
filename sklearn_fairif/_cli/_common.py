"""Constants and the error type shared by the command line's modules."""

# --alpha when it is not given, for both models: the library's default, alpha
# chosen by cross-fitting the influence's predictions on the validation set,
# then one refit (the MLP's influence over every parameter is solved by CG).
AUTO = "auto"
# Smallest validation set FairIF is allowed to measure a group's rates on.
MIN_VAL_ROWS_PER_GROUP = 10
# A line names this many groups at most; more groups than MANY_GROUPS
# suggest a continuous column (check_groups's threshold: the tests check that
# the two agree).
SHOWN_GROUPS = 5
MANY_GROUPS = 20

_METRIC_COLUMNS = {
    "accuracy": "Acc",
    "accuracy_difference": "AD",
    "average_odds_difference": "AOD",
    "equal_opportunity_difference": "EOD",
    "demographic_parity_difference": "DP",
}
# The validation gap FairIF minimises, per objective, named after the test
# metric it equals with two groups.
_GAP_NAMES = {
    "equalized_odds": ("AOD", "mean of |TPR gap| and |TNR gap|"),
    "equal_opportunity": ("EOD", "|TPR gap|"),
    "accuracy_parity": ("AD", "|accuracy gap|"),
    "error_rate_parity": ("AD", "|accuracy gap|"),
    "demographic_parity": ("DP", "|selection-rate gap|"),
}
# The --objective choices: FairIFClassifier's objectives (the tests check that
# the two lists agree), and those whose rates need validation labels.
OBJECTIVES = tuple(_GAP_NAMES)
NEEDS_LABELS = frozenset(o for o in OBJECTIVES if o != "demographic_parity")
# Integer columns with at most this many distinct values may be codes (an
# industry, a year): the command line says it treats them as numbers.
MAX_CODE_VALUES = 20

_DATASETS = {
    "adult": "Adult census income",
    "compas": "COMPAS two-year recidivism",
    "german": "German credit",
}


class CLIError(Exception):
    """Bad input: printed as one ``fairif: error: ...`` line, exit status 2."""
