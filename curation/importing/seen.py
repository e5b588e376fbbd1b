"""Remembering millions of 64-bit keys in little memory (pure: numpy, no ORM).

An import checks each row's id against every earlier row of the file. A dict of a million ids
costs about 100 MB; here each key costs 16 bytes (the key and where it was first seen), kept in
sorted runs that are merged as they grow, so adding and looking up a chunk stays cheap.
"""

import numpy as np


class SeenKeys:
    """Keys seen so far, each with the place (a line number, or another int code) it was first
    seen at. Keys are added a chunk at a time, after the chunk's rows are checked."""

    def __init__(self):
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []  # (sorted keys, their places)

    def __len__(self) -> int:
        return sum(len(keys) for keys, _ in self._runs)

    def find(self, keys: list[int]) -> dict[int, int]:
        """The keys among `keys` seen before, mapped to where they were first seen."""
        if not keys or not self._runs:
            return {}
        # Sorted, the keys are found in one sweep of each run instead of a random walk that
        # misses the CPU's caches on every step (the runs reach millions of keys).
        wanted = np.sort(np.asarray(keys, dtype=np.int64))
        found: dict[int, int] = {}
        for run_keys, run_places in self._runs:
            at = run_keys.searchsorted(wanted).clip(max=len(run_keys) - 1)
            hit = run_keys[at] == wanted
            if hit.any():
                found.update(zip(wanted[hit].tolist(), run_places[at[hit]].tolist(), strict=True))
        return found

    def add(self, keys: list[int], places: list[int]) -> None:
        """Adds keys not seen before (the caller has checked them with `find`)."""
        if not keys:
            return
        new_keys = np.asarray(keys, dtype=np.int64)
        order = np.argsort(new_keys, kind="stable")
        self._runs.append((new_keys[order], np.asarray(places, dtype=np.int64)[order]))
        # Merge while the newest run is as large as the one before: at most log2(n) runs.
        while len(self._runs) > 1 and len(self._runs[-1][0]) >= len(self._runs[-2][0]):
            (keys_b, places_b), (keys_a, places_a) = self._runs.pop(), self._runs.pop()
            merged = np.concatenate([keys_a, keys_b])
            order = np.argsort(merged, kind="stable")
            self._runs.append((merged[order], np.concatenate([places_a, places_b])[order]))


def hex_prefix_keys(digests: list[str]) -> np.ndarray:
    """The first 64 bits of hex digests, as int64 keys."""
    if not digests:
        return np.empty(0, dtype=np.int64)
    raw = bytes.fromhex("".join([digest[:16] for digest in digests]))
    return np.frombuffer(raw, dtype=">i8").astype(np.int64)


def repeats(chunks: list[np.ndarray]) -> int:
    """How many keys repeat an earlier one, over all `chunks`."""
    if not chunks:
        return 0
    keys = np.sort(np.concatenate(chunks))  # np.unique's hash table took 40 times as long
    return int(np.count_nonzero(keys[1:] == keys[:-1]))
