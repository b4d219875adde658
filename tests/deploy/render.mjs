// Renders one kustomization with kustomize-lite.mjs (the Kustomize subset
// deploy/k8s uses) for machines without kubectl:
//   node tests/deploy/render.mjs DIR          # YAML documents, like `kubectl kustomize DIR`
//   node tests/deploy/render.mjs --json DIR   # one JSON array (scripts/test-pod.sh)
import YAML from "yaml";
import { render, RenderError } from "./kustomize-lite.mjs";

const args = process.argv.slice(2);
const json = args[0] === "--json";
const dir = json ? args[1] : args[0];
if (!dir || args.length !== (json ? 2 : 1)) {
  console.error("usage: node tests/deploy/render.mjs [--json] DIR");
  process.exit(2);
}
try {
  const objs = render(dir);
  process.stdout.write(json ? JSON.stringify(objs) + "\n" : objs.map((o) => YAML.stringify(o)).join("---\n"));
} catch (e) {
  console.error(e instanceof RenderError ? `render: ${e.message}` : e);
  process.exit(1);
}
