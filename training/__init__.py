"""Offline training of the biaxial LSTM (torch): a package apart from live_biaxial, which never imports it."""
