"""Offline training of the biaxial LSTM (torch). The live instrument never imports this."""
