"""Leases in a folder: one holder at a time, joined by its own owner, taken over once expired."""

import json
import threading

import pytest

from taar_assets.leases import Lease, LeaseHeld, LeaseLost


def lease(tmp_path, owner: str, seconds: float = 60.0) -> Lease:
    return Lease(str(tmp_path), "2026-11-20", owner, seconds, holder=f"run {owner}", description="partition 2026-11-20")


def records(tmp_path) -> dict[str, dict]:
    folder = tmp_path / "_leases" / "2026-11-20"
    return {path.name: json.loads(path.read_text()) for path in sorted(folder.iterdir())}


def test_one_holder_at_a_time_and_the_message_names_it(tmp_path):
    with lease(tmp_path, "a"):
        with pytest.raises(LeaseHeld, match=r"^partition 2026-11-20 is held by run a, pid \d+ on .* since .* UTC \(its lease runs to .* UTC unless renewed\)$"):
            lease(tmp_path, "b").acquire()
    with lease(tmp_path, "b"):  # given back: the next one takes it
        assert list(records(tmp_path)) == ["000000000001.json", "000000000002.json"]
        assert records(tmp_path)["000000000001.json"]["released"]


def test_the_same_owner_joins_and_only_the_taker_gives_it_back(tmp_path):
    first = lease(tmp_path, "run-1").acquire()
    second = lease(tmp_path, "run-1").acquire()  # another resource of the same run
    assert second.joined and second.generation == first.generation
    second.release()
    with pytest.raises(LeaseHeld):
        lease(tmp_path, "run-2").acquire()
    first.release()
    lease(tmp_path, "run-2").acquire().release()


def test_a_dead_holders_lease_is_taken_once_it_has_run_out(tmp_path):
    dead = lease(tmp_path, "dead", seconds=0.3).acquire()
    dead._stop.set()  # it stops renewing, as a killed process does
    with pytest.raises(LeaseHeld):
        lease(tmp_path, "b").acquire()
    taken = lease(tmp_path, "b").acquire(wait=2)
    assert taken.generation == 2
    with pytest.raises(LeaseLost, match="generation 2 was taken while this holder had generation 1"):
        dead.renew()
    with pytest.raises(LeaseLost):
        dead.check()
    taken.release()


def test_a_holder_keeps_its_lease_by_renewing_it(tmp_path):
    holder = lease(tmp_path, "a", seconds=0.3).acquire()
    renewed = threading.Event()
    original = holder.renew
    holder.renew = lambda: (original(), renewed.set())
    assert renewed.wait(5)
    with pytest.raises(LeaseHeld):
        lease(tmp_path, "b").acquire()
    holder.check()
    holder.release()


def test_exactly_one_of_many_contenders_takes_a_free_lease(tmp_path):
    winners, losers = [], []
    start = threading.Barrier(8)

    def contend(owner: str) -> None:
        start.wait()
        try:
            winners.append(lease(tmp_path, owner).acquire())
        except LeaseHeld:
            losers.append(owner)

    threads = [threading.Thread(target=contend, args=(f"run-{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1 and len(losers) == 7
    winners[0].release()
