"""A faithful local fake of the Wonde REST API (v1.0) with a control API for tests.

from wonde_emulator import Emulator
with Emulator(schools=100, staff_per_school=20, approved=3) as emu:
    emu.api_url  # http://127.0.0.1:PORT/v1.0
"""

from .emulator import Emulator

__all__ = ["Emulator"]
