"""Importers that turn recorded performances into (audio, Track) pairs for training and evaluation."""
