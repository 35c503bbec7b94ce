"""The one error type for bad input, so that every entry point reports it the same way."""

from __future__ import annotations

import decimal
import numbers
import os
from pathlib import Path
from typing import Any

#: Digits an integer parameter may have: far beyond any seed (19) or count.
MAX_DIGITS = 100


class ConfigError(ValueError):
    """A parameter has a value that is not allowed.

    The message always names the parameter, the value and what is allowed, so the CLI can
    print it as it is and Python users see the same text.
    """

    def __init__(self, parameter: str, value: Any, allowed: str) -> None:
        self.parameter = parameter
        self.value = value
        self.allowed = allowed
        super().__init__(f"invalid {parameter}={value!r}: {allowed}")


class Note(UserWarning):
    """Something a user should know that is not an error: a scheme of ``all`` skipped
    because it cannot run here, an option that has no effect. The command line prints each
    on one line."""


def finite(parameter: str, value: Any, *, low: float | None = None, low_open: bool = False,
           allow_inf: bool = False) -> float:
    """Return ``value`` as a float, rejecting NaN, infinities (unless allowed), booleans
    and values below ``low`` (or at ``low`` when ``low_open``)."""
    what = "a number" if allow_inf else "a finite number"
    if low is not None:
        what += f" {'>' if low_open else '>='} {low:g}"
    if isinstance(value, bool):  # True is 1.0 to float(), not a number a user means
        raise ConfigError(parameter, value, f"must be {what}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ConfigError(parameter, value, f"must be {what}") from None
    if x != x or (x in (float("inf"), float("-inf")) and not (allow_inf and x > 0)):
        raise ConfigError(parameter, value, f"must be {what}")
    if low is not None and (x < low or (low_open and x == low)):
        raise ConfigError(parameter, value, f"must be {what}")
    return x


def writable_folder(parameter: str, folder: Path, shown: Path | None = None) -> None:
    """Create ``folder`` (and its parents) or raise a ConfigError naming ``parameter``, so
    that a bad output path fails before any work rather than after it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(parameter, str(shown or folder),
                          f"must be in a folder that can be created ({err.strerror})") from None
    if not os.access(folder, os.W_OK):
        raise ConfigError(parameter, str(shown or folder), "must be in a writable folder")


def integer(parameter: str, value: Any, *, low: int | None = None,
            high: int | None = None) -> int:
    """Return ``value`` as an int, rejecting non-integral numbers and values outside
    [``low``, ``high``]. Text is read exactly, as a decimal number (``"9007199254740993"``
    and ``"1e3"`` alike), never through a float, which would round integers above 2^53."""
    if low is not None and high is not None:
        what = f"an integer in [{low}, {high}]"
    else:
        what = "an integer" + (f" >= {low}" if low is not None else "")
    if isinstance(value, bool):
        raise ConfigError(parameter, value, f"must be {what}")
    if isinstance(value, numbers.Integral):
        x = int(value)
    else:
        try:
            exact = (decimal.Decimal(value.strip()) if isinstance(value, str)
                     else decimal.Decimal(float(value)))
        except (TypeError, ValueError, decimal.InvalidOperation):
            raise ConfigError(parameter, value, f"must be {what}") from None
        # A number of more digits than any count or seed (1e999999999) is not expanded.
        if (not exact.is_finite() or exact != exact.to_integral_value()
                or exact.adjusted() > MAX_DIGITS):
            raise ConfigError(parameter, value, f"must be {what}")
        x = int(exact)
    if (low is not None and x < low) or (high is not None and x > high):
        raise ConfigError(parameter, value, f"must be {what}")
    return x
