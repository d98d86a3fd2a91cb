"""Emergency plans and what follows from them: the incident taxonomy, the plan library, matching.

No Flask and no SQL of its own.
"""
