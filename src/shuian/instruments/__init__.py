"""Engineering conversions for dam-monitoring instruments: pure, vectorised formulas.

Numbers in, numbers out: every function takes floats or array-likes and returns a float64
NumPy array (0-d for scalar input). No I/O, no framework imports. Each function's docstring
states its units, its formula and its source (maker's manual or standard).

Modules
-------
vibrating_wire
    Vibrating-wire gauges (piezometers, joint meters, strain gauges): frequency to digits,
    linear and polynomial gauge factors with thermal correction, pressure to piezometric head.
thermistor
    Steinhart-Hart equation for the 3 kOhm thermistors inside vibrating-wire gauges.
carlson
    Differential-resistance (Carlson) gauges: temperature from total resistance, measured
    quantity from the resistance ratio.
weirs
    Seepage weirs: 90 degree V-notch (Thomson, Chinese practice, Kindsvater-Shen for any angle),
    rectangular and Cipolletti (trapezoidal) notches.
plumb_line
    Normal and inverted pendulum coordinometer readings and the chained absolute displacement.
levelling
    Settlement from precise levelling.
"""
