"""Orchestration of the verbs: create, start, run, kill, delete."""
