"""FairIF and IFFair around skorch nets: labels, dtypes, margins, fine-tuning."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from numpy.testing import assert_allclose, assert_array_equal  # noqa: E402
from skorch import NeuralNetBinaryClassifier, NeuralNetClassifier  # noqa: E402
from torch import nn  # noqa: E402

from sklearn_fairif import FairIFClassifier, IFFairClassifier  # noqa: E402
from sklearn_fairif._staging import ReweightedModel  # noqa: E402


def _binary_net(d=5, epochs=3):
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(d, 8), nn.ReLU(), nn.Linear(8, 1))
    return NeuralNetBinaryClassifier(module, max_epochs=epochs, lr=0.05,
                                     train_split=None, verbose=0)


def _data(labels=(0, 1), n=600, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))  # float64, the module is float32
    s = (rng.random(n) < 0.5).astype(int)
    y = (X[:, 0] + 0.8 * s + rng.normal(scale=0.5, size=n) > 0.4).astype(int)
    y = np.asarray(labels, dtype=object if isinstance(labels[0], str) else None)[y]
    return X[:400], y[:400], X[400:], y[400:], s[400:]


@pytest.mark.parametrize("labels", [(0, 1), (-1, 1), (1, 2), ("bad", "good")])
@pytest.mark.parametrize("cls", [FairIFClassifier, IFFairClassifier])
def test_any_two_labels_and_float64_inputs(labels, cls):
    X, y, X_val, y_val, s_val = _data(labels)
    kw = {"n_updates": 2} if cls is IFFairClassifier else {"alpha": 0.3}
    clf = cls(_binary_net(), **kw).fit(X, y, X_val=X_val, y_val=y_val, s_val=s_val)
    pred = clf.predict(X_val)
    assert set(np.unique(pred)) <= set(labels)
    assert_array_equal(clf.classes_, np.unique(y))
    assert np.isfinite(clf.sample_weight_).all()


def test_one_output_neural_net_classifier_is_named():
    X, y, X_val, y_val, s_val = _data()
    torch.manual_seed(0)
    net = NeuralNetClassifier(nn.Sequential(nn.Linear(5, 1)), max_epochs=1,
                              criterion=nn.CrossEntropyLoss, train_split=None)
    with pytest.raises(ValueError, match="NeuralNetClassifier"):
        FairIFClassifier(net).fit(X, y, X_val=X_val, y_val=y_val, s_val=s_val)


def test_margins_hook_equals_the_adapter():
    X, y, X_val, _, _ = _data()
    model = ReweightedModel(_binary_net(), X, y, classes=np.array([0, 1]),
                            sample_weight=np.ones(len(y)), X_val=X_val)
    fitted = model.fit()
    assert_allclose(model.validation_margins(fitted),
                    model.adapter(fitted).decision_function(model.Xt_val),
                    rtol=1e-5, atol=1e-6)


def test_refit_from_stage1_fine_tunes():
    X, y, X_val, y_val, s_val = _data()
    fresh = FairIFClassifier(_binary_net(epochs=1), alpha=0.3, random_state=0)
    tuned = FairIFClassifier(_binary_net(epochs=1), alpha=0.3, random_state=0,
                             refit_start="stage1")
    args = {"X_val": X_val, "y_val": y_val, "s_val": s_val}
    fresh.fit(X, y, **args)
    tuned.fit(X, y, **args)
    # One epoch from stage 1's state is two epochs of training in all: the
    # fine-tuned net's training loss is lower than the fresh one's.
    fresh_loss = fresh.estimator_.history[-1, "train_loss"]
    tuned_loss = tuned.estimator_.history[-1, "train_loss"]
    assert tuned_loss < fresh_loss


def test_string_labels_map_the_nets_codes_in_the_display():
    # A net trains on 0/1 codes: its own predict returns them, and the
    # display's budget must count the unweighted model's accuracy in labels.
    pytest.importorskip("matplotlib")
    from sklearn_fairif import AlphaPathDisplay

    X, y, X_val, y_val, s_val = _data(("no", "yes"))
    clf = FairIFClassifier(_binary_net(), alpha=[0.1, 1.0]).fit(
        X, y, X_val=X_val, y_val=y_val, s_val=s_val)
    # The display is given the float64 rows; the module itself needs float32.
    codes = np.asarray(clf.initial_estimator_.predict(
        X_val.astype(np.float32))).astype(int)
    assert set(np.unique(codes)) <= {0, 1}
    display = AlphaPathDisplay.from_estimator(clf, X_val=X_val, y_val=y_val)
    expected = np.mean(codes == (y_val == clf.classes_[1]))
    assert expected > 0.5
    assert display.baseline_accuracy == pytest.approx(expected)


def test_sparse_inputs_to_a_net_named_before_training():
    from scipy import sparse

    X, y, X_val, y_val, s_val = _data()
    with pytest.raises(TypeError, match="skorch net needs dense inputs"):
        FairIFClassifier(_binary_net()).fit(
            sparse.csr_matrix(X), y, X_val=X_val, y_val=y_val, s_val=s_val)
