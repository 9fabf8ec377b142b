"""The pixel rules for driving events on drawn frames in the simulator's colours: each fires on its event
and not on the near misses of it (a vehicle staying in its lane, the ego changing lanes, a wreck far away)."""
import numpy as np
import pytest

from sciffusion.domains.video.event_rules import cut_in_seen, ego_collision_seen, pop_ins, pop_ins_per_frame, rule_rate

GREEN, BLUE, RED, LINE = (50, 200, 0), (100, 200, 255), (255, 100, 100), (200, 200, 200)
EGO = (31, 20)  # row, column of the ego's top-left pixel


def road(frames=6, shift=0):
    """[T, 64, 64, 3]: grey road, lane lines every 5 rows from row 24 (+ shift per frame), the ego at EGO."""
    clip = np.full((frames, 64, 64, 3), 100, np.uint8)
    for t in range(frames):
        for row in range(24, 45, 5):
            clip[t, row + shift * t, :] = LINE
        clip[t, EGO[0]:EGO[0] + 2, EGO[1]:EGO[1] + 4] = GREEN
    return clip


def draw(clip, t, row, col, colour=BLUE):
    clip[t, row:row + 2, col:col + 4] = colour


def test_a_vehicle_entering_the_ego_lane_ahead_is_a_cut_in():
    clip = road()
    for t, row in enumerate([36, 36, 35, 31, 31, 31]):  # from the lane below into the ego's lane, 20 px ahead
        draw(clip, t, row, 40)
    assert cut_in_seen(clip)


@pytest.mark.parametrize("rows, col", [([36] * 6, 40),  # stays in the next lane
                                       ([31] * 6, 40),  # in the ego lane throughout
                                       ([36, 36, 35, 31, 31, 31], 10),  # enters behind the ego
                                       ([36, 36, 35, 31, 31, 31], 62)])  # enters beyond 30 m
def test_no_cut_in_without_entering_the_lane_ahead(rows, col):
    clip = road()
    for t, row in enumerate(rows):
        draw(clip, t, row, col)
    assert not cut_in_seen(clip)


def test_the_ego_changing_into_a_vehicles_lane_is_no_cut_in():
    clip = road(shift=-1)  # the lines move up under the ego: the ego moves down into the next lane
    for t in range(6):
        draw(clip, t, 36 - t, 40)  # the other vehicle keeps its lane (moves with the lines)
    assert not cut_in_seen(clip)


def test_a_wreck_touching_the_ego_is_an_ego_collision_and_one_far_away_is_not():
    near, far, none = road(), road(), road()
    for t in range(3, 6):
        draw(near, t, 31, 25, RED)
        draw(far, t, 36, 50, RED)
    assert ego_collision_seen(near) and not ego_collision_seen(far) and not ego_collision_seen(none)
    no_ego = near.copy()
    no_ego[:, EGO[0]:EGO[0] + 2, EGO[1]:EGO[1] + 4] = 100  # the same wreck where no ego is drawn
    assert not ego_collision_seen(no_ego)
    assert rule_rate([near, far, none, near], "ego_collision") == 0.5


def test_pop_ins_count_vehicles_that_appear_inside_the_view_not_those_that_drive_or_enter_at_a_border():
    smooth = road()
    for t in range(6):
        draw(smooth, t, 36, 30 + 2 * t)  # drives along its lane
        draw(smooth, t, 26, 60 - 3 * t)  # enters across the right border, then drives on
    assert pop_ins(smooth) == 0
    flicker = road()
    for t in (0, 2, 4):
        draw(flicker, t, 36, 40)  # in view every other frame: appears twice inside the view
    jump = road()
    draw(jump, 0, 36, 20)
    draw(jump, 1, 36, 45)  # 25 px (about 20 m) in one frame: no predecessor near it
    crash = road()
    draw(crash, 0, 36, 40)
    draw(crash, 1, 36, 40, RED)  # turns red in place: the same vehicle
    assert (pop_ins(flicker), pop_ins(jump), pop_ins(crash)) == (2, 1, 0)
    assert pop_ins_per_frame([smooth, flicker]) == pytest.approx(2 / 10)
    with pytest.raises(ValueError, match="2 frames"):
        pop_ins_per_frame([smooth[:1]])


def test_rules_refuse_grey_clips():
    with pytest.raises(ValueError, match="RGB"):
        ego_collision_seen(np.zeros((4, 64, 64, 1), np.uint8))
