"""Governance: the repository's rules, class diagrams, pull-request gates, pruning closed branches' runs."""
