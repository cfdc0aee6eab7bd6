import pytest

from factory.config import PriceConfig
from factory.meter.cost import endpoint_costs
from factory.meter.progress import request_cost


def rec(endpoint, session, start, end, prompt=1000, completion=3000, attempts=1):
    return dict(endpoint=endpoint, session_id=session, started_at=start, finished_at=end, attempts=attempts,
                prompt_tokens=prompt, completion_tokens=completion, reasoning_tokens=completion - 100)


def test_token_and_gpu_hour_prices():
    prices = {"http://api/v1": PriceConfig(input_per_mtok=1.0, output_per_mtok=4.0),
              "http://gpu/v1": PriceConfig(gpu_hour=3.6)}
    records = [rec("http://api/v1", "s1", 0, 10), rec("http://api/v1", "s1", 5, 20, attempts=3),
               rec("http://gpu/v1", "s1", 0, 1800), rec("http://gpu/v1", "s2", 0, 1800)]
    rows = {r["endpoint"]: r for r in endpoint_costs(records, prices, published=4)}
    api, gpu = rows["http://api/v1"], rows["http://gpu/v1"]
    assert api["usd"] == pytest.approx(2 * (1000 * 1.0 + 3000 * 4.0) / 1e6) and api["attempts"] == 4
    assert gpu["gpu_hours"] == pytest.approx(1.0) and gpu["usd"] == pytest.approx(3.6)
    assert api["usd_per_published"] == pytest.approx((api["usd"] + gpu["usd"]) / 4)
    assert request_cost(records[0], prices) == pytest.approx(0.013)


def test_unpriced_endpoints_cost_nothing_and_nothing_published_gives_no_ratio():
    rows = endpoint_costs([rec("http://x/v1", "s", 0, 1)], {}, published=0)
    assert rows[0]["usd"] == 0 and rows[0]["usd_per_published"] is None


def test_prices_are_recorded_per_resolved_endpoint(tmp_path):
    from factory.meter.cost import load_prices, record_prices
    from factory.teacher.endpoint import Endpoint

    record_prices(tmp_path, [Endpoint("http://a:1/v1", "m", "k", price=PriceConfig(gpu_hour=2.0)),
                             Endpoint("http://b:2/v1?key=s3cret", "m", "k", price=PriceConfig(output_per_mtok=1.0)),
                             Endpoint("http://free:3/v1", "m", "k")])
    record_prices(tmp_path, [Endpoint("http://c:4/v1", "m", "k", price=PriceConfig(input_per_mtok=3.0))])
    prices = load_prices(tmp_path)
    assert set(prices) == {"http://a:1/v1", "http://b:2/v1", "http://c:4/v1"}  # sessions accumulate
    assert prices["http://a:1/v1"].gpu_hour == 2.0 and "s3cret" not in (tmp_path / "prices.json").read_text()


def test_endpoint_rows_split_completion_into_reasoning_and_answer_per_record_and_total_the_run():
    from factory.meter.cost import cost_totals

    prices = {"http://api/v1": PriceConfig(input_per_mtok=1.0, output_per_mtok=4.0),
              "http://gpu/v1": PriceConfig(gpu_hour=3.6)}
    odd = rec("http://gpu/v1", "s1", 0, 900, prompt=10, completion=100) | {"reasoning_tokens": 150}
    bare = rec("http://api/v1", "s1", 0, 10) | {"reasoning_tokens": None}  # endpoint gave no reasoning count
    failed = rec("http://api/v1", "s1", 0, 5, attempts=3) | dict(prompt_tokens=None, completion_tokens=None,
                                                                  reasoning_tokens=None)
    records = [rec("http://api/v1", "s1", 0, 10), bare, failed, odd, rec("http://gpu/v1", "s1", 900, 1800)]
    rows = {r["endpoint"]: r for r in endpoint_costs(records, prices, published=5)}
    api, gpu = rows["http://api/v1"], rows["http://gpu/v1"]
    assert (api["samples"], api["attempts"], api["prompt_tokens"], api["completion_tokens"]) == (3, 5, 2000, 6000)
    assert (api["reasoning_tokens"], api["answer_tokens"], api["reasoning_unreported"]) == (2900, 100 + 3000, 1)
    # 150 reasoning of 100 completion gives answer 0 (not -50); the other record 3000 - 2900
    assert (gpu["reasoning_tokens"], gpu["answer_tokens"], gpu["reasoning_unreported"]) == (3050, 100, 0)
    assert api["usd"] == pytest.approx(2 * 0.013) and gpu["usd"] == pytest.approx(0.5 * 3.6)
    totals = cost_totals(list(rows.values()), published=5)
    assert totals == pytest.approx(dict(prompt_tokens=3010, reasoning_tokens=5950, answer_tokens=3200,
                                        completion_tokens=9100, gpu_hours=10 / 3600 + 0.5, usd=0.026 + 1.8,
                                        published=5, usd_per_published=(0.026 + 1.8) / 5))
    assert cost_totals([], published=0)["usd_per_published"] is None


def test_replicas_the_run_started_are_charged_for_their_lifetime_at_their_gpus_price(tmp_path):
    from factory.meter.cost import load_replicas, record_replicas, run_costs
    from factory.store.journal import Journal

    # two replicas of 4 GPUs at $2.5 per GPU-hour: each endpoint's price is 4 x 2.5 (serving_endpoints)
    prices = {"http://n1:20001/v1": PriceConfig(gpu_hour=10.0), "http://n2:20002/v1": PriceConfig(gpu_hour=10.0)}
    record_replicas(tmp_path, "s1", [
        dict(replica="r0", endpoint="http://n1:20001/v1", gpus=4, started_at=1000.0, stopped_at=1000.0 + 1800,
             restarts=1),
        dict(replica="r1", endpoint="http://n2:20002/v1", gpus=4, started_at=1000.0, stopped_at=1000.0 + 3600,
             restarts=0)])
    record_replicas(tmp_path, "s2", [])  # a session without served replicas writes nothing
    replicas = load_replicas(tmp_path)
    assert [r["session_id"] for r in replicas] == ["s1", "s1"]
    # r0 answered for 60 s of its half hour; r1 answered nothing and still cost its hour
    rows = {r["endpoint"]: r for r in endpoint_costs([rec("http://n1:20001/v1", "s1", 1100, 1160)], prices,
                                                      published=2, replicas=replicas)}
    assert rows["http://n1:20001/v1"]["gpu_hours"] == pytest.approx(0.5)
    assert rows["http://n1:20001/v1"]["usd"] == pytest.approx(5.0)
    assert rows["http://n2:20002/v1"]["samples"] == 0 and rows["http://n2:20002/v1"]["usd"] == pytest.approx(10.0)
    assert rows["http://n1:20001/v1"]["usd_per_published"] == pytest.approx(7.5)
    # the same URL in a later session that did not start it is charged by its requests' span, beside s1's life
    later = endpoint_costs([rec("http://n1:20001/v1", "s3", 0, 360)], prices, published=1, replicas=replicas)
    assert later[0]["endpoint"] == "http://n1:20001/v1" and later[0]["gpu_hours"] == pytest.approx(0.5 + 0.1)
    Journal(tmp_path, "s1").close()
    assert {r["endpoint"] for r in run_costs(tmp_path, 1)} == set(prices)  # read back from the run directory


def test_batch_mode_records_are_priced_at_the_batch_price(tmp_path):
    from factory.meter.cost import batch_endpoint, load_prices, record_prices
    from factory.teacher.endpoint import Endpoint

    half = PriceConfig(input_per_mtok=1.0, output_per_mtok=4.0)
    explicit = PriceConfig(input_per_mtok=1.0, output_per_mtok=4.0, batch_output_per_mtok=1.0)
    assert half.batch_price() == PriceConfig(input_per_mtok=0.5, output_per_mtok=2.0)
    assert explicit.batch_price() == PriceConfig(input_per_mtok=0.5, output_per_mtok=1.0)
    assert PriceConfig(input_per_mtok=1.0, batch_discount=0.4).batch_price().input_per_mtok == pytest.approx(0.4)
    record_prices(tmp_path, [Endpoint("http://api:1/v1?key=s3cret", "m", "k", price=half)], batch=True)
    prices = load_prices(tmp_path)
    assert set(prices) == {"http://api:1/v1", batch_endpoint("http://api:1/v1")} == {"http://api:1/v1",
                                                                                  "http://api:1/v1#batch"}
    rows = {r["endpoint"]: r for r in endpoint_costs([rec("http://api:1/v1#batch", "s", 0, 10),
                                                      rec("http://api:1/v1", "s", 0, 10)], prices, published=2)}
    assert rows["http://api:1/v1#batch"]["usd"] == pytest.approx(rows["http://api:1/v1"]["usd"] / 2)
