"""Use cases: each composes the domain packages inside one transaction and publishes events."""
