// A renderer for the subset of Kustomize that deploy/k8s uses, so the deploy
// check needs no kustomize binary. Anything outside the subset is an error,
// never silently ignored:
//   Kustomization: resources (files and directories), components, patches
//     (JSON 6902 operation lists, from `path` or inline `patch`, with a
//     `target` of group/version/kind/name), images (name → newName/newTag/digest)
//   Component: the same fields, applied to the including kustomization.
// Where a real kustomize is at hand, check-k8s.mjs compares its output with ours.
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";

const KUSTOMIZATION_FILES = ["kustomization.yaml", "kustomization.yml", "Kustomization"];
const SUPPORTED = new Set(["apiVersion", "kind", "resources", "components", "patches", "images"]);

export class RenderError extends Error {}

function fail(where, msg) {
  throw new RenderError(`${where}: ${msg}`);
}

export function readYamlDocs(file) {
  const text = fs.readFileSync(file, "utf8");
  const docs = YAML.parseAllDocuments(text, { prettyErrors: true });
  const out = [];
  for (const d of docs) {
    if (d.errors.length) fail(file, d.errors.map((e) => e.message).join("; "));
    const v = d.toJS({ maxAliasCount: 0 });
    if (v !== null && v !== undefined) out.push(v);
  }
  return out;
}

function kustomizationFile(dir) {
  for (const f of KUSTOMIZATION_FILES) {
    const p = path.join(dir, f);
    if (fs.existsSync(p)) return p;
  }
  return null;
}

export function resourceId(o) {
  const [group, version] = o.apiVersion.includes("/") ? o.apiVersion.split("/") : ["", o.apiVersion];
  return { group, version, kind: o.kind, name: o.metadata?.name, namespace: o.metadata?.namespace ?? "" };
}

export function idString(o) {
  const id = resourceId(o);
  return `${id.group || "core"}/${id.version}/${id.kind}/${id.namespace ? id.namespace + "/" : ""}${id.name}`;
}

function loadKustomization(dir, expectKind) {
  const file = kustomizationFile(dir);
  if (!file) fail(dir, "no kustomization.yaml");
  const docs = readYamlDocs(file);
  if (docs.length !== 1) fail(file, "expected exactly one YAML document");
  const k = docs[0];
  for (const key of Object.keys(k)) {
    if (!SUPPORTED.has(key)) fail(file, `field '${key}' is outside the Kustomize subset tests/deploy/kustomize-lite.mjs renders`);
  }
  const kind = k.kind ?? "Kustomization";
  if (kind !== expectKind) fail(file, `kind ${kind}, expected ${expectKind}`);
  const api = expectKind === "Component" ? "kustomize.config.k8s.io/v1alpha1" : "kustomize.config.k8s.io/v1beta1";
  if (k.apiVersion !== api) fail(file, `apiVersion ${k.apiVersion}, expected ${api}`);
  return { file, k };
}

function addResources(acc, objs, where) {
  for (const o of objs) {
    if (!o || typeof o !== "object" || !o.apiVersion || !o.kind || !o.metadata?.name) {
      fail(where, "a resource lacks apiVersion, kind or metadata.name");
    }
    const id = idString(o);
    if (acc.some((x) => idString(x) === id)) fail(where, `duplicate resource ${id}`);
    acc.push(o);
  }
}

// JSON pointer (RFC 6901) helpers.
function parsePointer(p, where) {
  if (typeof p !== "string" || !p.startsWith("/")) fail(where, `bad JSON pointer ${JSON.stringify(p)}`);
  return p.slice(1).split("/").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function walk(doc, tokens, where, ptr) {
  let cur = doc;
  for (const t of tokens) {
    if (Array.isArray(cur)) {
      const i = Number(t);
      if (!/^\d+$/.test(t) || i >= cur.length) fail(where, `${ptr}: no index ${t}`);
      cur = cur[i];
    } else if (cur && typeof cur === "object") {
      if (!(t in cur)) fail(where, `${ptr}: no member ${t}`);
      cur = cur[t];
    } else {
      fail(where, `${ptr}: cannot descend into a scalar`);
    }
  }
  return cur;
}

function getAt(doc, p, where) {
  return walk(doc, parsePointer(p, where), where, p);
}

function removeAt(doc, p, where) {
  const t = parsePointer(p, where);
  const parent = walk(doc, t.slice(0, -1), where, p);
  const last = t[t.length - 1];
  if (Array.isArray(parent)) {
    const i = Number(last);
    if (!/^\d+$/.test(last) || i >= parent.length) fail(where, `${p}: no index ${last}`);
    return parent.splice(i, 1)[0];
  }
  if (!parent || typeof parent !== "object" || !(last in parent)) fail(where, `${p}: nothing to remove`);
  const v = parent[last];
  delete parent[last];
  return v;
}

function addAt(doc, p, value, where, replace) {
  const t = parsePointer(p, where);
  const parent = walk(doc, t.slice(0, -1), where, p);
  const last = t[t.length - 1];
  if (Array.isArray(parent)) {
    if (last === "-" && !replace) return void parent.push(value);
    const i = Number(last);
    const max = replace ? parent.length - 1 : parent.length;
    if (!/^\d+$/.test(last) || i > max) fail(where, `${p}: index ${last} out of range`);
    parent.splice(i, replace ? 1 : 0, value);
    return;
  }
  if (!parent || typeof parent !== "object") fail(where, `${p}: parent is not an object`);
  if (replace && !(last in parent)) fail(where, `${p}: nothing to replace`);
  parent[last] = value;
}

function applyJson6902(obj, ops, where) {
  if (!Array.isArray(ops)) fail(where, "patch is not a JSON 6902 list of operations (strategic merge is outside the subset)");
  for (const op of ops) {
    const w = `${where} (${op.op} ${op.path})`;
    switch (op.op) {
      case "add":
        addAt(obj, op.path, structuredClone(op.value), w, false);
        break;
      case "replace":
        addAt(obj, op.path, structuredClone(op.value), w, true);
        break;
      case "remove":
        removeAt(obj, op.path, w);
        break;
      case "move": {
        const v = removeAt(obj, op.from, w);
        addAt(obj, op.path, v, w, false);
        break;
      }
      case "copy":
        addAt(obj, op.path, structuredClone(getAt(obj, op.from, w)), w, false);
        break;
      case "test":
        if (JSON.stringify(getAt(obj, op.path, w)) !== JSON.stringify(op.value)) fail(w, "test failed");
        break;
      default:
        fail(w, `unknown operation ${op.op}`);
    }
  }
}

function targetMatches(o, t) {
  const id = resourceId(o);
  for (const key of Object.keys(t)) {
    if (!["group", "version", "kind", "name", "namespace"].includes(key)) return false;
    if ((id[key] ?? "") !== t[key]) return false;
  }
  return true;
}

function applyPatches(acc, patches, dir, file) {
  for (const [i, p] of (patches ?? []).entries()) {
    const where = `${file} patches[${i}]`;
    for (const key of Object.keys(p)) {
      if (!["path", "patch", "target"].includes(key)) fail(where, `field '${key}' is outside the subset`);
    }
    if (!p.target) fail(where, "a patch needs a target");
    let ops;
    if (p.path) {
      const docs = readYamlDocs(path.join(dir, p.path));
      if (docs.length !== 1) fail(where, "patch file must hold one document");
      ops = docs[0];
    } else if (typeof p.patch === "string") {
      ops = YAML.parse(p.patch);
    } else {
      fail(where, "a patch needs path or patch");
    }
    const hits = acc.filter((o) => targetMatches(o, p.target));
    if (hits.length === 0) fail(where, `target ${JSON.stringify(p.target)} matches no resource`);
    for (let j = 0; j < acc.length; j++) {
      if (targetMatches(acc[j], p.target)) {
        const copy = structuredClone(acc[j]);
        applyJson6902(copy, ops, where);
        acc[j] = copy;
      }
    }
  }
}

function podSpecs(o) {
  const s = o.spec;
  if (!s) return [];
  if (o.kind === "Pod") return [s];
  if (s.template?.spec) return [s.template.spec];
  if (s.jobTemplate?.spec?.template?.spec) return [s.jobTemplate.spec.template.spec];
  return [];
}

function applyImages(acc, images, file) {
  for (const img of images ?? []) {
    for (const key of Object.keys(img)) {
      if (!["name", "newName", "newTag", "digest"].includes(key)) fail(file, `images: field '${key}' is outside the subset`);
    }
    for (const o of acc) {
      for (const spec of podSpecs(o)) {
        for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
          if (typeof c.image !== "string") continue;
          const m = /^(.*?)(?::([^:/@]+))?(?:@(.+))?$/.exec(c.image);
          if (m[1] !== img.name) continue;
          const name = img.newName ?? m[1];
          if (img.digest) c.image = `${name}@${img.digest}`;
          else if (img.newTag) c.image = `${name}:${img.newTag}`;
          else c.image = name + (m[2] ? `:${m[2]}` : "") + (m[3] ? `@${m[3]}` : "");
        }
      }
    }
  }
}

function build(dir, kind, acc) {
  const { file, k } = loadKustomization(dir, kind);
  for (const r of k.resources ?? []) {
    const p = path.resolve(dir, r);
    if (!fs.existsSync(p)) fail(file, `resource ${r} does not exist`);
    if (fs.statSync(p).isDirectory()) addResources(acc, build(p, "Kustomization", []), p);
    else addResources(acc, readYamlDocs(p), p);
  }
  for (const c of k.components ?? []) {
    const p = path.resolve(dir, c);
    if (!fs.existsSync(p) || !fs.statSync(p).isDirectory()) fail(file, `component ${c} is not a directory`);
    build(p, "Component", acc);
  }
  applyPatches(acc, k.patches, dir, file);
  applyImages(acc, k.images, file);
  return acc;
}

/** Renders the kustomization in dir; returns its objects. Throws RenderError. */
export function render(dir) {
  return build(path.resolve(dir), "Kustomization", []);
}
