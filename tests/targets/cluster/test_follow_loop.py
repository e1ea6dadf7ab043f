"""The follower's loop (appliance/serving/follow.py) driving the cluster serving backend on the
FakeCluster with the fake KServe, tick by tick: a promotion rolls the InferenceService out to the
champion; a champion whose rollout never gets ready is undone once and not retried while the
registry points at it, the old model serving throughout; the registry moving on is followed."""

from __future__ import annotations

from collections.abc import Callable

from fake_cluster import CRASH_LOOP, FakeCluster, Fault
from fake_controllers import WORKLOADS, FakeForwards, install_kserve, install_workloads
from follow_ticks import follow_ticks

from appliance.gates.registry import Entry
from appliance.serving.engine import BackendServingEngine
from appliance.serving.records import ModelRef
from appliance.targets.cluster.client import ObjRef
from appliance.targets.cluster.serving import InferenceServices, model_of

V1, V2, BROKEN = ("s3://models/iris/1/model.json", "s3://models/iris/2/model.json",
                  "s3://models/iris/3/broken.json")
VERSIONS = {V1: "1", V2: "2", BROKEN: "3"}
ISVC = ObjRef("serving.kserve.io/v1beta1", "InferenceService", "iris", WORKLOADS)


class Champions:
    """The registry's champion pointers (what sync reads: appliance/serving/engine.py ChampionSource)."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}

    def champion(self, model: str) -> Entry | None:
        return self.entries.get(model)

    def promote(self, model: str, uri: str) -> None:
        self.entries[model] = Entry(VERSIONS[uri], uri)


def test_the_follower_rolls_out_promotions_and_does_not_retry_a_champion_that_never_gets_ready() -> None:
    fake = FakeCluster()
    install_workloads(fake)
    install_kserve(fake)
    forwards = FakeForwards(fake, VERSIONS)
    backend = InferenceServices(fake, forwards, lambda uri: ModelRef(uri, VERSIONS[uri]), fake.clock,
                                "appliance-stubs:test", served=forwards.served_version)
    registry = Champions()
    engine = BackendServingEngine(backend, lambda: registry)
    fake.fault(WORKLOADS, "iris-predictor", Fault(CRASH_LOOP, pods=lambda pod: any(
        e.get("value") == BROKEN for e in pod["spec"]["containers"][0].get("env", []))))

    def isvc_uri() -> str | None:
        found = fake.get(ISVC)
        model = model_of(found) if found is not None else None
        return model.uri if model is not None else None

    def applies() -> int:
        return sum(1 for call, args in fake.calls if call == "apply" and args[0] == ISVC)

    seen: list[tuple[str | None, str | None, int, float]] = []  # before each tick

    def look() -> None:
        served = forwards.served_version(backend.require("iris").endpoint) if fake.get(ISVC) else None
        seen.append((isvc_uri(), served, applies(), fake.now))

    # What happens before each registry read; the loop stops after the last.
    ticks: list[Callable[[], None]] = [
        lambda: registry.promote("iris", V1),
        lambda: (look(), registry.promote("iris", V2)),
        lambda: (look(), registry.promote("iris", BROKEN)),
        look,
        look,
        lambda: (look(), registry.promote("iris", V1)),  # e.g. `appliance registry rollback`
        look,
    ]
    lines = follow_ticks(engine, registry, "iris", ticks)

    first, second, refused, not_retried, again, back = seen
    assert first[:3] == (V1, "1", 1)   # the first promotion deployed
    assert second[:3] == (V2, "2", 2)  # the second rolled out
    # The broken champion: one rollout (apply, then the undo's apply), 180 s of waiting, undone.
    assert refused[:3] == (V2, "2", 4) and refused[3] - second[3] >= 180.0
    # The next ticks read the same champion and leave it: no apply, no wait, the old model serves.
    assert not_retried == (V2, "2", 4, refused[3]) and again == not_retried
    # The registry pointing elsewhere is followed at once.
    assert back[:3] == (V1, "1", 5)
    assert backend.require("iris").previous == ModelRef(V2, "2")
    assert lines[:2] == [f"iris: serving the champion {V1} (version 1)",
                         f"iris: serving the champion {V2} (version 2)"]
    assert lines[2].startswith(
        f"iris: champion {BROKEN} was not deployed, the previous model keeps serving: deployment 'iris' "
        f"did not serve {BROKEN} (version 3) within 180s; the InferenceService was put back to {V2} "
        "(its pods kept serving)")
    assert lines[3:] == [f"iris: serving the champion {V1} (version 1)"]
