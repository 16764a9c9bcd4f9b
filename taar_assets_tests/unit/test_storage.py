"""Whole writes, exclusive creates, leftovers of killed writers, and which errors are transient."""

import errno
import os

import botocore.exceptions
import fsspec
import pytest
from s3fs.errors import translate_boto_error

from taar_assets.storage import create_object, is_transient, remove_temporaries, write_bytes_locally_in_place


def test_create_object_happens_once(tmp_path):
    fs = fsspec.filesystem("file")
    create_object(fs, str(tmp_path / "a" / "lease.json"), b"first")
    with pytest.raises(FileExistsError):
        create_object(fs, str(tmp_path / "a" / "lease.json"), b"second")
    assert (tmp_path / "a" / "lease.json").read_bytes() == b"first"
    assert os.listdir(tmp_path / "a") == ["lease.json"]  # no temporary file left


def test_leftovers_of_killed_writers_are_removed_and_nothing_else(tmp_path):
    (tmp_path / "2026-11-20.parquet").write_bytes(b"data")
    (tmp_path / ".2026-11-20.parquet.0123456789abcdef0123456789abcdef.tmp").write_bytes(b"half")
    (tmp_path / ".2026-11-19.parquet.0123456789abcdef0123456789abcdef.tmp").write_bytes(b"half")
    (tmp_path / ".clusters.0123456789abcdef0123456789abcdef.tmp.old").mkdir()
    (tmp_path / ".hidden").write_bytes(b"not ours")

    removed = remove_temporaries(str(tmp_path), of=lambda target: target.startswith("2026-11-20."))
    assert [os.path.basename(path) for path in removed] == [".2026-11-20.parquet.0123456789abcdef0123456789abcdef.tmp"]
    remove_temporaries(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == [".hidden", "2026-11-20.parquet"]
    write_bytes_locally_in_place(str(tmp_path / "x.json"), b"{}")
    assert sorted(os.listdir(tmp_path)) == [".hidden", "2026-11-20.parquet", "x.json"]


def s3_error(code: str, status: int = 400) -> BaseException:
    """The exception s3fs raises for an S3 error answer with this code."""
    response = {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return translate_boto_error(botocore.exceptions.ClientError(response, "PutObject"))


@pytest.mark.parametrize(
    "error",
    [
        s3_error("NoSuchBucket", 404), s3_error("AccessDenied", 403), s3_error("InvalidAccessKeyId", 403),
        s3_error("ExpiredToken", 400), s3_error("InvalidBucketName", 400),
        OSError(errno.ENOSPC, "No space left on device"), PermissionError(errno.EACCES, "denied"),
        OverflowError("(34, 'Numerical result out of range')"), ValueError("bad"), FileNotFoundError("gone"),
    ],
    ids=repr,
)
def test_errors_a_retry_cannot_fix_are_not_transient(error):
    assert not is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        s3_error("InternalError", 500), s3_error("SlowDown", 503), s3_error("ServiceUnavailable", 503),
        s3_error("RequestTimeout", 400), s3_error("SomethingNew", 502),
        ConnectionResetError(errno.ECONNRESET, "reset by peer"), TimeoutError("read timed out"),
        botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
        botocore.exceptions.ReadTimeoutError(endpoint_url="http://127.0.0.1:9"),
        fsspec.exceptions.FSTimeoutError(),
    ],
    ids=repr,
)
def test_network_and_server_side_errors_are_transient(error):
    assert is_transient(error)


def test_an_error_raised_from_a_transient_one_is_transient():
    try:
        try:
            raise ConnectionResetError(errno.ECONNRESET, "reset")
        except ConnectionResetError as cause:
            raise OSError("could not read s3://b/k") from cause
    except OSError as error:
        assert is_transient(error)
