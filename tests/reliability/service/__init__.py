"""Tests of the ledger as a service."""
