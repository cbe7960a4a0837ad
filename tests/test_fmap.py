"""FMap: inserting, replacing and deleting keep the order `FMap.of` gives (sorted by the key's
repr), so two maps with the same content are equal and hash the same however they were built."""
import random

from model.system.fmap import FMap

KEYS = ([f"k{i}" for i in range(30)] + list(range(-5, 30))
        + [("a", 1), ("a", 2), ("b",), None, "region:france", "region:france#1", "bridge:x"])


def sorted_again(m: FMap) -> FMap:
    return FMap.of(dict(m.items_))


def test_set_and_delete_give_the_map_fmap_of_gives():
    rnd = random.Random(1)
    for _ in range(2000):
        m = FMap()
        for _ in range(rnd.randrange(25)):
            m = m.set(rnd.choice(KEYS), rnd.random())
            assert m.items_ == sorted_again(m).items_
            if m.items_ and rnd.random() < 0.3:
                m = m.delete(rnd.choice(m.keys()))
                assert m.items_ == sorted_again(m).items_


def test_replacing_a_value_keeps_the_key_in_place():
    m = FMap.of({"b": 1, "a": 2, "c": 3})
    assert m.set("b", 9).items_ == (("a", 2), ("b", 9), ("c", 3))
    assert m.set("d", 4) == FMap.of({"a": 2, "b": 1, "c": 3, "d": 4})
    assert m.delete("a") == FMap.of({"b": 1, "c": 3})
