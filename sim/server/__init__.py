"""A loopback CARLA 0.9.16 server: the real client drives procedural towns rendered on the CPU."""
