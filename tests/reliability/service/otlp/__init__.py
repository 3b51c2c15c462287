"""Tests of the OTLP GenAI receiver and exporter."""
