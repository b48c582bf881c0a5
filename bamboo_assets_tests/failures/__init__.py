"""Faults and hostile input, by the system that fails: each test asserts what a user sees."""
