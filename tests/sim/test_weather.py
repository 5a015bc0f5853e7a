import numpy as np

from sim.weather import FIELDS, PRESETS, sample_weather, validate


def test_sampling_is_deterministic_per_seed():
    a = sample_weather(np.random.default_rng(7))
    b = sample_weather(np.random.default_rng(7))
    assert a == b


def test_samples_are_complete_and_in_range():
    rng = np.random.default_rng(0)
    names, alts, rain, fog = set(), [], [], []
    for _ in range(400):
        name, w = sample_weather(rng)
        assert set(w) == set(FIELDS)
        validate(w)
        assert 0 <= w["cloudiness"] <= 100 and 0 <= w["precipitation"] <= 100
        assert 0 <= w["fog_density"] <= 100 and 0 <= w["sun_azimuth_angle"] <= 360
        assert -90 <= w["sun_altitude_angle"] <= 90
        if w["precipitation"] > 0:
            assert w["wetness"] >= w["precipitation"] or name in PRESETS
        names.add(name)
        alts.append(w["sun_altitude_angle"])
        rain.append(w["precipitation"])
        fog.append(w["fog_density"])
    alts = np.array(alts)
    assert (alts < 0).mean() > 0.05 and (alts > 30).mean() > 0.2  # nights and days
    assert np.mean(np.array(rain) > 0) > 0.1 and np.mean(np.array(fog) > 0) > 0.1
    assert len(names & set(PRESETS)) > 5 and "Random" in names


def test_presets_are_valid_carla_weather():
    carla = __import__("pytest").importorskip("carla")
    for name, w in PRESETS.items():
        assert hasattr(carla.WeatherParameters, name)
        carla.WeatherParameters(**w)
