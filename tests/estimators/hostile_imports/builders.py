"""Imports cleanly, but building the estimator hangs, crashes or exits."""

import ctypes
import sys
import time

from sklearn.linear_model import Ridge


class HangsInConstructor(Ridge):
    def __init__(self, alpha=1.0):
        time.sleep(3600)
        super().__init__(alpha=alpha)


class ExitsInConstructor(Ridge):
    def __init__(self, alpha=1.0):
        sys.exit("no licence")
        super().__init__(alpha=alpha)


def hanging_factory():
    time.sleep(3600)
    return [Ridge()]


def crashing_factory():
    ctypes.string_at(0)
    return [Ridge()]


def good_factory():
    return [Ridge(), Ridge(alpha=2.0)]
