from collections import Counter

from tasker_cluster.testing import FirstHealthy, Random, RoundRobin, Sticky


def test_round_robin_visits_every_instance_evenly() -> None:
    strategy = RoundRobin()
    picks = Counter(strategy.choose([True, True, True]) for _ in range(30))
    assert picks == {0: 10, 1: 10, 2: 10}


def test_round_robin_skips_an_instance_marked_down() -> None:
    strategy = RoundRobin()
    picks = [strategy.choose([True, False, True]) for _ in range(6)]
    assert 1 not in picks
    assert set(picks) == {0, 2}


def test_every_strategy_falls_back_to_all_instances_when_none_is_up() -> None:
    for strategy in (RoundRobin(), Random(seed=1), FirstHealthy(), Sticky("k")):
        assert strategy.choose([False, False]) in (0, 1)


def test_first_healthy_returns_the_first_instance_that_is_up() -> None:
    assert FirstHealthy().choose([False, False, True, True]) == 2
    assert FirstHealthy().choose([True, True]) == 0


def test_sticky_sends_one_key_to_one_instance_and_moves_only_when_it_is_down() -> None:
    up = [True, True, True, True]
    home = Sticky("customer-42").choose(up)
    assert all(Sticky("customer-42").choose(up) == home for _ in range(10))
    up[home] = False
    moved = Sticky("customer-42").choose(up)
    assert moved != home
    assert moved == (home + 1) % 4


def test_sticky_spreads_different_keys_over_instances() -> None:
    homes = {Sticky(f"key-{n}").choose([True] * 4) for n in range(50)}
    assert homes == {0, 1, 2, 3}


def test_random_never_picks_an_instance_marked_down() -> None:
    strategy = Random(seed=7)
    picks = {strategy.choose([False, True, False, True]) for _ in range(100)}
    assert picks == {1, 3}
