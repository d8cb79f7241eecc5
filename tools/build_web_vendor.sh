#!/bin/sh
# Rebuild the page's vendored three.js (backend/avbridge/web/static/vendor/three.min.js) from the npm
# registry: three at the version tools/web_vendor/package.json pins, with its glTF loader, bundled
# and minified by esbuild. The output is committed, so neither `make demo` nor `make test` needs npm.
set -e
cd "$(dirname "$0")/web_vendor"
npm install --no-audit --no-fund --silent
out=../../backend/avbridge/web/static/vendor
mkdir -p $out
npx esbuild entry.js --bundle --format=esm --minify --legal-comments=none --outfile=$out/three.min.js
cp node_modules/three/LICENSE $out/three.LICENSE
echo "three $(node -p "JSON.parse(require('fs').readFileSync('node_modules/three/package.json')).version") -> $out/three.min.js"
