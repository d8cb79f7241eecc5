// What the page uses of three.js: the core and the glTF loader (the face is a glTF with morph targets).
export * from 'three';
export { GLTFLoader } from 'three/examples/jsm/loaders/GLTFLoader.js';
