"""Headless Chromium from its command line: a page's DOM after it ran, and its screenshot.

Each run gets a profile of its own (tests run side by side) and stays offline: no first-run
pages, no extensions, no background fetches. `--no-sandbox` lets it run as root, as in CI
containers; the pages it opens are the tests' own.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

NAMES = ("chromium", "chromium-browser", "google-chrome")
INSTALL = "apt-get install -y chromium"


def find_chromium() -> str | None:
    """The Chromium on the PATH, by any of the names distributions give it."""
    return next((found for name in NAMES if (found := shutil.which(name))), None)


@dataclass(frozen=True)
class Chromium:
    binary: str
    profiles: Path  # a directory for the runs' profiles

    def dump_dom(self, page: Path, *, width: int = 1000, height: int = 1200) -> str:
        """The page's DOM, serialised after its scripts ran."""
        return self._run(page, width, height, "--dump-dom")

    def screenshot(self, page: Path, picture: Path, *, width: int, height: int) -> bytes:
        """A PNG of the page in a window of `width` x `height` pixels, saved at `picture`."""
        self._run(page, width, height, f"--screenshot={picture}")
        return picture.read_bytes()

    def _run(self, page: Path, width: int, height: int, *asked: str) -> str:
        profile = self.profiles / f"profile-{len(list(self.profiles.iterdir()))}"
        done = subprocess.run(
            [
                self.binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                *asked,
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(f"chromium exited with {done.returncode}: {done.stderr[-2000:]}")
        return done.stdout
