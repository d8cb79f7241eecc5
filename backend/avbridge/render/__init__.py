"""Drawing avatars from a Track: the ARKit reference face (face_mesh.py) and previews of takes."""
