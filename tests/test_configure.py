"""The host's limits from the server's secrets: `host.configure` applies every valid key and
returns one sentence per bad one, never raising (a page would show a traceback on every run)."""
import dataclasses

import pytest

from gan_core import host
from gan_core.i18n import Message, translate, translation


@pytest.fixture(autouse=True)
def _limits_kept():
    kept = dataclasses.asdict(host.limits())
    yield
    host.configure(**kept)


def test_an_unknown_key_is_named_with_the_keys_there_are_and_the_others_apply():
    problems = host.configure(max_runing=3, slice_s=45)
    assert host.limits().slice_s == 45.0
    assert len(problems) == 1 and isinstance(problems[0], Message)
    assert "max_runing" in problems[0]
    assert all(f.name in problems[0] for f in dataclasses.fields(host.Limits))
    assert "max_runing" in translate(problems[0], translation("zh").gettext)


def test_a_bad_value_is_named_with_what_it_must_be_and_the_others_apply():
    before = host.limits().max_running
    problems = host.configure(max_running="three", idle_limit_s=-5, engines="maybe", threads=1,
                                 first_slice_s="2.5", leave_grace_s=float("nan"))
    assert len(problems) == 4, problems
    said = dict(zip(["max_running", "idle_limit_s", "engines", "leave_grace_s"], problems))
    for key, sentence in said.items():
        assert sentence.startswith(key), sentence
    assert "number" in said["max_running"] and "between" in said["idle_limit_s"]
    assert "true or false" in said["engines"] and "finite" in said["leave_grace_s"]
    lim = host.limits()
    assert lim.max_running == before and lim.threads == 1 and lim.first_slice_s == 2.5


def test_words_a_host_writes_for_on_and_off_and_numbers_as_text_are_read():
    assert host.configure(engines="off", max_running="2", slice_s="60") == []
    lim = host.limits()
    assert lim.engines is False and lim.max_running == 2 and lim.slice_s == 60.0
