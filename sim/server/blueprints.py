"""The loopback server's blueprint library, in the layout of CARLA 0.9.16's definitions.

- the three cameras, with the attributes the generator sets; the RGB camera also has the
  post-processing attributes of 0.9.16 (motion blur, exposure, lens), so `set_attribute` on
  them works as on a real server. The renderer ignores them; the world records them.
- `static.prop.<shape>_<size>`: the anomaly prop library (sim.server.props), `size` small /
  medium / big as CARLA's prop sizes.
- `static.prop.mesh` with `mesh_path`, `mass` and `scale` (as 0.9.16's StaticMeshFactory): a
  mesh path `/Game/Segood/Props/<shape>_<size>.<shape>_<size>` (see `mesh_path`) spawns that
  prop scaled by `scale`; any other path spawns an empty actor, as CARLA does for a mesh it
  cannot load.

A definition is `[uid, id, tags, attributes]`, an attribute `[id, type, value,
recommended_values, is_modifiable, restrict_to_recommended]` (rpc::ActorDefinition).
"""

from __future__ import annotations

from sim.server import props, protocol

B, I, F, S = protocol.ATTR_BOOL, protocol.ATTR_INT, protocol.ATTR_FLOAT, protocol.ATTR_STRING

CAMERAS = {
    "sensor.camera.rgb": protocol.SENSOR_RGB,
    "sensor.camera.semantic_segmentation": protocol.SENSOR_SEMANTIC,
    "sensor.camera.instance_segmentation": protocol.SENSOR_INSTANCE,
}
CAMERA_ATTRIBUTES = (
    ("image_size_x", I, "800"), ("image_size_y", I, "600"), ("fov", F, "90.0"),
    ("sensor_tick", F, "0.0"), ("role_name", S, "front"),
)  # fmt: skip
# 0.9.16's recommended values (ActorBlueprintFunctionLibrary, MakeCameraDefinition)
RGB_ATTRIBUTES = (
    ("enable_postprocess_effects", B, "true"), ("gamma", F, "2.2"),
    ("motion_blur_intensity", F, "0.45"), ("motion_blur_max_distortion", F, "0.35"),
    ("motion_blur_min_object_screen_size", F, "0.1"), ("lens_flare_intensity", F, "0.1"),
    ("bloom_intensity", F, "0.675"), ("exposure_mode", S, "histogram"),
    ("exposure_compensation", F, "0.0"), ("shutter_speed", F, "200.0"), ("iso", F, "100.0"),
    ("fstop", F, "1.4"), ("exposure_min_bright", F, "10.0"), ("exposure_max_bright", F, "12.0"),
    ("exposure_speed_up", F, "3.0"), ("exposure_speed_down", F, "1.0"),
)  # fmt: skip
EXPOSURE_MODES = ("histogram", "manual")
MESH = "static.prop.mesh"
MESH_ROOT = "/Game/Segood/Props/"
SIZE_NAMES = {"s": "small", "m": "medium", "l": "big"}


def mesh_path(blueprint: str) -> str:
    """The packaged-mesh path under which `static.prop.mesh` spawns a library prop."""
    name = blueprint.removeprefix(props.PREFIX)
    return f"{MESH_ROOT}{name}.{name}"


def mesh_blueprint(path: str) -> str | None:
    """The library prop a mesh path names, or None (an empty actor, as in CARLA)."""
    if not path.startswith(MESH_ROOT):
        return None
    name = path[len(MESH_ROOT) :].split(".", 1)[0]
    bp = props.PREFIX + name
    return bp if bp in props.library() else None


def _attr(name: str, kind: int, value: str, modifiable: bool = True) -> list:
    recommended = list(EXPOSURE_MODES) if name == "exposure_mode" else []
    return [name, kind, value, recommended, modifiable, name == "exposure_mode"]


def definitions() -> list:
    out = []
    for bp in CAMERAS:
        attrs = [_attr(*a) for a in CAMERA_ATTRIBUTES]
        if bp == "sensor.camera.rgb":
            attrs += [_attr(*a) for a in RGB_ATTRIBUTES]
        out.append([len(out) + 1, bp, "sensor,camera," + bp.rsplit(".", 1)[-1], attrs])
    for bp, spec in props.library().items():
        size = SIZE_NAMES[bp.rsplit("_", 1)[-1]]
        attrs = [_attr("role_name", S, "prop"), _attr("size", S, size, modifiable=False)]
        out.append([len(out) + 1, bp, f"static,prop,{spec.shape}", attrs])
    mesh_attrs = [
        _attr("role_name", S, "prop"),
        _attr("mesh_path", S, ""),
        _attr("mass", F, ""),
        _attr("scale", F, "1.0f"),
    ]
    out.append([len(out) + 1, MESH, "static,prop,mesh", mesh_attrs])
    return out
