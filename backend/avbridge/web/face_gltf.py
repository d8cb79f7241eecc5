"""The ARKit reference face (render/arkit_face.npz) as a binary glTF 2.0 file for three.js.

One mesh: positions and smooth normals of the neutral face, triangles, and 52 morph targets (the
position offsets of each ARKit shape, in avbridge's order) whose names are in the mesh's
`extras.targetNames`, where three.js's GLTFLoader reads them into `morphTargetDictionary`. The
normals are not morphed (a small error on a face this size, and half the file). The scene's
extras give what the page needs to add the eyes and turn the head: the eye holes' centres, the
eyeball and iris radii and the neck pivot, in the mesh's metres (x to the face's left, y up, z
toward the viewer, as avbridge's head pose).

Shapes: glb() -> bytes.
"""

from __future__ import annotations

import functools

import numpy as np

from avbridge.core.arkit import ARKIT_BLENDSHAPES
from avbridge.render.face_mesh import EYE_RADIUS, IRIS_RADIUS, NECK_PIVOT, FaceMesh

_FLOAT, _UINT = 5126, 5125                 # glTF component types
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963


def _normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    a, b, c = (vertices[triangles[:, i]] for i in range(3))
    face = np.cross(b - a, c - a)
    normals = np.zeros_like(vertices)
    for i in range(3):
        np.add.at(normals, triangles[:, i], face)
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)


@functools.cache
def glb() -> bytes:
    import pygltflib as g

    mesh = FaceMesh()
    positions = mesh.neutral.astype(np.float32)
    normals = _normals(mesh.neutral, mesh.triangles).astype(np.float32)
    indices = mesh.triangles.astype(np.uint32).ravel()
    offsets = mesh.offsets.astype(np.float32)

    blobs: list[bytes] = []
    views: list[g.BufferView] = []
    accessors: list[g.Accessor] = []

    def add(array: np.ndarray, kind: str, component: int, target: int | None, bounds: bool = False) -> int:
        data = np.ascontiguousarray(array).tobytes()
        offset = sum(len(b) for b in blobs)
        blobs.append(data + b"\0" * (-len(data) % 4))
        views.append(g.BufferView(buffer=0, byteOffset=offset, byteLength=len(data), target=target))
        count = len(array) if kind != "SCALAR" else array.size
        accessor = g.Accessor(bufferView=len(views) - 1, componentType=component, count=count, type=kind)
        if bounds:              # glTF requires min and max on POSITION accessors, targets included
            accessor.min = array.min(axis=0).tolist()
            accessor.max = array.max(axis=0).tolist()
        accessors.append(accessor)
        return len(accessors) - 1

    position = add(positions, "VEC3", _FLOAT, _ARRAY_BUFFER, bounds=True)
    normal = add(normals, "VEC3", _FLOAT, _ARRAY_BUFFER)
    index = add(indices, "SCALAR", _UINT, _ELEMENT_ARRAY_BUFFER)
    targets = [{"POSITION": add(offsets[k], "VEC3", _FLOAT, _ARRAY_BUFFER, bounds=True)} for k in range(len(offsets))]
    primitive = g.Primitive(attributes=g.Attributes(POSITION=position, NORMAL=normal), indices=index,
                            targets=targets, material=0)
    face = g.Mesh(name="arkit_face", primitives=[primitive], weights=[0.0] * len(targets),
                  extras={"targetNames": list(ARKIT_BLENDSHAPES)})
    material = g.Material(name="skin", pbrMetallicRoughness=g.PbrMetallicRoughness(
        baseColorFactor=[0.886, 0.745, 0.659, 1.0], metallicFactor=0.0, roughnessFactor=0.65), doubleSided=False)
    extras = {"eyeCentres": mesh.eye_centres.tolist(), "eyeRadius": EYE_RADIUS, "irisRadius": IRIS_RADIUS,
              "neckPivot": NECK_PIVOT.tolist(), "source": "ARKit reference blendshapes (render/arkit_face.npz)"}
    gltf = g.GLTF2(asset=g.Asset(version="2.0", generator="avbridge"), scene=0,
                   scenes=[g.Scene(nodes=[0], extras=extras)], nodes=[g.Node(name="face", mesh=0)],
                   meshes=[face], materials=[material], accessors=accessors, bufferViews=views,
                   buffers=[g.Buffer(byteLength=sum(len(b) for b in blobs))])
    gltf.set_binary_blob(b"".join(blobs))
    return b"".join(gltf.save_to_bytes())
