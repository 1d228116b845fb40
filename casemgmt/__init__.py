"""casemgmt: event-sourced case management for a social security customer care centre."""
