// A renderer for the subset of Kustomize that deploy/k8s uses, so the deploy
// check needs no kustomize binary. Anything outside the subset is an error,
// never silently ignored:
//   Kustomization: resources (files and directories), components, patches
//     (JSON 6902 operation lists, from `path` or inline `patch`, with a
//     `target` of group/version/kind/name), images (name → newName/newTag/digest)
//     configMapGenerator and secretGenerator (name, files, literals, envs,
//     options labels/annotations/disableNameSuffixHash; secrets' type), with
//     kustomize's content-hash name suffix and the
//     references to generated objects in pod specs renamed to match
//   Component: the same fields, applied to the including kustomization.
// Where a real kustomize is at hand, check-k8s.mjs compares its output with ours.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import YAML from "yaml";

const KUSTOMIZATION_FILES = ["kustomization.yaml", "kustomization.yml", "Kustomization"];
const SUPPORTED = new Set(["apiVersion", "kind", "resources", "components", "patches", "images", "configMapGenerator", "secretGenerator"]);
// Objects made by a generator: their name gets the content hash at the end.
const GENERATED = Symbol("generated");

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

// KEY=VALUE lines; blank lines and # comments skipped (kustomize's env files).
function readEnvFile(file, where) {
  if (!fs.existsSync(file)) fail(where, `env file ${file} does not exist`);
  const out = [];
  for (const [i, raw] of fs.readFileSync(file, "utf8").split("\n").entries()) {
    const line = raw.replace(/\r$/, "");
    if (/^\s*(#|$)/.test(line)) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) fail(where, `${file}:${i + 1}: not KEY=VALUE`);
    out.push([line.slice(0, eq).trim(), line.slice(eq + 1)]);
  }
  return out;
}

// kustomize's base64 for generated Secrets: from 70 characters on, lines of
// 70, each ending in a newline (the hash covers that form).
function base64Lines(v) {
  const b = Buffer.from(v, "utf8").toString("base64");
  if (Math.floor(b.length / 70) + 1 <= 1) return b;
  let out = "";
  for (let i = 0; i < b.length; i += 70) out += b.slice(i, i + 70) + "\n";
  return out;
}

function generate(acc, gens, kind, dir, file) {
  for (const [i, g] of (gens ?? []).entries()) {
    const where = `${file} ${kind === "ConfigMap" ? "configMapGenerator" : "secretGenerator"}[${i}]`;
    const allowed = ["name", "files", "literals", "envs", "options"].concat(kind === "Secret" ? ["type"] : []);
    for (const key of Object.keys(g)) if (!allowed.includes(key)) fail(where, `field '${key}' is outside the subset`);
    for (const key of Object.keys(g.options ?? {})) if (!["labels", "annotations", "disableNameSuffixHash"].includes(key)) fail(where, `options.${key} is outside the subset`);
    if (!g.name) fail(where, "a generator needs a name");
    const data = {};
    const put = (k, v) => {
      if (k in data) fail(where, `key ${k} given twice`);
      data[k] = v;
    };
    for (const e of g.envs ?? []) for (const [k, v] of readEnvFile(path.join(dir, e), where)) put(k, v);
    for (const l of g.literals ?? []) {
      const eq = l.indexOf("=");
      if (eq <= 0) fail(where, `literal ${l} is not KEY=VALUE`);
      put(l.slice(0, eq), l.slice(eq + 1));
    }
    for (const f of g.files ?? []) {
      const eq = f.indexOf("=");
      const key = eq > 0 ? f.slice(0, eq) : path.basename(f);
      const p = path.join(dir, eq > 0 ? f.slice(eq + 1) : f);
      if (!fs.existsSync(p)) fail(where, `file ${p} does not exist`);
      put(key, fs.readFileSync(p, "utf8"));
    }
    const o = { apiVersion: "v1", kind, metadata: { name: g.name } };
    if (g.options?.labels) o.metadata.labels = { ...g.options.labels };
    if (g.options?.annotations) o.metadata.annotations = { ...g.options.annotations };
    if (kind === "Secret") {
      o.type = g.type ?? "Opaque";
      o.data = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, base64Lines(v)]));
    } else {
      o.data = data;
    }
    o[GENERATED] = !g.options?.disableNameSuffixHash;
    addResources(acc, [o], where);
  }
}

// Go's encoding/json: keys sorted, <, >, & and U+2028/9 escaped, control
// characters other than \n \r \t as \u00xx: what kustomize hashes.
function goJson(v) {
  if (v === null || v === undefined) return "null";
  if (typeof v === "string") {
    let out = '"';
    for (const ch of v) {
      const c = ch.codePointAt(0);
      if (ch === '"' || ch === "\\") out += "\\" + ch;
      else if (ch === "\n") out += "\\n";
      else if (ch === "\r") out += "\\r";
      else if (ch === "\t") out += "\\t";
      else if (c < 0x20 || ch === "<" || ch === ">" || ch === "&" || c === 0x2028 || c === 0x2029) out += "\\u" + c.toString(16).padStart(4, "0");
      else out += ch;
    }
    return out + '"';
  }
  if (typeof v === "object") return "{" + Object.keys(v).sort().map((k) => `${goJson(k)}:${goJson(v[k])}`).join(",") + "}";
  return JSON.stringify(v);
}

// kustomize's name suffix: sha256 of the object's encoding, first 10 hex
// digits with 0 1 3 a e replaced (no vowels, no look-alikes).
function nameHash(o) {
  // (kustomize v5 hashes generated objects with an empty name)
  const enc = o.kind === "Secret" ? { kind: "Secret", type: o.type, name: "", data: o.data ?? {} } : { kind: "ConfigMap", name: "", data: o.data ?? {} };
  const hex = crypto.createHash("sha256").update(goJson(enc)).digest("hex").slice(0, 10);
  return hex.replace(/[013ae]/g, (c) => ({ 0: "g", 1: "h", 3: "k", a: "m", e: "t" })[c]);
}

// Renames generated ConfigMaps and Secrets and every pod-spec reference to them.
function applyNameHashes(acc) {
  const renamed = { ConfigMap: new Map(), Secret: new Map() };
  for (const o of acc) {
    if (!o[GENERATED]) continue;
    const old = o.metadata.name;
    o.metadata.name = `${old}-${nameHash(o)}`;
    renamed[o.kind].set(old, o.metadata.name);
  }
  const cm = (n) => renamed.ConfigMap.get(n) ?? n;
  const sec = (n) => renamed.Secret.get(n) ?? n;
  for (const o of acc) {
    for (const spec of podSpecs(o)) {
      for (const v of spec.volumes ?? []) {
        if (v.configMap?.name) v.configMap.name = cm(v.configMap.name);
        if (v.secret?.secretName) v.secret.secretName = sec(v.secret.secretName);
        for (const src of v.projected?.sources ?? []) {
          if (src.configMap?.name) src.configMap.name = cm(src.configMap.name);
          if (src.secret?.name) src.secret.name = sec(src.secret.name);
        }
      }
      for (const ps of spec.imagePullSecrets ?? []) if (ps.name) ps.name = sec(ps.name);
      for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
        for (const e of c.env ?? []) {
          if (e.valueFrom?.configMapKeyRef?.name) e.valueFrom.configMapKeyRef.name = cm(e.valueFrom.configMapKeyRef.name);
          if (e.valueFrom?.secretKeyRef?.name) e.valueFrom.secretKeyRef.name = sec(e.valueFrom.secretKeyRef.name);
        }
        for (const e of c.envFrom ?? []) {
          if (e.configMapRef?.name) e.configMapRef.name = cm(e.configMapRef.name);
          if (e.secretRef?.name) e.secretRef.name = sec(e.secretRef.name);
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
  generate(acc, k.configMapGenerator, "ConfigMap", dir, file);
  generate(acc, k.secretGenerator, "Secret", dir, file);
  applyPatches(acc, k.patches, dir, file);
  applyImages(acc, k.images, file);
  return acc;
}

/**
 * A scratch copy of a tree of kustomizations in which every git-ignored
 * input that is missing (secrets.env, certificates) is its committed
 * FILE.example, so every overlay renders on a fresh clone. Returns the
 * copy's path; the caller removes it.
 */
export function scratchTree(dir) {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "acexy-k8s-"));
  fs.cpSync(dir, out, { recursive: true });
  const fill = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) fill(p);
      else if (e.name.endsWith(".example") && !fs.existsSync(p.slice(0, -".example".length))) fs.copyFileSync(p, p.slice(0, -".example".length));
    }
  };
  fill(out);
  return out;
}

/** The generator inputs (envs, files) of every kustomization under dir. */
export function generatorInputs(dir) {
  const out = [];
  const walkDir = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walkDir(p);
      else if (KUSTOMIZATION_FILES.includes(e.name)) {
        const k = readYamlDocs(p)[0] ?? {};
        for (const [kind, gens] of [["Secret", k.secretGenerator], ["ConfigMap", k.configMapGenerator]]) {
          for (const g of gens ?? []) {
            for (const f of [...(g.envs ?? []), ...(g.files ?? []).map((x) => (x.includes("=") ? x.slice(x.indexOf("=") + 1) : x))]) {
              out.push({ kind, name: g.name, kustomization: p, file: path.join(d, f) });
            }
          }
        }
      }
    }
  };
  walkDir(dir);
  return out;
}

/** Renders the kustomization in dir; returns its objects. Throws RenderError. */
export function render(dir) {
  const acc = build(path.resolve(dir), "Kustomization", []);
  applyNameHashes(acc);
  return acc.map((o) => ({ ...o }));
}
