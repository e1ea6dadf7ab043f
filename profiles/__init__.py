"""Shipped data, no code: profiles, component catalog, image lock (installed as appliance.profiles)."""
