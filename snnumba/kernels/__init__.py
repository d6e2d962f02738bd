"""Floor 1: compiled kernels only. Arrays in, preallocated arrays out.

``kernels.cpu`` holds ``@njit`` kernels; ``kernels.cuda`` holds their ``@cuda.jit``
twins behind launchers with the same names and argument order. Nothing here
validates input: the wrappers one floor up do.
"""
