"""Contract tests of the Wonde emulator."""
