"""The spatial data of the one map: models, repositories, CRS, geometry,
import/export.

Knows nothing of Flask, routing or plans.
"""
