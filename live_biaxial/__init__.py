"""live-biaxial: a real-time MIDI improviser built on a biaxial LSTM (onnxruntime at play time)."""

__version__ = "0.1.0"
