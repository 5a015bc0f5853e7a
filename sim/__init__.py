"""CARLA-based StreetHazards-style scene generation.

`sim.generate` drives a CARLA 0.9.16 server through the official client and writes frames in the
StreetHazards layout; `sim.server` is a loopback server that speaks the CARLA protocol and renders
procedural towns, so the whole pipeline runs (and is tested) without Unreal Engine.
"""
