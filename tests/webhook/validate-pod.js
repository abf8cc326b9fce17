// Validate JSON files as Kubernetes v1 Pods with the kubernetes-models
// package (its JSON schemas come from the Kubernetes OpenAPI spec).
// usage: node validate-pod.js TOOLS_DIR FILE...
"use strict";
const fs = require("fs");
const path = require("path");
const { Pod } = require(path.join(process.argv[2], "node_modules", "kubernetes-models", "v1"));
let bad = 0;
for (const f of process.argv.slice(3)) {
  try {
    new Pod(JSON.parse(fs.readFileSync(f, "utf8"))).validate();
    console.log(`valid v1 Pod: ${f}`);
  } catch (e) {
    console.error(`INVALID v1 Pod: ${f}: ${e.message}`);
    bad++;
  }
}
process.exit(bad ? 1 : 0);
