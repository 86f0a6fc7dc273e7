"""Verified access to the bundled data files and the loaders' return values."""

import gzip
import hashlib
from functools import lru_cache
from importlib import resources

import numpy as np
from sklearn.utils import Bunch

DATA_MODULE = "sklearn_fairif.datasets"
DATA_DIR = "data"
CHECKSUM_FILE = "SHA256SUMS"


def _data_path(file_name):
    """Return a traversable path to `file_name` in the bundled data folder."""
    return resources.files(DATA_MODULE) / DATA_DIR / file_name


@lru_cache(maxsize=1)
def _expected_checksums():
    """Map each raw file name to its SHA256 digest, as listed in SHA256SUMS.

    The file has the format of ``sha256sum``; the digests are those of the raw
    files, not of their compressed copies, so that they can be compared with the
    upstream releases directly.
    """
    text = _data_path(CHECKSUM_FILE).read_text(encoding="ascii")
    checksums = {}
    for line in text.splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            # sha256sum marks files hashed in binary mode with a leading "*".
            checksums[name.lstrip("*")] = digest.lower()
    return checksums


def _check_sha256(content, *, expected, name):
    """Raise an OSError unless `content` has the SHA256 digest `expected`."""
    actual = hashlib.sha256(content).hexdigest()
    if actual != expected:
        raise OSError(
            f"The bundled copy of {name!r} has SHA256 checksum {actual}, which "
            f"differs from the checksum of the raw file ({expected}): the "
            "installed data file is corrupted or was modified. Reinstall "
            "sklearn_fairif."
        )


def _load_raw_bytes(raw_name):
    """Return the content of the raw file `raw_name`, verified.

    The package ships a gzip copy of each raw file. Hashing the decompressed
    bytes costs a few milliseconds and proves that the data are exactly the
    public release that the counts in the documentation refer to.
    """
    checksums = _expected_checksums()
    if raw_name not in checksums:
        raise OSError(f"No SHA256 checksum is recorded for {raw_name!r}.")
    with _data_path(raw_name + ".gz").open("rb") as f:
        content = gzip.decompress(f.read())
    _check_sha256(content, expected=checksums[raw_name], name=raw_name)
    return content


def _load_descr(descr_file_name):
    """Return the text of a dataset description shipped beside the data."""
    return _data_path(descr_file_name).read_text(encoding="utf-8")


def _split_frame(
    frame,
    *,
    feature_names,
    target_column,
    sensitive_column,
    target_names,
    sensitive_names,
    descr_file_name,
    return_X_y,
    as_frame,
):
    """Turn a dataset's full frame into a loader's return value.

    `frame` holds the features, then the sensitive column, then the target. It
    is usually a cached object, so it is copied before anything is handed out.
    """
    for name, value in (("return_X_y", return_X_y), ("as_frame", as_frame)):
        if not isinstance(value, bool | np.bool_):
            raise TypeError(f"{name} must be True or False, got {value!r}.")
    frame = frame.copy()
    data = frame[feature_names]
    target = frame[target_column]
    sensitive = frame[sensitive_column]
    if not as_frame:
        # The features mix numbers and strings: an object array keeps each
        # value as it is rather than silently choosing an encoding.
        data = data.to_numpy(dtype=object)
        target = target.to_numpy()
        sensitive = sensitive.to_numpy()
        frame = None

    if return_X_y:
        return data, target, sensitive

    return Bunch(
        data=data,
        target=target,
        sensitive=sensitive,
        frame=frame,
        feature_names=list(feature_names),
        target_names=np.asarray(target_names),
        sensitive_names=np.asarray(sensitive_names),
        DESCR=_load_descr(descr_file_name),
    )
