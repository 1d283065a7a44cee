"""fastnn's estimators scale out on Dask: a scikit-learn grid search whose fits run on the
workers of a ``dask.distributed`` cluster scores every candidate exactly as the same search
run in this process does, since each fit depends on its ``random_state`` alone."""

import re

import joblib
import numba
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV

from fastnn.estimators import MLPClassifier

distributed = pytest.importorskip(
    "distributed", reason="dask.distributed is not installed (pip install 'fastnn-numba[dask]')")

GRID = {"alpha": [1e-4, 1e-2], "learning_rate_init": [3e-3, 1e-2, 3e-2]}
CV = 3
# Every fit stops on ``tol`` within about 80 epochs of 200, so none warns of convergence:
# in this process that warning is an error (and the fit's score NaN), on a worker it is not.
ESTIMATOR = MLPClassifier(hidden_layer_sizes=(16,), max_iter=200, tol=1e-2, random_state=0)
RESULTS = ["mean_test_score", "std_test_score", "rank_test_score",
           *(f"split{fold}_test_score" for fold in range(CV))]


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16, y[:600]


def search(n_jobs):
    return GridSearchCV(ESTIMATOR, GRID, cv=CV, n_jobs=n_jobs, error_score="raise")


def fits_per_worker(task_stream):
    """How many ``_fit_and_score`` calls each worker ran, from joblib's batch keys."""
    counts = {}
    for task in task_stream:
        batch = re.match(r"batch_of__fit_and_score_(\d+)_calls", task["key"])
        if batch:
            counts[task["worker"]] = counts.get(task["worker"], 0) + int(batch[1])
    return counts


# Cluster start-up takes several seconds (two spawned worker processes, each importing
# fastnn and loading its cached kernels); the search itself takes a few.
def test_a_grid_search_on_a_dask_cluster_scores_as_one_in_process(digits):
    X, y = digits
    in_process = search(n_jobs=1).fit(X, y)

    # Numba's thread count is per thread: ``client.run(numba.set_num_threads, 1)`` would set it
    # on each worker's event-loop thread only, not on the thread its tasks run in. The
    # environment sets it for the whole worker process.
    with distributed.LocalCluster(host="127.0.0.1", n_workers=2, threads_per_worker=1,
                                  processes=True, dashboard_address=None,
                                  env={"NUMBA_NUM_THREADS": "1"}) as cluster, \
            distributed.Client(cluster) as client:
        workers = sorted(client.scheduler_info()["workers"])
        assert len(workers) == 2
        in_tasks = [client.submit(numba.get_num_threads, workers=[worker], pure=False)
                    for worker in workers]  # asked in the thread that runs the fits
        assert client.gather(in_tasks) == [1, 1]
        assert client.run(lambda: numba.config.NUMBA_NUM_THREADS) == dict.fromkeys(workers, 1)

        with distributed.get_task_stream(client) as task_stream, \
                joblib.parallel_backend("dask"):
            on_dask = search(n_jobs=-1).fit(X, y)
        fits = fits_per_worker(task_stream.data)

    n_fits = len(in_process.cv_results_["params"]) * CV
    assert sorted(fits) == workers and sum(fits.values()) == n_fits, fits
    for name in RESULTS:
        np.testing.assert_array_equal(on_dask.cv_results_[name], in_process.cv_results_[name],
                                      err_msg=name)
    assert on_dask.cv_results_["params"] == in_process.cv_results_["params"]
    assert on_dask.best_params_ == in_process.best_params_
    assert np.ptp(in_process.cv_results_["mean_test_score"]) > 0  # the grid is not flat
