"""Video analysis: pure functions of frames (numpy arrays) and settings, with no I/O.

Needs the ``video`` extra (OpenCV 4, whose HOG people detector needs no downloaded weights).
"""
