"""Shared pieces of the benchmark scripts: sandbox projects, peers, floors, readiness observer, statistics, reports."""
