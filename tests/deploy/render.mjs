// Renders one kustomization with kustomize-lite.mjs (the Kustomize subset
// deploy/k8s uses) for machines without kubectl:
//   node tests/deploy/render.mjs DIR          # YAML documents, like `kubectl kustomize DIR`
//   node tests/deploy/render.mjs --json DIR   # one JSON array (scripts/test-pod.sh)
//   --examples: git-ignored inputs that are missing (secrets.env, TLS files)
//   are taken from their committed FILE.example (checks; never for production)
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { render, scratchTree, RenderError } from "./kustomize-lite.mjs";

const args = process.argv.slice(2);
const json = args.includes("--json");
const examples = args.includes("--examples");
const rest = args.filter((a) => a !== "--json" && a !== "--examples");
if (rest.length !== 1) {
  console.error("usage: node tests/deploy/render.mjs [--json] [--examples] DIR");
  process.exit(2);
}
let dir = path.resolve(rest[0]);
let scratch = null;
if (examples) {
  // the tree of kustomizations: deploy/k8s, two levels above an overlay
  const top = path.resolve(dir, dir.includes(`${path.sep}overlays${path.sep}`) || dir.includes(`${path.sep}components${path.sep}`) ? "../.." : "..");
  scratch = scratchTree(top);
  dir = path.join(scratch, path.relative(top, dir));
}
try {
  const objs = render(dir);
  process.stdout.write(json ? JSON.stringify(objs) + "\n" : objs.map((o) => YAML.stringify(o)).join("---\n"));
} catch (e) {
  console.error(e instanceof RenderError ? `render: ${e.message}` : e);
  process.exitCode = 1;
} finally {
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
}
