"""Pure rating computation: numpy/scipy in, arrays and dataclasses out.

Nothing in this package touches a database, Redis, Flask or files.
"""
