"""Noise fitted from a recording: its spatial covariance and spectral shape, regenerated block-exactly.

Fitting (:func:`fit_noise_model`) masks the samples around detected peaks (SpikeInterface's peak
detection, every channel) and measures, on what is left: the zero-lag covariance of the channels
(µV²) and the power spectrum of each channel (Welch, Hann windows of ``n_fft`` samples inside
spike-free stretches). The mean spectrum over channels gives one spectral shape, turned into a
zero-phase FIR filter (the inverse FFT of its square root, Hann-windowed to ``n_taps``) of unit
power gain.

Generation (:class:`FittedNoise`): counter-based white noise (:mod:`si_recsim.recording.gaussian`),
filtered along time by that FIR (``n_taps // 2`` samples of context on each side, so every block
is exact), then mixed across channels by the Cholesky factor of the covariance. Every channel then
has the fitted variance and the shared spectral shape, and channels have the fitted covariance.
What is not modelled: channel-specific spectral shapes, lagged cross-correlations beyond those of
the shared shape, non-Gaussian or non-stationary noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from si_recsim.errors import InputError
from si_recsim.recording.noise import MAIN_STREAM, mix_channels
from si_recsim.recording.spike_free import MASK_MS, channel_spectra, masked_traces

MODEL_FORMAT = "si_recsim noise model 1"


@dataclass
class NoiseModel:
    """A fitted noise model (see module notes).

    Attributes
    ----------
    sampling_frequency : float
        Hz.
    channel_locations : np.ndarray
        (n_channels, 2 or 3) µm.
    covariance : np.ndarray
        (n_channels, n_channels) µV², zero lag.
    fir : np.ndarray
        Zero-phase spectral-shape filter (odd length, sum of squares 1).
    frequencies : np.ndarray
        Hz, of ``psd``.
    psd : np.ndarray
        (n_channels, n_frequencies) µV²/Hz, the fitted spectra.
    """

    sampling_frequency: float
    channel_locations: np.ndarray
    covariance: np.ndarray
    fir: np.ndarray
    frequencies: np.ndarray
    psd: np.ndarray

    @property
    def num_channels(self) -> int:
        return len(self.covariance)

    def save(self, file_path: str | Path, overwrite: bool = False) -> Path:
        """Write the model as ``.npz`` (through :func:`si_recsim.atomic.atomic_output`)."""
        from si_recsim.atomic import atomic_output

        file_path = Path(file_path)
        with atomic_output(file_path, overwrite=overwrite) as temporary:
            with open(temporary, "wb") as file:
                np.savez(file, format=MODEL_FORMAT, sampling_frequency=self.sampling_frequency,
                         channel_locations=self.channel_locations, covariance=self.covariance, fir=self.fir,
                         frequencies=self.frequencies, psd=self.psd)
        return file_path


def load_noise_model(file_path: str | Path) -> NoiseModel:
    """A model written by :meth:`NoiseModel.save`."""
    file_path = Path(file_path)
    if not file_path.is_file():
        raise FileNotFoundError(f"Noise model {file_path} does not exist.")
    try:
        with np.load(file_path, allow_pickle=False) as data:
            if str(data["format"]) != MODEL_FORMAT:
                raise KeyError("format")
            return NoiseModel(float(data["sampling_frequency"]), data["channel_locations"], data["covariance"],
                              data["fir"], data["frequencies"], data["psd"])
    except (KeyError, ValueError, OSError):
        raise InputError(f"{file_path} is not an si_recsim noise model (fit_noise_model(...).save(path)).") from None


def fit_noise_model(recording, duration: float = 30.0, detect_threshold: float = 5.0,
                    mask_ms: tuple[float, float] = MASK_MS, n_fft: int = 1024, n_taps: int = 255) -> NoiseModel:
    """Fit a :class:`NoiseModel` to the first ``duration`` seconds of ``recording`` (one segment used).

    Parameters
    ----------
    recording : BaseRecording
        Traces in µV (``return_in_uV``), with channel locations.
    duration : float, default: 30.0
        Seconds read, from the start.
    detect_threshold : float, default: 5.0
        Peak detection threshold, in MAD units of each channel.
    mask_ms : (float, float), default: (1.0, 2.0)
        Milliseconds masked before and after each peak, on every channel.
    n_fft : int, default: 1024
        Welch window, samples.
    n_taps : int, default: 255
        Length of the spectral-shape FIR (odd; its half is the context each block needs).
    """
    if n_taps % 2 == 0 or n_taps < 3:
        raise InputError(f"n_taps must be odd and at least 3, got {n_taps}.")
    masked = masked_traces(recording, duration, detect_threshold, min_samples=4 * n_fft, mask_ms=mask_ms)
    clean = masked.traces[masked.keep] - masked.traces[masked.keep].mean(axis=0)
    covariance = clean.T @ clean / len(clean)
    psd, frequencies = channel_spectra(masked, n_fft)
    return NoiseModel(masked.sampling_frequency, np.asarray(recording.get_channel_locations(), dtype=float),
                      covariance, _shape_filter(psd.mean(axis=0), n_fft, n_taps), frequencies, psd)


def _shape_filter(mean_psd: np.ndarray, n_fft: int, n_taps: int) -> np.ndarray:
    """Zero-phase FIR whose power response follows ``mean_psd``, unit power gain."""
    impulse = np.fft.irfft(np.sqrt(np.maximum(mean_psd, 0.0)), n_fft)
    impulse = np.roll(impulse, n_taps // 2)[:n_taps] * np.hanning(n_taps + 2)[1:-1]
    return impulse / np.sqrt(np.sum(impulse**2))


class FittedNoise:
    """Noise of a :class:`NoiseModel` on the recording's grid (see module notes).

    Parameters
    ----------
    white : WhiteNoise
    model : NoiseModel
    """

    def __init__(self, white, model: NoiseModel):
        self.white = white
        self.fir = np.asarray(model.fir, dtype=np.float64)
        self.margin = len(self.fir) // 2
        self.mixing = np.linalg.cholesky(np.asarray(model.covariance, dtype=np.float64)
                                         + 1e-9 * np.eye(model.num_channels) * np.trace(model.covariance))

    def fill(self, buffer: np.ndarray, start: int) -> None:
        """Write the noise of samples ``[start, start + n)`` into ``buffer`` (n, n_channels), µV."""
        from scipy.signal import fftconvolve  # scipy.signal loads slowly: not at si_recsim's import

        white = self.white.get(MAIN_STREAM, start - self.margin, start + buffer.shape[0] + self.margin)
        shaped = fftconvolve(white.astype(np.float64), self.fir[:, None], mode="valid", axes=0)
        np.copyto(buffer, mix_channels(shaped, self.mixing), casting="same_kind")
