"""The course's small datasets, ready to train on: logic-gate truth tables, X-vs-O images, the
watermelon 3.0α table, 2-D toy sets for decision boundaries, and a house-price regression set.
The MNIST sample that ``shenjing.vision.datasets.MNIST`` reads by default also lives here."""

from shenjing.data.course import (  # noqa: F401
    LOGIC_GATES, house_prices, logic_gate, make_blobs, make_circles, make_moons, make_spirals, watermelon,
    xo_images)

__all__ = ["LOGIC_GATES", "logic_gate", "xo_images", "watermelon", "make_moons", "make_circles",
           "make_spirals", "make_blobs", "house_prices"]
