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
