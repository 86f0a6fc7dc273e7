"""Loaders of the bundled Adult, COMPAS and German credit datasets.

Each dataset is parsed once per process (``lru_cache``) into one frame holding
the features, the sensitive attribute and the target; every call then hands out
copies of it.
"""

import io
from functools import lru_cache

import pandas as pd

from ._base import _load_raw_bytes, _split_frame

# Column names of adult.data and adult.test, from adult.names, in snake case.
_ADULT_COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
]
_ADULT_NUMERIC = [
    "age",
    "fnlwgt",
    "education_num",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
]
_ADULT_FEATURES = [c for c in _ADULT_COLUMNS if c not in ("sex", "income")]

_COMPAS_FEATURES = [
    "sex",
    "age",
    "age_cat",
    "juv_fel_count",
    "juv_misd_count",
    "juv_other_count",
    "priors_count",
    "c_charge_degree",
    "length_of_stay",
]
# Only what the features, ProPublica's filters and the label need is read, so
# that no leaking column (scores, later offences, dates) can slip into the data.
_COMPAS_USECOLS = [
    *(c for c in _COMPAS_FEATURES if c != "length_of_stay"),
    "race",
    "days_b_screening_arrest",
    "is_recid",
    "score_text",
    "c_jail_in",
    "c_jail_out",
    "two_year_recid",
]
_COMPAS_AGE_CATEGORIES = ["Less than 25", "25 - 45", "Greater than 45"]
_COMPAS_RACES = ["African-American", "Caucasian"]

# The 20 attributes of german.data named after the UCI documentation, then the
# label.
_GERMAN_COLUMNS = [
    "checking_account_status",
    "duration_months",
    "credit_history",
    "purpose",
    "credit_amount",
    "savings_account",
    "employment_since",
    "installment_rate",
    "personal_status_sex",
    "other_debtors",
    "residence_since",
    "property",
    "age",
    "other_installment_plans",
    "housing",
    "existing_credits",
    "job",
    "people_liable",
    "telephone",
    "foreign_worker",
    "credit",
]
_GERMAN_FEATURES = [
    c for c in _GERMAN_COLUMNS if c not in ("personal_status_sex", "credit")
]
_GERMAN_MALE_CODES = ["A91", "A93", "A94"]


def _as_category(column, categories=None):
    """Return `column` as a categorical with a fixed category order.

    Without `categories` the observed values are sorted, so that the category
    codes do not depend on row order.
    """
    if categories is None:
        categories = sorted(column.dropna().unique())
    return column.astype(pd.CategoricalDtype(categories))


def _read_adult_file(raw_name, *, skiprows):
    return pd.read_csv(
        io.BytesIO(_load_raw_bytes(raw_name)),
        header=None,
        names=_ADULT_COLUMNS,
        skiprows=skiprows,
        skipinitialspace=True,
        na_values="?",
        dtype={c: "int64" if c in _ADULT_NUMERIC else str for c in _ADULT_COLUMNS},
    )


@lru_cache(maxsize=1)
def _adult_frame():
    """Parse the Adult train and test files into one clean frame."""
    # The first line of adult.test is "|1x3 Cross validator", not a record.
    raw = pd.concat(
        [
            _read_adult_file("adult.data", skiprows=0),
            _read_adult_file("adult.test", skiprows=1),
        ],
        ignore_index=True,
    )
    raw = raw.dropna().reset_index(drop=True)

    frame = raw[_ADULT_FEATURES].copy()
    for column in _ADULT_FEATURES:
        if column not in _ADULT_NUMERIC:
            frame[column] = _as_category(frame[column])
    frame["sex"] = (raw["sex"] == "Male").astype("int64")
    # The test file writes its labels as "<=50K." and ">50K.".
    frame["income"] = (raw["income"].str.rstrip(".") == ">50K").astype("int64")
    return frame


@lru_cache(maxsize=1)
def _compas_frame():
    """Apply ProPublica's filters to the two-year COMPAS file."""
    # usecols also drops the file's duplicated "decile_score" and "priors_count"
    # columns (pandas keeps the first of equal names; the copies are identical).
    raw = pd.read_csv(
        io.BytesIO(_load_raw_bytes("compas-scores-two-years.csv")),
        usecols=_COMPAS_USECOLS,
    )
    # pandas reads the string "N/A" as a missing value, hence notna(). Rows
    # with no days_b_screening_arrest fail between(), as they fail R's filter.
    keep = (
        raw["days_b_screening_arrest"].between(-30, 30)
        & (raw["is_recid"] != -1)
        & (raw["c_charge_degree"] != "O")
        & raw["score_text"].notna()
        & (raw["score_text"] != "N/A")
        & raw["race"].isin(_COMPAS_RACES)
    )
    raw = raw[keep].reset_index(drop=True)

    frame = raw[[c for c in _COMPAS_FEATURES if c != "length_of_stay"]].copy()
    frame["sex"] = _as_category(frame["sex"])
    frame["age_cat"] = _as_category(frame["age_cat"], _COMPAS_AGE_CATEGORIES)
    frame["c_charge_degree"] = _as_category(frame["c_charge_degree"])
    # ProPublica's length of stay: whole calendar days between jail in and out.
    jail_in = pd.to_datetime(raw["c_jail_in"]).dt.normalize()
    jail_out = pd.to_datetime(raw["c_jail_out"]).dt.normalize()
    frame["length_of_stay"] = (jail_out - jail_in).dt.days.astype("int64")
    frame["race"] = (raw["race"] == "Caucasian").astype("int64")
    # The favourable outcome, not reoffending, is the positive class.
    frame["no_two_year_recid"] = (raw["two_year_recid"] == 0).astype("int64")
    return frame


@lru_cache(maxsize=1)
def _german_frame():
    """Parse german.data, replacing attribute 9 by a binary sex column."""
    raw = pd.read_csv(
        io.BytesIO(_load_raw_bytes("german.data")),
        sep=" ",
        header=None,
        names=_GERMAN_COLUMNS,
    )
    frame = raw[_GERMAN_FEATURES].copy()
    for column in _GERMAN_FEATURES:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            # Order the codes by number (A40, ..., A49, A410) as documented.
            codes = sorted(frame[column].unique(), key=lambda code: int(code[1:]))
            frame[column] = _as_category(frame[column], codes)
    frame["sex"] = raw["personal_status_sex"].isin(_GERMAN_MALE_CODES).astype("int64")
    frame["good_credit"] = (raw["credit"] == 1).astype("int64")
    return frame


def load_adult(*, return_X_y=False, as_frame=True):
    """Load and return the Adult census income dataset (classification).

    Predict whether a person earns more than $50K a year from the 1994 US
    Census; the sensitive attribute is sex. The UCI train and test files are
    combined and the rows with a missing value dropped.

    =================   =======================
    Classes                                   2
    Samples total                        45,222
    Dimensionality                           13
    Features            numeric and categorical
    Sensitive                  sex (1 for male)
    Target                   income (1 for >50K)
    =================   =======================

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return the triple ``(data, target, sensitive)`` instead of a
        Bunch. Unlike scikit-learn's loaders this is a triple, not a pair: the
        sensitive attribute is what fairness methods and metrics need.

    as_frame : bool, default=True
        If True, `data` is a pandas DataFrame whose categorical columns have the
        ``category`` dtype and numeric columns ``int64``, so that
        :func:`~sklearn.compose.make_column_selector` can select them by dtype;
        `target` and `sensitive` are Series. If False, `data` is an ndarray of
        dtype object holding the values unchanged (ints and strings: encode them
        before fitting), `target` and `sensitive` are int64 ndarrays, and
        `frame` is None. Unlike scikit-learn's ``load_*`` functions the default
        is True, as for :func:`~sklearn.datasets.fetch_openml`, because the data
        mix numbers and categories.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object, with the following attributes.

        data : {DataFrame, ndarray} of shape (45222, 13)
            The features, without the sensitive column ``sex``. ``race`` stays
            a feature.
        target : {Series, ndarray} of shape (45222,)
            1 for an income above $50K (``>50K``), 0 otherwise.
        sensitive : {Series, ndarray} of shape (45222,)
            1 for male, 0 for female.
        frame : DataFrame of shape (45222, 15) or None
            The features, then ``sex``, then ``income``. Only when `as_frame`
            is True.
        feature_names : list of str
            The names of the columns of `data`.
        target_names : ndarray of shape (2,)
            The class names, ``['<=50K', '>50K']``, indexed by `target`.
        sensitive_names : ndarray of shape (2,)
            The group names, ``['Female', 'Male']``, indexed by `sensitive`.
        DESCR : str
            The full description of the dataset.

    (data, target, sensitive) : tuple if ``return_X_y`` is True
        The three objects described above, in that order.

    See Also
    --------
    load_compas : The COMPAS two-year recidivism dataset.
    load_german : The Statlog German credit dataset.
    train_val_test_split : Split with the group x label strata preserved.

    Notes
    -----
    Source: Becker, B. and Kohavi, R. (1996). Adult [Dataset]. UCI Machine
    Learning Repository, https://doi.org/10.24432/C5XW20, licensed under CC BY
    4.0. The package ships gzip copies of the unchanged ``adult.data``,
    ``adult.test`` and ``adult.names`` and checks them against the SHA256
    checksums of the raw files when loading, raising an ``OSError`` on a
    mismatch.

    Preprocessing: the 32,561 training and 16,281 test rows are stacked in that
    order; whitespace is stripped; the trailing ``.`` of the test file's labels
    is removed; the 3,620 rows with a ``?`` are dropped. The standard feature
    set is kept, ``fnlwgt`` (a sampling weight that many studies drop)
    included. ``relationship`` (``Husband``, ``Wife``) still reveals the sex
    of many rows.

    The group x label counts, (s, y) = (0, 0), (0, 1), (1, 0), (1, 1): 13,026,
    1,669, 20,988 and 9,539, as in Table 8 of the FairIF paper.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_fairif.datasets import load_adult
    >>> adult = load_adult()
    >>> adult.data.shape
    (45222, 13)
    >>> pd.crosstab(adult.sensitive, adult.target).to_numpy()
    array([[13026,  1669],
           [20988,  9539]])
    >>> from sklearn.compose import make_column_selector
    >>> X, y, s = load_adult(return_X_y=True)
    >>> make_column_selector(dtype_include="category")(X)[:3]
    ['workclass', 'education', 'marital_status']
    """
    return _split_frame(
        _adult_frame(),
        feature_names=_ADULT_FEATURES,
        target_column="income",
        sensitive_column="sex",
        target_names=["<=50K", ">50K"],
        sensitive_names=["Female", "Male"],
        descr_file_name="adult.rst",
        return_X_y=return_X_y,
        as_frame=as_frame,
    )


def load_compas(*, return_X_y=False, as_frame=True):
    """Load and return ProPublica's COMPAS two-year recidivism dataset.

    Predict whether a defendant of Broward County, Florida, reoffends within two
    years of a COMPAS screening; the sensitive attribute is race, restricted to
    African-American and Caucasian defendants. The positive class is the
    favourable outcome, *no* recidivism.

    =================   ==================================
    Classes                                              2
    Samples total                                    5,278
    Dimensionality                                       9
    Features                       numeric and categorical
    Sensitive                     race (1 for Caucasian)
    Target              no_two_year_recid (1 for no reoffence)
    =================   ==================================

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return the triple ``(data, target, sensitive)`` instead of a
        Bunch. Unlike scikit-learn's loaders this is a triple, not a pair: the
        sensitive attribute is what fairness methods and metrics need.

    as_frame : bool, default=True
        If True, `data` is a pandas DataFrame whose categorical columns have the
        ``category`` dtype and numeric columns ``int64``, so that
        :func:`~sklearn.compose.make_column_selector` can select them by dtype;
        `target` and `sensitive` are Series. If False, `data` is an ndarray of
        dtype object holding the values unchanged (ints and strings: encode them
        before fitting), `target` and `sensitive` are int64 ndarrays, and
        `frame` is None.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object, with the following attributes.

        data : {DataFrame, ndarray} of shape (5278, 9)
            The features ``sex``, ``age``, ``age_cat``, ``juv_fel_count``,
            ``juv_misd_count``, ``juv_other_count``, ``priors_count``,
            ``c_charge_degree`` and ``length_of_stay`` (days in jail for the
            current charge), without the sensitive column ``race``.
        target : {Series, ndarray} of shape (5278,)
            1 if the defendant did **not** reoffend within two years, 0 if they
            did: ``1 - two_year_recid``.
        sensitive : {Series, ndarray} of shape (5278,)
            1 for Caucasian, 0 for African-American.
        frame : DataFrame of shape (5278, 11) or None
            The features, then ``race``, then ``no_two_year_recid``. Only when
            `as_frame` is True.
        feature_names : list of str
            The names of the columns of `data`.
        target_names : ndarray of shape (2,)
            The class names, ``['reoffended', 'did not reoffend']``, indexed by
            `target`.
        sensitive_names : ndarray of shape (2,)
            The group names, ``['African-American', 'Caucasian']``, indexed by
            `sensitive`.
        DESCR : str
            The full description of the dataset.

    (data, target, sensitive) : tuple if ``return_X_y`` is True
        The three objects described above, in that order.

    See Also
    --------
    load_adult : The Adult census income dataset.
    load_german : The Statlog German credit dataset.

    Notes
    -----
    Source: ``compas-scores-two-years.csv`` of ProPublica's data release for
    Larson, J., Mattu, S., Kirchner, L. and Angwin, J. (2016), "How We Analyzed
    the COMPAS Recidivism Algorithm", https://github.com/propublica/compas-analysis.
    The package ships a gzip copy of the unchanged file and checks it against
    the SHA256 checksum of the raw file when loading, raising an ``OSError``
    on a mismatch.

    Preprocessing, as ProPublica's analysis: keep the rows with
    ``days_b_screening_arrest`` within [-30, 30], ``is_recid != -1``,
    ``c_charge_degree != "O"`` and ``score_text != "N/A"`` (6,172 rows), then
    the African-American and Caucasian defendants (5,278 rows). The COMPAS
    scores themselves, and every column that records what happened after the
    screening, are left out of the features.

    Label orientation: the positive class (y = 1) is *no* recidivism, the
    favourable outcome, as in the FairIF paper and AIF360, and as for the other
    bundled datasets (y = 1 is a high income, a good credit risk). Take
    ``1 - target`` for the raw ``two_year_recid``.

    The group x label counts, (s, y) = (0, 0), (0, 1), (1, 0), (1, 1): 1,661,
    1,514, 822 and 1,281.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_fairif.datasets import load_compas
    >>> compas = load_compas()
    >>> compas.data.shape
    (5278, 9)
    >>> pd.crosstab(compas.sensitive, compas.target).to_numpy()
    array([[1661, 1514],
           [ 822, 1281]])
    >>> compas.sensitive_names.tolist()
    ['African-American', 'Caucasian']
    """
    return _split_frame(
        _compas_frame(),
        feature_names=_COMPAS_FEATURES,
        target_column="no_two_year_recid",
        sensitive_column="race",
        target_names=["reoffended", "did not reoffend"],
        sensitive_names=_COMPAS_RACES,
        descr_file_name="compas.rst",
        return_X_y=return_X_y,
        as_frame=as_frame,
    )


def load_german(*, return_X_y=False, as_frame=True):
    """Load and return the Statlog German credit dataset (classification).

    Predict whether a loan applicant is a good or a bad credit risk; the
    sensitive attribute is sex, derived from the attribute "personal status
    and sex", which is then dropped.

    =================   =========================
    Classes                                     2
    Samples total                           1,000
    Dimensionality                             19
    Features              numeric and categorical
    Sensitive                    sex (1 for male)
    Target              good_credit (1 for good)
    =================   =========================

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return the triple ``(data, target, sensitive)`` instead of a
        Bunch. Unlike scikit-learn's loaders this is a triple, not a pair: the
        sensitive attribute is what fairness methods and metrics need.

    as_frame : bool, default=True
        If True, `data` is a pandas DataFrame whose categorical columns have the
        ``category`` dtype and numeric columns ``int64``, so that
        :func:`~sklearn.compose.make_column_selector` can select them by dtype;
        `target` and `sensitive` are Series. If False, `data` is an ndarray of
        dtype object holding the values unchanged (ints and strings: encode them
        before fitting), `target` and `sensitive` are int64 ndarrays, and
        `frame` is None.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object, with the following attributes.

        data : {DataFrame, ndarray} of shape (1000, 19)
            The 20 attributes of the UCI file but the ninth, "personal status
            and sex". Categorical values keep the file's codes (``A11``, ...),
            documented in `DESCR` and by UCI.
        target : {Series, ndarray} of shape (1000,)
            1 for a good credit risk (``1`` in the raw file), 0 for a bad one
            (``2`` in the raw file).
        sensitive : {Series, ndarray} of shape (1000,)
            1 for male (codes ``A91``, ``A93``, ``A94``), 0 for female
            (``A92``, ``A95``).
        frame : DataFrame of shape (1000, 21) or None
            The features, then ``sex``, then ``good_credit``. Only when
            `as_frame` is True.
        feature_names : list of str
            The names of the columns of `data`.
        target_names : ndarray of shape (2,)
            The class names, ``['bad', 'good']``, indexed by `target`.
        sensitive_names : ndarray of shape (2,)
            The group names, ``['female', 'male']``, indexed by `sensitive`.
        DESCR : str
            The full description of the dataset.

    (data, target, sensitive) : tuple if ``return_X_y`` is True
        The three objects described above, in that order.

    See Also
    --------
    load_adult : The Adult census income dataset.
    load_compas : The COMPAS two-year recidivism dataset.

    Notes
    -----
    Source: Hofmann, H. (1994). Statlog (German Credit Data) [Dataset]. UCI
    Machine Learning Repository, https://doi.org/10.24432/C5NC77, licensed
    under CC BY 4.0. The package ships a gzip copy of the unchanged
    ``german.data`` and checks it against the SHA256 checksum of the raw file
    when loading, raising an ``OSError`` on a mismatch.

    Attribute 9, "personal status and sex", is not a feature: each of its codes
    determines the sex, and a personal status without the sex cannot be
    recovered from them (the female code ``A92`` merges statuses that the male
    codes keep apart), so keeping any part of it would leak the sensitive
    attribute.

    Label orientation: y = 1 is a good credit risk, the favourable outcome.

    The group x label counts, (s, y) = (0, 0), (0, 1), (1, 0), (1, 1): 109,
    201, 191 and 499.

    Examples
    --------
    >>> from sklearn_fairif.datasets import load_german
    >>> X, y, s = load_german(return_X_y=True)
    >>> X.shape
    (1000, 19)
    >>> int(y.sum()), int(s.sum())
    (700, 690)
    >>> X["purpose"].cat.categories[:3].tolist()
    ['A40', 'A41', 'A42']
    """
    return _split_frame(
        _german_frame(),
        feature_names=_GERMAN_FEATURES,
        target_column="good_credit",
        sensitive_column="sex",
        target_names=["bad", "good"],
        sensitive_names=["female", "male"],
        descr_file_name="german.rst",
        return_X_y=return_X_y,
        as_frame=as_frame,
    )
