"""`avbridge web`: a page that holds a conversation with the avatar, and its gateway.

    gateway.py    aiohttp: the page, the face as glTF, and a WebSocket per page bridged to one
                  chat session of an avbridge server (the Python client, on a thread of its own)
    face_gltf.py  the ARKit reference face as a binary glTF with its 52 morph targets
    static/       the page (index.html, app.js, mic-worklet.js) and three.js, vendored
                  (tools/build_web_vendor.sh)
"""
