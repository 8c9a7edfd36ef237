"""Deliberately naive, independent oracles: plain loops over Python integers and decimals.

They share no code with ``reference/`` beyond what a test passes in, so that a bug in the
reference cannot hide in its oracle.
"""
