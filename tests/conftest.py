import numpy as np
import pytest


def _biased_problem(n, seed, n_groups=2):
    """A small problem where the minority group's boundary differs."""
    rng = np.random.default_rng(seed)
    minority = [0.25 / (n_groups - 1)] * (n_groups - 1)
    s = rng.choice(n_groups, size=n, p=[0.75] + minority)
    X = rng.normal(size=(n, 5))
    X[:, 0] += s  # the group is partly visible in the features
    logit = 1.5 * X[:, 1] + 0.5 * X[:, 2] - 2.0 * (s > 0) * X[:, 1] + 0.5 * (s > 0)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y, s


@pytest.fixture(scope="session")
def biased_split():
    """(X, y, X_val, y_val, s_val, X_test, y_test, s_test) with 2 groups."""
    X, y, s = _biased_problem(4000, seed=0)
    return (X[:2000], y[:2000], X[2000:3000], y[2000:3000], s[2000:3000],
            X[3000:], y[3000:], s[3000:])


@pytest.fixture(scope="session")
def three_group_split():
    X, y, s = _biased_problem(3000, seed=1, n_groups=3)
    return X[:2000], y[:2000], X[2000:], y[2000:], s[2000:]


@pytest.fixture(scope="module")
def one_thread():
    """Torch on one thread for the module's tests.

    Tiny ops on a shared 2-core machine are dominated by thread hand-offs: one
    thread is 10-50x faster here and makes timings stable.
    """
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
