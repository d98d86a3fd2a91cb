"""The road network and everything that moves on it (built by the routing issue).

Pure Python over numpy/scipy/networkx: no Flask, no database session.
"""
