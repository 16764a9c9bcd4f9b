"""Publishing and reading through a faulty network: the fault-injecting proxy in front of the
loopback S3 server (resets, lost answers, black holes, outages that start at an exact request)."""

import json

import pytest

from taar_assets.publishing import ModelPublisher, PublishError
from taar_assets.resources import Settings, build_resources
from taar_assets.similarity.input_contract import InputContractError, Window, find_window_files
from taar_assets.similarity.model_files import sha256
from taar_assets.similarity.recommender import SimilarityModel
from taar_assets.storage import is_transient
from taar_assets_tests.support.published import DAY, LATEST, NEXT_DAY, PREVIOUS_DAY, day_of, model_files, published
from taar_assets_tests.support.fault_proxy import Fault, fault_proxy
from taar_assets_tests.support.s3_server import REGION

# Short network time-outs and few attempts, so that a fault outlasts the client's own retries in seconds.
FAST_NETWORK = {
    "TAAR_S3_CONNECT_TIMEOUT": "1",
    "TAAR_S3_READ_TIMEOUT": "1",
    "TAAR_S3_MAX_ATTEMPTS": "1",
    "TAAR_OBJECT_TIMEOUT": "4",
    "TAAR_LEASE_SECONDS": "2",  # a lease its publisher could not give back (the store was down) runs out soon
}


@pytest.fixture
def proxy(s3):
    with fault_proxy(s3.endpoint_url) as proxy:
        yield proxy


def settings_through(proxy, bucket: str, **environment) -> Settings:
    """Every location in `bucket`, reached through the proxy, with the fast network settings."""
    return Settings.from_env(
        {
            "TAAR_CLIENTS_DAILY": f"s3://{bucket}/clients_daily",
            "TAAR_WHITELIST": f"s3://{bucket}/whitelist.json",
            "TAAR_STORAGE": f"s3://{bucket}/storage",
            "TAAR_PUBLISH": f"s3://{bucket}/similarity",
            "TAAR_S3_ENDPOINT_URL": proxy.url,
            "TAAR_S3_REGION": REGION,
            **FAST_NETWORK,
            **environment,
        }
    )


def publisher_through(proxy, bucket: str, **environment) -> ModelPublisher:
    return build_resources(settings_through(proxy, bucket, **environment))["publisher"]


def stored(s3, bucket: str) -> dict[str, bytes]:
    """The published objects as they are, read past the proxy."""
    return published(ModelPublisher(location=f"s3://{bucket}/similarity", storage_options=s3.storage_options))


def test_an_outage_after_the_first_latest_object_is_completed_by_the_next_publish(s3, proxy):
    bucket = s3.create_bucket()
    publisher = publisher_through(proxy, bucket)
    publisher.publish(PREVIOUS_DAY, model_files(PREVIOUS_DAY))

    # The store goes away right after it accepted the new donors.json, for longer than any retry.
    proxy.after(r"^PUT .*/similarity/donors\.json$", proxy.outage)
    with pytest.raises(PublishError) as raised:
        publisher.publish(DAY, model_files(DAY))
    proxy.clear()

    # What a reader of the fixed names finds: donors.json is the new day's, the others the
    # previous day's, and the marker says which day they are moving to, with every checksum.
    objects = stored(s3, bucket)
    assert [day_of(objects, name) for name in LATEST] == [f"{DAY}", f"{PREVIOUS_DAY}", f"{PREVIOUS_DAY}"]
    marker = json.loads(objects["_publishing.json"])
    assert marker["day"] == f"{DAY}"
    assert {entry["name"]: entry["sha256"] for entry in marker["objects"]} == {
        name: sha256(model_files(DAY)[name.removesuffix(".json")]) for name in LATEST
    }
    # The error says so, naming the object and the days, and is worth a retry.
    message = str(raised.value)
    assert f"s3://{bucket}/similarity/lr_curves.json" in message
    assert f"donors.json, lr_curves.json may already be {DAY}'s while manifest.json still describes {PREVIOUS_DAY}" in message
    assert raised.value.allow_retries
    # A reader that checks the manifest's checksums still loads one whole day.
    model = SimilarityModel.load(f"s3://{bucket}/similarity", s3.storage_options)
    assert model.manifest["date"] == f"{PREVIOUS_DAY}"

    # The next publish (here the next day's) first completes the interrupted day, then goes on.
    publisher.publish(NEXT_DAY, model_files(NEXT_DAY))
    objects = stored(s3, bucket)
    assert [day_of(objects, name) for name in LATEST] == [f"{NEXT_DAY}"] * 3
    assert "_publishing.json" not in objects


def test_an_outage_before_any_latest_object_leaves_them_untouched_and_says_so(s3, proxy):
    bucket = s3.create_bucket()
    publisher = publisher_through(proxy, bucket)
    publisher.publish(PREVIOUS_DAY, model_files(PREVIOUS_DAY))
    before = stored(s3, bucket)

    proxy.inject(Fault.RESET, r"^PUT .*/similarity/donors\.json$")  # every attempt at the first latest object
    with pytest.raises(PublishError) as raised:
        publisher.publish(DAY, model_files(DAY))
    proxy.clear()

    objects = stored(s3, bucket)
    assert {name: objects[name] for name in LATEST} == {name: before[name] for name in LATEST}
    message = str(raised.value)
    assert message.startswith(f"could not write s3://{bucket}/similarity/donors.json: ")
    assert message.endswith("; the latest objects were not touched")  # it asked the store: nothing landed
    assert "_publishing.json" not in objects


@pytest.mark.timeout(120)
@pytest.mark.parametrize("fault", [Fault.STALL, Fault.STALL_RESPONSE])
def test_a_black_holed_upload_fails_in_bounded_time_naming_the_object(s3, proxy, fault):
    bucket = s3.create_bucket()
    publisher = publisher_through(proxy, bucket)
    proxy.inject(fault, r"^PUT .*/similarity/lr_curves\.json$")

    with pytest.raises(PublishError) as raised:
        publisher.publish(DAY, model_files(DAY))
    proxy.clear()

    assert f"s3://{bucket}/similarity/lr_curves.json" in str(raised.value)
    assert raised.value.allow_retries  # a time-out is transient: the step retries
    attempts = proxy.requests(r"^PUT .*/similarity/lr_curves\.json$")
    assert 1 <= len(attempts) <= 10  # retried by the client, but not forever


@pytest.mark.timeout(120)
def test_the_publish_step_has_a_time_limit(s3, proxy):
    bucket = s3.create_bucket()
    # Each object write may take 4 s, the whole publish 1 s: the limit stops it at the first stall.
    publisher = publisher_through(proxy, bucket, TAAR_PUBLISH_TIME_LIMIT="1", TAAR_OBJECT_TIMEOUT="30", TAAR_S3_READ_TIMEOUT="30")
    proxy.inject(Fault.STALL, r"^PUT .*/similarity/donors20261120\.json$")
    with pytest.raises(PublishError, match=r"time limit of 1(\.0)? s") as raised:
        publisher.publish(DAY, model_files(DAY))
    proxy.clear()
    assert f"s3://{bucket}/similarity/donors20261120.json" in str(raised.value)


def test_a_transient_read_error_is_not_reported_as_a_bad_file(s3, proxy, demo_dataset):
    bucket = s3.create_bucket()
    fs = s3.filesystem()
    day_folder = f"submission_date_s3={DAY:%Y%m%d}"
    fs.put(f"{demo_dataset.clients_daily}/{day_folder}/", f"{bucket}/clients_daily/{day_folder}/", recursive=True)
    settings = settings_through(proxy, bucket)

    proxy.inject(Fault.RESET, r"^GET .*/clients_daily/")  # the footers cannot be read (the listing can)
    with pytest.raises(Exception) as raised:
        find_window_files(settings.clients_daily, Window(end=DAY, days=1), storage_options=settings.storage_options_for(settings.clients_daily))
    proxy.clear()

    assert not isinstance(raised.value, InputContractError)  # the file is fine: the network was not
    assert f"could not read s3://{bucket}/clients_daily/{day_folder}/" in str(raised.value)
    assert is_transient(raised.value)


def test_a_short_outage_is_ridden_out_by_the_clients_retries(s3, proxy):
    bucket = s3.create_bucket()
    publisher = publisher_through(proxy, bucket, TAAR_S3_MAX_ATTEMPTS="4")
    publisher.publish(PREVIOUS_DAY, model_files(PREVIOUS_DAY))

    # The three requests after the first latest object are reset: each is tried again, and lands.
    proxy.after(r"^PUT .*/similarity/donors\.json$", lambda: proxy.inject(Fault.RESET, times=3))
    publisher.publish(DAY, model_files(DAY))

    objects = stored(s3, bucket)
    assert [day_of(objects, name) for name in LATEST] == [f"{DAY}"] * 3
    assert "_publishing.json" not in objects
    assert len([seen for seen in proxy.seen if seen.fault is Fault.RESET]) == 3
