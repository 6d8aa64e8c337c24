"""Money in over the wire (issue 13 point 4): the HTTP adapter's recharge against the channel
simulator as a real process (protocol v1, POST /v1/recharges), and the app's top-up through it.
The recharge keeps the port's rules: idempotent by the top-up id, a conflict for the same key with
other details, nothing recorded after not_after, and its status can be asked after any crash."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from tests.channelsim_proc import ChannelSim
from tests.support import both_backends, payout_world
from webapp.channel.base import ChannelAnswer, TransferState, TransferStatus, TransientChannelError
from webapp.channel.http import ChannelConflict, HttpChannel
from webapp.models import FundsAccount
from webapp.models.funds import TopupStatus
from webapp.services import funds as svc

SECRET = "test-channel-secret"
T = 1_800_000_000
NOW = datetime.fromtimestamp(T, timezone.utc)
NOT_AFTER = NOW + timedelta(minutes=5)


@pytest.fixture
def sim(tmp_path):
    with ChannelSim(tmp_path, SECRET) as sim:
        sim.clock(now=T)
        yield sim


@pytest.fixture
def http(sim):
    with HttpChannel(sim.url, SECRET, read_timeout=10) as channel:
        yield channel


def test_a_recharge_is_final_at_once_and_a_repeat_answers_what_was_recorded(sim, http):
    first = http.recharge(7, "shop-1", 5_000, NOW, NOT_AFTER)
    again = http.recharge(7, "shop-1", 5_000, NOW, NOT_AFTER)
    assert first.accepted and first.reference and again == first
    assert http.recharge_status(7, NOW) == TransferStatus(TransferState.SUCCEEDED, first.reference)
    assert http.recharge_status(8, NOW) == TransferStatus(TransferState.UNKNOWN)
    books = sim.transfers()["recharges"]
    assert [(r["idempotency_key"], r["amount_fen"], r["state"]) for r in books] == [("7", 5_000, "succeeded")]
    with pytest.raises(ChannelConflict):
        http.recharge(7, "shop-1", 5_001, NOW, NOT_AFTER)
    with pytest.raises(ChannelConflict):
        http.recharge(7, "shop-2", 5_000, NOW, NOT_AFTER)


def test_a_declined_recharge_is_recorded_as_failed_with_its_reason(sim, http):
    sim.faults(declined_shops=["shop-9"])
    answer = http.recharge(3, "shop-9", 1_000, NOW, NOT_AFTER)
    assert answer == ChannelAnswer(accepted=False, reference=answer.reference, reason="bank_declined")
    assert http.recharge_status(3, NOW) == TransferStatus(TransferState.FAILED, answer.reference, "bank_declined")


def test_a_recharge_after_its_deadline_is_refused_and_never_recorded(sim, http):
    late = NOT_AFTER + timedelta(seconds=1)
    sim.clock(now=late.timestamp())
    with pytest.raises(TransientChannelError) as err:
        http.recharge(4, "shop-1", 1_000, late, NOT_AFTER)
    assert err.value.delivered is False
    assert http.recharge_status(4, late) == TransferStatus(TransferState.UNKNOWN)


def test_an_outage_is_a_transient_error_that_never_reached_the_channel(sim, http):
    sim.faults(outage=True)
    with pytest.raises(TransientChannelError):
        http.recharge(5, "shop-1", 1_000, NOW, NOT_AFTER)
    sim.faults(outage=False)
    assert http.recharge_status(5, NOW) == TransferStatus(TransferState.UNKNOWN)


def test_an_answer_dropped_on_the_way_back_is_found_by_asking(sim, http):
    sim.faults(drop_answer_next=1)
    with pytest.raises(TransientChannelError) as err:
        http.recharge(6, "shop-1", 2_000, NOW, NOT_AFTER)
    assert err.value.delivered is True  # it may have landed: only the channel can tell
    assert http.recharge_status(6, NOW).state == TransferState.SUCCEEDED


@both_backends
def test_the_apps_top_up_through_the_http_channel(app, db, make, clock, sim, http):
    sim.clock(now=clock.now().timestamp())
    w = payout_world(make, db, funds_fen=0)
    result = svc.request_topup(db.session, w.main, 3_300, "d" * 32, clock.now(), channel=http,
                               ttl=timedelta(seconds=20))
    assert result.status == TopupStatus.SUCCEEDED and result.available_fen == 3_300
    again = svc.request_topup(db.session, w.main, 3_300, "d" * 32, clock.now(), channel=http, ttl=timedelta(seconds=20))
    assert again.replayed
    assert [(r["topup_id"], r["shop_ref"]) for r in sim.transfers()["recharges"]] == [(result.topup_id, f"shop-{w.shop.id}")]
    db.session.commit()
    assert db.session.scalar(select(FundsAccount.available_fen).where(FundsAccount.shop_id == w.shop.id)) == 3_300
