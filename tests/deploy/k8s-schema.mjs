// Offline validation of Kubernetes objects against the API schemas that the
// kubernetes-models packages ship:
//  1. the package's own JSON-schema validator (types, required fields, enums,
//     formats), and
//  2. a strict pass, like `kubectl --validate=strict`, that rejects unknown
//     fields (typos such as `readinesProbe`), which (1) lets through. Its field
//     lists come from the packages' generated type declarations (.d.ts).
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const nodeModules = path.join(here, "node_modules");
const require = createRequire(path.join(here, "package.json"));

// apiVersion group → package that models it.
function modulePathFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (group === "monitoring.coreos.com") return `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`;
  return group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`;
}

// ---- a small parser for the generated .d.ts files ----
function tokenize(src) {
  src = src.replace(/\/\*[\s\S]*?\*\//g, " ").replace(/\/\/[^\n]*/g, " ");
  const re = /\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[A-Za-z_$][\w$]*|\d+(?:\.\d+)?|=>|[{}\[\]<>():;?|,=.&*-])/gy;
  const out = [];
  let m;
  while ((m = re.exec(src))) out.push(m[1]);
  return out;
}

class Parser {
  constructor(tokens) {
    this.t = tokens;
    this.i = 0;
  }
  peek(o = 0) {
    return this.t[this.i + o];
  }
  next() {
    return this.t[this.i++];
  }
  expect(tok) {
    const got = this.next();
    if (got !== tok) throw new Error(`d.ts parse: expected ${tok}, got ${got}`);
  }
  parseUnion() {
    if (this.peek() === "|") this.next();
    const alts = [this.parsePostfix()];
    while (this.peek() === "|" || this.peek() === "&") {
      this.next();
      alts.push(this.parsePostfix());
    }
    return alts.length === 1 ? alts[0] : { k: "union", of: alts };
  }
  parsePostfix() {
    let t = this.parsePrimary();
    for (;;) {
      if (this.peek() === "[" && this.peek(1) === "]") {
        this.next();
        this.next();
        t = { k: "arr", of: t };
      } else if (this.peek() === "[") {
        // indexed access type, e.g. IDeployment["kind"]: a scalar here
        this.skipBalanced("[", "]");
        t = { k: "prim" };
      } else break;
    }
    return t;
  }
  skipBalanced(open, close) {
    let depth = 0;
    do {
      const tok = this.next();
      if (tok === undefined) throw new Error("d.ts parse: unbalanced");
      if (tok === open) depth++;
      else if (tok === close) depth--;
    } while (depth > 0);
  }
  parsePrimary() {
    const tok = this.peek();
    if (tok === "(") {
      this.next();
      const t = this.parseUnion();
      this.expect(")");
      return t;
    }
    if (tok === "{") return this.parseObject();
    this.next();
    if (/^["'\d-]/.test(tok)) return { k: "prim" };
    if (tok === "Array" && this.peek() === "<") {
      this.next();
      const of = this.parseUnion();
      this.expect(">");
      return { k: "arr", of };
    }
    if (this.peek() === "<") this.skipBalanced("<", ">");
    if (["string", "number", "boolean", "any", "unknown", "null", "undefined", "object", "true", "false", "never"].includes(tok)) {
      return { k: "prim" };
    }
    return { k: "ref", name: tok };
  }
  parseObject() {
    this.expect("{");
    const fields = new Map();
    let index = null;
    while (this.peek() !== "}") {
      if (this.peek() === "[") {
        // [key: string]: T
        this.next();
        this.next();
        this.expect(":");
        this.next();
        this.expect("]");
        this.expect(":");
        index = this.parseUnion();
      } else {
        let name = this.next();
        if (/^["']/.test(name)) name = JSON.parse(name.replace(/^'|'$/g, '"'));
        if (this.peek() === "?") this.next();
        this.expect(":");
        fields.set(name, this.parseUnion());
      }
      if (this.peek() === ";" || this.peek() === ",") this.next();
    }
    this.expect("}");
    return { k: "obj", fields, index };
  }
}

const modules = new Map();

function loadModule(spec, fromDir) {
  const file = spec.startsWith(".") ? path.resolve(fromDir, spec + ".d.ts") : path.join(nodeModules, spec + ".d.ts");
  if (modules.has(file)) return modules.get(file);
  const mod = { file, imports: new Map(), interfaces: new Map(), aliases: new Map() };
  modules.set(file, mod);
  if (!fs.existsSync(file)) return mod;
  const p = new Parser(tokenize(fs.readFileSync(file, "utf8")));
  while (p.peek() !== undefined) {
    const tok = p.next();
    if (tok === "import" && p.peek() === "{") {
      p.next();
      const names = [];
      while (p.peek() !== "}") {
        const n = p.next();
        if (p.peek() === "as") {
          p.next();
          names.push([n, p.next()]);
        } else names.push([n, n]);
        if (p.peek() === ",") p.next();
      }
      p.expect("}");
      p.expect("from");
      const from = JSON.parse(p.next().replace(/^'|'$/g, '"'));
      for (const [orig, local] of names) mod.imports.set(local, { from, name: orig });
    } else if (tok === "interface") {
      const name = p.next();
      if (p.peek() === "<") p.skipBalanced("<", ">");
      while (p.peek() !== "{") p.next(); // extends ...
      mod.interfaces.set(name, p.parseObject());
    } else if (tok === "export" && p.peek() === "{") {
      p.next();
      while (p.peek() !== "}") {
        const n = p.next();
        if (p.peek() === "as") {
          p.next();
          mod.aliases.set(p.next(), n);
        }
        if (p.peek() === ",") p.next();
      }
      p.next();
    }
  }
  return mod;
}

// Resolves a type name seen in mod to an object type, or null (a scalar alias,
// or a type the .d.ts files do not spell out).
function resolveRef(mod, name, depth = 0) {
  if (depth > 8) return null;
  if (mod.interfaces.has(name)) return { mod, type: mod.interfaces.get(name) };
  if (mod.aliases.has(name)) return resolveRef(mod, mod.aliases.get(name), depth + 1);
  const imp = mod.imports.get(name);
  if (imp) return resolveRef(loadModule(imp.from, path.dirname(mod.file)), imp.name, depth + 1);
  return null;
}

function strictCheck(value, type, mod, where, errors) {
  if (value === null || value === undefined || !type) return;
  switch (type.k) {
    case "ref": {
      const r = resolveRef(mod, type.name);
      if (r) strictCheck(value, r.type, r.mod, where, errors);
      return;
    }
    case "arr":
      if (Array.isArray(value)) value.forEach((v, i) => strictCheck(v, type.of, mod, `${where}[${i}]`, errors));
      return;
    case "union": {
      if (typeof value !== "object" || Array.isArray(value)) return;
      const objs = type.of.filter((t) => t.k === "obj" || (t.k === "ref" && resolveRef(mod, t.name)));
      if (objs.length === 1) strictCheck(value, objs[0], mod, where, errors);
      return;
    }
    case "obj":
      if (typeof value !== "object" || Array.isArray(value)) return;
      for (const [key, v] of Object.entries(value)) {
        if (type.fields.has(key)) strictCheck(v, type.fields.get(key), mod, `${where}.${key}`, errors);
        else if (type.index) strictCheck(v, type.index, mod, `${where}.${key}`, errors);
        else errors.push(`${where}: unknown field "${key}"`);
      }
      return;
    default:
      return;
  }
}

/** Returns a list of error strings (empty when the object is valid). */
export function validateObject(obj) {
  const spec = modulePathFor(obj.apiVersion, obj.kind);
  let Model;
  try {
    Model = require(spec)[obj.kind];
  } catch {
    Model = undefined;
  }
  if (typeof Model !== "function") return [`no schema for ${obj.apiVersion} ${obj.kind} (${spec})`];
  const errors = [];
  try {
    new Model(structuredClone(obj)).validate();
  } catch (e) {
    errors.push(String(e.message ?? e));
  }
  const mod = loadModule(spec, nodeModules);
  const root = mod.interfaces.get(`I${obj.kind}`);
  if (!root) errors.push(`no type declarations for ${obj.kind} in ${mod.file}`);
  else strictCheck(obj, root, mod, obj.kind, errors);
  return errors;
}
