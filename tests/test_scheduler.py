"""The scheduler across sessions, on a clock the test moves: no sleeps, no threads."""
from gan_core.scheduler import Scheduler


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Member:
    def __init__(self, name: str):
        self.name, self.woken = name, 0

    def wake(self) -> None:
        self.woken += 1

    def __repr__(self) -> str:
        return self.name


def test_the_cap_admits_the_first_and_queues_the_rest_in_order():
    sched = Scheduler(2, clock=Clock())
    a, b, c, d = (Member(n) for n in "abcd")
    assert sched.acquire(a) and sched.acquire(b)
    assert not sched.acquire(c) and not sched.acquire(d)
    assert (sched.position(c), sched.position(d), sched.position(a)) == (1, 2, None)
    assert not sched.acquire(c)                      # asking again keeps its place
    assert (sched.running, sched.position(c)) == (2, 1)


def test_a_release_admits_the_next_in_line_only():
    sched = Scheduler(1, clock=Clock())
    a, b, c = (Member(n) for n in "abc")
    sched.acquire(a), sched.acquire(b), sched.acquire(c)
    assert not sched.acquire(c)                      # c may not jump the line while b waits
    sched.release(a)
    assert b.woken >= 1 and c.woken == 0             # the head of the line is woken, not the rest
    assert not sched.acquire(c) and sched.acquire(b)
    assert sched.position(c) == 1 and sched.running == 1


def test_a_turn_ends_after_the_slice_only_when_others_wait():
    clock = Clock()
    sched = Scheduler(1, slice_s=30.0, clock=clock)
    a, b = Member("a"), Member("b")
    assert sched.acquire(a)
    clock.now = 100.0
    assert sched.acquire(a)                          # alone: a turn has no end
    sched.release(a)
    assert sched.acquire(a)                          # a new turn from 100.0
    clock.now = 110.0
    assert not sched.acquire(b)
    clock.now = 129.9
    assert sched.acquire(a)                          # b waits, but a's turn is not over...
    clock.now = 130.0
    assert not sched.acquire(a)                      # ...until slice_s: a goes to the back of the line
    assert (sched.position(b), sched.position(a)) == (1, 2) and b.woken >= 1
    assert sched.acquire(b) and not sched.acquire(a)
    clock.now = 160.0
    assert not sched.acquire(b) and sched.acquire(a)  # turns rotate every slice_s


def test_a_released_member_leaves_the_queue():
    sched = Scheduler(1, clock=Clock())
    a, b, c = (Member(n) for n in "abc")
    sched.acquire(a), sched.acquire(b), sched.acquire(c)
    sched.release(b)
    assert sched.position(b) is None and sched.position(c) == 1


# -- the class policy: short first turns for newcomers, then slices first come, first served -------
def class_of(n: int, clock: Clock, **policy) -> tuple[Scheduler, list[Member]]:
    sched = Scheduler(2, slice_s=30.0, clock=clock, **policy)
    members = [Member(f"m{i}") for i in range(n)]
    for m in members:
        sched.acquire(m)
    return sched, members


def tick(sched: Scheduler, members: list[Member]) -> set[str]:
    """Who trains this tick. Each member asks, as a session does before each step; one woken by
    a turn that ended asks again at once, as a session's wake() makes it."""
    granted = {m.name for m in members if sched.acquire(m)}
    return granted | {m.name for m in members if m.name not in granted and sched.acquire(m)}


def simulate(sched: Scheduler, members: list[Member], clock: Clock, until: float, dt: float = 0.5) -> dict:
    """Every member asks for a turn each tick, as a training session does before each step; the
    time of each member's first granted tick."""
    first = {}
    while clock.now < until:
        for name in tick(sched, members):
            first.setdefault(name, clock.now)
        clock.now += dt
    return first


def test_newcomers_each_get_a_short_first_turn_before_anyone_gets_a_second():
    clock = Clock()
    sched, members = class_of(20, clock, first_slice_s=3.0)
    first = simulate(sched, members, clock, until=40.0)
    # 20 newcomers, 2 places, 3 s each: the k-th pair starts at 3·k s (ticks of 0.5 s, so turns
    # run to the first tick at or past 3 s)
    assert sorted(first.values()) == [3.0 * (i // 2) for i in range(20)]
    assert first["m0"] == first["m1"] == 0.0 and first["m19"] == 27.0


def test_without_newcomer_turns_the_twentieth_waits_nine_full_slices():
    # today's policy as the oracle: 30 s turns first come, first served
    clock = Clock()
    sched, members = class_of(20, clock)
    first = simulate(sched, members, clock, until=300.0)
    assert first["m19"] == 270.0 and first["m2"] == 30.0


def test_after_first_turns_the_slices_rotate_first_come_first_served():
    clock = Clock()
    sched, members = class_of(4, clock, first_slice_s=3.0)
    starts = {m.name: [] for m in members}
    before = set()
    while clock.now < 100:
        now_on = tick(sched, members)
        for name in now_on - before:
            starts[name].append(clock.now)           # a turn begins
        before = now_on
        clock.now += 0.5
    # first turns: m0, m1 at 0; m2, m3 at 3. Then m0, m1 (back in line at 3) at 6 for 30 s;
    # m2, m3 at 36; m0, m1 again at 66
    assert starts["m0"][:3] == starts["m1"][:3] == [0.0, 6.0, 66.0]
    assert starts["m2"][:2] == starts["m3"][:2] == [3.0, 36.0]


def test_a_newcomer_never_passes_one_who_has_waited_a_whole_slice():
    clock = Clock()
    sched = Scheduler(1, slice_s=30.0, first_slice_s=3.0, clock=clock)
    a, b, c, d = (Member(n) for n in "abcd")
    assert sched.acquire(a)                           # a's first (short) turn
    clock.now = 3.0
    assert not sched.acquire(b) and sched.acquire(b) is False
    assert not sched.acquire(a)                       # a's first turn is over: b (a newcomer) goes first
    assert sched.acquire(b)
    clock.now = 4.0
    assert not sched.acquire(c)                       # a newcomer passes a, who waited 1 s
    assert (sched.position(c), sched.position(a)) == (1, 2)
    clock.now = 40.0                                  # a has waited 37 s: more than a slice
    assert not sched.acquire(d)
    assert [sched.position(m) for m in (c, a, d)] == [1, 2, 3]


def test_the_estimate_adds_the_turns_ahead():
    clock = Clock()
    sched = Scheduler(2, slice_s=30.0, first_slice_s=3.0, clock=clock)
    a, b, c, d, e = (Member(n) for n in "abcde")
    for m in (a, b, c, d, e):
        sched.acquire(m)
    assert sched.eta(a) is None                       # running, not waiting
    clock.now = 1.0
    # a and b run first turns ending at 3; c takes the first free place (2 s from now), d the
    # other (2 s); e the one c frees after its 3 s first turn: 2 + 3
    assert (sched.eta(c), sched.eta(d), sched.eta(e)) == (2.0, 2.0, 5.0)
    clock.now = 3.0
    assert not sched.acquire(a) and sched.acquire(c)  # a's turn ends; c's begins at 3
    # running: b (first turn, over now: 0 s left), c (first turn until 6). Line: d, e, a (a had a turn)
    assert [sched.position(m) for m in (d, e, a)] == [1, 2, 3]
    assert (sched.eta(d), sched.eta(e), sched.eta(a)) == (0.0, 3.0, 3.0)


def test_slices_shrink_with_the_line_when_a_cycle_is_set():
    clock = Clock()
    sched, members = class_of(20, clock, cycle_s=60.0)
    # 20 members, 2 places: each turn is 60·2/20 = 6 s, so everyone starts within 54 s
    first = simulate(sched, members, clock, until=70.0)
    assert max(first.values()) == 54.0
    few = Scheduler(2, slice_s=30.0, cycle_s=60.0, clock=Clock())
    for m in (Member("x"), Member("y"), Member("z")):
        few.acquire(m)
    assert few._slice() == 30.0                       # 60·2/3 = 40 s, held to slice_s
