"""Unified social credit codes (统一社会信用代码, GB 32100-2015): check characters, validation, generation.

A code has 18 characters: the registration authority (1), the organisation type (1), the
administrative division of registration (6), the organisation code of GB 11714 (8 body characters
and its own check character), and a final check character over the first 17. The final check is
computed over the 31-character alphabet below (no I, O, S, V, Z) with weights 3**i mod 31.
"""

from __future__ import annotations

import numpy as np

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 characters a code may use, in the order of their values 0..30."""

_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_WEIGHTS = np.array([pow(3, i, 31) for i in range(17)], dtype=np.int64)
_ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ALPHABET_BYTES = np.frombuffer(ALPHABET.encode("ascii"), dtype=np.uint8)
_LOOKUP = np.full(256, -1, dtype=np.int64)
_LOOKUP[_ALPHABET_BYTES] = np.arange(31)


def check_character(first17: str) -> str:
    """The GB 32100 check character of the first 17 characters of a code.

    Parameters
    ----------
    first17 : the 17 leading characters, each from `ALPHABET`.
    """
    if len(first17) != 17 or any(ch not in _VALUE for ch in first17):
        raise ValueError(f"expected 17 characters from {ALPHABET}; got {first17!r}")
    total = sum(_VALUE[ch] * int(w) for ch, w in zip(first17, _WEIGHTS))
    return ALPHABET[(31 - total % 31) % 31]


def is_valid(code: object) -> bool:
    """True when `code` is an 18-character string whose last character is its GB 32100 check."""
    if not isinstance(code, str) or len(code) != 18 or any(ch not in _VALUE for ch in code):
        return False
    return check_character(code[:17]) == code[17]


def valid_mask(codes) -> np.ndarray:
    """`is_valid` for each of a sequence of values, vectorised; non-strings are invalid."""
    values = np.asarray(codes, dtype=object)
    try:    # fast path: every value an ASCII string
        fixed = values.astype("S19")
    except (UnicodeEncodeError, TypeError, ValueError):
        fixed = np.array([c if isinstance(c, str) and c.isascii() else "" for c in values], dtype="S19")
    is_str = np.fromiter(map(type, values), dtype=object, count=len(values)) == str
    ok = is_str & (np.char.str_len(fixed) == 18)
    result = np.zeros(len(values), dtype=bool)
    if not ok.any():
        return result
    matrix = fixed[ok].astype("S18").view(np.uint8).reshape(-1, 18)
    digits = _LOOKUP[matrix]
    well_formed = (digits >= 0).all(axis=1)
    check = (31 - (digits[:, :17] * _WEIGHTS).sum(axis=1) % 31) % 31
    result[np.flatnonzero(ok)] = well_formed & (check == digits[:, 17])
    return result


def make_codes(serials: np.ndarray, divisions: np.ndarray, kind: str = "91") -> np.ndarray:
    """Valid 18-character codes, one per serial, as a numpy array of str (see `code_bytes`)."""
    return ascii_strings(code_bytes(serials, divisions, kind))


def code_bytes(serials: np.ndarray, divisions: np.ndarray, kind: str = "91") -> np.ndarray:
    """Valid 18-character codes, one per serial, as an (n, 18) uint8 matrix of ASCII codes.

    Parameters
    ----------
    serials : ndarray of int in [0, 10**8), the 8-digit body of the organisation code; distinct
        serials give distinct codes.
    divisions : ndarray of int, the 6-digit administrative division code of each registration
        (e.g. 110108 for Haidian, Beijing).
    kind : the registration authority and organisation type ("91": an enterprise registered
        with the market regulator).
    """
    serials = np.asarray(serials, dtype=np.int64)
    n = len(serials)
    values = np.empty((n, 18), dtype=np.int64)
    values[:, 0] = _VALUE[kind[0]]
    values[:, 1] = _VALUE[kind[1]]
    values[:, 2:8] = _digits(np.asarray(divisions, dtype=np.int64), 6)
    body = _digits(serials, 8)
    values[:, 8:16] = body
    # GB 11714 organisation-code check: 11 - (weighted sum mod 11); 10 -> X, 11 -> 0
    org = 11 - (body * _ORG_WEIGHTS).sum(axis=1) % 11
    values[:, 16] = np.where(org == 10, _VALUE["X"], np.where(org == 11, 0, org))
    values[:, 17] = (31 - (values[:, :17] * _WEIGHTS).sum(axis=1) % 31) % 31
    return _ALPHABET_BYTES[values]


def digit_strings(numbers: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal strings of non-negative integers, vectorised (no Python loop)."""
    return ascii_strings(digit_bytes(numbers, width))


def digit_bytes(numbers: np.ndarray, width: int) -> np.ndarray:
    """(n, width) uint8 matrix of the ASCII digits of non-negative integers, zero-padded."""
    return (_digits(np.asarray(numbers, dtype=np.int64), width) + 48).astype(np.uint8)


def ascii_strings(byte_matrix: np.ndarray) -> np.ndarray:
    """Rows of an (n, width) uint8 matrix of ASCII codes as an array of str."""
    byte_matrix = np.ascontiguousarray(byte_matrix, dtype=np.uint8)
    width = byte_matrix.shape[1]
    return byte_matrix.view(f"S{width}").ravel().astype(f"U{width}")


def _digits(numbers: np.ndarray, width: int) -> np.ndarray:
    """(n, width) matrix of the decimal digits of each number, most significant first."""
    exact = min(width, 18)  # 10**19 overflows int64; wider fields are zero-padded on the left
    powers = 10 ** np.arange(exact - 1, -1, -1, dtype=np.int64)
    digits = (numbers[:, None] // powers[None, :]) % 10
    if width > exact:
        digits = np.hstack([np.zeros((len(numbers), width - exact), dtype=np.int64), digits])
    return digits
