"""Sweep grids: ranges, lists read like --set, linked axes, and the product's order."""

from __future__ import annotations

import pytest

from simulator.experiments.grid import grid, link, parse_axis, split_top_level


def test_a_float_range_has_clean_values() -> None:
    axis = parse_axis("population.segments[0].blockers.extension_privacy=0:0.6:7")
    assert axis.paths == ("population.segments[0].blockers.extension_privacy",)
    assert [s[0] for s in axis.steps] == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    assert all(isinstance(s[0], float) for s in axis.steps)


def test_a_whole_range_gives_integers_and_a_fractional_step_floats() -> None:
    assert [s[0] for s in parse_axis("population.users=1000:3000:3").steps] == [1000, 2000, 3000]
    assert all(type(s[0]) is int for s in parse_axis("population.users=1000:3000:3").steps)
    assert [s[0] for s in parse_axis("x=1:2:3").steps] == [1.0, 1.5, 2.0]
    assert [s[0] for s in parse_axis("x=5:5:1").steps] == [5]


def test_list_items_are_read_like_set_values() -> None:
    axis = parse_axis("client.transport=xhr, beacon")
    assert axis.steps == (("xhr",), ("beacon",))
    funnel = parse_axis("behaviour.funnel=[0.4, 0.3, 0.6, 0.7],[0.5,0.3,0.6,0.7]")
    assert funnel.steps == (([0.4, 0.3, 0.6, 0.7],), ([0.5, 0.3, 0.6, 0.7],))
    mixed = parse_axis('x=true,"a,b",{ kind = "constant", value = 1 },3')
    assert [s[0] for s in mixed.steps] == [True, "a,b", {"kind": "constant", "value": 1}, 3]


def test_split_top_level_respects_brackets_and_quotes() -> None:
    assert split_top_level("a,[1,2],{x=1,y=2},'c,d'") == ["a", "[1,2]", "{x=1,y=2}", "'c,d'"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("client.transport", "expected PATH=VALUES"),
        ("client.transport=", "expected PATH=VALUES"),
        ("client.transport=xhr,,beacon", "empty value in the list"),
        ("x=0:1:0", "a range needs a count of at least 1, got 0"),
        ("a..b=1,2", "malformed path 'a..b'"),
        ("segments[x].share=1,2", "index [x] must be a whole number >= 0"),
    ],
)
def test_malformed_axes_are_explained(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_axis(text)


def test_linked_axes_move_together_and_must_have_equal_lengths() -> None:
    axis = link([parse_axis("a.x=0:0.2:3"), parse_axis("a.none=0.8:0.6:3")])
    assert axis.paths == ("a.x", "a.none")
    assert axis.steps == ((0.0, 0.8), (0.1, 0.7), (0.2, 0.6))
    with pytest.raises(ValueError, match="a.x has 3, a.none has 2"):
        link([parse_axis("a.x=0:0.2:3"), parse_axis("a.none=0.8,0.6")])
    with pytest.raises(ValueError, match="names a path twice"):
        link([parse_axis("a.x=1,2"), parse_axis("a.x=3,4")])


def test_the_grid_is_the_product_with_the_last_axis_fastest() -> None:
    points = grid([parse_axis("a=1,2"), parse_axis("b=x,y,z")])
    assert [p.index for p in points] == list(range(6))
    assert [tuple(p.values.values()) for p in points] == [
        (1, "x"), (1, "y"), (1, "z"), (2, "x"), (2, "y"), (2, "z")
    ]  # fmt: skip
    assert points[4].overrides == ("a=2", "b=y")
    with pytest.raises(ValueError, match="more than one axis varies a"):
        grid([parse_axis("a=1,2"), parse_axis("a=3")])
    with pytest.raises(ValueError, match="at least one axis"):
        grid([])


def test_point_slugs_are_safe_file_names() -> None:
    (point,) = grid([parse_axis('client.handler_fires."desktop.safari"=0.5')])
    assert point.slug == "desktop.safari=0.5"
    (odd,) = grid([parse_axis("behaviour.funnel=[0.4, 0.3]")])
    assert odd.slug == "funnel=-0.4-0.3"
    assert "/" not in grid([parse_axis("name=a/b")])[0].slug
